//! `schema`: the JSON Schema of deploy.toml or of an environment file, for editors.

use crate::error::Error;
use crate::schema::SchemaFile;

pub struct Request {
    pub file: SchemaFile,
}

/// The schema document.
pub struct Outcome(pub serde_json::Value);

pub async fn run(request: Request) -> Result<Outcome, Error> {
    Ok(Outcome(crate::schema::schema(request.file)))
}
