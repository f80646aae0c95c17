//! The release gate: what an environment accepts, checked in the checkout (and in GitHub
//! Actions from its variables) before anything reaches AWS. A refusal says which condition
//! failed and how to fix it.

use std::path::Path;

use regex::Regex;
use serde::Serialize;

use crate::config::{Config, Gate};
use crate::git::Repo;

/// What the gate knows of the run beyond the checkout.
#[derive(Debug, Clone, Default)]
pub struct GateInput {
    /// `GITHUB_SHA`: the commit a workflow runs for.
    pub github_sha: Option<String>,
    /// `GITHUB_REF_NAME` when `GITHUB_REF_TYPE` is `tag`.
    pub github_tag: Option<String>,
    /// `--tag`: the release to deploy, named.
    pub tag: Option<String>,
    /// The commit to judge instead of HEAD (promote: staging's commit).
    pub commit: Option<String>,
    /// Fetch the protected branch or the tag when the checkout lacks them (CI).
    pub may_fetch: bool,
}

/// What passed the gate: the commit to deploy and its release tag, if any.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Accepted {
    pub environment: String,
    pub gate: Gate,
    pub commit: Option<String>,
    pub tag: Option<String>,
    /// The conditions checked, in order, each satisfied.
    pub checks: Vec<String>,
}

/// A refusal: the failed condition and its fix.
#[derive(Debug, Clone)]
pub struct GateRefusal {
    pub message: String,
    pub help: String,
}

fn refuse(message: String, help: impl Into<String>) -> GateRefusal {
    GateRefusal {
        message,
        help: help.into(),
    }
}

pub fn check(config: &Config, dir: &Path, input: &GateInput) -> Result<Accepted, GateRefusal> {
    let gate = config.gate();
    let mut accepted = Accepted {
        environment: config.environment.name.clone(),
        gate,
        commit: None,
        tag: None,
        checks: Vec::new(),
    };
    if gate == Gate::None {
        accepted
            .checks
            .push("gate `none`: anything may be deployed".into());
        return Ok(accepted);
    }
    let repo = Repo::new(dir);
    let commit = checkout(&repo, dir, input, &mut accepted)?;
    let patterns = Patterns {
        branch_ref: protected_branch(&repo, config, input)?,
        tag: compile(&config.release.tag_pattern, "tag_pattern")?,
        rc: compile(&config.release.rc_tag_pattern, "rc_tag_pattern")?,
    };
    accepted.commit = Some(commit.clone());
    let release = Release {
        repo: &repo,
        config,
        input,
        commit: &commit,
        patterns: &patterns,
    };
    match gate {
        Gate::None => Ok(accepted),
        Gate::Branch => branch_gate(&release, accepted),
        Gate::Tag => tag_gate(&release, accepted),
    }
}

/// What the branch and tag gates judge.
struct Release<'a> {
    repo: &'a Repo,
    config: &'a Config,
    input: &'a GateInput,
    commit: &'a str,
    patterns: &'a Patterns,
}

struct Patterns {
    branch_ref: String,
    tag: Regex,
    rc: Regex,
}

/// The commit being released: the checkout's, clean, and the workflow's when in one.
fn checkout(
    repo: &Repo,
    dir: &Path,
    input: &GateInput,
    accepted: &mut Accepted,
) -> Result<String, GateRefusal> {
    let head = repo.commit_of("HEAD").ok_or_else(|| {
        refuse(
            format!("{} is not a git checkout with a commit", dir.display()),
            "deploy from a clone of the repository (the gate checks what is checked out)",
        )
    })?;
    let commit = input.commit.clone().unwrap_or_else(|| head.clone());
    if let Some(sha) = &input.github_sha
        && input.commit.is_none()
        && sha != &head
    {
        return Err(refuse(
            format!(
                "GITHUB_SHA is {} but the checkout is at {}",
                short(sha),
                short(&head)
            ),
            "check out the workflow's commit (actions/checkout does by default)",
        ));
    }
    if commit != head {
        return Err(refuse(
            format!(
                "the release is commit {} but the checkout is at {}",
                short(&commit),
                short(&head)
            ),
            format!(
                "check out {} first: templates are rendered from the checkout",
                short(&commit)
            ),
        ));
    }
    accepted
        .checks
        .push(format!("checkout at {}", short(&commit)));
    let dirty = repo.dirty_files().map_err(|e| {
        refuse(
            format!("{} failed: {}", e.command, e.stderr),
            "check the checkout",
        )
    })?;
    if !dirty.is_empty() {
        return Err(refuse(
            format!("the working tree has uncommitted changes: {}", list(&dirty)),
            "commit or stash them: a release deploys exactly a commit",
        ));
    }
    accepted.checks.push("working tree clean".into());
    Ok(commit)
}

/// Staging: a commit on the protected branch, or one with a release candidate tag.
fn branch_gate(release: &Release<'_>, mut accepted: Accepted) -> Result<Accepted, GateRefusal> {
    let (repo, config, input, commit) =
        (release.repo, release.config, release.input, release.commit);
    let patterns = release.patterns;
    let (tag_pattern, rc_pattern, branch_ref) = (&patterns.tag, &patterns.rc, &patterns.branch_ref);
    if on_branch(repo, commit, branch_ref)? {
        accepted.checks.push(format!(
            "{} is on {}",
            short(commit),
            config.release.protected_branch
        ));
        accepted.tag = candidate_tags(repo, commit, input)
            .into_iter()
            .find(|t| tag_pattern.is_match(t) || rc_pattern.is_match(t));
        return Ok(accepted);
    }
    let rc = candidate_tags(repo, commit, input)
        .into_iter()
        .find(|t| rc_pattern.is_match(t));
    match rc {
        Some(tag) => {
            accepted
                .checks
                .push(format!("release candidate tag {tag} on {}", short(commit)));
            accepted.tag = Some(tag);
            Ok(accepted)
        }
        None => Err(refuse(
            format!(
                "{} is not on {} and has no release candidate tag",
                short(commit),
                config.release.protected_branch
            ),
            format!(
                "`{}` takes commits merged to {} or tags matching {}",
                config.environment.name,
                config.release.protected_branch,
                config.release.rc_tag_pattern
            ),
        )),
    }
}

/// Production: an annotated release tag at the commit, on the protected branch, signed
/// when required.
fn tag_gate(release: &Release<'_>, mut accepted: Accepted) -> Result<Accepted, GateRefusal> {
    let (repo, config, input, commit) =
        (release.repo, release.config, release.input, release.commit);
    let patterns = release.patterns;
    let (tag_pattern, branch_ref) = (&patterns.tag, &patterns.branch_ref);
    let tag = release_tag(repo, commit, input, tag_pattern, config)?;
    annotated(repo, &tag)?;
    accepted.checks.push(format!(
        "{tag} is an annotated tag matching {}",
        config.release.tag_pattern
    ));
    let target = repo
        .commit_of(&format!("refs/tags/{tag}"))
        .unwrap_or_default();
    if target != commit {
        return Err(refuse(
            format!(
                "tag {tag} points at {}, not at {} (the commit being deployed)",
                short(&target),
                short(commit)
            ),
            format!("check out {tag} and deploy from there, or tag this commit with a new version"),
        ));
    }
    accepted
        .checks
        .push(format!("{tag} points at {}", short(commit)));
    if !on_branch(repo, commit, branch_ref)? {
        return Err(refuse(
            format!(
                "tag {tag} is not on {}: its commit {} is not reachable from it",
                config.release.protected_branch,
                short(commit)
            ),
            format!(
                "merge the change into {} and tag the merge commit; tags on side branches never deploy",
                config.release.protected_branch
            ),
        ));
    }
    accepted.checks.push(format!(
        "{} is on {}",
        short(commit),
        config.release.protected_branch
    ));
    if config.release.require_signed_tags {
        repo.run(&["verify-tag", &tag]).map_err(|e| {
            refuse(
                format!(
                    "tag {tag} has no valid signature: {}",
                    first_line(&e.stderr)
                ),
                "sign release tags (`git tag -s`) with a key this machine trusts",
            )
        })?;
        accepted.checks.push(format!("{tag} signature verified"));
    }
    accepted.tag = Some(tag);
    Ok(accepted)
}

fn compile(pattern: &str, key: &str) -> Result<Regex, GateRefusal> {
    Regex::new(pattern).map_err(|e| {
        refuse(
            format!("release.{key} does not compile: {e}"),
            "fix the pattern in deploy.toml",
        )
    })
}

/// The ref of the protected branch: the remote's when known (what was pushed), else the
/// local branch; fetched in CI when the checkout lacks it.
fn protected_branch(
    repo: &Repo,
    config: &Config,
    input: &GateInput,
) -> Result<String, GateRefusal> {
    let branch = &config.release.protected_branch;
    let candidates = [
        format!("refs/remotes/origin/{branch}"),
        format!("refs/heads/{branch}"),
    ];
    let found = |repo: &Repo| {
        candidates
            .iter()
            .find(|r| repo.commit_of(r).is_some())
            .cloned()
    };
    if let Some(r) = found(repo) {
        return Ok(r);
    }
    if input.may_fetch {
        let _ = repo.run(&[
            "fetch",
            "--quiet",
            "origin",
            &format!("+refs/heads/{branch}:refs/remotes/origin/{branch}"),
        ]);
        if let Some(r) = found(repo) {
            return Ok(r);
        }
    }
    Err(refuse(
        format!("the checkout has no `{branch}` branch to check the release against"),
        format!(
            "fetch it (`git fetch origin {branch}`; in GitHub Actions, actions/checkout with fetch-depth: 0)"
        ),
    ))
}

/// Whether `commit` is reachable from the branch. A shallow checkout may not know: it is
/// deepened when allowed, otherwise the answer says what is missing.
fn on_branch(repo: &Repo, commit: &str, branch_ref: &str) -> Result<bool, GateRefusal> {
    let ask = |repo: &Repo| repo.check(&["merge-base", "--is-ancestor", commit, branch_ref]);
    match ask(repo) {
        Ok(true) => Ok(true),
        Ok(false) if !repo.is_shallow() => Ok(false),
        _ if repo.is_shallow() => {
            if repo
                .run(&["fetch", "--quiet", "--unshallow", "origin"])
                .is_ok()
                && matches!(ask(repo), Ok(true))
            {
                return Ok(true);
            }
            Err(refuse(
                format!(
                    "the checkout is shallow: cannot tell whether {} is on the protected branch",
                    short(commit)
                ),
                "fetch the history (`git fetch --unshallow`; in GitHub Actions, actions/checkout with fetch-depth: 0)",
            ))
        }
        Ok(false) => Ok(false),
        Err(e) => Err(refuse(
            format!("{} failed: {}", e.command, first_line(&e.stderr)),
            "check the checkout",
        )),
    }
}

/// Tags to consider: the one named (flag, then GitHub's), else those pointing at the commit.
fn candidate_tags(repo: &Repo, commit: &str, input: &GateInput) -> Vec<String> {
    match input.tag.clone().or_else(|| input.github_tag.clone()) {
        Some(tag) => vec![tag],
        None => repo.tags_at(commit),
    }
}

fn release_tag(
    repo: &Repo,
    commit: &str,
    input: &GateInput,
    pattern: &Regex,
    config: &Config,
) -> Result<String, GateRefusal> {
    let named = input.tag.clone().or_else(|| input.github_tag.clone());
    if let Some(tag) = named {
        if !pattern.is_match(&tag) {
            return Err(refuse(
                format!(
                    "tag {tag} does not match the release pattern {}",
                    config.release.tag_pattern
                ),
                "production deploys release tags only, as v1.4.2",
            ));
        }
        if repo.commit_of(&format!("refs/tags/{tag}")).is_none() {
            if input.may_fetch {
                let _ = repo.run(&[
                    "fetch",
                    "--quiet",
                    "origin",
                    &format!("+refs/tags/{tag}:refs/tags/{tag}"),
                ]);
            }
            if repo.commit_of(&format!("refs/tags/{tag}")).is_none() {
                return Err(refuse(
                    format!("tag {tag} is not in the checkout"),
                    format!("fetch it: `git fetch origin tag {tag}`"),
                ));
            }
        }
        return Ok(tag);
    }
    let tags = repo.tags_at(commit);
    tags.iter().find(|t| pattern.is_match(t)).cloned().ok_or_else(|| {
        let others = if tags.is_empty() {
            String::new()
        } else {
            format!(" (its tags {} do not match {})", tags.join(", "), config.release.tag_pattern)
        };
        refuse(
            format!("{} has no release tag{others}", short(commit)),
            "tag the release on main: `git tag -a v1.4.2 -m \"FacturaScan 1.4.2\" && git push origin v1.4.2`",
        )
    })
}

fn annotated(repo: &Repo, tag: &str) -> Result<(), GateRefusal> {
    match repo
        .run(&["cat-file", "-t", &format!("refs/tags/{tag}")])
        .as_deref()
    {
        Ok("tag") => Ok(()),
        _ => Err(refuse(
            format!(
                "tag {tag} is a lightweight tag: releases need annotated tags (who tagged, when, why)"
            ),
            format!(
                "replace it: `git tag -d {tag} && git tag -a {tag} -m \"...\"`, then push it again"
            ),
        )),
    }
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

fn list(files: &[String]) -> String {
    let mut text = files.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    if files.len() > 5 {
        text.push_str(&format!(" and {} more", files.len() - 5));
    }
    text
}
