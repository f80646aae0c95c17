//! Releases: what may be deployed where (the gate), what was deployed (records), who may
//! deploy now (the lock). Promote and rollback, the moves between releases, are commands
//! (`commands::promote`, `commands::rollback`) built on these.

pub mod gate;
pub mod record;
pub mod store;
pub mod version;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use crate::aws::AwsError;
use crate::config::{Config, RuntimeKind};
use crate::deployment::{DeployReport, Operation};
use crate::notify::Verdict;
use crate::services::artifact::{Artifact, PackageCode};
use crate::services::{ServiceReport, ServiceResult};
use crate::stacks::deploy::StackResult;
use record::{Record, ServiceRecord};
use store::{HeldLock, LockError, LockInfo, Store};

/// Takes the environment's deploy lock; `LockError::Held` names who holds it.
pub async fn lock(
    store: &Store<'_>,
    config: &Config,
    owner: &str,
    trace_id: &str,
    action: Operation,
) -> Result<HeldLock, LockError> {
    let ttl = Duration::from_secs(u64::from(config.release.lock_ttl_seconds));
    let wait = Duration::from_secs(u64::from(config.release.lock_wait_seconds));
    match store
        .lock(LockInfo::new(owner, trace_id, action.as_str(), ttl), wait)
        .await
    {
        Ok(held) => {
            if let Some(old) = &held.took_over {
                tracing::warn!(
                    "took over an expired deploy lock: {}; that run ended without releasing it (killed or cut off), so it may have left changes half-applied: this run checks every stack and service and converges them",
                    old.describe()
                );
            }
            Ok(held)
        }
        Err(e) => Err(e),
    }
}

/// Renews the lock every third of its lifetime until `stop` says so. A renewal under way is
/// finished, never cut off: a write still in flight could land after the release and
/// leave the lock behind.
pub async fn keep_alive(
    store: &Store<'_>,
    lock: &HeldLock,
    config: &Config,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let ttl = Duration::from_secs(u64::from(config.release.lock_ttl_seconds));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(ttl / 3) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
        match store.renew(lock, ttl).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!("the deploy lock is no longer ours: another run took it over")
            }
            Err(e) => tracing::warn!("cannot renew the deploy lock: {e}"),
        }
    }
}

/// Keeps each rolled-out Lambda package in the store (content-addressed), so a promotion
/// can deploy the same bytes; returns service -> `s3://` location.
pub async fn keep_packages(
    store: &Store<'_>,
    artifacts: &BTreeMap<String, Artifact>,
) -> Result<BTreeMap<String, String>, AwsError> {
    let mut kept = BTreeMap::new();
    for (service, artifact) in artifacts {
        if let Artifact::Package {
            code_sha256,
            code,
            source,
        } = artifact
        {
            let uri = match code {
                PackageCode::Zip(bytes) => store.keep_package(service, code_sha256, bytes).await?,
                // Already in S3 under a name the build chose: recorded as is.
                PackageCode::S3 { .. } => source.clone(),
                PackageCode::None => continue,
            };
            kept.insert(service.clone(), uri);
        }
    }
    Ok(kept)
}

/// Who and what a record is about, beyond the report.
pub struct RecordInput<'a> {
    pub action: Operation,
    pub commit: Option<String>,
    pub tag: Option<String>,
    pub who: &'a str,
    pub trace_id: &'a str,
    pub from: Option<String>,
}

/// The record of a finished deploy: stacks and services as they now run, what was not
/// touched carried over from the last successful record.
pub fn record_of(
    input: RecordInput<'_>,
    report: &DeployReport,
    hashes: &BTreeMap<String, String>,
    artifacts: &BTreeMap<String, Artifact>,
    packages: &BTreeMap<String, String>,
    models: &BTreeMap<String, crate::models::ModelPin>,
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
        },
    })
}
