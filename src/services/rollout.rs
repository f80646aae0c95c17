//! What every rollout shares, whichever platform runs the service: how it is paced, the
//! context it runs in, what it reports, how it fails, and the alarms that guard it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::alarms::AlarmDefinition;
use crate::aws::AwsContext;
use crate::aws::AwsError;
use crate::config::Config;
use crate::progress::{Progress, ProgressSink};

/// How often rollouts look at AWS: at once, then doubling up to `max`.
#[derive(Debug, Clone, Copy)]
pub struct PollPacing {
    pub first: Duration,
    pub max: Duration,
    /// How often alarms are checked while a canary step is watched.
    pub alarm_check: Duration,
}

impl Default for PollPacing {
    fn default() -> Self {
        Self {
            first: Duration::from_secs(1),
            max: Duration::from_secs(10),
            alarm_check: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct RolloutOptions {
    /// `--skip-wait`: canary and linear steps are not watched (an engineer's decision).
    pub skip_wait: bool,
    pub poll: PollPacing,
    pub trace_id: String,
    /// The SHA-256 of the model each service with a model runs after this deploy (its
    /// stack's parameters): a Lambda version is the same only with the same code and model.
    pub models: BTreeMap<String, String>,
}

/// What one service's rollout needs to know.
pub struct ServiceContext<'a> {
    pub aws: &'a AwsContext,
    pub config: &'a Config,
    pub name: &'a str,
    pub cluster: String,
    pub progress: &'a ProgressSink,
    pub poll: PollPacing,
    pub skip_wait: bool,
    pub trace_id: &'a str,
    /// The SHA-256 of the model the service must run, when it declares one.
    pub model_sha256: Option<&'a str>,
}

impl<'a> ServiceContext<'a> {
    /// The context of another service beside this one (an experiment's `-variant`): the
    /// same account, cluster and pacing; no model of its own to check.
    pub fn beside<'b>(&'b self, name: &'b str) -> ServiceContext<'b> {
        ServiceContext {
            aws: self.aws,
            config: self.config,
            name,
            cluster: self.cluster.clone(),
            progress: self.progress,
            poll: self.poll,
            skip_wait: self.skip_wait,
            trace_id: self.trace_id,
            model_sha256: None,
        }
    }

    pub fn new(
        aws: &'a AwsContext,
        config: &'a Config,
        name: &'a str,
        progress: &'a ProgressSink,
        options: &'a RolloutOptions,
    ) -> Self {
        Self {
            aws,
            config,
            name,
            cluster: config.cluster_name(),
            progress,
            poll: options.poll,
            skip_wait: options.skip_wait,
            trace_id: &options.trace_id,
            model_sha256: config
                .services
                .get(name)
                .and_then(|s| s.model.as_ref())
                .map(|_| options.models.get(name).map_or("", String::as_str)),
        }
    }

    pub fn function_name(&self) -> String {
        self.config.service_resource_name(self.name)
    }

    pub(super) fn say(&self, message: &str) {
        self.progress.send(Progress::ServiceEvent {
            service: self.name.to_string(),
            message: message.to_string(),
        });
    }
}

/// What a rollout changed (or found already in place).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Rollout {
    pub changed: bool,
    /// What ran before: an image or `version N`.
    pub old: String,
    /// What runs now, when changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// What runs once this rollout is done, for the deployment record: the image (ECS) or
    /// the alias's version number (Lambda).
    pub running: String,
    /// ECS: the task definition revision the service runs, for drift audits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_definition: Option<String>,
    /// ECS: the stack's base task definition that revision was made from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_task_definition: Option<String>,
    /// An `ab` rollout: the new version is the variant with this share, and the old one
    /// stays the control (the record keeps both, as a traffic split).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant_percent: Option<u32>,
}

impl Rollout {
    pub(super) fn unchanged(old: String, running: String) -> Self {
        Self {
            changed: false,
            old,
            new: None,
            detail: None,
            running,
            task_definition: None,
            base_task_definition: None,
            variant_percent: None,
        }
    }

    pub(super) fn changed(old: String, new: String, running: String) -> Self {
        Self {
            changed: true,
            old,
            new: Some(new),
            detail: None,
            running,
            task_definition: None,
            base_task_definition: None,
            variant_percent: None,
        }
    }

    /// The new version runs as an A/B variant with `percent` of the traffic.
    pub(super) fn with_variant_share(mut self, percent: u32) -> Self {
        self.variant_percent = Some(percent);
        self
    }

    pub(super) fn with_task_definition(mut self, arn: &str) -> Self {
        self.task_definition = Some(arn.to_string());
        self
    }

    pub(super) fn with_base(mut self, arn: &str) -> Self {
        self.base_task_definition = Some(arn.to_string());
        self
    }

    pub(super) fn with_detail(mut self, detail: String) -> Self {
        self.detail = Some(detail);
        self
    }
}

/// A rollout that did not succeed: why, and what it had changed by then.
#[derive(Debug, Clone)]
pub struct RolloutError {
    /// Boxed: errors travel in every `Result` of a rollout.
    pub failure: Box<RolloutFailure>,
    pub rollout: Option<Box<Rollout>>,
}

/// Why a service's rollout stopped; the words are in `Display`.
#[derive(Debug, Clone)]
pub enum RolloutFailure {
    Aws(AwsError),
    /// A recorded Lambda version could not be read back.
    UnreadableVersion {
        version: String,
        function: String,
        error: AwsError,
    },
    /// A recorded Lambda version holds other code than the record says.
    WrongCode {
        version: String,
        function: String,
        found: String,
        recorded: String,
    },
    /// `$LATEST` does not name the model the stack's parameters set.
    ModelNotApplied {
        function: String,
        found: String,
        wanted: String,
    },
    NoCode,
    CodeUpdateFailed {
        reason: String,
    },
    CodeUpdateTimedOut {
        seconds: u64,
    },
    /// A guarding alarm fired mid-rollout; `restore_failed` says why the alias could not
    /// be moved back, when it could not.
    AlarmFired {
        alarm: String,
        percent: u32,
        function: String,
        /// The alias that carries the split (`live`).
        alias: String,
        new: String,
        old: String,
        restore_failed: Option<String>,
    },
    RuntimeMismatch,
    NoPlacement {
        stack: String,
        service: String,
    },
    NotAnImage,
    StillDraining {
        service: String,
        seconds: u64,
    },
    NoTaskDefinition {
        arn: String,
    },
    NoArn,
    Network {
        error: String,
    },
    NoContainer {
        name: String,
    },
    ServiceNotFound {
        service: String,
        cluster: String,
    },
    /// The deployment failed, as ECS said (`ecs::judge`).
    Deployment {
        failure: DeploymentFailure,
    },
    /// `last` is where the deployment stood at the last look.
    DeadlineExceeded {
        seconds: u64,
        last: DeploymentState,
    },
}

/// Where an ECS deployment stands while it is not finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeploymentState {
    NoPrimary,
    /// ECS's rollout state (`IN_PROGRESS`) and the PRIMARY deployment's task counts.
    Rolling {
        state: String,
        running: i32,
        desired: i32,
    },
}

impl std::fmt::Display for DeploymentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoPrimary => f.write_str("no PRIMARY deployment yet"),
            Self::Rolling {
                state,
                running,
                desired,
            } => write!(f, "{state}, running {running} of {desired}"),
        }
    }
}

/// How an ECS deployment failed; `reason` is ECS's rolloutStateReason (may be empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeploymentFailure {
    /// The circuit breaker put another revision (`running`, as `family:revision`) back.
    RolledBack {
        running: String,
        state: String,
        reason: String,
    },
    Failed {
        reason: String,
    },
}

impl std::fmt::Display for DeploymentFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::RolledBack {
                running,
                state,
                reason,
            } => {
                write!(
                    f,
                    "rolled back: the PRIMARY deployment runs {running} ({state})"
                )?;
                if !reason.is_empty() {
                    write!(f, ": {reason}")?;
                }
                Ok(())
            }
            Self::Failed { reason } => write!(f, "deployment FAILED: {reason}"),
        }
    }
}

impl std::fmt::Display for RolloutFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Aws(e) => write!(f, "{e}"),
            Self::UnreadableVersion {
                version,
                function,
                error,
            } => write!(f, "version {version} of {function} cannot be read: {error}"),
            Self::WrongCode {
                version,
                function,
                found,
                recorded,
            } => write!(
                f,
                "version {version} of {function} holds code {found}, not the recorded {recorded}"
            ),
            Self::ModelNotApplied {
                function,
                found,
                wanted,
            } => write!(
                f,
                "{function} ($LATEST) names model {found:?}, not {wanted:?}: its stack's model parameters were not applied"
            ),
            Self::NoCode => f.write_str("the package has no code"),
            Self::CodeUpdateFailed { reason } => write!(f, "the code update failed: {reason}"),
            Self::CodeUpdateTimedOut { seconds } => {
                write!(f, "the code update did not finish within {seconds} s")
            }
            Self::AlarmFired {
                alarm,
                percent,
                function,
                alias,
                new,
                old,
                restore_failed,
            } => {
                write!(
                    f,
                    "alarm {alarm} fired with {percent}% of traffic on version {new}"
                )?;
                match restore_failed {
                    None => write!(f, "; the alias is back on version {old}"),
                    Some(e) => write!(
                        f,
                        "; moving the alias back to version {old} FAILED ({e}): run `aws lambda update-alias --function-name {function} --name {alias} --function-version {old} --routing-config '{{}}'`"
                    ),
                }
            }
            Self::RuntimeMismatch => f.write_str("the record does not match the service's runtime"),
            Self::NoPlacement { stack, service } => write!(
                f,
                "the `{stack}` stack does not say where {service} runs (no base task definition output): deploy the stack first"
            ),
            Self::NotAnImage => f.write_str("an ECS service takes an image"),
            Self::StillDraining { service, seconds } => {
                write!(f, "service {service} still draining after {seconds} s")
            }
            Self::NoTaskDefinition { arn } => write!(f, "task definition {arn} not found"),
            Self::NoArn => f.write_str("RegisterTaskDefinition returned no ARN"),
            Self::Network { error } => f.write_str(error),
            Self::NoContainer { name } => {
                write!(
                    f,
                    "the base task definition has no container named `{name}`"
                )
            }
            Self::ServiceNotFound { service, cluster } => {
                write!(f, "service {service} not found in cluster {cluster}")
            }
            Self::Deployment { failure } => write!(f, "{failure}"),
            Self::DeadlineExceeded { seconds, last } => {
                write!(
                    f,
                    "not finished within {seconds} s (deadline_seconds): {last}"
                )
            }
        }
    }
}

impl RolloutError {
    pub(super) fn new(failure: RolloutFailure) -> Self {
        Self {
            failure: Box::new(failure),
            rollout: None,
        }
    }

    pub(super) fn with_rollout(mut self, rollout: Rollout) -> Self {
        self.rollout.get_or_insert(Box::new(rollout));
        self
    }
}

impl From<AwsError> for RolloutError {
    fn from(e: AwsError) -> Self {
        Self::new(RolloutFailure::Aws(e))
    }
}

impl From<RolloutFailure> for RolloutError {
    fn from(failure: RolloutFailure) -> Self {
        Self::new(failure)
    }
}

impl std::fmt::Display for RolloutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.failure)
    }
}

/// The alarms that guard one service, read together in one call.
pub struct AlarmWatch<'a> {
    aws: &'a AwsContext,
    names: Vec<String>,
}

impl<'a> AlarmWatch<'a> {
    pub fn new(aws: &'a AwsContext, alarms: &[AlarmDefinition], service: &str) -> Self {
        Self {
            aws,
            names: alarms
                .iter()
                .filter(|a| a.service.as_deref() == Some(service))
                .map(|a| a.name.clone())
                .collect(),
        }
    }

    /// State of each alarm that exists (an alarm not yet created has no state).
    pub async fn states(&self) -> Result<BTreeMap<String, String>, AwsError> {
        if self.names.is_empty() {
            return Ok(BTreeMap::new());
        }
        let out = self
            .aws
            .cloudwatch
            .describe_alarms()
            .set_alarm_names(Some(self.names.clone()))
            .send()
            .await
            .map_err(|e| AwsError::new("DescribeAlarms", e))?;
        Ok(out
            .metric_alarms()
            .iter()
            .filter_map(|a| {
                Some((
                    a.alarm_name()?.to_string(),
                    a.state_value()?.as_str().to_string(),
                ))
            })
            .collect())
    }

    /// The first alarm in ALARM, if any.
    pub async fn firing(&self) -> Result<Option<String>, AwsError> {
        Ok(self
            .states()
            .await?
            .into_iter()
            .find(|(_, state)| state == "ALARM")
            .map(|(name, _)| name))
    }
}
