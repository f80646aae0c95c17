//! `history`: its arguments and its use case.

use clap::Args;

use super::{Action, Document, Error, Exit, Invocation, Presenter, Session};
use crate::commands;

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// How many records, newest first.
    #[arg(long, default_value_t = 20)]
    limit: usize,
}

impl HistoryArgs {
    fn request(self) -> commands::history::Request {
        commands::history::Request { limit: self.limit }
    }
}

impl Invocation for HistoryArgs {
    fn action(&self) -> Action {
        Action::Document(Document::History)
    }

    async fn run(
        self,
        session: &Session<'_>,
        show: &Presenter<'_>,
    ) -> Result<(String, Exit), Error> {
        Ok(show.present(&commands::history::run(session, self.request()).await?))
    }
}
