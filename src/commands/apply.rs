//! What a deploy or a promotion applies under the lock: stacks in dependency order, the
//! alarms, the service rollouts and the record. `deploy` and `promote` decide what;
//! this applies it.

use std::collections::BTreeMap;

use super::Session;
use super::guarded::{Guard, Unchanged};
use crate::aws::AwsContext;
use crate::config::LoadedConfig;
use crate::deployment::{DeployReport, rollouts};
use crate::error::{Error, Refusal};
use crate::models::ModelPin;
use crate::release::record::{Operation, Record};
use crate::release::store::Store;
use crate::render::RenderedEnv;
use crate::services::artifact::{self, Artifact, ArtifactRef};
use crate::stacks::deploy::DeployOptions;

/// What a deploy or a promotion applies under the lock.
pub struct Changes<'a> {
    pub loaded: &'a LoadedConfig,
    pub rendered: &'a RenderedEnv,
    pub options: DeployOptions,
    /// The artifacts to roll out, as named (resolved under the lock).
    pub wanted: BTreeMap<String, ArtifactRef>,
    /// Identities (digest, CodeSha256) the resolved artifacts must have (promote).
    pub expected: BTreeMap<String, String>,
    /// `wanted`, resolved before the lock (`resolve_before_lock`; what a promotion
    /// already resolved is not asked again).
    pub resolved: BTreeMap<String, Artifact>,
    /// The models given this run, resolved and checked; the other services with a model
    /// keep the one their record names.
    pub models: BTreeMap<String, ModelPin>,
    pub skip_wait: bool,
}

impl Changes<'_> {
    /// Resolves the wanted artifacts (tags to digests, packages to hashes) and checks the
    /// alarm gates, read-only and before the lock: a mistyped tag or path writes no lock,
    /// no record and no notification.
    pub async fn resolve_before_lock(&mut self, aws: &AwsContext) -> Result<(), Error> {
        self.resolved = prepare_rollouts(aws, self).await?;
        Ok(())
    }
}

/// Whether a whole deploy with no artifact and no model given would change nothing,
/// from reads made after the lock was seen free (`Snapshot`): every stack as rendered,
/// every alarm as defined, nothing to roll out or retire, and the current record naming
/// these very templates. None when anything would change: the deploy then takes the lock
/// and decides again from what it reads under it.
pub async fn unchanged(
    aws: &AwsContext,
    loaded: &LoadedConfig,
    rendered: &RenderedEnv,
    current: &Record,
) -> Result<Option<Unchanged>, Error> {
    let config = &loaded.config;
    let hashes: BTreeMap<String, String> = rendered
        .stacks
        .iter()
        .map(|s| (s.name.clone(), s.hash.clone()))
        .collect();
    // A record naming other templates: a run recorded what these reads may not show yet.
    if hashes
        .iter()
        .any(|(stack, hash)| current.stacks.get(stack) != Some(hash))
    {
        return Ok(None);
    }
    let pinned =
        crate::release::pinned_with(config, rendered, &BTreeMap::new(), Some(current.clone()));
    let (live, alarms) = tokio::join!(
        crate::stacks::live::all(&aws.cloudformation),
        crate::alarms::apply::live_alarms(aws, config)
    );
    let Some(run) = crate::stacks::deploy::unchanged(&pinned.rendered, &live?, None) else {
        return Ok(None);
    };
    let moved = rollouts::moved_bases(config, &run, &BTreeMap::new(), Some(current));
    if !moved.is_empty() || !crate::services::retired(config, &run.before, &run.outputs).is_empty()
    {
        return Ok(None);
    }
    let alarms =
        crate::alarms::apply::sync_with(aws, config, &pinned.rendered.alarms, &alarms?, false)
            .await?;
    if alarms.has_changes() {
        return Ok(None);
    }
    let mut report = DeployReport::new(Operation::Deploy, &config.environment.name, run);
    report.alarms = Some(crate::alarms::apply::AlarmsReport {
        applied: true,
        ..alarms
    });
    Ok(Some(Unchanged {
        report,
        hashes,
        models: pinned.models,
    }))
}

/// Under the lock (artifacts already resolved and alarm gates checked): stacks, alarms,
/// services, and the record.
pub async fn apply(
    session: &Session<'_>,
    aws: &AwsContext,
    store: &Store<'_>,
    guard: &Guard<'_>,
    changes: &Changes<'_>,
) -> Result<DeployReport, Error> {
    let resolved = &changes.resolved;
    let config = &changes.loaded.config;
    // The model parameters come from the record, read first where a service has a model.
    let pinned =
        crate::release::pin_models(store, config, changes.rendered, &changes.models).await?;
    let (report, current) = session
        .with_progress(async |progress| {
            stacks_alarms_services(session, aws, store, changes, &pinned, progress).await
        })
        .await?;
    let mut report = report;
    report.operation = guard.operation;
    let partial = changes.options.only.is_some();
    if report.failed() || partial {
        report.alarms_note = Some(if partial {
            "alarms not applied: a partial deploy (--stack); run `facturactl alarms apply`".into()
        } else {
            "alarms not applied: a stack failed".into()
        });
    }
    let packages = crate::release::keep_packages(store, resolved).await?;
    let hashes = changes
        .rendered
        .stacks
        .iter()
        .map(|s| (s.name.clone(), s.hash.clone()))
        .collect();
    let record = crate::deployment::record_of(
        guard.record_input(&session.trace_id),
        &report,
        &hashes,
        resolved,
        &packages,
        &pinned.models,
        current.as_ref(),
    );
    store.put_record(&record).await?;
    report.record = Some(record.id);
    Ok(report)
}

/// The stacks; then, after a complete and successful deploy, the alarms (they notify the
/// alerts stack's topics and watch what the other stacks created); then the services (none
/// rolls out past a failed stack). Also the current record (what the new one carries over).
async fn stacks_alarms_services(
    session: &Session<'_>,
    aws: &AwsContext,
    store: &Store<'_>,
    changes: &Changes<'_>,
    pinned: &crate::release::Pinned<'_>,
    progress: &crate::progress::ProgressSink,
) -> Result<(DeployReport, Option<Record>), Error> {
    let config = &changes.loaded.config;
    let resolved = &changes.resolved;
    let partial = changes.options.only.is_some();
    // The alarms and the current record are read while the stacks deploy (round trips saved).
    let read_current = async {
        match &pinned.current {
            Some(current) => Ok(current.clone()),
            None => store.current().await,
        }
    };
    let (run, live_alarms, current) = tokio::join!(
        crate::stacks::deploy::deploy(aws, &pinned.rendered, &changes.options, progress),
        crate::alarms::apply::live_alarms(aws, config),
        read_current
    );
    let (run, current) = (run?, current?);
    let placements = rollouts::moved_bases(config, &run, resolved, current.as_ref());
    let retired = crate::services::retired(config, &run.before, &run.outputs);
    let mut report = DeployReport::new(Operation::Deploy, &config.environment.name, run);
    if !report.failed() {
        // Before any rollout: a service moved to Lambda rolls out under the same name.
        for (name, placement) in &retired {
            let retiring = crate::services::retire(aws, config, name, placement, progress);
            report.services.push(retiring.await);
        }
    }
    if !report.failed() && !partial {
        let live = live_alarms?;
        let alarms = &pinned.rendered.alarms;
        report.alarms =
            Some(crate::alarms::apply::sync_with(aws, config, alarms, &live, true).await?);
    }
    let nothing_to_roll_out = resolved.is_empty() && placements.is_empty();
    if !report.failed() && !nothing_to_roll_out {
        let rollout = crate::services::RolloutOptions {
            skip_wait: changes.skip_wait,
            trace_id: session.trace_id.clone(),
            models: pinned
                .models
                .iter()
                .map(|(service, pin)| (service.clone(), pin.sha256.clone()))
                .collect(),
            ..Default::default()
        };
        let rolled = crate::services::roll_out_all(
            aws,
            config,
            &pinned.rendered.alarms,
            resolved,
            &placements,
            &rollout,
            progress,
        )
        .await;
        report.services.extend(rolled);
    }
    Ok((report, current))
}

/// Resolves the artifacts (tags to digests, packages to hashes), checks a promotion's
/// identities, and refuses (exit 3) when a service set to `when_alarm_firing = "block"`
/// has an alarm firing. Nothing has changed yet.
async fn prepare_rollouts(
    aws: &AwsContext,
    changes: &Changes<'_>,
) -> Result<BTreeMap<String, Artifact>, Error> {
    if changes.wanted.is_empty() {
        return Ok(BTreeMap::new());
    }
    let config = &changes.loaded.config;
    let pending: BTreeMap<String, ArtifactRef> = changes
        .wanted
        .iter()
        .filter(|(service, _)| !changes.resolved.contains_key(*service))
        .map(|(service, reference)| (service.clone(), reference.clone()))
        .collect();
    // The alarm gates depend on the services only: read while the artifacts resolve.
    let (resolving, alarms) = tokio::join!(
        artifact::resolve(aws, config, &pending),
        crate::services::blocked_by_alarms(
            aws,
            config,
            &changes.rendered.alarms,
            changes.wanted.keys().map(String::as_str),
        )
    );
    let mut resolved = changes.resolved.clone();
    resolved.extend(resolving?);
    for (service, expected) in &changes.expected {
        let found = resolved.get(service).map(|a| a.identity());
        if found != Some(expected.as_str()) {
            return Err(Refusal::ArtifactMismatch {
                service: service.clone(),
                found: found.map(str::to_string),
                expected: expected.clone(),
            }
            .into());
        }
    }
    let alarms = alarms?;
    if !alarms.is_empty() {
        return Err(Refusal::AlarmsFiring { alarms }.into());
    }
    Ok(resolved)
}
