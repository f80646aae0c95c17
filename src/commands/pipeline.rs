//! `pipeline render`: pipelines/*.toml become .github/workflows; `--check` writes nothing
//! and reports the stale files with a diff.

use std::path::{Path, PathBuf};

use super::Session;
use crate::error::Error;

pub struct Request {
    pub check: bool,
}

/// Which generated files an outcome is about: what they are called, and the command that
/// regenerates them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generated {
    Workflows,
    Schemas,
}

impl Generated {
    pub fn noun(self) -> &'static str {
        match self {
            Self::Workflows => "workflows",
            Self::Schemas => "schema files and hints",
        }
    }

    pub fn command(self) -> &'static str {
        match self {
            Self::Workflows => "facturactl pipeline render",
            Self::Schemas => "facturactl schema --write",
        }
    }
}

/// Generated files kept in the repository: which ones, and which were (or are) stale.
pub struct Outcome {
    pub kind: Generated,
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
        kind: Generated::Workflows,
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

/// Writes a generated file, or removes it when `text` is none.
pub(crate) fn write(root: &Path, path: &Path, text: Option<&str>) -> Result<(), Error> {
    let full: PathBuf = root.join(path);
    let result = match text {
        Some(text) => full
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&full, text)),
        None => std::fs::remove_file(&full),
    };
    result.map_err(|source| Error::Write {
        path: full,
        source,
        nothing_written: false,
    })
}
