//! `alarms plan` and `alarms apply`: CloudWatch alarms made to match the definitions.

use super::{Session, steps};
use crate::alarms::apply::AlarmsReport;
use crate::error::Error;

pub struct Request {
    /// Create, update and delete; otherwise only say what would change.
    pub apply: bool,
    /// Exit 2 when anything would change (plan).
    pub detailed_exitcode: bool,
    /// Apply in production without asking.
    pub yes: bool,
}

pub struct Outcome {
    pub report: AlarmsReport,
    pub detailed_exitcode: bool,
}

pub async fn run(session: &Session<'_>, request: Request) -> Result<Outcome, Error> {
    let (loaded, rendered) = steps::load_checked(session, session.env()?)?;
    let env = &loaded.config.environment;
    // Production's alarms page people: changed only on purpose.
    if request.apply
        && env.tier == crate::config::Tier::Production
        && !request.yes
        && !session.console.confirm(&format!(
            "Apply the alarms of `{}` (create, update, delete)?",
            env.name
        ))
    {
        return Err(
            crate::error::Refusal::NotConfirmed(crate::error::Unconfirmed::Alarms {
                environment: env.name.clone(),
            })
            .into(),
        );
    }
    let aws = session.aws(&loaded.config.environment).await?;
    let report =
        crate::alarms::apply::sync(&aws, &loaded.config, &rendered.alarms, request.apply).await?;
    Ok(Outcome {
        report,
        detailed_exitcode: request.detailed_exitcode && !request.apply,
    })
}
