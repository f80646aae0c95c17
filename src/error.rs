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
    #[error("error: {0}")]
    Aws(#[from] AwsError),
    #[error("error: {message}\n  = help: {help}")]
    Refused { message: String, help: String },
    #[error("error: {}\n  = help: {}", .0.message, .0.help)]
    Artifact(#[from] crate::services::artifact::ArtifactError),
    #[error("error: {message}\n  = help: {help}")]
    Interrupted { message: String, help: String },
}

/// A failed AWS call: the operation, the service's error code, and its message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation} failed: {message}")]
pub struct AwsError {
    pub operation: &'static str,
    pub code: Option<String>,
    pub message: String,
}

impl AwsError {
    pub fn new<E, R>(
        operation: &'static str,
        error: aws_sdk_cloudformation::error::SdkError<E, R>,
    ) -> Self
    where
        E: aws_sdk_cloudformation::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        use aws_sdk_cloudformation::error::ProvideErrorMetadata;
        let code = error.code().map(str::to_string);
        let message = match (error.code(), error.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            _ => aws_sdk_cloudformation::error::DisplayErrorContext(&error).to_string(),
        };
        Self {
            operation,
            code,
            message,
        }
    }
}

impl Error {
    pub fn exit(&self) -> Exit {
        match self {
            Self::Refused { .. } => Exit::Refused,
            Self::Interrupted { .. } => Exit::Interrupted,
            _ => Exit::Error,
        }
    }

    /// A short machine-readable kind, for JSON output and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Config(_) => "config",
            Self::Render(_) => "render",
            Self::Write { .. } => "io",
            Self::Usage { .. } => "usage",
            Self::Aws(_) => "aws",
            Self::Refused { .. } => "refused",
            Self::Artifact(_) => "artifact",
            Self::Interrupted { .. } => "interrupted",
        }
    }
}
