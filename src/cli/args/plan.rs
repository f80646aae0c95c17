//! `plan`: its arguments and its use case.

use clap::Args;

use super::{Action, Document, Error, Exit, Invocation, Presenter, Session};
use crate::commands;

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Only these stacks.
    #[arg(long = "stack", value_name = "STACK", add = super::stacks())]
    stacks: Vec<String>,
    /// Exit 2 when anything would change.
    #[arg(long)]
    detailed_exitcode: bool,
    /// Include a diff of each template (deployed versus rendered, normalised).
    #[arg(long)]
    diff: bool,
    /// Keep the change sets and write the plan to FILE: `deploy --plan FILE` executes
    /// exactly them, and refuses if anything moved since (the whole environment only).
    #[arg(long, value_name = "FILE", conflicts_with = "stacks")]
    save: Option<std::path::PathBuf>,
}

impl PlanArgs {
    fn request(self) -> commands::plan::Request {
        commands::plan::Request {
            stacks: self.stacks,
            detailed_exitcode: self.detailed_exitcode,
            diff: self.diff,
            save: self.save,
        }
    }
}

impl Invocation for PlanArgs {
    fn action(&self) -> Action {
        Action::Document(Document::Plan)
    }

    async fn run(
        self,
        session: &Session<'_>,
        show: &Presenter<'_>,
    ) -> Result<(String, Exit), Error> {
        Ok(show.present(&commands::plan::run(session, self.request()).await?))
    }
}
