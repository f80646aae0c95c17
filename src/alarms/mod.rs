//! Alarm definitions: what `templates/alarms/*.yaml.tera` render, typed.
//!
//! A template says what to watch (metric or metric math, comparison, missing-data
//! treatment); the environment's `[alarms.<key>]` settings say how hard (threshold, period,
//! evaluation periods) and who hears it (channels). Keeping the two apart means an overlay
//! can tune production without touching a template, and a template cannot forget a channel.

pub mod apply;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::{AlarmSettings, AlarmSeverity, Config, ThresholdUnit};

/// One alarm as a template writes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlarmEntry {
    name: String,
    /// The key of its settings in `[alarms]`; or
    #[serde(default)]
    settings: Option<String>,
    /// its own settings, for an alarm whose numbers live elsewhere in the config (a
    /// model's drift trigger).
    #[serde(default)]
    inline: Option<AlarmSettings>,
    /// The service it watches, if any (for coverage checks and rollout gates).
    #[serde(default)]
    service: Option<String>,
    description: String,
    #[serde(default)]
    metric: Option<Metric>,
    #[serde(default)]
    math: Option<MetricMath>,
    comparison: Comparison,
    #[serde(default)]
    treat_missing_data: MissingData,
}

/// A rendered alarm definition: everything `PutMetricAlarm` needs, plus its channels.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct AlarmDefinition {
    pub name: String,
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub description: String,
    pub source: AlarmSource,
    pub threshold: f64,
    pub unit: ThresholdUnit,
    pub comparison: Comparison,
    pub period_seconds: u32,
    pub evaluation_periods: u32,
    pub datapoints_to_alarm: u32,
    pub treat_missing_data: MissingData,
    pub severity: AlarmSeverity,
    pub channels: Vec<String>,
}

/// What the alarm evaluates: one metric, or metric math over several.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlarmSource {
    Metric(Metric),
    Math(MetricMath),
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metric {
    pub namespace: String,
    pub name: String,
    #[serde(default)]
    pub dimensions: BTreeMap<String, String>,
    /// `Sum`, `Average`, `Maximum`, ... or a percentile such as `p95`.
    pub stat: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricMath {
    /// The expression whose value is compared, over the ids below.
    pub expression: String,
    pub label: String,
    pub metrics: BTreeMap<String, Metric>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema, Deserialize)]
pub enum Comparison {
    GreaterThanThreshold,
    GreaterThanOrEqualToThreshold,
    LessThanThreshold,
    LessThanOrEqualToThreshold,
}

impl Comparison {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GreaterThanThreshold => "GreaterThanThreshold",
            Self::GreaterThanOrEqualToThreshold => "GreaterThanOrEqualToThreshold",
            Self::LessThanThreshold => "LessThanThreshold",
            Self::LessThanOrEqualToThreshold => "LessThanOrEqualToThreshold",
        }
    }
}

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema, Deserialize,
)]
#[serde(rename_all = "camelCase")]
pub enum MissingData {
    #[default]
    Missing,
    NotBreaching,
    Breaching,
    Ignore,
}

impl MissingData {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::NotBreaching => "notBreaching",
            Self::Breaching => "breaching",
            Self::Ignore => "ignore",
        }
    }
}

const STATISTICS: &[&str] = &["SampleCount", "Average", "Sum", "Minimum", "Maximum"];

fn valid_stat(stat: &str) -> bool {
    STATISTICS.contains(&stat)
        || stat
            .strip_prefix('p')
            .and_then(|p| p.parse::<f64>().ok())
            .is_some_and(|p| p > 0.0 && p < 100.0)
}

/// A rendered alarm template that does not describe alarms; rendering names the template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DefinitionError {
    #[error("rendered alarm definitions are invalid: {error}")]
    Invalid { line: Option<usize>, error: String },
    #[error("alarm `{alarm}` uses settings `{key}`, which deploy.toml does not declare")]
    UnknownSettings { alarm: String, key: String },
    #[error("alarm `{alarm}` must have exactly one of `settings` and `inline`")]
    SettingsOrInline { alarm: String },
    #[error("alarm `{alarm}` must have exactly one of `metric` and `math`")]
    MetricOrMath { alarm: String },
    #[error("alarm `{alarm}` uses statistic `{stat}`")]
    Statistic { alarm: String, stat: String },
}

impl DefinitionError {
    /// The line of the rendered text, when the parser knows it.
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::Invalid { line, .. } => *line,
            _ => None,
        }
    }

    /// What to do about it.
    pub fn help(&self) -> String {
        match self {
            Self::Invalid { .. } => {
                "each alarm needs name, settings, description, metric or math, and comparison"
                    .into()
            }
            Self::UnknownSettings { key, .. } => {
                format!("add [alarms.{key}] with threshold, unit and channels")
            }
            Self::SettingsOrInline { .. } => "name its [alarms.<key>] in `settings`".into(),
            Self::MetricOrMath { .. } => {
                "use `math` for rates (errors over invocations), `metric` otherwise".into()
            }
            Self::Statistic { .. } => {
                "use SampleCount, Average, Sum, Minimum, Maximum or a percentile such as p95".into()
            }
        }
    }
}

/// Parses one rendered alarm template and joins each entry with its settings.
pub fn from_rendered(text: &str, config: &Config) -> Result<Vec<AlarmDefinition>, DefinitionError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let entries: Vec<AlarmEntry> =
        yaml_serde::from_str(text).map_err(|e| DefinitionError::Invalid {
            line: e.location().map(|l| l.line()),
            error: e.to_string(),
        })?;
    let mut out = Vec::new();
    for entry in entries {
        let (key, settings) = match (&entry.settings, &entry.inline) {
            (Some(key), None) => match config.alarms.get(key) {
                Some(settings) => (key.clone(), settings),
                None => {
                    return Err(DefinitionError::UnknownSettings {
                        alarm: entry.name,
                        key: key.clone(),
                    });
                }
            },
            (None, Some(inline)) => (entry.name.clone(), inline),
            _ => {
                return Err(DefinitionError::SettingsOrInline { alarm: entry.name });
            }
        };
        if !settings.enabled {
            continue;
        }
        let source = match (entry.metric, entry.math) {
            (Some(metric), None) => AlarmSource::Metric(metric),
            (None, Some(math)) => AlarmSource::Math(math),
            _ => {
                return Err(DefinitionError::MetricOrMath { alarm: entry.name });
            }
        };
        let stats: Vec<&str> = match &source {
            AlarmSource::Metric(m) => vec![m.stat.as_str()],
            AlarmSource::Math(m) => m.metrics.values().map(|m| m.stat.as_str()).collect(),
        };
        if let Some(bad) = stats.into_iter().find(|s| !valid_stat(s)) {
            return Err(DefinitionError::Statistic {
                alarm: entry.name,
                stat: bad.to_string(),
            });
        }
        out.push(AlarmDefinition {
            name: entry.name,
            key,
            service: entry.service,
            description: entry.description.trim().to_string(),
            source,
            threshold: settings.threshold,
            unit: settings.unit,
            comparison: entry.comparison,
            period_seconds: settings.period_seconds,
            evaluation_periods: settings.evaluation_periods,
            datapoints_to_alarm: settings
                .datapoints_to_alarm
                .unwrap_or(settings.evaluation_periods),
            treat_missing_data: entry.treat_missing_data,
            severity: settings.severity,
            channels: settings.channels.clone(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_and_percentiles() {
        assert!(valid_stat("Sum"));
        assert!(valid_stat("p95"));
        assert!(valid_stat("p99.9"));
        assert!(!valid_stat("p100"));
        assert!(!valid_stat("Avg"));
    }
}
