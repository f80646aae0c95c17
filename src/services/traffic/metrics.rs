//! Each side's figures from CloudWatch, in one GetMetricData call: requests, errors and
//! p95 from the platform (Lambda per version, the load balancer per target group), the
//! prediction measures from the service's own metrics.

use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};

use super::report::{PredictionCounts, Side, TrafficError};
use crate::aws::{AwsContext, AwsError};
use crate::services::lambda::ALIAS;

/// The prediction metrics, as the service names them, and where each count goes.
const PREDICTION_METRICS: [&str; 6] = [
    "Predictions",
    "Validated",
    "Agreements",
    "FalsePositives",
    "FalseNegatives",
    "AlertsRaised",
];

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
    window: super::Window,
) -> Result<Vec<Side>, TrafficError> {
    // The end is exclusive and datapoints carry whole seconds: it is a minute ahead, to
    // take in everything reported up to now. One period spans it all (a multiple of 60,
    // as GetMetricData requires).
    let start = window.start;
    let end = SystemTime::now() + Duration::from_secs(60);
    let seconds = end.duration_since(start).map_or(60, |d| d.as_secs());
    let period = (seconds.div_ceil(60) * 60) as i32;
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
