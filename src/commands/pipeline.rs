//! `pipeline render`: pipelines/*.toml become .github/workflows; `--check` writes nothing
//! and reports the stale files with a diff.

use std::path::{Path, PathBuf};

use super::Session;
use crate::error::Error;

pub struct Request {
    pub check: bool,
}

pub struct Outcome {
    pub check: bool,
    /// Every generated workflow.
    pub files: Vec<String>,
    /// Written (render) or stale (`--check`); a removed orphan counts too.
    pub stale: Vec<String>,
    /// Unified diffs, committed -> fresh, with `--check`.
    pub diff: Vec<String>,
}

pub async fn run(session: &Session<'_>, request: Request) -> Result<Outcome, Error> {
    let root = &session.project_dir;
    let definitions = crate::pipeline::load_all(root)?;
    let files: Vec<_> = definitions
        .iter()
        .flat_map(crate::pipeline::workflow::render)
        .collect();
    let stale = crate::pipeline::compare(root, &files);
    let mut outcome = Outcome {
        check: request.check,
        files: files.iter().map(|f| f.path.display().to_string()).collect(),
        stale: stale
            .diffs
            .iter()
            .map(|(p, _)| p.display().to_string())
            .collect(),
        diff: stale.diffs.into_iter().map(|(_, d)| d).collect(),
    };
    if request.check {
        return Ok(outcome);
    }
    for file in &files {
        if outcome.stale.contains(&file.path.display().to_string()) {
            write(root, &file.path, Some(&file.text))?;
        }
    }
    for orphan in crate::pipeline::orphans(root, &files) {
        write(root, &orphan, None)?;
    }
    outcome.diff.clear();
    Ok(outcome)
}

/// Writes a workflow, or removes it when `text` is none.
fn write(root: &Path, path: &Path, text: Option<&str>) -> Result<(), Error> {
    let full: PathBuf = root.join(path);
    let result = match text {
        Some(text) => full
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&full, text)),
        None => std::fs::remove_file(&full),
    };
    result.map_err(|source| Error::Write { path: full, source })
}
