//! `destroy`: its arguments and its use case.

use clap::Args;

use super::{Action, Document, Error, Exit, Invocation, Presenter, Session};
use crate::commands;

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// Do not ask (required without a terminal).
    #[arg(short = 'y', long)]
    yes: bool,
    /// Delete only this stack (repeatable): one of the environment's, or one the
    /// configuration no longer defines (`plan` lists those as orphaned). Refused while a
    /// deployed stack that depends on it stays.
    #[arg(long = "stack", value_name = "STACK", add = super::stacks())]
    stacks: Vec<String>,
    /// Stacks deleted at once (independent ones), 1 to 64.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    max_concurrency: u16,
}

impl DestroyArgs {
    fn request(self) -> commands::destroy::Request {
        commands::destroy::Request {
            yes: self.yes,
            max_concurrency: usize::from(self.max_concurrency),
            stacks: self.stacks,
        }
    }
}

impl Invocation for DestroyArgs {
    fn action(&self) -> Action {
        Action::Document(Document::Destroy)
    }

    async fn run(
        self,
        session: &Session<'_>,
        show: &Presenter<'_>,
    ) -> Result<(String, Exit), Error> {
        Ok(show.present(&commands::destroy::run(session, self.request()).await?))
    }
}
