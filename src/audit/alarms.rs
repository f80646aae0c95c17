//! The alarm audit: every declared alarm exists as declared, its actions reach existing
//! topics with the declared subscriptions, nothing the tool owns is left undeclared, and no
//! alarm fires or lacks data for too long.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use super::{AuditReport, Finding, Severity};
use crate::alarms::AlarmDefinition;
use crate::alarms::apply::{AlarmSpec, LiveAlarms, live_alarms};
use crate::aws::AwsContext;
use crate::aws::AwsError;
use crate::config::{Config, SlackRoute};

/// Topics and subscriptions read at most this many at once.
const CONCURRENT_READS: usize = 8;

pub async fn audit(
    aws: &AwsContext,
    config: &Config,
    definitions: &[AlarmDefinition],
    stale_after: Duration,
    report: &mut AuditReport,
) -> Result<(), AwsError> {
    let live = live_alarms(aws, config).await?;
    declared(config, definitions, &live, report);
    undeclared(aws, config, definitions, &live, report).await?;
    states(&live, stale_after, report);
    wiring(aws, config, definitions, report).await
}

fn declared(
    config: &Config,
    definitions: &[AlarmDefinition],
    live: &LiveAlarms,
    report: &mut AuditReport,
) {
    for definition in definitions {
        let resource = format!("alarm {}", definition.name);
        let Some(alarm) = live.get(&definition.name) else {
            report.findings.push(Finding::new(
                Severity::High,
                "alarm.missing",
                resource,
                "present",
                "missing",
                "`facturactl alarms apply` creates it",
            ));
            continue;
        };
        let desired =
            serde_json::to_value(AlarmSpec::desired(config, definition)).unwrap_or_default();
        let actual = AlarmSpec::live(alarm);
        let actual_value = serde_json::to_value(&actual).unwrap_or_default();
        for field in AlarmSpec::desired(config, definition).differences(&actual) {
            let key = match field.as_str() {
                "metric" => "source",
                other => other,
            };
            let severity = if matches!(key, "alarm_actions" | "ok_actions" | "actions_enabled") {
                Severity::High
            } else {
                Severity::Medium
            };
            report.findings.push(Finding::new(
                severity,
                kind_of(key),
                resource.clone(),
                compact(&desired[key]),
                compact(&actual_value[key]),
                "`facturactl alarms apply` restores the declared settings; change deploy.toml if the new value is right",
            ));
        }
    }
}

fn kind_of(field: &str) -> &'static str {
    match field {
        "threshold" => "alarm.threshold",
        "comparison" => "alarm.comparison",
        "evaluation_periods" | "datapoints_to_alarm" => "alarm.periods",
        "alarm_actions" | "ok_actions" => "alarm.actions",
        "actions_enabled" => "alarm.actions_enabled",
        "source" => "alarm.metric",
        "treat_missing_data" => "alarm.missing_data",
        _ => "alarm.description",
    }
}

fn compact(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

async fn undeclared(
    aws: &AwsContext,
    config: &Config,
    definitions: &[AlarmDefinition],
    live: &LiveAlarms,
    report: &mut AuditReport,
) -> Result<(), AwsError> {
    let declared: BTreeSet<&str> = definitions.iter().map(|d| d.name.as_str()).collect();
    for (name, alarm) in live.iter().filter(|(n, _)| !declared.contains(n.as_str())) {
        if crate::alarms::apply::is_owned(aws, alarm, &config.prefix()).await? {
            report.findings.push(Finding::new(
                Severity::Low,
                "alarm.undeclared",
                format!("alarm {name}"),
                "absent (no longer declared)",
                "present",
                "`facturactl alarms apply` deletes it",
            ));
        }
    }
    Ok(())
}

fn states(live: &LiveAlarms, stale_after: Duration, report: &mut AuditReport) {
    let now = SystemTime::now();
    for (name, alarm) in live {
        let state = alarm.state_value().map(|s| s.as_str()).unwrap_or("?");
        let since = alarm
            .state_updated_timestamp()
            .and_then(|t| SystemTime::try_from(*t).ok())
            .and_then(|t| now.duration_since(t).ok());
        match state {
            "ALARM" => report.findings.push(Finding::new(
                Severity::Medium,
                "alarm.firing",
                format!("alarm {name}"),
                "OK",
                format!("ALARM: {}", alarm.state_reason().unwrap_or_default()),
                "investigate what the alarm watches; its description says where to look",
            )),
            "INSUFFICIENT_DATA" if since.is_some_and(|d| d > stale_after) => report.findings.push(Finding::new(
                Severity::Low,
                "alarm.no_data",
                format!("alarm {name}"),
                format!("data within {} h", stale_after.as_secs() / 3600),
                format!("INSUFFICIENT_DATA for {} h", since.map_or(0, |d| d.as_secs() / 3600)),
                "a metric that never reports is often a renamed metric or dimension: compare the alarm's metric with what the service emits",
            )),
            _ => {}
        }
    }
}

/// Each channel an alarm notifies: its topic exists, and its subscriptions are the
/// channel's (email addresses; the Slack forwarder Lambda).
async fn wiring(
    aws: &AwsContext,
    config: &Config,
    definitions: &[AlarmDefinition],
    report: &mut AuditReport,
) -> Result<(), AwsError> {
    let channels: BTreeSet<&str> = definitions
        .iter()
        .flat_map(|d| d.channels.iter().map(String::as_str))
        .collect();
    let channels: Vec<&str> = channels.into_iter().collect();
    for batch in channels.chunks(CONCURRENT_READS) {
        let reads = batch.iter().map(|c| subscriptions(aws, config, c));
        for (channel, found) in batch
            .iter()
            .zip(futures_util::future::join_all(reads).await)
        {
            let topic = config.topic_arn(channel);
            let resource = format!("topic {}", topic.rsplit(':').next().unwrap_or(&topic));
            let Some(found) = found? else {
                report.findings.push(Finding::new(
                    Severity::High,
                    "topic.missing",
                    resource,
                    "present",
                    "missing",
                    "deploy the alerts stack: `facturactl deploy --stack alerts`",
                ));
                continue;
            };
            for (protocol, endpoint) in expected_subscriptions(config, channel) {
                if !found.contains_key(&(protocol.clone(), endpoint.clone())) {
                    report.findings.push(Finding::new(
                        Severity::High,
                        "topic.subscription",
                        resource.clone(),
                        format!("{protocol} subscription {endpoint}"),
                        "missing",
                        "deploy the alerts stack again to restore it (an email subscription must be confirmed by its owner)",
                    ));
                }
            }
            for ((protocol, endpoint), arn) in &found {
                if arn == "PendingConfirmation" {
                    report.findings.push(Finding::new(
                        Severity::Low,
                        "topic.unconfirmed",
                        resource.clone(),
                        format!("{protocol} subscription {endpoint} confirmed"),
                        "pending confirmation",
                        "the address owner clicks the link in the AWS confirmation email",
                    ));
                }
            }
        }
    }
    Ok(())
}

fn expected_subscriptions(config: &Config, channel: &str) -> Vec<(String, String)> {
    let env = &config.environment;
    if let Some(email) = config.channels.email.get(channel) {
        return email
            .addresses
            .iter()
            .map(|a| ("email".to_string(), a.clone()))
            .collect();
    }
    match config.channels.slack.get(channel).and_then(|s| s.route()) {
        Some(SlackRoute::Webhook(_)) => vec![(
            "lambda".to_string(),
            format!(
                "arn:aws:lambda:{}:{}:function:{}",
                env.region,
                env.account_id,
                config.forwarder_name(channel)
            ),
        )],
        // Chatbot subscribes itself; its configuration is not an SNS subscription to check.
        _ => Vec::new(),
    }
}

/// (protocol, endpoint) -> subscription ARN of a channel's topic; None when the topic is gone.
pub(crate) async fn subscriptions(
    aws: &AwsContext,
    config: &Config,
    channel: &str,
) -> Result<Option<BTreeMap<(String, String), String>>, AwsError> {
    let topic = config.topic_arn(channel);
    let mut found = BTreeMap::new();
    let mut token = None;
    loop {
        let page = match aws
            .sns
            .list_subscriptions_by_topic()
            .topic_arn(&topic)
            .set_next_token(token)
            .send()
            .await
        {
            Ok(page) => page,
            Err(e) => {
                use aws_sdk_sns::error::ProvideErrorMetadata;
                if e.code() == Some("NotFound") {
                    return Ok(None);
                }
                return Err(AwsError::new("ListSubscriptionsByTopic", e));
            }
        };
        for s in page.subscriptions() {
            found.insert(
                (
                    s.protocol().unwrap_or_default().to_string(),
                    s.endpoint().unwrap_or_default().to_string(),
                ),
                s.subscription_arn().unwrap_or_default().to_string(),
            );
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(Some(found));
        }
    }
}
