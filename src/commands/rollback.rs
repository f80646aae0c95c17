//! `rollback [--to RELEASE]`: the services back to an earlier successful release, from
//! the records, under the same guarded run as a deploy. No stack changes.

use super::Session;
use super::guarded::{self, Deployed, Guard};
use crate::deployment::DeployReport;
use crate::error::{Error, Refusal, Unconfirmed};
use crate::notify::Provenance;
use crate::release::record::Operation;
use crate::release::rollback;
use crate::release::store::Store;
use crate::render;
use crate::stacks::deploy::StacksRun;

pub struct Request {
    /// A record id or a tag; default: the newest earlier release that runs other services.
    pub to: Option<String>,
    pub yes: bool,
}

pub async fn run(session: &Session<'_>, request: Request) -> Result<Deployed, Error> {
    let loaded = session.load_env()?;
    let rendered = render::render(&loaded)?;
    let config = &loaded.config;
    let env = &config.environment.name;
    // Off a terminal without --yes the answer can only be no: refused before any AWS call.
    if !request.yes && !session.console.interactive() {
        return Err(Refusal::NotConfirmed(Unconfirmed::Rollback).into());
    }
    let aws = session.aws(&config.environment).await?;
    let records = Store::new(&aws, config).records(None).await?;
    let (current, target) = rollback::choose(env, &records, request.to.as_deref())
        .map_err(Refusal::NoRollbackTarget)?;
    let targets = rollback::restores(config, current, target);
    if targets.is_empty() {
        // Nothing this environment runs would change: no lock, no record, no notice.
        return Ok(nothing_to_do(env));
    }
    session.console.note(&format!(
        "Roll `{env}` back from {} to {} ({}): {}",
        current.id,
        target.id,
        target.tag.as_deref().unwrap_or("untagged"),
        targets.keys().cloned().collect::<Vec<_>>().join(", ")
    ));
    // Like every command that changes AWS: asked on a terminal, refused without --yes
    // elsewhere (CI, a pipe), in every environment.
    if !request.yes && !session.console.confirm("Go on?") {
        return Err(Refusal::NotConfirmed(Unconfirmed::Rollback).into());
    }
    let guard = Guard {
        operation: Operation::Rollback,
        config,
        provenance: Provenance {
            who: session.who(),
            trace_id: session.trace_id.clone(),
            commit: target.commit.clone(),
            version: target.tag.clone(),
            link: session.run_url.clone(),
            skipped_verification: None,
        },
        from: Some(target.id.clone()),
    };
    let options = crate::services::RolloutOptions {
        skip_wait: true,
        trace_id: session.trace_id.clone(),
        ..Default::default()
    };
    guarded::run(session, &aws, &guard, async |store| {
        let started = std::time::Instant::now();
        let placements = crate::services::restore_placements(&aws, config, &targets).await?;
        let services = session
            .with_progress(async |progress| {
                let alarms = &rendered.alarms;
                crate::services::restore_all(
                    &aws,
                    config,
                    alarms,
                    &targets,
                    &placements,
                    &options,
                    progress,
                )
                .await
            })
            .await;
        let run = StacksRun {
            duration_ms: started.elapsed().as_millis() as u64,
            ..StacksRun::default()
        };
        let mut report = DeployReport::new(Operation::Rollback, env, run);
        report.services = services;
        let input = guard.record_input(&session.trace_id);
        let record = crate::deployment::rollback_record(input, &report, current, target);
        store.put_record(&record).await?;
        report.record = Some(record.id);
        Ok(report)
    })
    .await
}

/// A rollback that would change nothing: an empty report, and no record was written.
fn nothing_to_do(env: &str) -> Deployed {
    let run = StacksRun::default();
    Deployed {
        report: DeployReport::new(Operation::Rollback, env, run),
        version: None,
        warning_exit: false,
    }
}
