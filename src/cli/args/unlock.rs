//! `unlock`: its arguments and its use case.

use clap::Args;

use super::{Action, Document, Error, Exit, Invocation, Presenter, Session};
use crate::commands;

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// Do not ask (required without a terminal).
    #[arg(short = 'y', long)]
    yes: bool,
}

impl UnlockArgs {
    fn request(self) -> commands::unlock::Request {
        commands::unlock::Request { yes: self.yes }
    }
}

impl Invocation for UnlockArgs {
    fn action(&self) -> Action {
        Action::Document(Document::Unlock)
    }

    async fn run(
        self,
        session: &Session<'_>,
        show: &Presenter<'_>,
    ) -> Result<(String, Exit), Error> {
        Ok(show.present(&commands::unlock::run(session, self.request()).await?))
    }
}
