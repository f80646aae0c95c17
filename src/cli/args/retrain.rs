//! `retrain`: its arguments and its use case (a run, or the pending runs registered).

use clap::Args;

use super::{Action, Document, Error, Exit, Invocation, Presenter, Session};
use crate::commands;

#[derive(Debug, Args)]
pub struct RetrainArgs {
    /// The model, as `fraud-scoring`.
    model: String,
    /// Point this alias at the new version, as `candidate`.
    #[arg(long)]
    alias: Option<String>,
    /// Register what an ended run wrote (a scheduled or drift-started run, named by its
    /// ECS task id, or one whose following timed out) instead of starting one.
    #[arg(long, value_name = "RUN")]
    register: Option<String>,
    /// Register every ended run not yet a version (scheduled and drift-started runs), oldest
    /// first; `--alias` moves to the newest. For an unattended job after the schedule. Exit
    /// 3 when a run's output is refused, 1 when one could not be read; the others are
    /// registered all the same.
    #[arg(long, conflicts_with = "register")]
    register_pending: bool,
}

impl RetrainArgs {
    fn request(self) -> commands::retrain::Request {
        use commands::retrain::Request;
        if self.register_pending {
            Request::Pending {
                model: self.model,
                alias: self.alias,
            }
        } else {
            Request::Run {
                model: self.model,
                alias: self.alias,
                register: self.register,
            }
        }
    }
}

impl Invocation for RetrainArgs {
    fn action(&self) -> Action {
        Action::Document(if self.register_pending {
            Document::RetrainPending
        } else {
            Document::Retrain
        })
    }

    async fn run(
        self,
        session: &Session<'_>,
        show: &Presenter<'_>,
    ) -> Result<(String, Exit), Error> {
        Ok(
            match commands::retrain::run(session, self.request()).await? {
                commands::retrain::Retrained::Run(outcome) => show.present(&*outcome),
                commands::retrain::Retrained::Pending(outcome) => show.present(&outcome),
            },
        )
    }
}
