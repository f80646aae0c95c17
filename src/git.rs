//! What the checkout says about the code being deployed, through the `git` CLI (as CI and
//! engineers have it; its answers are the ones people see in their own terminals).

use std::path::Path;
use std::process::Command;

/// One git command's trimmed stdout, or None when git is missing, fails, or says nothing.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?.trim().to_string();
    (output.status.success() && !text.is_empty()).then_some(text)
}

/// The full hash of HEAD.
pub fn head_commit(dir: &Path) -> Option<String> {
    git(dir, &["rev-parse", "--verify", "HEAD^{commit}"])
}

/// A tag pointing at HEAD, if any (the newest by version order when several do).
pub fn tag_at_head(dir: &Path) -> Option<String> {
    git(
        dir,
        &["tag", "--points-at", "HEAD", "--sort=-version:refname"],
    )
    .and_then(|tags| tags.lines().next().map(str::to_string))
}
