//! `destroy`: deletes an environment's ECS services, then its stacks, dependents first.
//! Never production.

use super::Session;
use super::guarded::Deployed;
use crate::config::Tier;
use crate::deployment::{DeployReport, Operation};
use crate::error::{Error, Refusal, Unconfirmed};
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
    report.retries = aws.retries.totals();
    Ok(Deployed {
        report,
        version: None,
        warning_exit: false,
    })
}
