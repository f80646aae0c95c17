//! `release check`: its arguments and its use case.

use clap::Subcommand;

use super::{Action, Document, Error, Exit, Invocation, Presenter, Session};
use crate::commands;

#[derive(Debug, Subcommand)]
pub enum ReleaseCommand {
    /// Check the release gate of `--env` for the checkout (or `--tag`).
    Check {
        /// Check this tag instead of the checkout's own.
        #[arg(long)]
        tag: Option<String>,
    },
}

impl ReleaseCommand {
    fn request(self) -> commands::release_check::Request {
        match self {
            Self::Check { tag } => commands::release_check::Request { tag },
        }
    }
}

impl Invocation for ReleaseCommand {
    fn action(&self) -> Action {
        Action::Document(Document::ReleaseCheck)
    }

    async fn run(
        self,
        session: &Session<'_>,
        show: &Presenter<'_>,
    ) -> Result<(String, Exit), Error> {
        Ok(show.present(&commands::release_check::run(session, self.request()).await?))
    }
}
