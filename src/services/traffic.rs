//! A/B splits: of Lambda services, a control version and a variant behind the `live` alias
//! at a fixed share, each side's latency and error rate from CloudWatch, and the moves an
//! experiment ends with (promote the variant, or abort it).
//!
//! The split lives in the alias itself (FunctionVersion is the control,
//! AdditionalVersionWeights the variant), so what this shows is what serves traffic.

use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use serde::Serialize;

use super::evaluation::{self, Comparison, Evaluation, Proportion, Worse};
use super::lambda::ALIAS;
use crate::aws::AwsContext;
use crate::aws::AwsError;
use crate::config::{AbGuards, Config};

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
    /// What the service reports of its predictions (its metrics namespace, dimensions
    /// `Service` and `Version`): all zero when it reports none.
    pub predictions: PredictionCounts,
    /// The SHA-256 of the model this version runs (its MODEL_SHA256), for a service that
    /// declares a model: an A/B of two models shows which is which.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_sha256: Option<String>,
}

/// Sums over the window of the metrics a scoring service emits per version.
#[derive(Debug, Clone, Copy, Default, Serialize, schemars::JsonSchema)]
pub struct PredictionCounts {
    /// `Predictions`: every prediction made.
    pub predictions: f64,
    /// `Validated`: predictions whose outcome a person or a later check validated.
    pub validated: f64,
    /// `Agreements`: validated predictions that matched the outcome.
    pub agreements: f64,
    /// `FalsePositives`: validated predictions that flagged a good invoice.
    pub false_positives: f64,
    /// `FalseNegatives`: validated predictions that missed a bad invoice.
    pub false_negatives: f64,
    /// `AlertsRaised`: predictions that raised an alert.
    pub alerts: f64,
}

/// The prediction metrics, as the service names them, and where each count goes.
const PREDICTION_METRICS: [&str; 6] = [
    "Predictions",
    "Validated",
    "Agreements",
    "FalsePositives",
    "FalseNegatives",
    "AlertsRaised",
];

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
    /// Each measure of both sides and the difference, with its interval (with a variant).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub comparisons: Vec<Comparison>,
    /// `traffic evaluate`: the verdict against the guard rails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<Evaluation>,
}

/// Why a traffic command cannot do what it was asked. Each is a usage error (exit 1),
/// except a failed AWS call.
#[derive(Debug)]
pub enum TrafficError {
    /// Not a service with a split: a Lambda service, or an ECS service with a `path`.
    NotSplittable {
        service: String,
        environment: String,
        splittable: Vec<String>,
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
            Self::NotSplittable {
                service,
                environment,
                ..
            } => format!(
                "`{service}` is neither an enabled Lambda service of `{environment}` nor an ECS service with a path"
            ),
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
            Self::NotSplittable { splittable, .. } => format!(
                "A/B splits run on Lambda aliases and on the weighted target groups of ECS services with `path`; services: {}",
                splittable.join(", ")
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

/// The function of a Lambda service (the ECS path is in `traffic_ecs`).
fn function_of(config: &Config, service: &str) -> Result<Option<String>, TrafficError> {
    Ok(match target_of(config, service)? {
        Target::Lambda(function) => Some(function),
        Target::Ecs => None,
    })
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
    let Some(function) = function_of(config, service)? else {
        return super::traffic_ecs::show(aws, config, service, window_minutes).await;
    };
    let (control, variant) = split(aws, &function).await?;
    let variant_share = variant.as_ref().map_or(0.0, |(_, s)| *s);
    let mut sides = vec![(control, 1.0 - variant_share)];
    if let Some((version, share)) = variant {
        sides.push((version, share));
    }
    let namespace = config.metrics_namespace();
    let stats = stats(
        aws,
        &Platform::Lambda {
            function: &function,
        },
        (&namespace, service),
        &sides,
        window_minutes,
    )
    .await?;
    let mut stats = stats.into_iter();
    let mut control = stats.next().expect("the control side");
    let mut variant = stats.next();
    if config
        .services
        .get(service)
        .is_some_and(|s| s.model.is_some())
    {
        for side in std::iter::once(&mut control).chain(variant.as_mut()) {
            side.model_sha256 = Some(
                super::lambda::identity_of(aws, &function, &side.version)
                    .await?
                    .model,
            );
        }
    }
    Ok(TrafficReport::of(
        config,
        service,
        function,
        window_minutes,
        (control, variant),
    ))
}

impl TrafficReport {
    /// Both sides and, with a variant, each measure compared under the service's guard
    /// rails.
    pub(super) fn of(
        config: &Config,
        service: &str,
        function: String,
        window_minutes: u32,
        (control, variant): (Side, Option<Side>),
    ) -> Self {
        let guards = guards_of(config, service);
        let comparisons = variant
            .as_ref()
            .map(|v| compare(&control, v, &guards))
            .unwrap_or_default();
        Self {
            service: service.to_string(),
            function,
            window_minutes,
            control,
            variant,
            changed: None,
            comparisons,
            evaluation: None,
        }
    }
}

/// The service's guard rails, or the defaults.
pub fn guards_of(config: &Config, service: &str) -> AbGuards {
    config
        .services
        .get(service)
        .and_then(|s| s.ab.clone())
        .unwrap_or_default()
}

/// A prediction measure: events over trials, which way is worse, and its limit.
struct RateMeasure {
    measure: &'static str,
    events: fn(&PredictionCounts) -> f64,
    trials: fn(&PredictionCounts) -> f64,
    worse: Worse,
    limit: Option<f64>,
}

impl RateMeasure {
    /// A rate among validated predictions.
    fn of_validated(
        measure: &'static str,
        events: fn(&PredictionCounts) -> f64,
        worse: Worse,
        limit: Option<f64>,
    ) -> Self {
        Self {
            measure,
            events,
            trials: |p| p.validated,
            worse,
            limit,
        }
    }
}

/// Each measure of the two sides, with its limit.
fn compare(control: &Side, variant: &Side, guards: &AbGuards) -> Vec<Comparison> {
    let z = evaluation::z_for(guards.confidence);
    let over = |side: &Side,
                events: fn(&PredictionCounts) -> f64,
                trials: fn(&PredictionCounts) -> f64| {
        Proportion {
            events: events(&side.predictions),
            trials: trials(&side.predictions),
        }
    };
    let errors = |side: &Side| Proportion {
        events: side.errors,
        trials: side.invocations,
    };
    let mut comparisons = vec![evaluation::rate(
        "error rate",
        errors(control),
        errors(variant),
        Worse::Higher,
        guards.max_error_rate_increase,
        z,
    )];
    comparisons.push(Comparison {
        measure: "p95 latency",
        unit: "ms",
        control: control.p95_ms,
        variant: variant.p95_ms,
        difference: control
            .p95_ms
            .zip(variant.p95_ms)
            .map(|(c, v)| ((v - c) * 10.0).round() / 10.0),
        interval: None,
        samples: (control.invocations, variant.invocations),
        worse: Worse::Higher,
        limit: guards.max_p95_increase_ms,
    });
    let measures = [
        RateMeasure::of_validated(
            "agreement",
            |p| p.agreements,
            Worse::Lower,
            guards.max_agreement_drop,
        ),
        RateMeasure::of_validated(
            "false positives",
            |p| p.false_positives,
            Worse::Higher,
            guards.max_false_positive_increase,
        ),
        RateMeasure::of_validated(
            "false negatives",
            |p| p.false_negatives,
            Worse::Higher,
            guards.max_false_negative_increase,
        ),
        RateMeasure {
            measure: "alert rate",
            events: |p| p.alerts,
            trials: |p| p.predictions,
            worse: Worse::Higher,
            limit: guards.max_alert_rate_increase,
        },
    ];
    for RateMeasure {
        measure,
        events,
        trials,
        worse,
        limit,
    } in measures
    {
        let (c, v) = (over(control, events, trials), over(variant, events, trials));
        // A measure the service does not report is left out, unless it is guarded.
        if c.trials == 0.0 && v.trials == 0.0 && limit.is_none() {
            continue;
        }
        comparisons.push(evaluation::rate(measure, c, v, worse, limit, z));
    }
    comparisons
}

/// Routes `percent` of the alias's traffic to `variant` (a published version).
pub async fn set(
    aws: &AwsContext,
    config: &Config,
    service: &str,
    variant: &str,
    percent: u32,
) -> Result<String, TrafficError> {
    let target = function_of(config, service)?;
    if !(1..=99).contains(&percent) {
        return Err(TrafficError::NotASplit(percent));
    }
    let Some(function) = target else {
        return super::traffic_ecs::set(aws, config, service, variant, percent).await;
    };
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
    let Some(function) = function_of(config, service)? else {
        return super::traffic_ecs::promote(aws, config, service).await;
    };
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
    let Some(function) = function_of(config, service)? else {
        return super::traffic_ecs::abort(aws, config, service).await;
    };
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

/// The sum of a metric's datapoints; 0 (not the empty sum's -0) when there are none.
fn total(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() + 0.0
}

/// One statistic of one metric over the whole window.
fn metric_query(
    id: String,
    (namespace, metric): (&str, &str),
    dimensions: &[(&str, &str)],
    period: i32,
    stat: &str,
) -> MetricDataQuery {
    let dimensions = dimensions
        .iter()
        .map(|(k, v)| Dimension::builder().name(*k).value(*v).build())
        .collect();
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(
            MetricStat::builder()
                .metric(
                    Metric::builder()
                        .namespace(namespace)
                        .metric_name(metric)
                        .set_dimensions(Some(dimensions))
                        .build(),
                )
                .period(period)
                .stat(stat)
                .build(),
        )
        .return_data(true)
        .build()
}

/// Where each side's requests, errors and latency are measured.
pub(super) enum Platform<'a> {
    /// Lambda reports per-version figures of an alias under the ExecutedVersion dimension.
    Lambda { function: &'a str },
    /// An application load balancer reports per target group: one per side, in order.
    Balancer {
        load_balancer: &'a str,
        target_groups: [&'a str; 2],
    },
}

impl Platform<'_> {
    /// Requests (`inv`), errors (`err`) and p95 latency (`p95`) of side `i`.
    fn queries(&self, i: usize, version: &str, period: i32) -> [MetricDataQuery; 3] {
        match self {
            Self::Lambda { function } => {
                let resource = format!("{function}:{ALIAS}");
                let dims = [
                    ("FunctionName", *function),
                    ("Resource", resource.as_str()),
                    ("ExecutedVersion", version),
                ];
                let query = |id: String, metric: &str, stat: &str| {
                    metric_query(id, ("AWS/Lambda", metric), &dims, period, stat)
                };
                [
                    query(format!("inv{i}"), "Invocations", "Sum"),
                    query(format!("err{i}"), "Errors", "Sum"),
                    query(format!("p95{i}"), "Duration", "p95"),
                ]
            }
            Self::Balancer {
                load_balancer,
                target_groups,
            } => {
                let dims = [
                    ("LoadBalancer", *load_balancer),
                    ("TargetGroup", target_groups[i.min(1)]),
                ];
                let query = |id: String, metric: &str, stat: &str| {
                    metric_query(id, ("AWS/ApplicationELB", metric), &dims, period, stat)
                };
                [
                    query(format!("inv{i}"), "RequestCount", "Sum"),
                    query(format!("err{i}"), "HTTPCode_Target_5XX_Count", "Sum"),
                    query(format!("p95{i}"), "TargetResponseTime", "p95"),
                ]
            }
        }
    }

    /// Milliseconds per unit of the latency metric (ALB reports seconds).
    fn ms_per_unit(&self) -> f64 {
        match self {
            Self::Lambda { .. } => 1.0,
            Self::Balancer { .. } => 1000.0,
        }
    }
}

/// Requests, errors and p95 latency per side, with the service's own prediction measures
/// (dimensions `Service` and `Version`), in one GetMetricData call.
pub(super) async fn stats(
    aws: &AwsContext,
    platform: &Platform<'_>,
    (namespace, service): (&str, &str),
    sides: &[(String, f64)],
    window_minutes: u32,
) -> Result<Vec<Side>, TrafficError> {
    let window = Duration::from_secs(u64::from(window_minutes) * 60);
    // The end is exclusive and datapoints carry whole seconds: a minute ahead takes in
    // everything reported up to now.
    let end = SystemTime::now() + Duration::from_secs(60);
    let start = end - window;
    let period = window.as_secs() as i32;
    // The service's own per-version metrics (emitted with the version it runs).
    let own = |id: String, metric: &str, version: &str| {
        let dims = [("Service", service), ("Version", version)];
        metric_query(id, (namespace, metric), &dims, period, "Sum")
    };
    let mut queries = Vec::new();
    for (i, (version, _)) in sides.iter().enumerate() {
        queries.extend(platform.queries(i, version, period));
        for (m, metric) in PREDICTION_METRICS.iter().enumerate() {
            queries.push(own(format!("own{i}x{m}"), metric, version));
        }
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
            let invocations = total(&values(&format!("inv{i}")));
            let errors = total(&values(&format!("err{i}")));
            let p95 = values(&format!("p95{i}"));
            let own = |m: usize| total(&values(&format!("own{i}x{m}")));
            Side {
                version: version.clone(),
                percent: (share * 1000.0).round() / 10.0,
                invocations,
                errors,
                error_rate: (invocations > 0.0)
                    .then(|| (errors / invocations * 1000.0).round() / 10.0),
                p95_ms: p95
                    .iter()
                    .cloned()
                    .reduce(f64::max)
                    .map(|p| (p * platform.ms_per_unit() * 10.0).round() / 10.0),
                predictions: PredictionCounts {
                    predictions: own(0),
                    validated: own(1),
                    agreements: own(2),
                    false_positives: own(3),
                    false_negatives: own(4),
                    alerts: own(5),
                },
                model_sha256: None,
            }
        })
        .collect())
}
