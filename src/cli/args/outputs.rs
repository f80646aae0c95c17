//! `outputs`: its arguments and its use case.

use clap::Args;

use super::{Action, Document, Error, Exit, Invocation, Presenter, Session};
use crate::commands;

#[derive(Debug, Args)]
pub struct OutputsArgs {
    /// Only this stack (repeatable); all enabled stacks by default.
    #[arg(long = "stack", value_name = "STACK", add = super::stacks())]
    stacks: Vec<String>,
}

impl Invocation for OutputsArgs {
    fn action(&self) -> Action {
        Action::Document(Document::Outputs)
    }

    async fn run(
        self,
        session: &Session<'_>,
        show: &Presenter<'_>,
    ) -> Result<(String, Exit), Error> {
        let request = commands::outputs::Request {
            stacks: self.stacks,
        };
        Ok(show.present(&commands::outputs::run(session, request).await?))
    }
}
