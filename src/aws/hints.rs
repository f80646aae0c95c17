//! Where the run is, for the hints a credential failure gives: `aws sso login` helps on a
//! laptop, never on a CI runner, where the job's OIDC role is what is missing or expired.
//! Set once by the CLI at start (it alone reads the process environment).

use std::sync::{Mutex, OnceLock};

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

/// The profile and the endpoint override of the clients last built, so that a failure
/// names them (`aws sso login --profile P`; the endpoint and where it came from).
#[derive(Debug, Clone, Default)]
pub struct Reach {
    pub profile: Option<String>,
    /// The endpoint override and its source (`--endpoint-url`, `AWS_ENDPOINT_URL`, the
    /// environment file).
    pub endpoint: Option<(String, &'static str)>,
}

static REACH: Mutex<Option<Reach>> = Mutex::new(None);

/// Remembers how the clients being built reach AWS.
pub fn remember(reach: Reach) {
    if let Ok(mut slot) = REACH.lock() {
        *slot = Some(reach);
    }
}

fn reach() -> Reach {
    REACH
        .lock()
        .ok()
        .and_then(|r| r.clone())
        .unwrap_or_default()
}

/// What to do when no credentials were found.
pub fn missing() -> String {
    match (place(), reach().profile) {
        (Where::Elsewhere, Some(profile)) => format!(
            "profile `{profile}` gave none: if it is an SSO profile, run `aws sso login --profile {profile}`; else check its keys, role or credential_process"
        ),
        (Where::Elsewhere, None) => {
            "set AWS_PROFILE (or --profile), run `aws sso login --profile <profile>`, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".into()
        }
        (Where::GithubActions, _) => {
            "give the job `permissions: id-token: write` and a step `aws-actions/configure-aws-credentials` with `role-to-assume` (OIDC) before this one".into()
        }
    }
}

/// What to do when the credentials expired or were refused as invalid.
pub fn expired() -> String {
    match (place(), reach().profile) {
        (Where::Elsewhere, Some(profile)) => format!(
            "refresh them (`aws sso login --profile {profile}`, or new keys for `{profile}`) and run it again"
        ),
        (Where::Elsewhere, None) => {
            "refresh them (`aws sso login --profile <profile>`, or new keys) and run it again".into()
        }
        (Where::GithubActions, _) => {
            "the job's OIDC session ended: raise `role-duration-seconds` in aws-actions/configure-aws-credentials (and the role's maximum session duration), or split the job".into()
        }
    }
}

/// ` (http://127.0.0.1:4566, from --endpoint-url)` when an endpoint override is in effect:
/// where an unreachable endpoint came from.
pub fn endpoint() -> String {
    reach()
        .endpoint
        .map(|(url, source)| format!(" ({url}, from {source})"))
        .unwrap_or_default()
}
