//! `status`: its use case (it takes no arguments of its own).

use clap::Args;

use super::{Action, Document, Error, Exit, Invocation, Presenter, Session};
use crate::commands;

#[derive(Debug, Args)]
pub struct StatusArgs {}

impl Invocation for StatusArgs {
    fn action(&self) -> Action {
        Action::Document(Document::Status)
    }

    async fn run(
        self,
        session: &Session<'_>,
        show: &Presenter<'_>,
    ) -> Result<(String, Exit), Error> {
        Ok(show.present(&commands::status::run(session).await?))
    }
}
