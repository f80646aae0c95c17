//! Making CloudWatch match the rendered alarm definitions: create, update what differs,
//! delete what the tool owns but no longer defines, never touch anyone else's alarms.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, Metric as CwMetric, MetricAlarm, MetricDataQuery, MetricStat,
    Statistic, Tag,
};
use serde::Serialize;

use super::{AlarmDefinition, AlarmSource, Metric};
use crate::aws::AwsContext;
use crate::aws::AwsError;
use crate::config::Config;

/// The tag that marks an alarm as the tool's, with `<project>-<env>` as value.
const OWNER_TAG: &str = "facturactl:owner";

/// An alarm in the shape both sides can be compared in: definitions and CloudWatch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlarmSpec {
    pub name: String,
    pub description: String,
    pub threshold: f64,
    pub comparison: String,
    pub evaluation_periods: i32,
    pub datapoints_to_alarm: i32,
    pub treat_missing_data: String,
    /// Whether state changes notify (`notifications.alarm_actions`).
    pub actions_enabled: bool,
    pub alarm_actions: Vec<String>,
    pub ok_actions: Vec<String>,
    pub source: SpecSource,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SpecSource {
    Metric {
        metric: MetricSpec,
    },
    Math {
        expression: String,
        label: String,
        metrics: BTreeMap<String, MetricSpec>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricSpec {
    pub namespace: String,
    pub name: String,
    pub dimensions: BTreeMap<String, String>,
    pub stat: String,
    pub period: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlarmAction {
    Create,
    Update,
    Delete,
    Unchanged,
}

impl AlarmAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Delete => "delete",
            Self::Unchanged => "unchanged",
        }
    }
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AlarmChange {
    pub name: String,
    pub action: AlarmAction,
    /// What differs, for updates.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AlarmsReport {
    pub environment: String,
    /// False for a plan.
    pub applied: bool,
    pub changes: Vec<AlarmChange>,
}

impl AlarmsReport {
    pub fn has_changes(&self) -> bool {
        self.changes
            .iter()
            .any(|c| c.action != AlarmAction::Unchanged)
    }
}

impl AlarmSpec {
    pub fn desired(config: &Config, alarm: &AlarmDefinition) -> Self {
        let period = alarm.period_seconds as i32;
        let metric = |m: &Metric| MetricSpec {
            namespace: m.namespace.clone(),
            name: m.name.clone(),
            dimensions: m.dimensions.clone(),
            stat: m.stat.clone(),
            period,
        };
        let mut actions: Vec<String> = alarm.channels.iter().map(|c| config.topic_arn(c)).collect();
        actions.sort();
        Self {
            name: alarm.name.clone(),
            description: alarm.description.clone(),
            threshold: alarm.threshold,
            comparison: alarm.comparison.as_str().to_string(),
            evaluation_periods: alarm.evaluation_periods as i32,
            datapoints_to_alarm: alarm.datapoints_to_alarm as i32,
            treat_missing_data: alarm.treat_missing_data.as_str().to_string(),
            actions_enabled: config.notifications.alarm_actions,
            ok_actions: actions.clone(),
            alarm_actions: actions,
            source: match &alarm.source {
                AlarmSource::Metric(m) => SpecSource::Metric { metric: metric(m) },
                AlarmSource::Math(math) => SpecSource::Math {
                    expression: math.expression.clone(),
                    label: math.label.clone(),
                    metrics: math
                        .metrics
                        .iter()
                        .map(|(id, m)| (id.clone(), metric(m)))
                        .collect(),
                },
            },
        }
    }

    pub fn live(alarm: &MetricAlarm) -> Self {
        let dims = |dimensions: &[Dimension]| -> BTreeMap<String, String> {
            dimensions
                .iter()
                .filter_map(|d| Some((d.name()?.to_string(), d.value()?.to_string())))
                .collect()
        };
        let sorted = |v: &[String]| {
            let mut v = v.to_vec();
            v.sort();
            v
        };
        let source = match alarm.metrics().iter().find(|q| q.expression().is_some()) {
            Some(expression) => SpecSource::Math {
                expression: expression.expression().unwrap_or_default().to_string(),
                label: expression.label().unwrap_or_default().to_string(),
                metrics: alarm
                    .metrics()
                    .iter()
                    .filter_map(|q| {
                        let stat = q.metric_stat()?;
                        let metric = stat.metric()?;
                        Some((
                            q.id().unwrap_or_default().to_string(),
                            MetricSpec {
                                namespace: metric.namespace().unwrap_or_default().to_string(),
                                name: metric.metric_name().unwrap_or_default().to_string(),
                                dimensions: dims(metric.dimensions()),
                                stat: stat.stat().unwrap_or_default().to_string(),
                                period: stat.period().unwrap_or_default(),
                            },
                        ))
                    })
                    .collect(),
            },
            None => SpecSource::Metric {
                metric: MetricSpec {
                    namespace: alarm.namespace().unwrap_or_default().to_string(),
                    name: alarm.metric_name().unwrap_or_default().to_string(),
                    dimensions: dims(alarm.dimensions()),
                    stat: alarm
                        .statistic()
                        .map(|s| s.as_str().to_string())
                        .or_else(|| alarm.extended_statistic().map(str::to_string))
                        .unwrap_or_default(),
                    period: alarm.period().unwrap_or_default(),
                },
            },
        };
        Self {
            name: alarm.alarm_name().unwrap_or_default().to_string(),
            description: alarm.alarm_description().unwrap_or_default().to_string(),
            threshold: alarm.threshold().unwrap_or_default(),
            comparison: alarm
                .comparison_operator()
                .map(|c| c.as_str().to_string())
                .unwrap_or_default(),
            evaluation_periods: alarm.evaluation_periods().unwrap_or_default(),
            datapoints_to_alarm: alarm
                .datapoints_to_alarm()
                .or(alarm.evaluation_periods())
                .unwrap_or_default(),
            treat_missing_data: alarm.treat_missing_data().unwrap_or("missing").to_string(),
            actions_enabled: alarm.actions_enabled().unwrap_or(true),
            alarm_actions: sorted(alarm.alarm_actions()),
            ok_actions: sorted(alarm.ok_actions()),
            source,
        }
    }

    /// Field names that differ from `other`.
    pub fn differences(&self, other: &Self) -> Vec<String> {
        let mut out = Vec::new();
        let mut check = |field: &str, same: bool| {
            if !same {
                out.push(field.to_string());
            }
        };
        check("description", self.description == other.description);
        check("threshold", self.threshold == other.threshold);
        check("comparison", self.comparison == other.comparison);
        check(
            "evaluation_periods",
            self.evaluation_periods == other.evaluation_periods,
        );
        check(
            "datapoints_to_alarm",
            self.datapoints_to_alarm == other.datapoints_to_alarm,
        );
        check(
            "treat_missing_data",
            self.treat_missing_data == other.treat_missing_data,
        );
        check(
            "actions_enabled",
            self.actions_enabled == other.actions_enabled,
        );
        check("alarm_actions", self.alarm_actions == other.alarm_actions);
        check("ok_actions", self.ok_actions == other.ok_actions);
        check("metric", self.source == other.source);
        out
    }
}

/// The alarms of the environment as CloudWatch has them.
pub type LiveAlarms = BTreeMap<String, MetricAlarm>;

/// Every alarm under the environment's name prefix, by name (pages of 100).
pub async fn live_alarms(aws: &AwsContext, config: &Config) -> Result<LiveAlarms, AwsError> {
    let prefix = format!("{}-", config.prefix());
    list_alarms(aws, &prefix).await
}

async fn list_alarms(aws: &AwsContext, prefix: &str) -> Result<LiveAlarms, AwsError> {
    let mut alarms = BTreeMap::new();
    let mut pages = aws
        .cloudwatch
        .describe_alarms()
        .alarm_name_prefix(prefix)
        .max_records(100)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::new("DescribeAlarms", e))?;
        for alarm in page.metric_alarms() {
            if let Some(name) = alarm.alarm_name() {
                alarms.insert(name.to_string(), alarm.clone());
            }
        }
    }
    Ok(alarms)
}

pub async fn is_owned(
    aws: &AwsContext,
    alarm: &MetricAlarm,
    owner: &str,
) -> Result<bool, AwsError> {
    let Some(arn) = alarm.alarm_arn() else {
        return Ok(false);
    };
    let tags = aws
        .cloudwatch
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(|e| AwsError::new("ListTagsForResource", e))?;
    Ok(tags
        .tags()
        .iter()
        .any(|t| t.key() == Some(OWNER_TAG) && t.value() == Some(owner)))
}

/// What applying would do (`apply = false`), or does it.
pub async fn sync(
    aws: &AwsContext,
    config: &Config,
    definitions: &[AlarmDefinition],
    apply: bool,
) -> Result<AlarmsReport, AwsError> {
    let live = live_alarms(aws, config).await?;
    sync_with(aws, config, definitions, &live, apply).await
}

/// Writes at once, at most: PutMetricAlarm is cheap, the emulator's threads are few.
const CONCURRENT_WRITES: usize = 8;

/// Like [`sync`], from alarms read beforehand (a deploy reads them while its stacks deploy).
pub async fn sync_with(
    aws: &AwsContext,
    config: &Config,
    definitions: &[AlarmDefinition],
    live: &LiveAlarms,
    apply: bool,
) -> Result<AlarmsReport, AwsError> {
    let owner = config.prefix();
    let mut changes = Vec::new();
    let mut writes = Vec::new();
    for definition in definitions {
        let desired = AlarmSpec::desired(config, definition);
        let (action, reasons) = match live.get(&definition.name) {
            None => (AlarmAction::Create, Vec::new()),
            Some(current) => {
                let reasons = desired.differences(&AlarmSpec::live(current));
                if reasons.is_empty() {
                    (AlarmAction::Unchanged, reasons)
                } else {
                    (AlarmAction::Update, reasons)
                }
            }
        };
        if action != AlarmAction::Unchanged {
            writes.push((definition, desired));
        }
        changes.push(AlarmChange {
            name: definition.name.clone(),
            action,
            reasons,
        });
    }
    if apply {
        for batch in writes.chunks(CONCURRENT_WRITES) {
            let puts = batch
                .iter()
                .map(|(definition, desired)| put(aws, definition, desired, &owner));
            futures_util::future::try_join_all(puts).await?;
        }
    }
    let defined: Vec<&str> = definitions.iter().map(|d| d.name.as_str()).collect();
    let mut doomed = Vec::new();
    for (name, alarm) in live
        .iter()
        .filter(|(name, _)| !defined.contains(&name.as_str()))
    {
        // Same prefix is not enough: only alarms carrying our owner tag are ours to delete.
        if is_owned(aws, alarm, &owner).await? {
            doomed.push(name.clone());
            changes.push(AlarmChange {
                name: name.clone(),
                action: AlarmAction::Delete,
                reasons: vec!["no longer defined".into()],
            });
        }
    }
    if apply && !doomed.is_empty() {
        for batch in doomed.chunks(100) {
            aws.cloudwatch
                .delete_alarms()
                .set_alarm_names(Some(batch.to_vec()))
                .send()
                .await
                .map_err(|e| AwsError::new("DeleteAlarms", e))?;
        }
    }
    Ok(AlarmsReport {
        environment: config.environment.name.clone(),
        applied: apply,
        changes,
    })
}

async fn put(
    aws: &AwsContext,
    definition: &AlarmDefinition,
    spec: &AlarmSpec,
    owner: &str,
) -> Result<(), AwsError> {
    let cw_metric = |m: &MetricSpec| {
        CwMetric::builder()
            .namespace(&m.namespace)
            .metric_name(&m.name)
            .set_dimensions(Some(
                m.dimensions
                    .iter()
                    .map(|(k, v)| Dimension::builder().name(k).value(v).build())
                    .collect(),
            ))
            .build()
    };
    let mut request = aws
        .cloudwatch
        .put_metric_alarm()
        .alarm_name(&spec.name)
        .alarm_description(&spec.description)
        .actions_enabled(spec.actions_enabled)
        .set_alarm_actions(Some(spec.alarm_actions.clone()))
        .set_ok_actions(Some(spec.ok_actions.clone()))
        .threshold(spec.threshold)
        .comparison_operator(ComparisonOperator::from(spec.comparison.as_str()))
        .evaluation_periods(spec.evaluation_periods)
        .datapoints_to_alarm(spec.datapoints_to_alarm)
        .treat_missing_data(&spec.treat_missing_data)
        // Tags apply when the alarm is created (CloudWatch ignores them on updates).
        .tags(Tag::builder().key(OWNER_TAG).value(owner).build())
        .tags(
            Tag::builder()
                .key("facturactl:settings")
                .value(&definition.key)
                .build(),
        );
    request = match &spec.source {
        SpecSource::Metric { metric } => {
            let request = request
                .namespace(&metric.namespace)
                .metric_name(&metric.name)
                .set_dimensions(cw_metric(metric).dimensions.clone())
                .period(metric.period);
            if metric.stat.starts_with('p') {
                request.extended_statistic(&metric.stat)
            } else {
                request.statistic(Statistic::from(metric.stat.as_str()))
            }
        }
        SpecSource::Math {
            expression,
            label,
            metrics,
        } => {
            let mut request = request.metrics(
                MetricDataQuery::builder()
                    .id("result")
                    .expression(expression)
                    .label(label)
                    .return_data(true)
                    .build(),
            );
            for (id, m) in metrics {
                request = request.metrics(
                    MetricDataQuery::builder()
                        .id(id)
                        .return_data(false)
                        .metric_stat(
                            MetricStat::builder()
                                .metric(cw_metric(m))
                                .period(m.period)
                                .stat(&m.stat)
                                .build(),
                        )
                        .build(),
                );
            }
            request
        }
    };
    request
        .send()
        .await
        .map_err(|e| AwsError::new("PutMetricAlarm", e))?;
    Ok(())
}
