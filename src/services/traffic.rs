//! A/B splits of Lambda services: a control version and a variant behind the `live` alias
//! at a fixed share, each side's latency and error rate from CloudWatch, and the moves an
//! experiment ends with (promote the variant, or abort it).
//!
//! The split lives in the alias itself (FunctionVersion is the control,
//! AdditionalVersionWeights the variant), so what this shows is what serves traffic.

use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use serde::Serialize;

use super::lambda::ALIAS;
use crate::aws::AwsContext;
use crate::aws::AwsError;
use crate::config::Config;

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Side {
    pub version: String,
    pub percent: f64,
    pub invocations: f64,
    pub errors: f64,
    /// Errors over invocations, in percent; none without invocations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p95_ms: Option<f64>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TrafficReport {
    pub service: String,
    pub function: String,
    pub window_minutes: u32,
    pub control: Side,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<Side>,
    /// What was changed, for set, promote and abort.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed: Option<String>,
}

/// Why a traffic command cannot do what it was asked. Each is a usage error (exit 1),
/// except a failed AWS call.
#[derive(Debug)]
pub enum TrafficError {
    NotLambda {
        service: String,
        environment: String,
        lambdas: Vec<String>,
    },
    NotASplit(u32),
    AlreadyControl(String),
    NoSuchVersion {
        variant: String,
        function: String,
        error: AwsError,
    },
    NoVariant {
        service: String,
        control: String,
    },
    Aws(AwsError),
}

impl From<AwsError> for TrafficError {
    fn from(e: AwsError) -> Self {
        Self::Aws(e)
    }
}

impl TrafficError {
    pub fn message(&self) -> String {
        match self {
            Self::NotLambda {
                service,
                environment,
                ..
            } => format!("`{service}` is not an enabled Lambda service of `{environment}`"),
            Self::NotASplit(percent) => format!("a variant share of {percent}% is not a split"),
            Self::AlreadyControl(variant) => format!("version {variant} is already the control"),
            Self::NoSuchVersion {
                variant,
                function,
                error,
            } => format!("version {variant} of {function}: {}", error.message),
            Self::NoVariant { service, control } => {
                format!("{service} has no variant to promote: all traffic is on version {control}")
            }
            Self::Aws(e) => e.to_string(),
        }
    }

    pub fn help(&self) -> String {
        match self {
            Self::NotLambda { lambdas, .. } => format!(
                "A/B splits run on Lambda aliases; services: {}",
                lambdas.join(", ")
            ),
            Self::NotASplit(_) => {
                "give 1 to 99; `traffic promote` moves all traffic, `traffic abort` none".into()
            }
            Self::AlreadyControl(_) => "name another published version as the variant".into(),
            Self::NoSuchVersion { .. } => {
                "name a published version (a deploy prints the version it published)".into()
            }
            Self::NoVariant { .. } => "start an experiment with `facturactl traffic set`".into(),
            Self::Aws(_) => String::new(),
        }
    }
}

/// The function of a Lambda service, or a usage error naming the Lambda services.
pub fn function_of(config: &Config, service: &str) -> Result<String, TrafficError> {
    match config.services.get(service) {
        Some(s) if s.enabled && s.lambda.is_some() => Ok(config.service_resource_name(service)),
        _ => {
            let lambdas: Vec<&str> = config
                .services
                .iter()
                .filter(|(_, s)| s.enabled && s.lambda.is_some())
                .map(|(n, _)| n.as_str())
                .collect();
            Err(TrafficError::NotLambda {
                service: service.to_string(),
                environment: config.environment.name.clone(),
                lambdas: lambdas.into_iter().map(str::to_string).collect(),
            })
        }
    }
}

/// (control version, variant (version, share 0..1)) of the alias.
async fn split(
    aws: &AwsContext,
    function: &str,
) -> Result<(String, Option<(String, f64)>), TrafficError> {
    match super::lambda::alias(aws, function).await? {
        Some(alias) => Ok((alias.version, alias.weights.into_iter().next())),
        None => Err(AwsError::local(
            "GetAlias",
            Some("ResourceNotFoundException"),
            format!("{function} has no `{ALIAS}` alias: deploy the service first"),
        )
        .into()),
    }
}

/// The split and each side's figures over the last `window_minutes`.
pub async fn show(
    aws: &AwsContext,
    config: &Config,
    service: &str,
    window_minutes: u32,
) -> Result<TrafficReport, TrafficError> {
    let function = function_of(config, service)?;
    let (control, variant) = split(aws, &function).await?;
    let variant_share = variant.as_ref().map_or(0.0, |(_, s)| *s);
    let mut sides = vec![(control, 1.0 - variant_share)];
    if let Some((version, share)) = variant {
        sides.push((version, share));
    }
    let stats = stats(aws, &function, &sides, window_minutes).await?;
    let mut stats = stats.into_iter();
    Ok(TrafficReport {
        service: service.to_string(),
        function,
        window_minutes,
        control: stats.next().expect("the control side"),
        variant: stats.next(),
        changed: None,
    })
}

/// Routes `percent` of the alias's traffic to `variant` (a published version).
pub async fn set(
    aws: &AwsContext,
    config: &Config,
    service: &str,
    variant: &str,
    percent: u32,
) -> Result<String, TrafficError> {
    let function = function_of(config, service)?;
    if !(1..=99).contains(&percent) {
        return Err(TrafficError::NotASplit(percent));
    }
    let (control, _) = split(aws, &function).await?;
    if control == variant {
        return Err(TrafficError::AlreadyControl(variant.to_string()));
    }
    aws.lambda
        .get_function_configuration()
        .function_name(&function)
        .qualifier(variant)
        .send()
        .await
        .map_err(|e| TrafficError::NoSuchVersion {
            variant: variant.to_string(),
            function: function.clone(),
            error: AwsError::new("GetFunctionConfiguration", e),
        })?;
    route(aws, &function, &control, Some((variant, percent))).await?;
    Ok(format!(
        "{percent}% on variant version {variant}, {}% on control version {control}",
        100 - percent
    ))
}

/// The variant becomes the control, with all the traffic.
pub async fn promote(
    aws: &AwsContext,
    config: &Config,
    service: &str,
) -> Result<String, TrafficError> {
    let function = function_of(config, service)?;
    let (control, variant) = split(aws, &function).await?;
    let Some((variant, _)) = variant else {
        return Err(TrafficError::NoVariant {
            service: service.to_string(),
            control,
        });
    };
    route(aws, &function, &variant, None).await?;
    Ok(format!(
        "version {variant} promoted: 100% (was the variant; version {control} retired)"
    ))
}

/// The experiment ends: all traffic back on the control.
pub async fn abort(
    aws: &AwsContext,
    config: &Config,
    service: &str,
) -> Result<String, TrafficError> {
    let function = function_of(config, service)?;
    let (control, variant) = split(aws, &function).await?;
    route(aws, &function, &control, None).await?;
    Ok(match variant {
        Some((v, _)) => format!("variant version {v} removed: 100% on control version {control}"),
        None => format!("no variant was running: 100% on version {control}"),
    })
}

async fn route(
    aws: &AwsContext,
    function: &str,
    primary: &str,
    variant: Option<(&str, u32)>,
) -> Result<(), TrafficError> {
    Ok(super::lambda::route(aws, function, primary, variant).await?)
}

/// Invocations, errors and p95 duration per version, in one GetMetricData call. Lambda
/// reports per-version figures of an alias under the ExecutedVersion dimension.
async fn stats(
    aws: &AwsContext,
    function: &str,
    sides: &[(String, f64)],
    window_minutes: u32,
) -> Result<Vec<Side>, TrafficError> {
    let window = Duration::from_secs(u64::from(window_minutes) * 60);
    // The end is exclusive and datapoints carry whole seconds: a minute ahead takes in
    // everything reported up to now.
    let end = SystemTime::now() + Duration::from_secs(60);
    let start = end - window;
    let query = |id: String, metric: &str, stat: &str, version: &str| {
        let dims = [
            ("FunctionName", function.to_string()),
            ("Resource", format!("{function}:{ALIAS}")),
            ("ExecutedVersion", version.to_string()),
        ];
        MetricDataQuery::builder()
            .id(id)
            .metric_stat(
                MetricStat::builder()
                    .metric(
                        Metric::builder()
                            .namespace("AWS/Lambda")
                            .metric_name(metric)
                            .set_dimensions(Some(
                                dims.iter()
                                    .map(|(k, v)| Dimension::builder().name(*k).value(v).build())
                                    .collect(),
                            ))
                            .build(),
                    )
                    .period(window.as_secs() as i32)
                    .stat(stat)
                    .build(),
            )
            .return_data(true)
            .build()
    };
    let mut queries = Vec::new();
    for (i, (version, _)) in sides.iter().enumerate() {
        queries.push(query(format!("inv{i}"), "Invocations", "Sum", version));
        queries.push(query(format!("err{i}"), "Errors", "Sum", version));
        queries.push(query(format!("p95{i}"), "Duration", "p95", version));
    }
    let out = aws
        .cloudwatch
        .get_metric_data()
        .set_metric_data_queries(Some(queries))
        .start_time(DateTime::from(start))
        .end_time(DateTime::from(end))
        .send()
        .await
        .map_err(|e| AwsError::new("GetMetricData", e))?;
    let values = |id: &str| -> Vec<f64> {
        out.metric_data_results()
            .iter()
            .find(|r| r.id() == Some(id))
            .map(|r| r.values().to_vec())
            .unwrap_or_default()
    };
    Ok(sides
        .iter()
        .enumerate()
        .map(|(i, (version, share))| {
            let invocations: f64 = values(&format!("inv{i}")).iter().sum();
            let errors: f64 = values(&format!("err{i}")).iter().sum();
            let p95 = values(&format!("p95{i}"));
            Side {
                version: version.clone(),
                percent: (share * 1000.0).round() / 10.0,
                invocations,
                errors,
                error_rate: (invocations > 0.0)
                    .then(|| (errors / invocations * 1000.0).round() / 10.0),
                p95_ms: p95.iter().cloned().reduce(f64::max),
            }
        })
        .collect())
}
