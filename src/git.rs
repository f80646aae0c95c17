//! What the checkout says about the code being deployed, through the `git` CLI (as CI and
//! engineers have it; its answers are the ones people see in their own terminals).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A checkout, asked through `git -C <dir>`.
#[derive(Debug, Clone)]
pub struct Repo {
    dir: PathBuf,
}

/// A git command that could not run or said no, with what it printed.
#[derive(Debug, Clone)]
pub struct GitError {
    pub command: String,
    pub stderr: String,
}

impl Repo {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }

    fn output(&self, args: &[&str]) -> Result<std::process::Output, GitError> {
        Command::new("git")
            .arg("-C")
            .arg(&self.dir)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| self.error(args, format!("cannot run git: {e}")))
    }

    fn error(&self, args: &[&str], stderr: String) -> GitError {
        GitError {
            command: format!("git {}", args.join(" ")),
            stderr,
        }
    }

    /// Runs git; Ok(stdout, trailing whitespace trimmed) on success.
    pub fn run(&self, args: &[&str]) -> Result<String, GitError> {
        let output = self.output(args)?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout)
                .trim_end()
                .to_string())
        } else {
            Err(self.error(
                args,
                String::from_utf8_lossy(&output.stderr).trim().to_string(),
            ))
        }
    }

    /// Runs git for a yes/no answer (exit 0 or 1); other failures are errors.
    pub fn check(&self, args: &[&str]) -> Result<bool, GitError> {
        let output = self.output(args)?;
        match output.status.code() {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => Err(self.error(
                args,
                String::from_utf8_lossy(&output.stderr).trim().to_string(),
            )),
        }
    }

    fn answer(&self, args: &[&str]) -> Option<String> {
        self.run(args).ok().filter(|s| !s.is_empty())
    }

    /// The full hash of a revision (`HEAD`, a tag, a branch).
    pub fn commit_of(&self, revision: &str) -> Option<String> {
        self.answer(&[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{revision}^{{commit}}"),
        ])
    }

    pub fn is_shallow(&self) -> bool {
        self.answer(&["rev-parse", "--is-shallow-repository"])
            .as_deref()
            == Some("true")
    }

    /// Tags pointing at a commit, newest version first.
    pub fn tags_at(&self, commit: &str) -> Vec<String> {
        self.answer(&["tag", "--points-at", commit, "--sort=-version:refname"])
            .map(|t| t.lines().map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// Changed or untracked files (ignored ones excepted), a line each.
    pub fn dirty_files(&self) -> Result<Vec<String>, GitError> {
        Ok(self
            .run(&["status", "--porcelain", "--untracked-files=normal"])?
            .lines()
            .map(|l| l.get(3..).unwrap_or(l).to_string())
            .collect())
    }
}
