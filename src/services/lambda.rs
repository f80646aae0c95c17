//! Lambda rollouts: new code, a version published only when the code changed, and the
//! `live` alias moved all at once, as a canary, or linearly, watching the service's alarms
//! at every step and moving the alias back if one fires.

use std::time::{Duration, Instant};

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{AliasRoutingConfiguration, LastUpdateStatus};

use super::artifact::{Artifact, PackageCode};
use super::rollout::{AlarmWatch, Rollout, RolloutError, RolloutFailure, ServiceContext};
use crate::aws::AwsError;
use crate::config::{LambdaService, Strategy};

pub const ALIAS: &str = "live";

/// Traffic shares (percent on the new version) the alias passes through before 100.
pub fn steps(service: &LambdaService) -> Vec<u32> {
    let step = service.rollout.step_percent.clamp(1, 99);
    match service.rollout.strategy {
        Strategy::AllAtOnce => Vec::new(),
        Strategy::Canary => vec![step],
        Strategy::Linear => (1..).map(|i| i * step).take_while(|p| *p < 100).collect(),
        // The variant's share is where an A/B rollout stops, not a step.
        Strategy::Ab => Vec::new(),
    }
}

/// Where the `live` alias points now.
#[derive(Debug, Clone)]
pub struct AliasState {
    pub version: String,
    /// Versions weighted beside it: an A/B variant, or an unfinished shift.
    pub weights: Vec<(String, f64)>,
}

/// The `live` alias of `function`; None when it does not exist. Rollouts, the traffic
/// commands and the drift audit all read it here.
pub async fn alias(
    aws: &crate::aws::AwsContext,
    function: &str,
) -> Result<Option<AliasState>, AwsError> {
    match aws
        .lambda
        .get_alias()
        .function_name(function)
        .name(ALIAS)
        .send()
        .await
    {
        Ok(a) => Ok(Some(AliasState {
            version: a.function_version().unwrap_or("$LATEST").to_string(),
            weights: a
                .routing_config()
                .and_then(|r| r.additional_version_weights())
                .map(|w| w.iter().map(|(k, v)| (k.clone(), *v)).collect())
                .unwrap_or_default(),
        })),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(AwsError::new("GetAlias", e)),
    }
}

pub async fn roll_out(
    ctx: &ServiceContext<'_>,
    service: &LambdaService,
    artifact: &Artifact,
    alarms: &AlarmWatch<'_>,
) -> Result<Rollout, RolloutError> {
    let function = ctx.function_name();
    let alias = alias(ctx.aws, &function).await?;
    let live = match &alias {
        Some(a) => Some(identity_of(ctx.aws, &function, &a.version).await?),
        None => None,
    };
    let old = alias
        .as_ref()
        .map(|a| a.version.clone())
        .unwrap_or_else(|| "none".into());
    let settled = alias.as_ref().is_some_and(|a| a.weights.is_empty());
    if live
        .as_ref()
        .is_some_and(|l| l.runs(artifact.identity(), ctx.model_sha256))
        && settled
    {
        return Ok(Rollout::unchanged(format!("version {old}"), old));
    }
    if let Some(a) = alias.as_ref().filter(|a| !a.weights.is_empty()) {
        ctx.say(&format!(
            "the alias was left mid-shift ({:?}); this rollout replaces that shift",
            a.weights
        ));
    }
    let version = publish(ctx, &function, artifact).await?;
    let rollout = Rollout::changed(
        format!("version {old}"),
        format!("version {version}"),
        version.clone(),
    )
    .with_detail(format!("code {}", artifact.identity()));
    let Some(alias) = alias else {
        // No alias yet (a first rollout, or an emulator that skips AWS::Lambda::Alias):
        // nothing runs that a canary could be compared with.
        ctx.aws
            .lambda
            .create_alias()
            .function_name(&function)
            .name(ALIAS)
            .function_version(&version)
            .send()
            .await
            .map_err(|e| AwsError::new("CreateAlias", e))?;
        ctx.say(&format!("alias {ALIAS} created on version {version}"));
        return Ok(rollout);
    };
    let rollout = match service.rollout.strategy {
        Strategy::Ab => rollout.with_variant_share(service.rollout.step_percent.clamp(1, 99)),
        _ => rollout,
    };
    shift(ctx, service, &function, &alias.version, &version, alarms)
        .await
        .map(|()| rollout.clone())
        .map_err(|e| e.with_rollout(rollout))
}

/// Points the alias straight back at a recorded version (a rollback: no publish, no
/// canary), after checking that the version still holds the recorded code.
pub async fn restore(
    ctx: &ServiceContext<'_>,
    version: &str,
    code_sha256: &str,
) -> Result<Rollout, RolloutError> {
    let function = ctx.function_name();
    let alias = alias(ctx.aws, &function).await?;
    let old = alias
        .as_ref()
        .map(|a| a.version.clone())
        .unwrap_or_else(|| "none".into());
    let found = identity_of(ctx.aws, &function, version)
        .await
        .map(|i| i.code)
        .map_err(|error| {
            RolloutError::new(RolloutFailure::UnreadableVersion {
                version: version.to_string(),
                function: function.clone(),
                error,
            })
        })?;
    if found != code_sha256 {
        return Err(RolloutError::new(RolloutFailure::WrongCode {
            version: version.to_string(),
            function,
            found,
            recorded: code_sha256.to_string(),
        }));
    }
    if alias
        .as_ref()
        .is_some_and(|a| a.version == version && a.weights.is_empty())
    {
        return Ok(Rollout::unchanged(format!("version {old}"), old));
    }
    match alias {
        Some(_) => point(ctx, &function, version, None).await?,
        None => {
            ctx.aws
                .lambda
                .create_alias()
                .function_name(&function)
                .name(ALIAS)
                .function_version(version)
                .send()
                .await
                .map_err(|e| AwsError::new("CreateAlias", e))?;
        }
    }
    ctx.say(&format!("alias {ALIAS} back on version {version}"));
    Ok(Rollout::changed(
        format!("version {old}"),
        format!("version {version}"),
        version.to_string(),
    ))
}

/// What a version runs: its code, and the model its environment names (`MODEL_SHA256`,
/// set from the stack's parameters; empty when none).
pub(crate) struct Identity {
    pub code: String,
    pub model: String,
}

impl Identity {
    fn of(config: &aws_sdk_lambda::types::FunctionConfiguration) -> Self {
        Self::from_parts(config.code_sha256(), config.environment())
    }

    fn from_parts(
        code: Option<&str>,
        environment: Option<&aws_sdk_lambda::types::EnvironmentResponse>,
    ) -> Self {
        Self {
            code: code.unwrap_or_default().to_string(),
            model: environment
                .and_then(|e| e.variables())
                .and_then(|v| v.get(crate::config::names::MODEL_SHA256_VARIABLE))
                .cloned()
                .unwrap_or_default(),
        }
    }

    /// Runs `code` and, for a service with a model, `model`.
    fn runs(&self, code: &str, model: Option<&str>) -> bool {
        self.code == code && model.is_none_or(|m| self.model == m)
    }
}

/// What version (or `$LATEST`) `qualifier` of `function` runs.
pub(crate) async fn identity_of(
    aws: &crate::aws::AwsContext,
    function: &str,
    qualifier: &str,
) -> Result<Identity, AwsError> {
    let config = aws
        .lambda
        .get_function_configuration()
        .function_name(function)
        .qualifier(qualifier)
        .send()
        .await
        .map_err(|e| AwsError::new("GetFunctionConfiguration", e))?;
    Ok(Identity::from_parts(
        config.code_sha256(),
        config.environment(),
    ))
}

/// The version that runs `artifact`: an existing one with that code, or a new one (code
/// updated, the update waited for, then published). Reusing keeps a retried deploy from
/// publishing the same code twice.
async fn publish(
    ctx: &ServiceContext<'_>,
    function: &str,
    artifact: &Artifact,
) -> Result<String, RolloutError> {
    let wanted = artifact.identity();
    if let Some(existing) = version_with_code(ctx, function, wanted).await? {
        ctx.say(&format!("version {existing} already has this code"));
        return Ok(existing);
    }
    let latest = identity_of(ctx.aws, function, "$LATEST").await?;
    if let Some(model) = ctx.model_sha256.filter(|m| *m != latest.model) {
        // The stack update sets the model on $LATEST; publishing now would ship another.
        return Err(RolloutError::new(RolloutFailure::ModelNotApplied {
            function: function.to_string(),
            found: latest.model,
            wanted: model.to_string(),
        }));
    }
    if latest.code != wanted {
        let mut update = ctx
            .aws
            .lambda
            .update_function_code()
            .function_name(function);
        update = match artifact {
            Artifact::Image { uri, .. } => update.image_uri(uri),
            Artifact::Package {
                code: PackageCode::Zip(bytes),
                ..
            } => update.zip_file(Blob::new(bytes.clone())),
            Artifact::Package {
                code:
                    PackageCode::S3 {
                        bucket,
                        key,
                        version,
                    },
                ..
            } => update
                .s3_bucket(bucket)
                .s3_key(key)
                .set_s3_object_version(version.clone()),
            Artifact::Package {
                code: PackageCode::None,
                ..
            } => {
                return Err(RolloutError::new(RolloutFailure::NoCode));
            }
        };
        update
            .customize()
            .config_override(crate::aws::lambda_transfer())
            .send()
            .await
            .map_err(|e| AwsError::new("UpdateFunctionCode", e))?;
        wait_for_update(ctx, function).await?;
    }
    let version = publish_once(ctx, function, wanted).await?;
    ctx.say(&format!("published version {version}"));
    Ok(version)
}

/// PublishVersion without the SDK's blind retries: after a failed attempt the version may
/// exist anyway (the answer was lost), so look for it before trying again. A retried deploy
/// never publishes the same code twice.
async fn publish_once(
    ctx: &ServiceContext<'_>,
    function: &str,
    wanted: &str,
) -> Result<String, RolloutError> {
    const ATTEMPTS: u32 = 5;
    let mut delay = ctx.poll.first;
    for attempt in 1..=ATTEMPTS {
        let result = ctx
            .aws
            .lambda
            .publish_version()
            .function_name(function)
            .code_sha256(wanted)
            .description(format!("facturactl {}", ctx.trace_id))
            .customize()
            .config_override(
                aws_sdk_lambda::config::Builder::default()
                    .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled()),
            )
            .send()
            .await;
        let error = match result {
            Ok(published) => return Ok(published.version().unwrap_or_default().to_string()),
            Err(e) => AwsError::new("PublishVersion", e),
        };
        if let Some(existing) = version_with_code(ctx, function, wanted).await? {
            return Ok(existing);
        }
        let retryable = error.code.as_deref().is_none_or(|c| {
            c.contains("Throttl")
                || c.contains("TooManyRequests")
                || c.contains("Service")
                || c.contains("Internal")
        });
        if !retryable || attempt == ATTEMPTS {
            return Err(error.into());
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(ctx.poll.max);
    }
    unreachable!("the loop returns on its last attempt")
}

async fn version_with_code(
    ctx: &ServiceContext<'_>,
    function: &str,
    sha: &str,
) -> Result<Option<String>, RolloutError> {
    let mut marker = None;
    let mut best: Option<u64> = None;
    loop {
        let page = ctx
            .aws
            .lambda
            .list_versions_by_function()
            .function_name(function)
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| AwsError::new("ListVersionsByFunction", e))?;
        for v in page.versions() {
            if Identity::of(v).runs(sha, ctx.model_sha256)
                && let Some(n) = v.version().and_then(|n| n.parse::<u64>().ok())
            {
                best = best.max(Some(n));
            }
        }
        let next = page.next_marker().map(str::to_string);
        // A marker that does not move would page forever.
        if next.is_none() || next == marker {
            return Ok(best.map(|n| n.to_string()));
        }
        marker = next;
    }
}

/// Waits for UpdateFunctionCode to finish (LastUpdateStatus Successful).
async fn wait_for_update(ctx: &ServiceContext<'_>, function: &str) -> Result<(), RolloutError> {
    settled(ctx.aws, function, &ctx.poll).await
}

/// Waits until `function`'s last code or configuration update settled (Successful).
pub(crate) async fn settled(
    aws: &crate::aws::AwsContext,
    function: &str,
    poll: &super::rollout::PollPacing,
) -> Result<(), RolloutError> {
    let started = Instant::now();
    let mut delay = poll.first;
    loop {
        let config = aws
            .lambda
            .get_function_configuration()
            .function_name(function)
            .send()
            .await
            .map_err(|e| AwsError::new("GetFunctionConfiguration", e))?;
        match config.last_update_status() {
            None | Some(LastUpdateStatus::Successful) => return Ok(()),
            Some(LastUpdateStatus::Failed) => {
                return Err(RolloutError::new(RolloutFailure::CodeUpdateFailed {
                    reason: config
                        .last_update_status_reason()
                        .unwrap_or("no reason given")
                        .to_string(),
                }));
            }
            Some(_) if started.elapsed() > Duration::from_secs(300) => {
                return Err(RolloutError::new(RolloutFailure::CodeUpdateTimedOut {
                    seconds: 300,
                }));
            }
            Some(_) => {}
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(poll.max);
    }
}

/// Moves the alias from `old` to `new` through the strategy's steps, watching alarms; any
/// alarm in ALARM puts the alias back on `old`.
async fn shift(
    ctx: &ServiceContext<'_>,
    service: &LambdaService,
    function: &str,
    old: &str,
    new: &str,
    alarms: &AlarmWatch<'_>,
) -> Result<(), RolloutError> {
    let interval = Duration::from_secs(u64::from(service.rollout.step_interval_seconds));
    if service.rollout.strategy == Strategy::Ab {
        let percent = service.rollout.step_percent.clamp(1, 99);
        point(ctx, function, old, Some((new, percent))).await?;
        ctx.say(&format!(
            "A/B split: version {new} is the variant with {percent}%, version {old} the control; end it with `facturactl traffic promote|abort {}`",
            ctx.name
        ));
        return Ok(());
    }
    for percent in steps(service) {
        point(ctx, function, old, Some((new, percent))).await?;
        ctx.say(&format!("{percent}% of traffic on version {new}"));
        if ctx.skip_wait {
            ctx.say("--skip-wait: not watching this step");
        } else if let Err(alarm) = watch(ctx, alarms, interval).await? {
            return Err(roll_back(ctx, function, old, new, percent, &alarm).await);
        }
        // A last look before the next step, even when the wait was skipped.
        if let Some(alarm) = alarms.firing().await? {
            return Err(roll_back(ctx, function, old, new, percent, &alarm).await);
        }
    }
    point(ctx, function, new, None).await?;
    ctx.say(&format!("100% of traffic on version {new}"));
    Ok(())
}

/// Watches alarms for `interval`; `Err(alarm)` as soon as one fires.
async fn watch(
    ctx: &ServiceContext<'_>,
    alarms: &AlarmWatch<'_>,
    interval: Duration,
) -> Result<Result<(), String>, RolloutError> {
    let until = Instant::now() + interval;
    loop {
        if let Some(alarm) = alarms.firing().await? {
            return Ok(Err(alarm));
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(Ok(()));
        }
        tokio::time::sleep(left.min(ctx.poll.alarm_check)).await;
    }
}

async fn roll_back(
    ctx: &ServiceContext<'_>,
    function: &str,
    old: &str,
    new: &str,
    percent: u32,
    alarm: &str,
) -> RolloutError {
    let restored = point(ctx, function, old, None).await;
    RolloutError::new(RolloutFailure::AlarmFired {
        alarm: alarm.to_string(),
        percent,
        function: function.to_string(),
        alias: ALIAS.to_string(),
        new: new.to_string(),
        old: old.to_string(),
        restore_failed: restored.err().map(|e| e.to_string()),
    })
}

/// Points the alias at `primary`, with `extra` (version, percent) weighted beside it.
async fn point(
    ctx: &ServiceContext<'_>,
    function: &str,
    primary: &str,
    extra: Option<(&str, u32)>,
) -> Result<(), RolloutError> {
    Ok(route(ctx.aws, function, primary, extra).await?)
}

/// Points the `live` alias of `function` at `primary`, with `extra` (version, percent)
/// weighted beside it, or alone. Rollouts and the traffic commands both move it here.
pub async fn route(
    aws: &crate::aws::AwsContext,
    function: &str,
    primary: &str,
    extra: Option<(&str, u32)>,
) -> Result<(), AwsError> {
    let routing = AliasRoutingConfiguration::builder()
        .set_additional_version_weights(extra.map(|(v, p)| {
            [(v.to_string(), f64::from(p) / 100.0)]
                .into_iter()
                .collect()
        }))
        .build();
    aws.lambda
        .update_alias()
        .function_name(function)
        .name(ALIAS)
        .function_version(primary)
        .routing_config(routing)
        .send()
        .await
        .map_err(|e| AwsError::new("UpdateAlias", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LambdaRollout;

    fn service(strategy: Strategy, step: u32) -> LambdaService {
        LambdaService {
            runtime: "python3.12".into(),
            handler: "h.h".into(),
            memory_mb: 128,
            timeout_seconds: 3,
            code: None,
            rollout: LambdaRollout {
                strategy,
                step_percent: step,
                ..LambdaRollout::default()
            },
            environment: Default::default(),
            reserved_concurrency: None,
        }
    }

    #[test]
    fn strategies_have_their_steps() {
        assert!(steps(&service(Strategy::AllAtOnce, 10)).is_empty());
        assert_eq!(steps(&service(Strategy::Canary, 10)), [10]);
        assert_eq!(steps(&service(Strategy::Linear, 20)), [20, 40, 60, 80]);
        assert_eq!(steps(&service(Strategy::Linear, 30)), [30, 60, 90]);
    }
}
