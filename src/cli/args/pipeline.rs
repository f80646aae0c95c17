//! `pipeline render`: its arguments and its use case.

use clap::Subcommand;

use super::{Action, Document, Error, Exit, Invocation, Presenter, Session};
use crate::commands;

#[derive(Debug, Subcommand)]
pub enum PipelineCommand {
    /// Write .github/workflows/*.yml from pipelines/*.toml (and remove generated workflows
    /// whose definition is gone).
    Render {
        /// Write nothing: exit 2 with a diff when the committed workflows are stale.
        #[arg(long)]
        check: bool,
    },
}

impl PipelineCommand {
    fn request(self) -> commands::pipeline::Request {
        match self {
            Self::Render { check } => commands::pipeline::Request { check },
        }
    }
}

impl Invocation for PipelineCommand {
    fn action(&self) -> Action {
        Action::Document(Document::PipelineRender)
    }

    async fn run(
        self,
        session: &Session<'_>,
        show: &Presenter<'_>,
    ) -> Result<(String, Exit), Error> {
        Ok(show.present(&commands::pipeline::run(session, self.request()).await?))
    }
}
