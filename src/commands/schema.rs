//! `schema`: the JSON Schema of deploy.toml or of an environment file, for editors; with
//! `--write`, the schemas kept in the repository and the hints editors read in the config
//! files; with `--check`, whether those are up to date (CI).

use super::Session;
use super::pipeline::{Generated, Outcome as FilesOutcome, write};
use crate::error::Error;
use crate::schema::SchemaFile;

pub enum Request {
    Print(SchemaFile),
    /// Write the schemas and hints (`check` false) or report the stale ones (`check`).
    Files {
        check: bool,
    },
}

pub enum Outcome {
    /// The schema document.
    Printed(serde_json::Value),
    Files(FilesOutcome),
}

pub async fn run(session: &Session<'_>, request: Request) -> Result<Outcome, Error> {
    let check = match request {
        Request::Print(file) => return Ok(Outcome::Printed(crate::schema::schema(file))),
        Request::Files { check } => check,
    };
    let root = &session.project_dir;
    let files = crate::schema::project_files(root);
    let stale: Vec<_> = files
        .iter()
        .filter_map(|(path, text)| {
            let current = std::fs::read_to_string(root.join(path)).unwrap_or_default();
            (current != *text).then(|| (path, crate::pipeline::diff(path, &current, text)))
        })
        .collect();
    let mut outcome = FilesOutcome {
        kind: Generated::Schemas,
        check,
        files: files.iter().map(|(p, _)| p.display().to_string()).collect(),
        stale: stale.iter().map(|(p, _)| p.display().to_string()).collect(),
        diff: stale.iter().map(|(_, d)| d.clone()).collect(),
    };
    if !check {
        for (path, text) in files
            .iter()
            .filter(|(p, _)| stale.iter().any(|(s, _)| *s == p))
        {
            write(root, path, Some(text))?;
        }
        outcome.diff.clear();
    }
    Ok(Outcome::Files(outcome))
}
