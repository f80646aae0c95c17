//! `config show`: its use case.

use clap::Subcommand;

use super::{Action, Document, Error, Exit, Invocation, Presenter, Session};
use crate::commands;

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration of an environment (secrets as references).
    Show,
}

impl Invocation for ConfigCommand {
    fn action(&self) -> Action {
        Action::Document(Document::ConfigShow)
    }

    async fn run(
        self,
        session: &Session<'_>,
        show: &Presenter<'_>,
    ) -> Result<(String, Exit), Error> {
        match self {
            Self::Show => Ok(show.present(&commands::config_show::run(session).await?)),
        }
    }
}
