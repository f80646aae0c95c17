//! `preflight`: its use case (it takes no arguments of its own).

use clap::Args;

use super::{Action, Document, Error, Exit, Invocation, Presenter, Session};
use crate::commands;

#[derive(Debug, Args)]
pub struct PreflightArgs {}

impl Invocation for PreflightArgs {
    fn action(&self) -> Action {
        Action::Document(Document::Preflight)
    }

    async fn run(
        self,
        session: &Session<'_>,
        show: &Presenter<'_>,
    ) -> Result<(String, Exit), Error> {
        Ok(show.present(&commands::preflight::run(session).await?))
    }
}
