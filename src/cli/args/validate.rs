//! `validate`: its arguments and its use case.

use clap::Args;

use super::{Action, Document, Error, Exit, Invocation, Presenter, Session};
use crate::commands;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// List the policy rules and why each exists, instead of validating.
    #[arg(long)]
    explain: bool,
}

impl ValidateArgs {
    fn request(self) -> commands::validate::Request {
        commands::validate::Request {
            explain: self.explain,
        }
    }
}

impl Invocation for ValidateArgs {
    fn action(&self) -> Action {
        Action::Document(Document::Validate)
    }

    async fn run(
        self,
        session: &Session<'_>,
        show: &Presenter<'_>,
    ) -> Result<(String, Exit), Error> {
        Ok(show.present(&commands::validate::run(session, self.request()).await?))
    }
}
