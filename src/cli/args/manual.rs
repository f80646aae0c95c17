//! `completions` and `man`: generated from the command line's own definitions.

use clap::Args;

use super::{Action, Error, Exit, Invocation, Presenter, Session};

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

impl Invocation for CompletionsArgs {
    fn action(&self) -> Action {
        Action::Completions
    }

    async fn run(self, _: &Session<'_>, _: &Presenter<'_>) -> Result<(String, Exit), Error> {
        Ok((crate::cli::manual::completions(self.shell), Exit::Ok))
    }
}

#[derive(Debug, Args)]
pub struct ManArgs {}

impl Invocation for ManArgs {
    fn action(&self) -> Action {
        Action::Man
    }

    async fn run(self, _: &Session<'_>, _: &Presenter<'_>) -> Result<(String, Exit), Error> {
        Ok((crate::cli::manual::man_page()?, Exit::Ok))
    }
}
