//! `audit drift` and `audit alarms`: their arguments and their use case.

use clap::{Args, Subcommand};

use super::{Action, Document, Error, Exit, Invocation, Presenter, Session};
use crate::commands;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Live environment versus the rendered templates and the last deployment record:
    /// stacks (CloudFormation drift included), services changed out of band, alarms.
    Drift(DriftArgs),
    /// Alarms as declared, their actions' topics and subscriptions, undeclared alarms,
    /// alarms firing or without data for longer than --stale-hours.
    Alarms(AuditAlarmsArgs),
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    /// Only these stacks (services and alarms are then not audited).
    #[arg(long = "stack", value_name = "STACK", add = super::stacks())]
    stacks: Vec<String>,
    /// Tell the notification channels when there are findings or checks that did not run.
    #[arg(long)]
    notify: bool,
    /// Alarms firing or without data for longer than this are findings.
    #[arg(long, default_value_t = 24)]
    stale_hours: u64,
    /// A check that could not run (drift detection not offered, access denied, throttled)
    /// does not fail the audit: exit 0 when nothing was found (default: exit 1,
    /// `incomplete`).
    #[arg(long)]
    allow_incomplete: bool,
}

#[derive(Debug, Args)]
pub struct AuditAlarmsArgs {
    /// Tell the notification channels when there are findings or checks that did not run.
    #[arg(long)]
    notify: bool,
    /// Alarms firing or without data for longer than this are findings.
    #[arg(long, default_value_t = 24)]
    stale_hours: u64,
    /// A check that could not run does not fail the audit (see `audit drift`).
    #[arg(long)]
    allow_incomplete: bool,
}

impl AuditCommand {
    fn request(self) -> commands::audit::Request {
        use commands::audit::{Audit, Request};
        match self {
            Self::Drift(a) => Request {
                audit: Audit::Drift,
                stacks: a.stacks,
                notify: a.notify,
                stale_hours: a.stale_hours,
                allow_incomplete: a.allow_incomplete,
            },
            Self::Alarms(a) => Request {
                audit: Audit::Alarms,
                stacks: Vec::new(),
                notify: a.notify,
                stale_hours: a.stale_hours,
                allow_incomplete: a.allow_incomplete,
            },
        }
    }
}

impl Invocation for AuditCommand {
    fn action(&self) -> Action {
        Action::Document(match self {
            Self::Drift(_) => Document::AuditDrift,
            Self::Alarms(_) => Document::AuditAlarms,
        })
    }

    async fn run(
        self,
        session: &Session<'_>,
        show: &Presenter<'_>,
    ) -> Result<(String, Exit), Error> {
        Ok(show.present(&commands::audit::run(session, self.request()).await?))
    }
}
