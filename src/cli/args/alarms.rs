//! `alarms plan` and `alarms apply`: their arguments and their use case.

use clap::Subcommand;

use super::{Action, Document, Error, Exit, Invocation, Presenter, Session};
use crate::commands;

#[derive(Debug, Subcommand)]
pub enum AlarmsCommand {
    /// Show what `apply` would create, update and delete.
    Plan {
        /// Exit 2 when anything would change.
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// Create and update the defined alarms, delete the tool's alarms no longer defined.
    Apply {
        /// Do not ask (in production, it asks on a terminal and is refused without one).
        #[arg(short = 'y', long)]
        yes: bool,
    },
}

impl AlarmsCommand {
    fn request(self) -> commands::alarms::Request {
        match self {
            Self::Plan { detailed_exitcode } => commands::alarms::Request {
                apply: false,
                detailed_exitcode,
                yes: false,
            },
            Self::Apply { yes } => commands::alarms::Request {
                apply: true,
                detailed_exitcode: false,
                yes,
            },
        }
    }
}

impl Invocation for AlarmsCommand {
    fn action(&self) -> Action {
        match self {
            Self::Plan { .. } => Action::Document(Document::AlarmsPlan),
            Self::Apply { .. } => Action::Document(Document::AlarmsApply),
        }
    }

    async fn run(
        self,
        session: &Session<'_>,
        show: &Presenter<'_>,
    ) -> Result<(String, Exit), Error> {
        Ok(show.present(&commands::alarms::run(session, self.request()).await?))
    }
}
