//! Service rollouts: the part of a deploy that ships new code, after the stacks.
//!
//! Each service with an artifact is rolled out on its own task (independent services in
//! parallel): ECS services by a new task definition revision, Lambda functions by a new
//! version behind the `live` alias. A service whose artifact already runs is skipped
//! without a write. Each ends in a [`ServiceReport`].

pub mod artifact;
pub mod ecs;
pub mod evaluation;
pub mod lambda;
pub mod package;
pub mod rollout;
pub mod route;
pub mod traffic;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use serde::Serialize;

use crate::alarms::AlarmDefinition;
use crate::aws::AwsContext;
use crate::aws::AwsError;
use crate::config::{Config, Runtime, RuntimeKind, WhenAlarmFiring};
use crate::progress::{Progress, ProgressSink};
use artifact::Artifact;
pub use ecs::Placement;
pub use rollout::{
    AlarmWatch, PollPacing, Rollout, RolloutError, RolloutFailure, RolloutOptions, ServiceContext,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceResult {
    RolledOut,
    Unchanged,
    /// An ECS service with no image yet: not created until a deploy names its first image.
    AwaitingImage,
    /// The config no longer runs it on ECS (disabled, or moved to Lambda): its ECS
    /// services, listener rule and target groups were removed.
    Retired,
    Failed,
}

impl ServiceResult {
    /// As progress lines and the services table show it.
    pub fn label(self) -> &'static str {
        match self {
            Self::RolledOut => "rolled out",
            Self::Unchanged => "unchanged",
            Self::AwaitingImage => "awaiting image",
            Self::Retired => "retired",
            Self::Failed => "FAILED",
        }
    }
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ServiceReport {
    pub service: String,
    pub runtime: RuntimeKind,
    pub result: ServiceResult,
    /// The artifact deployed: an image digest or a package's CodeSha256.
    pub artifact: String,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<Rollout>,
    pub duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A service's guarding alarm that is in ALARM.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FiringAlarm {
    pub service: String,
    pub alarm: String,
}

/// Before anything changes: Lambda services set to `block` refuse to roll out while one of
/// their alarms fires. Returns the refusals.
pub async fn blocked_by_alarms(
    aws: &AwsContext,
    config: &Config,
    alarms: &[AlarmDefinition],
    services: impl Iterator<Item = &str>,
) -> Result<Vec<FiringAlarm>, AwsError> {
    let mut blocked = Vec::new();
    for name in services {
        let blocks = config
            .services
            .get(name)
            .and_then(|s| s.lambda.as_ref())
            .is_some_and(|l| l.rollout.when_alarm_firing == WhenAlarmFiring::Block);
        if !blocks {
            continue;
        }
        if let Some(alarm) = AlarmWatch::new(aws, alarms, name).firing().await? {
            blocked.push(FiringAlarm {
                service: name.to_string(),
                alarm,
            });
        }
    }
    Ok(blocked)
}

/// Rolls out every service that has an artifact, and re-registers each ECS service in
/// `placements` on its stack's base (keeping its image), independent services at once.
pub async fn roll_out_all(
    aws: &AwsContext,
    config: &Config,
    alarms: &[AlarmDefinition],
    artifacts: &BTreeMap<String, Artifact>,
    placements: &BTreeMap<String, Placement>,
    options: &RolloutOptions,
    progress: &ProgressSink,
) -> Vec<ServiceReport> {
    let names: BTreeSet<&String> = artifacts.keys().chain(placements.keys()).collect();
    let jobs = names.into_iter().filter_map(|name| {
        let runtime = config.services.get(name)?.runtime()?;
        let artifact = artifacts.get(name);
        let placement = placements.get(name);
        Some(async move {
            let ctx = ServiceContext::new(aws, config, name, progress, options);
            let alarms = AlarmWatch::new(aws, alarms, name);
            roll_out_one(&ctx, runtime, artifact, placement, &alarms).await
        })
    });
    futures_util::future::join_all(jobs).await
}

/// Deletes every ECS service of the config (facturactl owns them, not the stacks), before
/// a destroy deletes the stacks around them; the names of those that existed.
pub async fn remove_all(
    aws: &AwsContext,
    config: &Config,
    progress: &ProgressSink,
) -> Result<Vec<String>, AwsError> {
    let stacks: Vec<String> = config.stacks.keys().cloned().collect();
    remove_in(aws, config, &stacks, progress).await
}

/// Deletes the ECS services of the config that run in `stacks`, before those stacks go.
pub async fn remove_in(
    aws: &AwsContext,
    config: &Config,
    stacks: &[String],
    progress: &ProgressSink,
) -> Result<Vec<String>, AwsError> {
    let options = RolloutOptions::default();
    let jobs = config
        .services
        .iter()
        .filter(|(_, s)| s.ecs.is_some() && stacks.contains(&s.stack))
        .map(|(name, _)| {
            let options = &options;
            async move {
                unroute(aws, config, name, progress, options).await?;
                let ctx = ServiceContext::new(aws, config, name, progress, options);
                let removed = ecs::remove(&ctx)
                    .await
                    .map_err(|e| AwsError::local("DeleteService", None, e.failure.to_string()))?;
                Ok::<_, AwsError>(removed.then(|| name.clone()))
            }
        });
    let removed = futures_util::future::try_join_all(jobs).await?;
    Ok(removed.into_iter().flatten().collect())
}

/// An A/B-capable service's listener rule and `-variant` service, which facturactl made
/// beside the service: gone before the stacks, or the target groups could not be deleted.
async fn unroute(
    aws: &AwsContext,
    config: &Config,
    name: &str,
    progress: &ProgressSink,
    options: &RolloutOptions,
) -> Result<(), AwsError> {
    let svc = &config.services[name];
    let Some(path) = svc.ecs.as_ref().and_then(|e| e.path.as_deref()) else {
        return Ok(());
    };
    let variant = format!("{name}-variant");
    let ctx = ServiceContext::new(aws, config, &variant, progress, options);
    ecs::remove(&ctx)
        .await
        .map_err(|e| AwsError::local("DeleteService", None, e.failure.to_string()))?;
    let stack =
        crate::stacks::live::one(&aws.cloudformation, &config.stack_name(&svc.stack)).await?;
    let listener = stack.and_then(|s| Placement::from_outputs(name, &s.outputs)?.listener);
    if let Some(listener) = listener {
        route::remove(aws, &listener, path).await?;
    }
    Ok(())
}

/// The ECS services a stack ran before this run (`before`: each stack's outputs then)
/// that the config no longer runs on ECS: disabled, or moved to Lambda. Their stack has
/// dropped their target groups, which CloudFormation could not delete while facturactl's
/// rule forwarded to them.
pub fn retired(
    config: &Config,
    before: &BTreeMap<String, BTreeMap<String, String>>,
    after: &BTreeMap<String, BTreeMap<String, String>>,
) -> BTreeMap<String, Placement> {
    config
        .services
        .iter()
        .filter(|(_, s)| !(s.enabled && s.ecs.is_some()))
        .filter_map(|(name, s)| {
            let placement = Placement::from_outputs(name, before.get(&s.stack)?)?;
            let gone = after
                .get(&s.stack)
                .is_none_or(|o| Placement::from_outputs(name, o).is_none());
            gone.then(|| (name.clone(), placement))
        })
        .collect()
}

/// Removes a retired service: its `-variant` and own ECS services, the listener rule that
/// forwards to its target groups, then the groups themselves.
pub async fn retire(
    aws: &AwsContext,
    config: &Config,
    name: &str,
    placement: &Placement,
    progress: &ProgressSink,
) -> ServiceReport {
    let started = std::time::Instant::now();
    let options = RolloutOptions::default();
    let result = async {
        let variant = format!("{name}-variant");
        for service in [variant.as_str(), name] {
            let ctx = ServiceContext::new(aws, config, service, progress, &options);
            ecs::remove(&ctx)
                .await
                .map_err(|e| AwsError::local("DeleteService", None, e.failure.to_string()))?;
        }
        let groups: Vec<&str> = [&placement.target_group, &placement.variant_target_group]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        if let Some(listener) = &placement.listener {
            route::remove_forwarding(aws, listener, &groups).await?;
        }
        route::delete_groups(aws, &groups).await
    }
    .await;
    ServiceReport {
        service: name.to_string(),
        runtime: RuntimeKind::Ecs,
        result: if result.is_ok() {
            ServiceResult::Retired
        } else {
            ServiceResult::Failed
        },
        artifact: String::new(),
        rollout: None,
        duration_ms: started.elapsed().as_millis() as u64,
        message: Some(match result {
            Ok(()) => "no longer on ECS here: its ECS services, listener rule and target groups were removed".into(),
            Err(e) => format!("retiring its ECS service failed: {e}"),
        }),
    }
}

/// Where each enabled ECS service of the config runs, from its stack's outputs (stack name
/// to outputs); services whose stack declares none are left out.
pub fn placements(
    config: &Config,
    outputs: &BTreeMap<String, BTreeMap<String, String>>,
) -> BTreeMap<String, Placement> {
    config
        .services
        .iter()
        .filter(|(_, s)| s.enabled && s.ecs.is_some())
        .filter_map(|(name, s)| {
            let placement = Placement::from_outputs(name, outputs.get(&s.stack)?)?;
            Some((name.clone(), placement))
        })
        .collect()
}

/// Where the ECS services to restore run (their stacks' outputs); no read when only Lambda
/// functions go back. A recorded image is restored on the stack's current base.
pub async fn restore_placements(
    aws: &AwsContext,
    config: &Config,
    targets: &BTreeMap<String, Restore<'_>>,
) -> Result<BTreeMap<String, Placement>, AwsError> {
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
    Ok(placements(config, &outputs))
}

/// What a rollback restores for one service.
pub enum Restore<'r> {
    Image(&'r str),
    Version {
        version: &'r str,
        code_sha256: &'r str,
    },
}

/// Restores recorded services, independent ones at once: ECS by a rolling update to the
/// recorded image, Lambda by pointing the alias at the recorded version.
pub async fn restore_all(
    aws: &AwsContext,
    config: &Config,
    alarms: &[AlarmDefinition],
    targets: &BTreeMap<String, Restore<'_>>,
    placements: &BTreeMap<String, Placement>,
    options: &RolloutOptions,
    progress: &ProgressSink,
) -> Vec<ServiceReport> {
    let jobs = targets.iter().filter_map(|(name, target)| {
        let runtime = config.services.get(name)?.runtime()?;
        Some(async move {
            let ctx = ServiceContext::new(aws, config, name, progress, options);
            let started = Instant::now();
            let watch = AlarmWatch::new(aws, alarms, name);
            let (identity, result) = match (runtime, target) {
                (Runtime::Ecs(ecs), Restore::Image(image)) => (
                    digest_of(image).to_string(),
                    match placements.get(name.as_str()) {
                        Some(placement) => {
                            ecs::roll_out(&ctx, ecs, placement, Some(image), &watch).await
                        }
                        None => Err(no_placement(&ctx)),
                    },
                ),
                (
                    Runtime::Lambda(_),
                    Restore::Version {
                        version,
                        code_sha256,
                    },
                ) => (
                    code_sha256.to_string(),
                    lambda::restore(&ctx, version, code_sha256).await.map(Some),
                ),
                _ => (
                    String::new(),
                    Err(RolloutError::new(RolloutFailure::RuntimeMismatch)),
                ),
            };
            finish(&ctx, runtime.kind(), identity, started, result)
        })
    });
    futures_util::future::join_all(jobs).await
}

/// `sha256:...` of `registry/repo@sha256:...` (the text itself when it has no digest).
fn digest_of(image: &str) -> &str {
    image.rsplit_once('@').map_or(image, |(_, d)| d)
}

/// The ECS service's stack has not declared where it runs: its stack must be deployed
/// (with this version's templates) first.
fn no_placement(ctx: &ServiceContext<'_>) -> RolloutError {
    let stack = ctx
        .config
        .services
        .get(ctx.name)
        .map_or("its stack", |s| s.stack.as_str());
    RolloutError::new(RolloutFailure::NoPlacement {
        stack: stack.to_string(),
        service: ctx.name.to_string(),
    })
}

fn finish(
    ctx: &ServiceContext<'_>,
    runtime: RuntimeKind,
    artifact: String,
    started: Instant,
    result: Result<Option<Rollout>, RolloutError>,
) -> ServiceReport {
    let duration_ms = started.elapsed().as_millis() as u64;
    let report = match result {
        Ok(None) => ServiceReport {
            service: ctx.name.to_string(),
            runtime,
            result: ServiceResult::AwaitingImage,
            artifact: String::new(),
            rollout: None,
            duration_ms,
            message: Some(format!(
                "not created: no image yet; the first `deploy --image {}=<image>` creates it",
                ctx.name
            )),
        },
        Ok(Some(rollout)) => ServiceReport {
            service: ctx.name.to_string(),
            runtime,
            result: if rollout.changed {
                ServiceResult::RolledOut
            } else {
                ServiceResult::Unchanged
            },
            artifact,
            rollout: Some(rollout),
            duration_ms,
            message: None,
        },
        Err(error) => ServiceReport {
            service: ctx.name.to_string(),
            runtime,
            result: ServiceResult::Failed,
            artifact,
            rollout: error.rollout.map(|o| *o),
            duration_ms,
            message: Some(error.failure.to_string()),
        },
    };
    ctx.progress.send(Progress::ServiceFinished {
        service: ctx.name.to_string(),
        result: report.result.label(),
        elapsed_ms: duration_ms,
    });
    report
}

async fn roll_out_one(
    ctx: &ServiceContext<'_>,
    runtime: Runtime<'_>,
    artifact: Option<&Artifact>,
    placement: Option<&Placement>,
    alarms: &AlarmWatch<'_>,
) -> ServiceReport {
    let started = Instant::now();
    ctx.progress.send(Progress::ServiceStarted {
        service: ctx.name.to_string(),
        artifact: artifact
            .map_or("(its image)", Artifact::identity)
            .to_string(),
    });
    let result = match (runtime, artifact) {
        (Runtime::Ecs(ecs), None | Some(Artifact::Image { .. })) => {
            let image = match artifact {
                Some(Artifact::Image { uri, .. }) => Some(uri.as_str()),
                _ => None,
            };
            match placement {
                Some(placement) => ecs::roll_out(ctx, ecs, placement, image, alarms).await,
                None => Err(no_placement(ctx)),
            }
        }
        (Runtime::Lambda(l), Some(artifact)) => {
            lambda::roll_out(ctx, l, artifact, alarms).await.map(Some)
        }
        (Runtime::Lambda(_), None) => Ok(None),
        (Runtime::Ecs(_), Some(Artifact::Package { .. })) => {
            Err(RolloutError::new(RolloutFailure::NotAnImage))
        }
    };
    // Without an artifact, the service's identity is the digest it keeps running.
    let identity = match (artifact, &result) {
        (Some(artifact), _) => artifact.identity().to_string(),
        (None, Ok(Some(rollout))) => digest_of(&rollout.running).to_string(),
        (None, _) => String::new(),
    };
    finish(ctx, runtime.kind(), identity, started, result)
}
