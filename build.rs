//! Stamps the binary with the commit it was built from, for `facturactl --version`:
//! `FACTURACTL_COMMIT` when set (a release build from a tarball), else `git rev-parse`,
//! with `-dirty` when the work tree had changes; `unknown` outside a repository.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=FACTURACTL_COMMIT");
    // A new commit or checkout changes HEAD or the ref it points at.
    for path in [".git/HEAD", ".git/index", ".git/refs/heads"] {
        println!("cargo:rerun-if-changed={path}");
    }
    let commit = std::env::var("FACTURACTL_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(git_commit)
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=FACTURACTL_COMMIT={commit}");
}

fn git_commit() -> Option<String> {
    let run = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let commit = run(&["rev-parse", "--short=12", "HEAD"])?;
    let dirty =
        run(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    })
}
