//! Sentry release and deploy marker for each successful deploy, promotion or rollback, so
//! exceptions are grouped by the release that introduced them. Like a notification, a
//! failure is a warning in the report, never a failed deploy; the token is resolved at the
//! moment of use and never leaves this module.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use serde_json::json;

use super::{Delivery, Notice, SendPolicy, Verdict};
use crate::aws::AwsContext;
use crate::config::{Config, Secret, SentrySettings};

/// `<project>@<tag or commit>`: one Sentry release per version of the platform.
fn release_version(config: &Config, notice: &Notice) -> Option<String> {
    let version = notice.version.as_ref().or(notice.commit.as_ref())?;
    Some(format!("{}@{version}", config.project.name))
}

/// Marks a successful run in Sentry; `None` when Sentry is not configured or the run failed.
pub async fn mark(
    aws: &AwsContext,
    config: &Config,
    notice: &Notice,
    started: SystemTime,
) -> Option<Delivery> {
    let sentry = config.sentry.as_ref()?;
    if notice.outcome != Verdict::Succeeded {
        return None;
    }
    let delivery = |attempts, error: Option<String>| Delivery {
        channel: format!("sentry:{}", sentry.organization),
        via: "sentry",
        sent: error.is_none(),
        attempts,
        error,
    };
    let Some(version) = release_version(config, notice) else {
        return Some(delivery(
            0,
            Some("no release tag or commit to name the Sentry release after".into()),
        ));
    };
    let token = match crate::secrets::resolve(aws, &sentry.token).await {
        Ok(token) => token,
        Err(e) => return Some(delivery(0, Some(e.to_string()))),
    };
    let policy = SendPolicy::from_config(config);
    let client = Client {
        http: super::slack::client(policy.timeout),
        sentry,
        token: &token,
        policy,
    };
    let base = format!(
        "{}/api/0/organizations/{}/releases/",
        sentry.url.trim_end_matches('/'),
        encode(&sentry.organization)
    );
    let mut release = json!({"version": version, "projects": sentry.projects});
    if let Some(commit) = &notice.commit {
        release["ref"] = commit.clone().into();
    }
    if let Some(link) = &notice.link {
        release["url"] = link.clone().into();
    }
    // 208: the release exists already (staging made it; production deploys it again).
    let (attempts, created) = client.post(&base, &release).await;
    if let Err(e) = created {
        return Some(delivery(
            attempts,
            Some(format!("creating release {version}: {e}")),
        ));
    }
    let mut deploy = json!({
        "environment": notice.environment,
        "name": format!("{} {}", notice.action, notice.trace_id),
        "projects": sentry.projects,
        "dateStarted": crate::logging::rfc3339(started),
        "dateFinished": crate::logging::rfc3339(SystemTime::now()),
    });
    if let Some(link) = &notice.link {
        deploy["url"] = link.clone().into();
    }
    let url = format!("{base}{}/deploys/", encode(&version));
    let (more, marked) = client.post(&url, &deploy).await;
    Some(delivery(
        attempts + more,
        marked
            .err()
            .map(|e| format!("marking the deploy of {version}: {e}")),
    ))
}

/// Why a POST to Sentry did not succeed, on its last attempt.
enum PostFailure {
    /// Its answer (the body scrubbed of the token).
    Status {
        status: StatusCode,
        body: String,
    },
    TimedOut,
    Unreachable {
        url: String,
    },
    Failed,
}

impl std::fmt::Display for PostFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Status { status, body } => write!(f, "{status}: {body}"),
            Self::TimedOut => f.write_str("timed out"),
            Self::Unreachable { url } => write!(f, "cannot connect to {url}"),
            Self::Failed => f.write_str("the request failed"),
        }
    }
}

struct Client<'a> {
    http: reqwest::Client,
    sentry: &'a SentrySettings,
    token: &'a Secret,
    policy: SendPolicy,
}

impl Client<'_> {
    /// POSTs JSON, retrying 429, 5xx and network errors; returns the attempts made.
    async fn post(&self, url: &str, body: &serde_json::Value) -> (u32, Result<(), PostFailure>) {
        let mut backoff = self.policy.backoff;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let sent = self
                .http
                .post(url)
                .bearer_auth(self.token.expose())
                .json(body)
                .send()
                .await;
            let (retry, error) = match sent {
                Ok(response) if response.status().is_success() => return (attempt, Ok(())),
                Ok(response) => {
                    let status = response.status();
                    let text = response.text().await.unwrap_or_default();
                    let retry = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
                    let body = self.scrub(&text);
                    (retry, PostFailure::Status { status, body })
                }
                // reqwest's error display holds the URL (not secret) but never the header.
                Err(e) if e.is_timeout() => (true, PostFailure::TimedOut),
                Err(e) if e.is_connect() => (
                    true,
                    PostFailure::Unreachable {
                        url: self.sentry.url.clone(),
                    },
                ),
                Err(_) => (true, PostFailure::Failed),
            };
            if !retry || attempt >= self.policy.attempts {
                return (attempt, Err(error));
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    }

    /// A response body, short and without the token (a server may echo the request).
    fn scrub(&self, text: &str) -> String {
        let text = text.replace(self.token.expose(), "***");
        let mut short: String = text.chars().take(200).collect();
        if short.len() < text.len() {
            short.push('…');
        }
        short
    }
}

/// Percent-encodes a path segment (a version may hold `@`, `+` or `/`).
fn encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_encoded_as_one_path_segment() {
        assert_eq!(encode("facturascan@v1.2.3"), "facturascan%40v1.2.3");
        assert_eq!(encode("a/b c+d"), "a%2Fb%20c%2Bd");
    }
}
