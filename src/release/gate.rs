//! The release gate: what an environment accepts, checked in the checkout (and in GitHub
//! Actions from its variables) before anything reaches AWS. A refusal says which condition
//! failed and how to fix it.

use std::path::{Path, PathBuf};

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

/// A refusal: the failed condition (`Display`) and its fix (`help`). Commits are kept
/// whole and shortened when shown.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GateRefusal {
    NotACheckout {
        dir: PathBuf,
    },
    /// GITHUB_SHA names another commit than the checkout's.
    WorkflowElsewhere {
        github_sha: String,
        head: String,
    },
    ReleaseElsewhere {
        commit: String,
        head: String,
    },
    /// A git command failed (the first line of what it said, or all of it).
    GitFailed {
        command: String,
        said: String,
    },
    Dirty {
        files: Vec<String>,
    },
    /// Not on the protected branch, and no release candidate tag.
    NoCandidate {
        commit: String,
        branch: String,
        environment: String,
        rc_pattern: String,
    },
    TagElsewhere {
        tag: String,
        target: String,
        commit: String,
    },
    TagOffBranch {
        tag: String,
        branch: String,
        commit: String,
    },
    Unsigned {
        tag: String,
        said: String,
    },
    BadPattern {
        key: String,
        error: String,
    },
    NoBranch {
        branch: String,
    },
    Shallow {
        commit: String,
    },
    TagPattern {
        tag: String,
        pattern: String,
    },
    TagMissing {
        tag: String,
    },
    NoReleaseTag {
        commit: String,
        tags: Vec<String>,
        pattern: String,
    },
    Lightweight {
        tag: String,
    },
}

impl std::fmt::Display for GateRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotACheckout { dir } => {
                write!(f, "{} is not a git checkout with a commit", dir.display())
            }
            Self::WorkflowElsewhere { github_sha, head } => write!(
                f,
                "GITHUB_SHA is {} but the checkout is at {}",
                short(github_sha),
                short(head)
            ),
            Self::ReleaseElsewhere { commit, head } => write!(
                f,
                "the release is commit {} but the checkout is at {}",
                short(commit),
                short(head)
            ),
            Self::GitFailed { command, said } => write!(f, "{command} failed: {said}"),
            Self::Dirty { files } => {
                write!(
                    f,
                    "the working tree has uncommitted changes: {}",
                    list(files)
                )
            }
            Self::NoCandidate { commit, branch, .. } => write!(
                f,
                "{} is not on {branch} and has no release candidate tag",
                short(commit)
            ),
            Self::TagElsewhere {
                tag,
                target,
                commit,
            } => write!(
                f,
                "tag {tag} points at {}, not at {} (the commit being deployed)",
                short(target),
                short(commit)
            ),
            Self::TagOffBranch {
                tag,
                branch,
                commit,
            } => write!(
                f,
                "tag {tag} is not on {branch}: its commit {} is not reachable from it",
                short(commit)
            ),
            Self::Unsigned { tag, said } => write!(f, "tag {tag} has no valid signature: {said}"),
            Self::BadPattern { key, error } => write!(f, "release.{key} does not compile: {error}"),
            Self::NoBranch { branch } => write!(
                f,
                "the checkout has no `{branch}` branch to check the release against"
            ),
            Self::Shallow { commit } => write!(
                f,
                "the checkout is shallow: cannot tell whether {} is on the protected branch",
                short(commit)
            ),
            Self::TagPattern { tag, pattern } => {
                write!(f, "tag {tag} does not match the release pattern {pattern}")
            }
            Self::TagMissing { tag } => write!(f, "tag {tag} is not in the checkout"),
            Self::NoReleaseTag {
                commit,
                tags,
                pattern,
            } => {
                write!(f, "{} has no release tag", short(commit))?;
                if !tags.is_empty() {
                    write!(f, " (its tags {} do not match {pattern})", tags.join(", "))?;
                }
                Ok(())
            }
            Self::Lightweight { tag } => write!(
                f,
                "tag {tag} is a lightweight tag: releases need annotated tags (who tagged, when, why)"
            ),
        }
    }
}

impl GateRefusal {
    /// What to do about it.
    pub fn help(&self) -> String {
        match self {
            Self::NotACheckout { .. } => "deploy from a clone of the repository (the gate checks what is checked out)".into(),
            Self::WorkflowElsewhere { .. } => "check out the workflow's commit (actions/checkout does by default)".into(),
            Self::ReleaseElsewhere { commit, .. } => format!(
                "check out {} first: templates are rendered from the checkout",
                short(commit)
            ),
            Self::GitFailed { .. } => "check the checkout".into(),
            Self::Dirty { .. } => "commit or stash them: a release deploys exactly a commit".into(),
            Self::NoCandidate {
                branch,
                environment,
                rc_pattern,
                ..
            } => format!("`{environment}` takes commits merged to {branch} or tags matching {rc_pattern}"),
            Self::TagElsewhere { tag, .. } => format!("check out {tag} and deploy from there, or tag this commit with a new version"),
            Self::TagOffBranch { branch, .. } => format!(
                "merge the change into {branch} and tag the merge commit; tags on side branches never deploy"
            ),
            Self::Unsigned { .. } => "sign release tags (`git tag -s`) with a key this machine trusts".into(),
            Self::BadPattern { .. } => "fix the pattern in deploy.toml".into(),
            Self::NoBranch { branch } => format!(
                "fetch it (`git fetch origin {branch}`; in GitHub Actions, actions/checkout with fetch-depth: 0)"
            ),
            Self::Shallow { .. } => "fetch the history (`git fetch --unshallow`; in GitHub Actions, actions/checkout with fetch-depth: 0)".into(),
            Self::TagPattern { .. } => "production deploys release tags only, as v1.4.2".into(),
            Self::TagMissing { tag } => format!("fetch it: `git fetch origin tag {tag}`"),
            Self::NoReleaseTag { .. } => "tag the release on main: `git tag -a v1.4.2 -m \"FacturaScan 1.4.2\" && git push origin v1.4.2`".into(),
            Self::Lightweight { tag } => format!(
                "replace it: `git tag -d {tag} && git tag -a {tag} -m \"...\"`, then push it again"
            ),
        }
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
    let head = repo
        .commit_of("HEAD")
        .ok_or_else(|| GateRefusal::NotACheckout {
            dir: dir.to_path_buf(),
        })?;
    let commit = input.commit.clone().unwrap_or_else(|| head.clone());
    if let Some(sha) = &input.github_sha
        && input.commit.is_none()
        && sha != &head
    {
        return Err(GateRefusal::WorkflowElsewhere {
            github_sha: sha.clone(),
            head,
        });
    }
    if commit != head {
        return Err(GateRefusal::ReleaseElsewhere { commit, head });
    }
    accepted
        .checks
        .push(format!("checkout at {}", short(&commit)));
    let dirty = repo.dirty_files().map_err(|e| GateRefusal::GitFailed {
        command: e.command.clone(),
        said: e.stderr.clone(),
    })?;
    if !dirty.is_empty() {
        return Err(GateRefusal::Dirty { files: dirty });
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
        None => Err(GateRefusal::NoCandidate {
            commit: commit.to_string(),
            branch: config.release.protected_branch.clone(),
            environment: config.environment.name.clone(),
            rc_pattern: config.release.rc_tag_pattern.clone(),
        }),
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
        return Err(GateRefusal::TagElsewhere {
            tag,
            target,
            commit: commit.to_string(),
        });
    }
    accepted
        .checks
        .push(format!("{tag} points at {}", short(commit)));
    if !on_branch(repo, commit, branch_ref)? {
        return Err(GateRefusal::TagOffBranch {
            tag,
            branch: config.release.protected_branch.clone(),
            commit: commit.to_string(),
        });
    }
    accepted.checks.push(format!(
        "{} is on {}",
        short(commit),
        config.release.protected_branch
    ));
    if config.release.require_signed_tags {
        repo.run(&["verify-tag", &tag])
            .map_err(|e| GateRefusal::Unsigned {
                tag: tag.clone(),
                said: first_line(&e.stderr).to_string(),
            })?;
        accepted.checks.push(format!("{tag} signature verified"));
    }
    accepted.tag = Some(tag);
    Ok(accepted)
}

fn compile(pattern: &str, key: &str) -> Result<Regex, GateRefusal> {
    Regex::new(pattern).map_err(|e| GateRefusal::BadPattern {
        key: key.to_string(),
        error: e.to_string(),
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
    Err(GateRefusal::NoBranch {
        branch: branch.to_string(),
    })
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
            Err(GateRefusal::Shallow {
                commit: commit.to_string(),
            })
        }
        Ok(false) => Ok(false),
        Err(e) => Err(GateRefusal::GitFailed {
            said: first_line(&e.stderr).to_string(),
            command: e.command,
        }),
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
            return Err(GateRefusal::TagPattern {
                tag,
                pattern: config.release.tag_pattern.clone(),
            });
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
                return Err(GateRefusal::TagMissing { tag });
            }
        }
        return Ok(tag);
    }
    let tags = repo.tags_at(commit);
    tags.iter()
        .find(|t| pattern.is_match(t))
        .cloned()
        .ok_or_else(|| GateRefusal::NoReleaseTag {
            commit: commit.to_string(),
            pattern: config.release.tag_pattern.clone(),
            tags: tags.clone(),
        })
}

fn annotated(repo: &Repo, tag: &str) -> Result<(), GateRefusal> {
    match repo
        .run(&["cat-file", "-t", &format!("refs/tags/{tag}")])
        .as_deref()
    {
        Ok("tag") => Ok(()),
        _ => Err(GateRefusal::Lightweight {
            tag: tag.to_string(),
        }),
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
