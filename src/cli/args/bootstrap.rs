//! `bootstrap`: its arguments and its use case.

use clap::Args;

use super::{Action, Document, Error, Exit, Invocation, Presenter, Session};
use crate::commands;

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// Stacks deployed at once (independent ones), 1 to 64.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    max_concurrency: u16,
}

impl BootstrapArgs {
    fn request(self) -> commands::bootstrap::Request {
        commands::bootstrap::Request {
            max_concurrency: usize::from(self.max_concurrency),
        }
    }
}

impl Invocation for BootstrapArgs {
    fn action(&self) -> Action {
        Action::Document(Document::Bootstrap)
    }

    async fn run(
        self,
        session: &Session<'_>,
        show: &Presenter<'_>,
    ) -> Result<(String, Exit), Error> {
        Ok(show.present(&commands::bootstrap::run(session, self.request()).await?))
    }
}
