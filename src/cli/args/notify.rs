//! `notify`: its arguments and its use case.

use clap::Args;

use super::{Action, Document, Error, Exit, Invocation, Presenter, Session};
use crate::commands;
use crate::notify::Verdict;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StageResult {
    Success,
    Failure,
}

#[derive(Debug, Args)]
pub struct NotifyArgs {
    /// The stage, as `build` or `integration-tests`.
    #[arg(long)]
    stage: String,
    /// How the stage ended.
    #[arg(long, value_enum)]
    result: StageResult,
    /// A line of detail: what was built, or why it failed.
    #[arg(long)]
    message: Option<String>,
    /// How long the stage took.
    #[arg(long, default_value_t = 0)]
    duration_seconds: u64,
    /// The version or tag (default: the tag at HEAD, or GITHUB_REF_NAME on a tag).
    #[arg(long)]
    version: Option<String>,
}

impl NotifyArgs {
    fn request(self) -> commands::notify::Request {
        commands::notify::Request {
            stage: self.stage,
            verdict: match self.result {
                StageResult::Success => Verdict::Succeeded,
                StageResult::Failure => Verdict::Failed,
            },
            message: self.message,
            duration_seconds: self.duration_seconds,
            version: self.version,
        }
    }
}

impl Invocation for NotifyArgs {
    fn action(&self) -> Action {
        Action::Document(Document::Notify)
    }

    async fn run(
        self,
        session: &Session<'_>,
        show: &Presenter<'_>,
    ) -> Result<(String, Exit), Error> {
        Ok(show.present(&commands::notify::run(session, self.request()).await?))
    }
}
