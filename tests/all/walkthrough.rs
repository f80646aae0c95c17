//! The model walk-through of docs/guide/models.md, run as written: its `bash` block,
//! verbatim, in a copy of the project, against an emulator the block starts itself (as a
//! user's would), with the built `facturactl` first on the `PATH`.

use std::process::Command;

use crate::support::{Project, repo_root};

/// The first ```bash block after `heading` in `file` (a path under the repository).
fn block_after(file: &str, heading: &str) -> String {
    let text = std::fs::read_to_string(repo_root().join(file)).expect("read the guide");
    let at = text
        .find(heading)
        .unwrap_or_else(|| panic!("{file} has no {heading:?}"));
    let start = text[at..].find("```bash\n").expect("a bash block") + at + "```bash\n".len();
    let end = text[start..].find("```").expect("the block's end") + start;
    text[start..end].to_string()
}

#[test]
fn the_model_walk_through_runs_as_written() {
    let block = block_after(
        "docs/guide/models.md",
        "A walk-through, on the local emulator",
    );
    let project = Project::copy();
    // The block calls scripts/local-aws from the project's root: this repository's.
    let wrapper = format!(
        "#!/bin/sh\nexec '{}' \"$@\"\n",
        repo_root().join("scripts/local-aws").display()
    );
    project.write("scripts/local-aws", &wrapper);
    let script = project.path().join("scripts/local-aws");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let binary = assert_cmd::cargo::cargo_bin("facturactl");
    let path = format!(
        "{}:{}",
        binary.parent().expect("the binary's directory").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let state = project.path().join(".local-aws");
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &block])
        .current_dir(project.path())
        .env("PATH", path)
        .env("LOCAL_AWS_STATE_DIR", &state)
        .env("USER", "walker")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE")
        .env_remove("CI")
        .env_remove("GITHUB_ACTIONS")
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Stopped even when a step failed (the block's last line would not have run).
    let _ = Command::new(&script)
        .arg("stop")
        .env("LOCAL_AWS_STATE_DIR", &state)
        .output();
    assert_eq!(
        output.status.code(),
        Some(0),
        "the walk-through stopped:\n{stdout}\n{stderr}"
    );
    for expected in [
        // retrain: the next version, pending, with its lineage by digest.
        "is version 2 in `local` (registered, pending approval, not deployed)",
        "lineage: run ",
        "champion: against v1: accuracy",
        // traffic set --model, then the evaluation promoted it.
        "applied: version ",
        "`fraud-scoring` version 2 is approved",
        "model fraud-scoring v2",
        "rollback done: `local`",
    ] {
        assert!(
            stdout.contains(expected),
            "{expected:?} in:\n{stdout}\n{stderr}"
        );
    }
}
