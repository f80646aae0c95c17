//! `schema`: the JSON Schema of deploy.toml or of an environment file, for editors, or of a
//! command's `--output json` document, for consumers; with
//! `--write`, the schemas kept in the repository and the hints editors read in the config
//! files; with `--check`, whether those are up to date (CI).

use super::Session;
use super::pipeline::{Generated, Outcome as FilesOutcome, write};
use crate::error::Error;
use crate::schema::{OutputContract, SchemaFile};

pub enum Request {
    Print(SchemaFile),
    /// The schema of a command's `--output json` document (the contract `report` keeps).
    Output(serde_json::Value),
    /// Write the schemas and hints (`check` false) or report the stale ones (`check`).
    Files {
        check: bool,
        /// The output schema file, which `report` derives from the commands' outcomes.
        contract: OutputContract,
    },
}

pub enum Outcome {
    /// The schema document.
    Printed(serde_json::Value),
    Files(FilesOutcome),
}

pub async fn run(session: &Session<'_>, request: Request) -> Result<Outcome, Error> {
    let (check, contract) = match request {
        Request::Print(file) => return Ok(Outcome::Printed(crate::schema::schema(file))),
        Request::Output(schema) => return Ok(Outcome::Printed(schema)),
        Request::Files { check, contract } => (check, contract),
    };
    let root = &session.project_dir;
    let files = crate::schema::project_files(root, contract);
    let stale: Vec<_> = files.iter().filter(|f| f.current != f.wanted).collect();
    let mut outcome = FilesOutcome {
        kind: Generated::Schemas,
        check,
        files: files.iter().map(|f| f.path.display().to_string()).collect(),
        stale: stale.iter().map(|f| f.path.display().to_string()).collect(),
        diff: Vec::new(),
    };
    if check {
        outcome.diff = stale
            .iter()
            .map(|f| crate::pipeline::diff(&f.path, &f.current, &f.wanted))
            .collect();
    } else {
        for file in &stale {
            write(root, &file.path, Some(&file.wanted))?;
        }
    }
    Ok(Outcome::Files(outcome))
}
