//! The record a finished run leaves: built from its report, what it did not touch carried
//! over from the last successful record.

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::DeployReport;
use crate::config::RuntimeKind;
use crate::models::ModelPin;
use crate::notify::Verdict;
use crate::release::record::{self, Operation, Record, ServiceRecord, SplitRecord, TrafficChange};
use crate::services::artifact::Artifact;
use crate::services::{ServiceReport, ServiceResult};
use crate::stacks::deploy::StackResult;

/// Who and what a record is about, beyond the report.
pub struct RecordInput<'a> {
    pub action: Operation,
    pub commit: Option<String>,
    pub tag: Option<String>,
    pub who: &'a str,
    pub trace_id: &'a str,
    pub from: Option<String>,
    /// `promote --skip-verification`: the reason given.
    pub skipped_verification: Option<String>,
}

/// The record of a finished deploy: stacks and services as they now run, what was not
/// touched carried over from the last successful record.
pub fn record_of(
    input: RecordInput<'_>,
    report: &DeployReport,
    hashes: &BTreeMap<String, String>,
    artifacts: &BTreeMap<String, Artifact>,
    packages: &BTreeMap<String, String>,
    models: &BTreeMap<String, ModelPin>,
    previous: Option<&Record>,
) -> Record {
    let now = SystemTime::now();
    let mut stacks = previous.map(|p| p.stacks.clone()).unwrap_or_default();
    for s in report
        .stacks
        .iter()
        .filter(|s| s.result == StackResult::Succeeded)
    {
        if let Some(hash) = hashes.get(&s.stack) {
            stacks.insert(s.stack.clone(), hash.clone());
        }
    }
    let mut services = previous.map(|p| p.services.clone()).unwrap_or_default();
    for s in &report.services {
        if s.result == ServiceResult::Retired {
            services.remove(&s.service);
        }
    }
    for s in report
        .services
        .iter()
        .filter(|s| s.result != ServiceResult::Failed)
    {
        if let Some(mut entry) =
            service_record(s, artifacts.get(&s.service), packages.get(&s.service))
        {
            // What it runs now was made with the model in effect (the stack's parameters).
            entry.model = models.get(&s.service).cloned();
            let control = previous.and_then(|p| p.services.get(&s.service));
            let percent = s.rollout.as_ref().and_then(|r| r.variant_percent);
            let entry = match (percent, control) {
                // An `ab` rollout: the old version stays the control, the new one is the
                // split's variant, as `traffic set` would record it.
                (Some(percent), Some(control)) => ServiceRecord {
                    split: Some(SplitRecord::starting(percent, entry, now)),
                    ..control.clone()
                },
                _ => entry,
            };
            services.insert(s.service.clone(), entry);
        }
    }
    Record {
        id: record::new_id(now, input.trace_id),
        action: input.action,
        environment: report.environment.clone(),
        commit: input.commit,
        tag: input.tag,
        who: input.who.to_string(),
        at: record::stamps(now).1,
        trace_id: input.trace_id.to_string(),
        result: report.verdict(),
        stacks,
        services,
        from: input.from,
        error: None,
        traffic: None,
        verification: None,
        skipped_verification: input.skipped_verification,
    }
}

/// The record of a run that ended in an error before it had a report: failed, and what
/// runs is carried over from the last successful record (the error says what to check).
pub fn error_record(
    input: RecordInput<'_>,
    environment: &str,
    error: &str,
    previous: Option<&Record>,
) -> Record {
    let now = SystemTime::now();
    Record {
        id: record::new_id(now, input.trace_id),
        action: input.action,
        environment: environment.to_string(),
        commit: input.commit,
        tag: input.tag,
        who: input.who.to_string(),
        at: record::stamps(now).1,
        trace_id: input.trace_id.to_string(),
        result: Verdict::Failed,
        stacks: previous.map(|p| p.stacks.clone()).unwrap_or_default(),
        services: previous.map(|p| p.services.clone()).unwrap_or_default(),
        from: input.from,
        error: Some(error.to_string()),
        traffic: None,
        verification: None,
        skipped_verification: input.skipped_verification,
    }
}

/// The record of a traffic change: the last successful record with `service`'s entry
/// replaced by `entry` (its control, and the split when one runs).
pub fn traffic_record(
    input: RecordInput<'_>,
    previous: &Record,
    entry: ServiceRecord,
    change: TrafficChange,
) -> Record {
    let now = SystemTime::now();
    let mut services = previous.services.clone();
    services.insert(change.service.clone(), entry);
    Record {
        id: record::new_id(now, input.trace_id),
        action: input.action,
        environment: previous.environment.clone(),
        commit: previous.commit.clone(),
        tag: previous.tag.clone(),
        who: input.who.to_string(),
        at: record::stamps(now).1,
        trace_id: input.trace_id.to_string(),
        result: Verdict::Succeeded,
        stacks: previous.stacks.clone(),
        services,
        from: Some(previous.id.clone()),
        error: None,
        traffic: Some(change),
        verification: None,
        skipped_verification: None,
    }
}

fn service_record(
    report: &ServiceReport,
    artifact: Option<&Artifact>,
    package: Option<&String>,
) -> Option<ServiceRecord> {
    let running = report.rollout.as_ref()?.running.clone();
    Some(match report.runtime {
        RuntimeKind::Ecs => ServiceRecord {
            runtime: RuntimeKind::Ecs,
            digest: running.rsplit_once('@').map(|(_, d)| d.to_string()),
            task_definition: report.rollout.as_ref()?.task_definition.clone(),
            base_task_definition: report.rollout.as_ref()?.base_task_definition.clone(),
            image: Some(running),
            version: None,
            code_sha256: None,
            package: None,
            model: None,
            split: None,
        },
        RuntimeKind::Lambda => ServiceRecord {
            runtime: RuntimeKind::Lambda,
            image: match artifact {
                Some(Artifact::Image { uri, .. }) => Some(uri.clone()),
                _ => None,
            },
            digest: None,
            task_definition: None,
            base_task_definition: None,
            version: Some(running),
            code_sha256: Some(report.artifact.clone()),
            package: package.cloned(),
            model: None,
            split: None,
        },
    })
}

/// The rollback's record: the services as they now run; Lambda entries keep the target's
/// package, for a later promotion.
pub fn rollback_record(
    input: RecordInput<'_>,
    report: &DeployReport,
    current: &Record,
    target: &Record,
) -> Record {
    let mut record = record_of(
        input,
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
