//! A/B splits: a control and a variant at a fixed share, each side's latency and error
//! rate from CloudWatch, and the moves an experiment ends with (promote the variant, or
//! abort it). One file per platform that carries a split (`lambda`: the `live` alias;
//! `ecs`: the listener rule), the report and its figures in leaves both share.

mod ecs;
mod lambda;
mod metrics;
mod moved;
mod report;

pub use moved::{Carrier, Moved};
pub use report::{
    ModelVariables, PredictionCounts, Side, TrafficError, TrafficReport, VariantFailure, guards_of,
};

use std::time::{Duration, SystemTime};

use crate::aws::AwsContext;
use crate::config::{Config, RuntimeKind};

/// What carries a service's split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The function whose `live` alias weighs two versions.
    Lambda(String),
    /// An ECS service whose listener rule weighs two target groups.
    Ecs,
}

/// The target of a service's split, or a usage error naming the services that have one.
pub fn target_of(config: &Config, service: &str) -> Result<Target, TrafficError> {
    let splittable = |s: &crate::config::Service| {
        s.enabled && (s.lambda.is_some() || s.ecs.as_ref().is_some_and(|e| e.path.is_some()))
    };
    match config.services.get(service) {
        Some(s) if splittable(s) && s.lambda.is_some() => {
            Ok(Target::Lambda(config.service_resource_name(service)))
        }
        Some(s) if splittable(s) => Ok(Target::Ecs),
        _ => Err(TrafficError::NotSplittable {
            service: service.to_string(),
            environment: config.environment.name.clone(),
            splittable: config
                .services
                .iter()
                .filter(|(_, s)| splittable(s))
                .map(|(n, _)| n.to_string())
                .collect(),
        }),
    }
}

/// Where a promote verdict takes a ramp (`[services.<name>.ab] steps`) from the variant's
/// share now: the next step's share, or none when the next is 100 (or there is no ramp),
/// which is the promotion itself.
pub fn next_step(steps: &[u32], percent: f64) -> Option<u32> {
    steps
        .iter()
        .copied()
        .find(|s| f64::from(*s) > percent + 0.5)
        .filter(|s| *s < 100)
}

/// The span of time a report's figures cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Its length, in whole minutes (rounded up), as the report shows it.
    pub minutes: u32,
    pub start: SystemTime,
}

impl Window {
    /// The last `minutes`, or less when `since` (a split's start) is later: an experiment
    /// is judged on what it served, never on what came before it. CloudWatch rounds a
    /// start down to its minute, so up to 59 s before the split may count on AWS.
    pub fn since(minutes: u32, since: Option<SystemTime>) -> Self {
        let last = SystemTime::now() - Duration::from_secs(u64::from(minutes) * 60);
        Self {
            minutes,
            start: last,
        }
        .not_before(since)
    }
}

impl Window {
    /// The same window, starting no earlier than `start`.
    pub fn not_before(self, start: Option<SystemTime>) -> Self {
        match start {
            Some(start) if start > self.start => {
                let now = SystemTime::now();
                let seconds = now.duration_since(start).map_or(0, |d| d.as_secs());
                Self {
                    minutes: u32::try_from(seconds.div_ceil(60).max(1)).unwrap_or(self.minutes),
                    start,
                }
            }
            _ => self,
        }
    }
}

/// The split and each side's figures over `window`.
pub async fn show(
    aws: &AwsContext,
    config: &Config,
    service: &str,
    window: Window,
) -> Result<TrafficReport, TrafficError> {
    match target_of(config, service)? {
        Target::Lambda(function) => lambda::show(aws, config, service, function, window).await,
        Target::Ecs => ecs::show(aws, config, service, window).await,
    }
}

/// Routes `percent` (1 to 99) of the service's traffic to `variant`.
pub async fn set(
    aws: &AwsContext,
    config: &Config,
    service: &str,
    variant: &str,
    percent: u32,
) -> Result<Moved, TrafficError> {
    let target = target_of(config, service)?;
    if !(1..=99).contains(&percent) {
        return Err(TrafficError::NotASplit(percent));
    }
    match target {
        Target::Lambda(function) => lambda::set(aws, function, variant, percent).await,
        Target::Ecs => ecs::set(aws, config, service, variant, percent).await,
    }
}

/// Makes a variant that runs `model` on the control's code (a Lambda version, or an ECS
/// revision); returns it as `set` takes it.
pub async fn variant_with_model(
    aws: &AwsContext,
    config: &Config,
    service: &str,
    model: &ModelVariables,
) -> Result<String, TrafficError> {
    match target_of(config, service)? {
        Target::Lambda(function) => lambda::publish_with_model(aws, service, function, model).await,
        Target::Ecs => ecs::revision_with_model(aws, config, service, model).await,
    }
}

/// The variant becomes the control, with all the traffic.
pub async fn promote(
    aws: &AwsContext,
    config: &Config,
    service: &str,
) -> Result<Moved, TrafficError> {
    match target_of(config, service)? {
        Target::Lambda(function) => lambda::promote(aws, service, function).await,
        Target::Ecs => ecs::promote(aws, config, service).await,
    }
}

/// The experiment ends: all traffic back on the control.
pub async fn abort(
    aws: &AwsContext,
    config: &Config,
    service: &str,
) -> Result<Moved, TrafficError> {
    match target_of(config, service)? {
        Target::Lambda(function) => lambda::abort(aws, function).await,
        Target::Ecs => ecs::abort(aws, config, service).await,
    }
}

/// What a side runs, as AWS says: for a side no release recorded (a version published
/// by hand).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSide {
    pub runtime: RuntimeKind,
    /// Lambda: the version.
    pub version: Option<String>,
    pub code_sha256: Option<String>,
    /// ECS: the task definition ARN and its container's image.
    pub task_definition: Option<String>,
    pub image: Option<String>,
    /// The SHA-256 of the model it loads ("" without one). The model's pin is the
    /// registry's to say, not AWS's.
    pub model_sha256: String,
}

/// What `side` (a Lambda version or an ECS task definition ARN) runs, as AWS says.
pub async fn live_side(
    aws: &AwsContext,
    config: &Config,
    service: &str,
    side: &str,
) -> Result<LiveSide, TrafficError> {
    match target_of(config, service)? {
        Target::Lambda(function) => {
            let identity = crate::services::lambda::identity_of(aws, &function, side).await?;
            Ok(LiveSide {
                runtime: RuntimeKind::Lambda,
                version: Some(side.to_string()),
                code_sha256: Some(identity.code),
                task_definition: None,
                image: None,
                model_sha256: identity.model,
            })
        }
        Target::Ecs => {
            let (image, model_sha256) = ecs::image_and_model(aws, side).await?;
            Ok(LiveSide {
                runtime: RuntimeKind::Ecs,
                version: None,
                code_sha256: None,
                task_definition: Some(side.to_string()),
                image,
                model_sha256,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Window, next_step};
    use std::time::{Duration, SystemTime};

    #[test]
    fn a_window_starts_at_the_latest_of_its_length_the_split_and_the_revisions() {
        let now = SystemTime::now();
        let hour = Window::since(60, None);
        assert_eq!(hour.minutes, 60);
        let split = now - Duration::from_secs(600);
        let young = Window::since(60, Some(split));
        assert_eq!((young.start, young.minutes), (split, 10));
        // A revision that took over 2 minutes ago: only its figures.
        let deployed = now - Duration::from_secs(115);
        let after = young.not_before(Some(deployed));
        assert_eq!((after.start, after.minutes), (deployed, 2));
        // An older start changes nothing.
        assert_eq!(
            young.not_before(Some(now - Duration::from_secs(7200))),
            young
        );
        assert_eq!(young.not_before(None), young);
    }

    #[test]
    fn a_ramp_moves_to_its_next_step_and_ends_in_the_promotion() {
        let steps = [10, 50, 100];
        assert_eq!(next_step(&steps, 10.0), Some(50));
        assert_eq!(next_step(&steps, 9.99), Some(50), "read back from weights");
        assert_eq!(next_step(&steps, 5.0), Some(10));
        assert_eq!(
            next_step(&steps, 50.0),
            None,
            "the next step is the promotion"
        );
        assert_eq!(next_step(&[], 10.0), None, "no ramp: promote at once");
        assert_eq!(next_step(&[25, 100], 30.0), None);
    }
}
