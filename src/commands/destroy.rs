//! `destroy`: deletes an environment's ECS services, then its stacks (dependents first),
//! then the alarms it owns. Never production.

use super::Session;
use super::guarded::Deployed;
use crate::config::Tier;
use crate::deployment::DeployReport;
use crate::error::{Error, Refusal, Unconfirmed};
use crate::release::record::Operation;
use crate::render;

pub struct Request {
    pub yes: bool,
    pub max_concurrency: usize,
}

pub async fn run(session: &Session<'_>, request: Request) -> Result<Deployed, Error> {
    let loaded = session.load_env()?;
    let env = &loaded.config.environment;
    if env.tier == Tier::Production {
        return Err(Refusal::ProductionDestroy {
            environment: env.name.clone(),
        }
        .into());
    }
    let rendered = render::render(&loaded)?;
    if !request.yes
        && !session
            .console
            .confirm(&format!("Delete every stack of `{}`?", env.name))
    {
        return Err(Refusal::NotConfirmed(Unconfirmed::Destroy {
            environment: env.name.clone(),
        })
        .into());
    }
    let aws = session.aws(env).await?;
    // The services first: facturactl owns them, and the stacks' cluster and load balancer
    // cannot go while they run.
    let run = session
        .with_progress(async |progress| {
            crate::services::remove_all(&aws, &loaded.config, progress).await?;
            crate::stacks::destroy::destroy(&aws, &rendered, request.max_concurrency, progress)
                .await
        })
        .await?;
    let mut report = DeployReport::new(Operation::Destroy, &env.name, run);
    // Then the alarms the tool owns (tagged with this environment's owner): nothing is
    // left to watch. Only after every stack went, so a failed destroy keeps its alarms.
    if !report.failed() {
        let config = &loaded.config;
        let live = crate::alarms::apply::live_alarms(&aws, config).await?;
        report.alarms =
            Some(crate::alarms::apply::sync_with(&aws, config, &[], &live, true).await?);
    }
    report.retries = aws.retries.totals();
    Ok(Deployed {
        report,
        version: None,
        warning_exit: false,
    })
}
