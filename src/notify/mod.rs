//! Notifications the tool sends itself: a message per deploy, promotion, rollback or
//! pipeline stage, to the channels `[notifications]` names.
//!
//! Sending never fails the operation it reports on: each channel's delivery is attempted,
//! retried where that can help, and its outcome returned as a [`Delivery`] for the report.
//! Secrets (webhook URLs) are resolved at the moment of sending and never leave this module
//! in any message.

pub mod message;
pub mod sentry;
pub mod slack;
mod topic;

use std::time::Duration;

use serde::Serialize;

use crate::aws::AwsContext;
use crate::config::{Config, NotifyOn, SlackRoute};

pub use message::{Notice, Outcome};

/// How one channel's notification went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub channel: String,
    /// `slack`, `chatbot`, `sns` or `ses`.
    pub via: &'static str,
    pub sent: bool,
    pub attempts: u32,
    /// Why it was not sent. Never contains a secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// How hard to try, from `[notifications]`.
#[derive(Debug, Clone, Copy)]
pub struct SendPolicy {
    pub attempts: u32,
    pub timeout: Duration,
    /// First wait between attempts; doubled each time.
    pub backoff: Duration,
    /// A Retry-After longer than this is not waited for: the message is reported unsent.
    pub max_retry_after: Duration,
}

impl SendPolicy {
    pub fn from_config(config: &Config) -> Self {
        Self {
            attempts: config.notifications.attempts.max(1),
            timeout: Duration::from_secs(config.notifications.timeout_seconds.into()),
            backoff: Duration::from_millis(500),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

/// Whether `[notifications]` wants this notice sent at all.
pub fn wanted(config: &Config, notice: &Notice) -> bool {
    !config.notifications.channels.is_empty()
        && (config.notifications.on == NotifyOn::Always || notice.outcome == Outcome::Failed)
}

/// Sends `notice` to every configured channel at once; one [`Delivery`] per channel, in
/// the configured order.
pub async fn send(aws: &AwsContext, config: &Config, notice: &Notice) -> Vec<Delivery> {
    if !wanted(config, notice) {
        return Vec::new();
    }
    let policy = SendPolicy::from_config(config);
    let http = slack::client(policy.timeout);
    let sends = config
        .notifications
        .channels
        .iter()
        .map(|channel| send_one(aws, config, &http, policy, channel, notice));
    futures_util::future::join_all(sends).await
}

async fn send_one(
    aws: &AwsContext,
    config: &Config,
    http: &reqwest::Client,
    policy: SendPolicy,
    channel: &str,
    notice: &Notice,
) -> Delivery {
    let delivery = |via, result: Result<u32, (u32, String)>| match result {
        Ok(attempts) => Delivery {
            channel: channel.to_string(),
            via,
            sent: true,
            attempts,
            error: None,
        },
        Err((attempts, error)) => Delivery {
            channel: channel.to_string(),
            via,
            sent: false,
            attempts,
            error: Some(error),
        },
    };
    if let Some(slack) = config.channels.slack.get(channel) {
        return match slack.route() {
            Some(SlackRoute::Webhook(reference)) => {
                let result = match crate::secrets::resolve(aws, reference).await {
                    Ok(url) => {
                        let payload = message::slack_blocks(notice, &slack.channel);
                        slack::post(http, &url, &payload, policy)
                            .await
                            .map_err(|f| (f.attempts, f.to_string()))
                    }
                    Err(e) => Err((0, e.to_string())),
                };
                delivery("slack", result)
            }
            Some(SlackRoute::Chatbot(_)) => {
                let body = message::chatbot_json(notice);
                let topic = crate::alarms::apply::topic_arn(config, channel);
                delivery("chatbot", topic::publish(aws, &topic, None, &body).await)
            }
            None => delivery("slack", Err((0, "channel has no route".into()))),
        };
    }
    match config.channels.email.get(channel) {
        Some(email) => match &email.ses_from {
            Some(from) => delivery(
                "ses",
                topic::send_email(aws, from, &email.addresses, notice).await,
            ),
            None => {
                let topic = crate::alarms::apply::topic_arn(config, channel);
                let subject = message::subject(notice);
                let body = message::plain_text(notice);
                delivery(
                    "sns",
                    topic::publish(aws, &topic, Some(&subject), &body).await,
                )
            }
        },
        None => delivery("unknown", Err((0, format!("`{channel}` is not a channel")))),
    }
}

/// Warnings for the report: one line per channel that was not reached.
pub fn failures(deliveries: &[Delivery]) -> Vec<String> {
    deliveries
        .iter()
        .filter(|d| !d.sent)
        .map(|d| {
            format!(
                "notification to `{}` ({}) not sent: {}",
                d.channel,
                d.via,
                d.error.as_deref().unwrap_or("unknown error")
            )
        })
        .collect()
}

/// Who and what a notice is about, beyond the operation's own report.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub who: String,
    pub trace_id: String,
    pub commit: Option<String>,
    pub version: Option<String>,
    pub link: Option<String>,
}

impl Origin {
    fn notice(
        &self,
        action: &str,
        environment: &str,
        outcome: Outcome,
        duration_ms: u64,
    ) -> Notice {
        Notice {
            action: action.to_string(),
            environment: environment.to_string(),
            version: self.version.clone(),
            commit: self.commit.clone(),
            who: self.who.clone(),
            trace_id: self.trace_id.clone(),
            outcome,
            duration_ms,
            changes: Vec::new(),
            failure: None,
            link: self.link.clone(),
        }
    }

    /// The notice of a finished deploy: changed stacks and alarms, the first failure.
    pub fn deploy_notice(&self, report: &crate::stacks::deploy::DeployReport) -> Notice {
        use crate::stacks::deploy::{Action, StackResult};
        let outcome = if report.failed() {
            Outcome::Failed
        } else {
            Outcome::Succeeded
        };
        let mut notice = self.notice(
            report.operation,
            &report.environment,
            outcome,
            report.duration_ms,
        );
        for s in &report.stacks {
            let result = match s.result {
                StackResult::Succeeded => "",
                StackResult::Skipped => " (skipped)",
                StackResult::Failed => " (FAILED)",
            };
            if !matches!(s.action, Action::Unchanged | Action::None) || !result.is_empty() {
                notice
                    .changes
                    .push(format!("stack {}: {}{result}", s.stack, s.action.as_str()));
            }
        }
        if let Some(alarms) = &report.alarms {
            notice.changes.extend(
                alarms
                    .changes
                    .iter()
                    .filter(|c| c.action != crate::alarms::apply::AlarmAction::Unchanged)
                    .map(|c| format!("alarm {}: {}", c.name, c.action.as_str())),
            );
        }
        for s in &report.services {
            let what = match (&s.result, &s.outcome) {
                (crate::services::ServiceResult::Unchanged, _) => continue,
                (crate::services::ServiceResult::Failed, _) => "FAILED".to_string(),
                (_, Some(o)) => format!("{} -> {}", o.old, o.new.as_deref().unwrap_or("?")),
                (_, None) => "rolled out".to_string(),
            };
            notice
                .changes
                .push(format!("service {}: {what}", s.service));
        }
        let failed_service = report
            .services
            .iter()
            .find(|s| s.result == crate::services::ServiceResult::Failed)
            .map(|s| {
                format!(
                    "service {}: {}",
                    s.service,
                    s.message.as_deref().unwrap_or("failed")
                )
            });
        notice.failure = report
            .stacks
            .iter()
            .find(|s| s.result == StackResult::Failed)
            .map(|s| match s.failures.first() {
                Some(f) => format!(
                    "{}/{} ({}) {}: {}",
                    s.stack, f.resource, f.resource_type, f.status, f.reason
                ),
                None => format!("{}: {}", s.stack, s.message.as_deref().unwrap_or("failed")),
            })
            .or(failed_service);
        notice
    }

    /// The notice of an operation that ended in an error before it had a report.
    pub fn error_notice(
        &self,
        action: &str,
        environment: &str,
        error: &str,
        duration_ms: u64,
    ) -> Notice {
        let mut notice = self.notice(action, environment, Outcome::Failed, duration_ms);
        notice.failure = Some(error.to_string());
        notice
    }

    /// The notice of a pipeline stage (`facturactl notify`).
    pub fn stage_notice(
        &self,
        stage: &str,
        environment: &str,
        outcome: Outcome,
        duration_ms: u64,
        message: Option<&str>,
    ) -> Notice {
        let mut notice = self.notice(stage, environment, outcome, duration_ms);
        if let Some(message) = message {
            match outcome {
                Outcome::Failed => notice.failure = Some(message.to_string()),
                Outcome::Succeeded => notice.changes.push(message.to_string()),
            }
        }
        notice
    }
}
