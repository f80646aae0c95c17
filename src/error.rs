//! The errors a command can end with, and the exit code of each.

use std::path::PathBuf;

use crate::config::ConfigErrors;
use crate::exit::Exit;
use crate::render::RenderError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    #[error("{0}")]
    Render(#[from] RenderError),
    #[error("error: cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("error: {message}\n  = help: {help}")]
    Usage { message: String, help: String },
}

impl Error {
    pub fn exit(&self) -> Exit {
        Exit::Error
    }

    /// A short machine-readable kind, for JSON output and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Config(_) => "config",
            Self::Render(_) => "render",
            Self::Write { .. } => "io",
            Self::Usage { .. } => "usage",
        }
    }
}
