//! `destroy`: deletes an environment's ECS services, then its stacks (dependents first),
//! then the alarms it owns, under the deploy lock. Never production.

use super::guarded::{self, Deployed, Guard};
use super::{Session, steps};
use crate::aws::AwsContext;
use crate::config::{Config, Tier};
use crate::deployment::DeployReport;
use crate::error::{Error, Refusal, Unconfirmed};
use crate::release::record::Operation;
use crate::render::{self, RenderedEnv};

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
    // Like every command that changes the environment: not while another run does.
    let guard = Guard {
        operation: Operation::Destroy,
        config: &loaded.config,
        provenance: steps::provenance(session, &loaded, None),
        from: None,
    };
    let mut report = guarded::locked(session, &aws, &guard, async || {
        remove_everything(
            session,
            &aws,
            &loaded.config,
            &rendered,
            request.max_concurrency,
        )
        .await
    })
    .await?;
    report.retries = aws.retries.totals();
    Ok(Deployed {
        report,
        version: None,
        warning_exit: false,
    })
}

/// The services first (facturactl owns them, and the stacks' cluster and load balancer
/// cannot go while they run), then the stacks, then the alarms the tool owns (tagged with
/// this environment's owner): only after every stack went, so a failed destroy keeps them.
async fn remove_everything(
    session: &Session<'_>,
    aws: &AwsContext,
    config: &Config,
    rendered: &RenderedEnv,
    max_concurrency: usize,
) -> Result<DeployReport, Error> {
    let run = session
        .with_progress(async |progress| {
            crate::services::remove_all(aws, config, progress).await?;
            crate::stacks::destroy::destroy(aws, rendered, max_concurrency, progress).await
        })
        .await?;
    let mut report = DeployReport::new(Operation::Destroy, &config.environment.name, run);
    if !report.failed() {
        let live = crate::alarms::apply::live_alarms(aws, config).await?;
        report.alarms = Some(crate::alarms::apply::sync_with(aws, config, &[], &live, true).await?);
    }
    Ok(report)
}
