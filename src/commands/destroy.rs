//! `destroy`: deletes an environment's ECS services, then its stacks (dependents first),
//! then the alarms it owns, under the deploy lock. Never production.

use super::guarded::{self, Deployed, Guard};
use super::{Session, steps};
use crate::aws::AwsContext;
use crate::config::{Config, Tier};
use crate::deployment::DeployReport;
use crate::error::{Error, Refusal, Unconfirmed, Usage};
use crate::release::record::Operation;
use crate::render::{self, RenderedEnv, RenderedStack};

pub struct Request {
    pub yes: bool,
    pub max_concurrency: usize,
    /// Only these stacks (none: every stack).
    pub stacks: Vec<String>,
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
    if !request.stacks.is_empty() {
        return destroy_stacks(session, &loaded, &rendered, &request).await;
    }
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
    let report = guarded::locked(session, &aws, &guard, async || {
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
    Ok(finished(report, &aws))
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

/// `destroy --stack`: the named stacks only, each one of the environment's or an orphan
/// (a stack of this environment the configuration no longer defines). Refused before any
/// change while a deployed stack that depends on one of them is not destroyed with it.
async fn destroy_stacks(
    session: &Session<'_>,
    loaded: &crate::config::LoadedConfig,
    rendered: &RenderedEnv,
    request: &Request,
) -> Result<Deployed, Error> {
    let config = &loaded.config;
    let aws = session.aws(&config.environment).await?;
    let live = crate::stacks::live::all(&aws.cloudformation).await?;
    let orphans = crate::stacks::live::orphans_of(rendered, &live);
    let mut selected = RenderedEnv {
        environment: rendered.environment.clone(),
        stacks: Vec::new(),
        alarms: Vec::new(),
    };
    for name in &request.stacks {
        if let Some(stack) = rendered.stacks.iter().find(|s| &s.name == name) {
            selected.stacks.push(stack.clone());
        } else if let Some(orphan) = orphans
            .iter()
            .find(|o| &o.stack == name || &o.stack_name == name)
        {
            let body = aws
                .cloudformation
                .get_template()
                .stack_name(&orphan.stack_name)
                .send()
                .await
                .map_err(|e| crate::aws::AwsError::new("GetTemplate", e))?;
            let body = body.template_body().unwrap_or_default();
            selected.stacks.push(RenderedStack::deployed(
                &orphan.stack,
                &orphan.stack_name,
                body,
            ));
        } else {
            let mut known: Vec<String> = rendered.stacks.iter().map(|s| s.name.clone()).collect();
            known.extend(orphans.iter().map(|o| format!("{} (orphaned)", o.stack)));
            return Err(Usage::UnknownStack {
                name: name.clone(),
                known,
            }
            .into());
        }
    }
    refuse_with_dependents(rendered, &selected, &live)?;
    let names: Vec<&str> = selected.stacks.iter().map(|s| s.name.as_str()).collect();
    if !request.yes
        && !session.console.confirm(&format!(
            "Delete stack{} {} of `{}`?",
            if names.len() == 1 { "" } else { "s" },
            names.join(", "),
            config.environment.name
        ))
    {
        return Err(Refusal::NotConfirmed(Unconfirmed::Destroy {
            environment: config.environment.name.clone(),
        })
        .into());
    }
    let guard = Guard {
        operation: Operation::Destroy,
        config,
        provenance: steps::provenance(session, loaded, None),
        from: None,
    };
    let stacks: Vec<String> = names.iter().map(|n| (*n).to_string()).collect();
    let report = guarded::locked(session, &aws, &guard, async || {
        let run = session
            .with_progress(async |progress| {
                crate::services::remove_in(&aws, config, &stacks, progress).await?;
                crate::stacks::destroy::destroy(&aws, &selected, request.max_concurrency, progress)
                    .await
            })
            .await?;
        let mut report = DeployReport::new(Operation::Destroy, &config.environment.name, run);
        report.alarms_note = Some(
            "alarms not changed: a partial destroy (--stack); `facturactl alarms apply` syncs them"
                .into(),
        );
        Ok::<_, Error>(report)
    })
    .await?;
    Ok(finished(report, &aws))
}

/// The deployed stacks that depend on a selected one and are not selected themselves.
fn refuse_with_dependents(
    rendered: &RenderedEnv,
    selected: &RenderedEnv,
    live: &std::collections::BTreeMap<String, crate::stacks::live::LiveStack>,
) -> Result<(), Error> {
    for target in &selected.stacks {
        let dependents: Vec<String> = rendered
            .stacks
            .iter()
            .filter(|s| s.depends_on.contains(&target.name))
            .filter(|s| live.contains_key(&s.stack_name))
            .filter(|s| !selected.stacks.iter().any(|x| x.name == s.name))
            .map(|s| s.name.clone())
            .collect();
        if !dependents.is_empty() {
            return Err(Refusal::StackHasDependents {
                stack: target.name.clone(),
                dependents,
            }
            .into());
        }
    }
    Ok(())
}

/// A destroy's outcome: its report with what the SDK's retries cost.
fn finished(mut report: DeployReport, aws: &AwsContext) -> Deployed {
    report.retries = aws.retries.totals();
    Deployed {
        report,
        version: None,
        warning_exit: false,
    }
}
