//! Where the run is, for the hints a credential failure gives: `aws sso login` helps on a
//! laptop, never on a CI runner, where the job's OIDC role is what is missing or expired.
//! Set once by the CLI at start (it alone reads the process environment).

use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Where {
    /// A terminal or another CI: profiles, SSO, exported keys.
    Elsewhere,
    /// A GitHub Actions step: credentials come from the job's OIDC token.
    GithubActions,
}

static WHERE: OnceLock<Where> = OnceLock::new();

/// Sets where the run is (the first call wins).
pub fn set(place: Where) {
    let _ = WHERE.set(place);
}

fn place() -> Where {
    WHERE.get().copied().unwrap_or(Where::Elsewhere)
}

/// What to do when no credentials were found.
pub fn missing() -> &'static str {
    match place() {
        Where::Elsewhere => {
            "set AWS_PROFILE (or --profile), run `aws sso login`, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        }
        Where::GithubActions => {
            "give the job `permissions: id-token: write` and a step `aws-actions/configure-aws-credentials` with `role-to-assume` (OIDC) before this one"
        }
    }
}

/// What to do when the credentials expired or were refused as invalid.
pub fn expired() -> &'static str {
    match place() {
        Where::Elsewhere => "refresh them (`aws sso login`, or new keys) and run it again",
        Where::GithubActions => {
            "the job's OIDC session ended: raise `role-duration-seconds` in aws-actions/configure-aws-credentials (and the role's maximum session duration), or split the job"
        }
    }
}
