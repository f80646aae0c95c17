//! `rollback`: its arguments and its use case.

use clap::Args;

use super::{Action, Document, Error, Exit, Invocation, Presenter, Session};
use crate::commands;

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// A record id or a release tag (default: the newest earlier release that runs other
    /// services).
    #[arg(long, value_name = "RELEASE")]
    to: Option<String>,
    /// Do not ask (required without a terminal).
    #[arg(short = 'y', long)]
    yes: bool,
}

impl RollbackArgs {
    fn request(self) -> commands::rollback::Request {
        commands::rollback::Request {
            to: self.to,
            yes: self.yes,
        }
    }
}

impl Invocation for RollbackArgs {
    fn action(&self) -> Action {
        Action::Document(Document::Rollback)
    }

    async fn run(
        self,
        session: &Session<'_>,
        show: &Presenter<'_>,
    ) -> Result<(String, Exit), Error> {
        Ok(show.present(&commands::rollback::run(session, self.request()).await?))
    }
}
