//! `rollback [--to RELEASE]`: the services back to an earlier successful release, from
//! the records, under the same guarded run as a deploy. No stack changes.

use std::collections::BTreeMap;

use super::Session;
use super::guarded::{self, Deployed, Guard};
use crate::config::{Config, RuntimeKind, Tier};
use crate::deployment::{DeployReport, Operation};
use crate::error::{Error, NoRollbackTarget, Refusal, Unconfirmed};
use crate::notify::Provenance;
use crate::release::record::Record;
use crate::release::store::Store;
use crate::render;
use crate::services::Restore;
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
    let aws = session.aws(&config.environment).await;
    let records = Store::new(&aws, config).records(None).await?;
    let (current, target) = choose(env, &records, request.to.as_deref())?;
    let targets = restores(config, current, target);
    session.console.note(&format!(
        "Roll `{env}` back from {} to {} ({}): {}",
        current.id,
        target.id,
        target.tag.as_deref().unwrap_or("untagged"),
        targets.keys().cloned().collect::<Vec<_>>().join(", ")
    ));
    if !request.yes
        && config.environment.tier == Tier::Production
        && !session.console.confirm("Go on?")
    {
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
        let services = session
            .with_progress(async |progress| {
                let alarms = &rendered.alarms;
                crate::services::restore_all(&aws, config, alarms, &targets, &options, progress)
                    .await
            })
            .await;
        let run = StacksRun {
            stacks: Vec::new(),
            duration_ms: started.elapsed().as_millis() as u64,
        };
        let mut report = DeployReport::new(Operation::Rollback, env, run);
        report.services = services;
        let record = record_of(session, &guard, &report, current, target);
        store.put_record(&record).await?;
        report.record = Some(record.id);
        Ok(report)
    })
    .await
}

/// (current, target): the newest successful release, and the one to go back to: `to` (a
/// record id or tag), else the newest earlier one that runs other services.
pub fn choose<'r>(
    env: &str,
    records: &'r [Record],
    to: Option<&str>,
) -> Result<(&'r Record, &'r Record), Refusal> {
    let good: Vec<&Record> = records.iter().filter(|r| r.succeeded()).collect();
    let Some(current) = good.last().copied() else {
        return Err(Refusal::NoRollbackTarget(NoRollbackTarget::NoRelease {
            environment: env.into(),
        }));
    };
    let target = match to {
        Some(wanted) => good
            .iter()
            .rev()
            .find(|r| r.id == wanted || r.tag.as_deref() == Some(wanted)),
        None => good.iter().rev().find(|r| r.services != current.services),
    };
    match (target, to) {
        (Some(target), _) => Ok((current, target)),
        (None, Some(wanted)) => Err(Refusal::NoRollbackTarget(NoRollbackTarget::NotFound {
            environment: env.into(),
            wanted: wanted.into(),
        })),
        (None, None) => Err(Refusal::NoRollbackTarget(NoRollbackTarget::NoEarlier {
            environment: env.into(),
            current: current.id.clone(),
        })),
    }
}

/// What each enabled service must be restored to: the target's entry, where it differs
/// from what runs now.
pub fn restores<'r>(
    config: &Config,
    current: &Record,
    target: &'r Record,
) -> BTreeMap<String, Restore<'r>> {
    let mut targets = BTreeMap::new();
    for (service, entry) in &target.services {
        if current.services.get(service) == Some(entry)
            || !config.services.get(service).is_some_and(|s| s.enabled)
        {
            continue;
        }
        let restore = match (
            entry.runtime,
            &entry.image,
            &entry.version,
            &entry.code_sha256,
        ) {
            (RuntimeKind::Ecs, Some(image), _, _) => Restore::Image(image),
            (RuntimeKind::Lambda, _, Some(version), Some(sha)) => Restore::Version {
                version,
                code_sha256: sha,
            },
            _ => continue,
        };
        targets.insert(service.clone(), restore);
    }
    targets
}

/// The rollback's record: the services as they now run; Lambda entries keep the target's
/// package, for a later promotion.
fn record_of(
    session: &Session<'_>,
    guard: &Guard<'_>,
    report: &DeployReport,
    current: &Record,
    target: &Record,
) -> Record {
    let mut record = crate::release::record_of(
        guard.record_input(&session.trace_id),
        report,
        &BTreeMap::new(),
        &BTreeMap::new(),
        &BTreeMap::new(),
        Some(current),
    );
    for (service, entry) in record.services.iter_mut() {
        if let Some(t) = target.services.get(service)
            && entry.code_sha256 == t.code_sha256
        {
            entry.package = t.package.clone();
        }
    }
    record
}
