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

pub use message::{Notice, Verdict};

/// How one channel's notification went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
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
        && (config.notifications.on == NotifyOn::Always || notice.outcome == Verdict::Failed)
}

/// Sends `notice` to every configured channel at once; one [`Delivery`] per channel, in
/// the configured order.
pub async fn send(aws: &AwsContext, config: &Config, notice: &Notice) -> Vec<Delivery> {
    if !wanted(config, notice) {
        return Vec::new();
    }
    let policy = SendPolicy::from_config(config);
    // Made only for a webhook: loading the system's certificates takes tens of ms.
    let webhooks = config.notifications.channels.iter().any(|channel| {
        let slack = config.channels.slack.get(channel);
        matches!(slack.and_then(|s| s.route()), Some(SlackRoute::Webhook(_)))
    });
    let http = webhooks.then(|| slack::client(policy.timeout));
    let sends = config
        .notifications
        .channels
        .iter()
        .map(|channel| send_one(aws, config, http.as_ref(), policy, channel, notice));
    futures_util::future::join_all(sends).await
}

async fn send_one(
    aws: &AwsContext,
    config: &Config,
    http: Option<&reqwest::Client>,
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
                        let http = http
                            .cloned()
                            .unwrap_or_else(|| slack::client(policy.timeout));
                        let payload = message::slack_blocks(notice, &slack.channel);
                        slack::post(&http, &url, &payload, policy)
                            .await
                            .map_err(|f| (f.attempts, f.to_string()))
                    }
                    Err(e) => Err((0, e.to_string())),
                };
                delivery("slack", result)
            }
            Some(SlackRoute::Chatbot(_)) => {
                let body = message::chatbot_json(notice);
                let topic = config.topic_arn(channel);
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
                let topic = config.topic_arn(channel);
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
pub struct Provenance {
    pub who: String,
    pub trace_id: String,
    pub commit: Option<String>,
    pub version: Option<String>,
    pub link: Option<String>,
    /// `promote --skip-verification --reason`: why the release went without a passing
    /// verification (recorded, and told with the notice).
    pub skipped_verification: Option<String>,
}

impl Provenance {
    /// A notice of `action` in `environment`, signed with who, commit, version and link.
    pub fn notice(
        &self,
        action: &str,
        environment: &str,
        outcome: Verdict,
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
            changes: self
                .skipped_verification
                .iter()
                .map(|reason| format!("verification skipped: {reason}"))
                .collect(),
            failure: None,
            link: self.link.clone(),
        }
    }

    /// The notice of an operation that ended in an error before it had a report.
    pub fn error_notice(
        &self,
        action: &str,
        environment: &str,
        error: &str,
        duration_ms: u64,
    ) -> Notice {
        let mut notice = self.notice(action, environment, Verdict::Failed, duration_ms);
        notice.failure = Some(error.to_string());
        notice
    }

    /// The notice of a pipeline stage (`facturactl notify`).
    pub fn stage_notice(
        &self,
        stage: &str,
        environment: &str,
        outcome: Verdict,
        duration_ms: u64,
        message: Option<&str>,
    ) -> Notice {
        let mut notice = self.notice(stage, environment, outcome, duration_ms);
        if let Some(message) = message {
            match outcome {
                Verdict::Failed => notice.failure = Some(message.to_string()),
                Verdict::Succeeded => notice.changes.push(message.to_string()),
            }
        }
        notice
    }
}
