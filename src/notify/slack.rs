//! Posting to a Slack incoming webhook, with retries that respect Slack's rate limits.
//!
//! The webhook URL is the secret: it is only handed to reqwest, and no error built here
//! quotes it (reqwest's own errors carry the URL, so they are described, not displayed).

use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use super::SendPolicy;
use crate::config::Secret;

/// An HTTP client for webhooks: no redirects (a redirect would carry the secret path
/// elsewhere), and the per-attempt timeout.
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("facturactl/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// A message that could not be posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFailure {
    pub attempts: u32,
    pub reason: String,
}

impl fmt::Display for SendFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.attempts == 1 { "" } else { "s" };
        write!(f, "{} ({} attempt{plural})", self.reason, self.attempts)
    }
}

/// What to do after one attempt.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    Done,
    /// Try again after this long (None: the usual backoff), for this reason.
    Retry(Option<Duration>, String),
    GiveUp(String),
}

/// Posts `payload`, retrying 429 (after Retry-After), 5xx and network errors with doubling
/// backoff, up to `policy.attempts`. Returns the attempts it took.
pub async fn post(
    http: &reqwest::Client,
    url: &Secret,
    payload: &Value,
    policy: SendPolicy,
) -> Result<u32, SendFailure> {
    let mut backoff = policy.backoff;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let next = match http.post(url.expose()).json(payload).send().await {
            Ok(response) => judge(response, url).await,
            Err(error) => Next::Retry(None, describe(&error, policy.timeout)),
        };
        let (wait, reason) = match next {
            Next::Done => return Ok(attempt),
            Next::GiveUp(reason) => {
                return Err(SendFailure {
                    attempts: attempt,
                    reason,
                });
            }
            Next::Retry(wait, reason) => (wait, reason),
        };
        if attempt >= policy.attempts {
            return Err(SendFailure {
                attempts: attempt,
                reason,
            });
        }
        let wait = match wait {
            Some(asked) if asked > policy.max_retry_after => {
                return Err(SendFailure {
                    attempts: attempt,
                    reason: format!(
                        "{reason}; Slack asked to wait {} s, longer than the {} s allowed",
                        asked.as_secs(),
                        policy.max_retry_after.as_secs()
                    ),
                });
            }
            Some(asked) => asked,
            None => {
                let wait = backoff;
                backoff *= 2;
                wait
            }
        };
        tracing::debug!(attempt, wait_ms = wait.as_millis() as u64, %reason, "retrying a Slack notification");
        tokio::time::sleep(wait).await;
    }
}

async fn judge(response: reqwest::Response, url: &Secret) -> Next {
    let status = response.status();
    if status.is_success() {
        return Next::Done;
    }
    let retry_after = retry_after(response.headers());
    // Slack answers errors with a short code (`invalid_payload`, `no_service`); a stand-in
    // could echo anything, so the URL is scrubbed from what is kept.
    let body = scrub(&response.text().await.unwrap_or_default(), url);
    let detail = body.trim().chars().take(120).collect::<String>();
    let reason = if detail.is_empty() {
        format!("HTTP {}", status.as_u16())
    } else {
        format!("HTTP {}: {detail}", status.as_u16())
    };
    if status == StatusCode::TOO_MANY_REQUESTS {
        Next::Retry(Some(retry_after.unwrap_or(Duration::from_secs(1))), reason)
    } else if status.is_server_error() {
        Next::Retry(retry_after, reason)
    } else {
        Next::GiveUp(reason)
    }
}

/// `text` without the webhook URL or any long part of it: a body may quote the full URL,
/// the path alone, or just the token at its end.
fn scrub(text: &str, url: &Secret) -> String {
    let url = url.expose();
    let mut out = text.replace(url, "***");
    let path = url.split_once("://").map_or(url, |(_, rest)| rest);
    for part in path.split(['/', '?', '&', '=']).filter(|p| p.len() >= 12) {
        out = out.replace(part, "***");
    }
    out
}

/// Retry-After in seconds (Slack sends whole seconds; an HTTP date is not used by Slack).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// A transport error in words, without the URL reqwest would print.
fn describe(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        format!("no answer within {} s", timeout.as_secs_f32())
    } else if error.is_connect() {
        "cannot connect to the webhook's host".into()
    } else if error.is_request() || error.is_body() {
        "the request could not be sent".into()
    } else {
        "the webhook call failed".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_whole_seconds() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn scrubbing_removes_the_url_and_its_token() {
        let url =
            Secret::new("https://hooks.slack.com/services/T000/B000/XXXXsecretXXXXXXXX".into());
        assert_eq!(
            scrub(
                "bad POST /services/T000/B000/XXXXsecretXXXXXXXX and https://hooks.slack.com/services/T000/B000/XXXXsecretXXXXXXXX",
                &url
            ),
            "bad POST /services/T000/B000/*** and ***"
        );
    }

    #[test]
    fn failures_count_attempts() {
        let f = SendFailure {
            attempts: 3,
            reason: "HTTP 500".into(),
        };
        assert_eq!(f.to_string(), "HTTP 500 (3 attempts)");
    }
}
