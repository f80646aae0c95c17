//! A/B splits: a control and a variant at a fixed share, each side's latency and error
//! rate from CloudWatch, and the moves an experiment ends with (promote the variant, or
//! abort it). One file per platform that carries a split (`lambda`: the `live` alias;
//! `ecs`: the listener rule), the report and its figures in leaves both share.

mod ecs;
mod lambda;
mod metrics;
mod report;

pub use report::{PredictionCounts, Side, TrafficError, TrafficReport, guards_of};

use crate::aws::AwsContext;
use crate::config::Config;

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

/// The split and each side's figures over the last `window_minutes`.
pub async fn show(
    aws: &AwsContext,
    config: &Config,
    service: &str,
    window_minutes: u32,
) -> Result<TrafficReport, TrafficError> {
    match target_of(config, service)? {
        Target::Lambda(function) => {
            lambda::show(aws, config, service, function, window_minutes).await
        }
        Target::Ecs => ecs::show(aws, config, service, window_minutes).await,
    }
}

/// Routes `percent` (1 to 99) of the service's traffic to `variant`.
pub async fn set(
    aws: &AwsContext,
    config: &Config,
    service: &str,
    variant: &str,
    percent: u32,
) -> Result<String, TrafficError> {
    let target = target_of(config, service)?;
    if !(1..=99).contains(&percent) {
        return Err(TrafficError::NotASplit(percent));
    }
    match target {
        Target::Lambda(function) => lambda::set(aws, function, variant, percent).await,
        Target::Ecs => ecs::set(aws, config, service, variant, percent).await,
    }
}

/// The variant becomes the control, with all the traffic.
pub async fn promote(
    aws: &AwsContext,
    config: &Config,
    service: &str,
) -> Result<String, TrafficError> {
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
) -> Result<String, TrafficError> {
    match target_of(config, service)? {
        Target::Lambda(function) => lambda::abort(aws, function).await,
        Target::Ecs => ecs::abort(aws, config, service).await,
    }
}
