//! `rollback [--to RELEASE]`: the services back to an earlier successful release, from
//! the records, under the same guarded run as a deploy. No stack changes.

use std::collections::BTreeMap;

use super::Session;
use super::guarded::{self, Deployed, Guard};
use crate::config::{Config, RuntimeKind};
use crate::deployment::DeployReport;
use crate::error::{Error, NoRollbackTarget, Refusal, Unconfirmed};
use crate::notify::Provenance;
use crate::release::record::Operation;
use crate::release::record::Record;
use crate::release::store::Store;
use crate::render;
use crate::services::{Restore, ServiceResult};
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
    let (current, target) = choose(env, &records, request.to.as_deref())?;
    let targets = restores(config, current, target);
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
        let placements = placements(&aws, config, &targets).await?;
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
        let record = record_of(session, &guard, &report, current, target);
        store.put_record(&record).await?;
        report.record = Some(record.id);
        Ok(report)
    })
    .await
}

/// Where the ECS services to restore run (their stacks' outputs); no read when only Lambda
/// functions go back. A recorded image is restored on the stack's current base.
async fn placements(
    aws: &crate::aws::AwsContext,
    config: &Config,
    targets: &BTreeMap<String, Restore<'_>>,
) -> Result<BTreeMap<String, crate::services::Placement>, Error> {
    if !targets.values().any(|t| matches!(t, Restore::Image(_))) {
        return Ok(BTreeMap::new());
    }
    let live = crate::stacks::live::all(&aws.cloudformation).await?;
    let outputs = config
        .stacks
        .keys()
        .filter_map(|stack| {
            let live = live.get(&config.stack_name(stack))?;
            Some((stack.clone(), live.outputs.clone()))
        })
        .collect();
    Ok(crate::services::placements(config, &outputs))
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
    let mut record = crate::deployment::record_of(
        guard.record_input(&session.trace_id),
        report,
        &BTreeMap::new(),
        &BTreeMap::new(),
        &BTreeMap::new(),
        &BTreeMap::new(),
        Some(current),
    );
    let restored = |service: &str| {
        report
            .services
            .iter()
            .any(|s| s.service == service && s.result != ServiceResult::Failed)
    };
    for (service, entry) in record.services.iter_mut() {
        let Some(t) = target.services.get(service) else {
            continue;
        };
        if entry.code_sha256 == t.code_sha256 {
            entry.package = t.package.clone();
        }
        // The restored version or revision runs the model it was made with.
        if restored(service) {
            entry.model = t.model.clone();
        }
    }
    record
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::Verdict;
    use crate::release::record::ServiceRecord;

    fn image(tag: &str) -> ServiceRecord {
        ServiceRecord {
            runtime: RuntimeKind::Ecs,
            image: Some(format!("registry/ocr@sha256:{tag}")),
            digest: Some(format!("sha256:{tag}")),
            task_definition: None,
            base_task_definition: None,
            version: None,
            code_sha256: None,
            package: None,
            model: None,
        }
    }

    fn record(id: &str, tag: Option<&str>, result: Verdict, ocr: &str) -> Record {
        Record {
            id: id.into(),
            action: Operation::Deploy,
            environment: "staging".into(),
            commit: Some("c0ffee".into()),
            tag: tag.map(Into::into),
            who: "ci".into(),
            at: "2026-12-01T10:00:00Z".into(),
            trace_id: id.into(),
            result,
            stacks: BTreeMap::new(),
            services: [("ocr".to_string(), image(ocr))].into(),
            from: None,
            error: None,
        }
    }

    /// Oldest first, as the store lists them.
    fn history() -> Vec<Record> {
        vec![
            record("r1", Some("v1.0.0"), Verdict::Succeeded, "aaa"),
            record("r2", Some("v1.1.0"), Verdict::Succeeded, "bbb"),
            record("r3", None, Verdict::Succeeded, "bbb"),
            record("r4", Some("v1.2.0"), Verdict::Failed, "ccc"),
            record("r5", Some("v1.2.1"), Verdict::Succeeded, "ccc"),
        ]
    }

    #[test]
    fn by_default_the_newest_earlier_release_that_runs_something_else() {
        let records = history();
        let (current, target) = choose("staging", &records, None).unwrap();
        assert_eq!((current.id.as_str(), target.id.as_str()), ("r5", "r3"));
    }

    #[test]
    fn to_names_a_successful_release_by_id_or_tag() {
        let records = history();
        assert_eq!(
            choose("staging", &records, Some("v1.0.0")).unwrap().1.id,
            "r1"
        );
        assert_eq!(choose("staging", &records, Some("r2")).unwrap().1.id, "r2");
        // A failed release is never a target.
        assert!(matches!(
            choose("staging", &records, Some("v1.2.0")),
            Err(Refusal::NoRollbackTarget(NoRollbackTarget::NotFound { .. }))
        ));
    }

    #[test]
    fn nothing_to_go_back_to_is_a_refusal() {
        let failed = vec![record("r1", None, Verdict::Failed, "aaa")];
        assert!(matches!(
            choose("staging", &failed, None),
            Err(Refusal::NoRollbackTarget(
                NoRollbackTarget::NoRelease { .. }
            ))
        ));
        let same = vec![
            record("r1", None, Verdict::Succeeded, "aaa"),
            record("r2", None, Verdict::Succeeded, "aaa"),
        ];
        assert!(matches!(
            choose("staging", &same, None),
            Err(Refusal::NoRollbackTarget(
                NoRollbackTarget::NoEarlier { .. }
            ))
        ));
    }

    #[test]
    fn only_services_that_differ_and_run_here_are_restored() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let config = crate::config::load(root, "staging", &crate::policy::rule_ids())
            .expect("the repository's staging config loads")
            .config;
        let current = record("r5", None, Verdict::Succeeded, "ccc");
        let mut target = record("r1", None, Verdict::Succeeded, "aaa");
        target.services.insert("retired".into(), image("ddd"));
        let restores = restores(&config, &current, &target);
        assert_eq!(restores.keys().collect::<Vec<_>>(), ["ocr"]);
        assert!(matches!(restores["ocr"], Restore::Image(i) if i.ends_with("aaa")));
        assert!(super::restores(&config, &current, &current).is_empty());
    }
}
