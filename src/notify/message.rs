//! What a notification says, and its forms: Slack Block Kit, AWS Chatbot custom
//! notification, plain text for email.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One event worth telling people about.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Notice {
    /// `deploy`, `promote`, `rollback`, or a pipeline stage (`build`, `test`...).
    pub action: String,
    pub environment: String,
    /// The release tag, or a version label.
    pub version: Option<String>,
    pub commit: Option<String>,
    pub who: String,
    pub trace_id: String,
    pub outcome: Verdict,
    pub duration_ms: u64,
    /// What changed, a line each (`stack processing: update`).
    pub changes: Vec<String>,
    /// On failure: the first failing resource and its reason.
    pub failure: Option<String>,
    /// A link to the pipeline run, when there is one.
    pub link: Option<String>,
}

/// How an operation or a stage ended: in notices and deployment records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Succeeded,
    Failed,
}

impl Verdict {
    pub fn word(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    fn icon(self) -> &'static str {
        match self {
            Self::Succeeded => ":white_check_mark:",
            Self::Failed => ":x:",
        }
    }
}

/// Lines of `changes` shown before "and N more": a message stays readable.
const MAX_CHANGE_LINES: usize = 15;

impl Notice {
    /// `deploy to production succeeded`.
    pub fn headline(&self) -> String {
        format!(
            "{} to {} {}",
            self.action,
            self.environment,
            self.outcome.word()
        )
    }

    fn short_commit(&self) -> Option<&str> {
        self.commit.as_deref().map(|c| &c[..c.len().min(12)])
    }

    fn duration(&self) -> String {
        let secs = self.duration_ms / 1000;
        if secs >= 60 {
            format!("{}m {:02}s", secs / 60, secs % 60)
        } else {
            format!("{:.1}s", self.duration_ms as f64 / 1000.0)
        }
    }

    fn change_lines(&self) -> Vec<String> {
        if self.changes.is_empty() {
            return vec!["nothing changed".into()];
        }
        let mut lines: Vec<String> = self
            .changes
            .iter()
            .take(MAX_CHANGE_LINES)
            .cloned()
            .collect();
        if self.changes.len() > MAX_CHANGE_LINES {
            lines.push(format!(
                "and {} more",
                self.changes.len() - MAX_CHANGE_LINES
            ));
        }
        lines
    }

    /// (label, value) pairs shown in every form.
    fn facts(&self) -> Vec<(&'static str, String)> {
        vec![
            ("Environment", self.environment.clone()),
            (
                "Version",
                self.version.clone().unwrap_or_else(|| "untagged".into()),
            ),
            (
                "Commit",
                self.short_commit().unwrap_or("unknown").to_string(),
            ),
            ("By", self.who.clone()),
            ("Result", self.outcome.word().to_string()),
            ("Duration", self.duration()),
        ]
    }
}

/// Slack caps a section's text at 3000 characters and a header at 150.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// Slack mrkdwn's escaping of a value: `&`, `<` and `>` become entities, so no commit
/// message, CloudFormation reason or `--message` can mention `<!channel>` or forge a link.
pub fn mrkdwn(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The Block Kit message of a notice, for an incoming webhook.
pub fn slack_blocks(notice: &Notice, channel: &str) -> Value {
    let fields: Vec<Value> = notice
        .facts()
        .into_iter()
        .map(|(label, value)| {
            json!({"type": "mrkdwn", "text": format!("*{label}:*\n{}", mrkdwn(&value))})
        })
        .collect();
    let changes = notice
        .change_lines()
        .iter()
        .map(|l| format!("• {}", mrkdwn(l)))
        .collect::<Vec<_>>()
        .join("\n");
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": clip(&notice.headline(), 150)}}),
        json!({"type": "section", "fields": fields}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": clip(&format!("*What changed:*\n{changes}"), 3000)}}),
    ];
    if let Some(failure) = &notice.failure {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": clip(&format!("*First failure:*\n{}", mrkdwn(failure)), 3000)}}));
    }
    let mut context = format!("trace `{}`", mrkdwn(&notice.trace_id));
    // The run's link is built from GitHub's variables; one that could break out of the
    // link syntax is left out rather than escaped into a broken link.
    if let Some(link) = notice
        .link
        .as_ref()
        .filter(|l| !l.contains(['<', '>', '|']))
    {
        context.push_str(&format!(" · <{link}|pipeline run>"));
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]}));
    json!({
        "channel": channel,
        "text": format!("{} {}", notice.outcome.icon(), mrkdwn(&notice.headline())),
        "blocks": blocks,
    })
}

/// An AWS Chatbot custom notification (published to the channel's SNS topic).
pub fn chatbot_json(notice: &Notice) -> String {
    let mut description: Vec<String> = notice
        .facts()
        .into_iter()
        .map(|(label, value)| format!("*{label}:* {value}"))
        .collect();
    description.push(format!(
        "*What changed:*\n{}",
        notice.change_lines().join("\n")
    ));
    if let Some(failure) = &notice.failure {
        description.push(format!("*First failure:* {failure}"));
    }
    json!({
        "version": "1.0",
        "source": "custom",
        "content": {
            "textType": "client-markdown",
            "title": format!("{} {}", notice.outcome.icon(), notice.headline()),
            "description": clip(&description.join("\n"), 8000),
        },
        "metadata": {"additionalContext": {"trace_id": notice.trace_id}},
    })
    .to_string()
}

/// An email subject (SNS caps it at 100 characters).
pub fn subject(notice: &Notice) -> String {
    let version = notice
        .version
        .as_deref()
        .map(|v| format!(" ({v})"))
        .unwrap_or_default();
    clip(
        &format!("[FacturaScan] {}{version}", notice.headline()),
        100,
    )
}

/// The plain-text body of an email.
pub fn plain_text(notice: &Notice) -> String {
    let mut out = format!("{}\n\n", notice.headline());
    for (label, value) in notice.facts() {
        out.push_str(&format!("{label:<12} {value}\n"));
    }
    out.push_str(&format!("{:<12} {}\n", "Trace", notice.trace_id));
    out.push_str("\nWhat changed:\n");
    for line in notice.change_lines() {
        out.push_str(&format!("  - {line}\n"));
    }
    if let Some(failure) = &notice.failure {
        out.push_str(&format!("\nFirst failure:\n  {failure}\n"));
    }
    if let Some(link) = &notice.link {
        out.push_str(&format!("\nPipeline run: {link}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn slack_text_is_escaped_so_no_value_can_mention_or_link() {
        let mut n = notice(Verdict::Failed);
        n.failure = Some("boom <!channel> & <https://evil.example|click>".into());
        n.changes = vec!["stack <@U123>: update".into()];
        let text = slack_blocks(&n, "#deploys").to_string();
        assert!(
            !text.contains("<!channel>") && !text.contains("<@U123>"),
            "{text}"
        );
        assert!(text.contains("&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;"));
        assert!(text.contains("&lt;@U123&gt;"));
    }

    use super::*;

    fn notice(outcome: Verdict) -> Notice {
        Notice {
            action: "deploy".into(),
            environment: "production".into(),
            version: Some("v1.4.2".into()),
            commit: Some("0123456789abcdef0123".into()),
            who: "ana".into(),
            trace_id: "t-1".into(),
            outcome,
            duration_ms: 125_400,
            changes: (0..20).map(|i| format!("stack s{i}: update")).collect(),
            failure: (outcome == Verdict::Failed).then(|| {
                "processing/OcrService (AWS::ECS::Service): CannotPullContainerError".into()
            }),
            link: Some("https://github.com/o/r/actions/runs/1".into()),
        }
    }

    #[test]
    fn slack_message_carries_every_fact_and_the_failure() {
        let v = slack_blocks(&notice(Verdict::Failed), "#deploys");
        let text = v.to_string();
        for needle in [
            "deploy to production failed",
            "v1.4.2",
            "0123456789ab",
            "ana",
            "2m 05s",
            "CannotPullContainerError",
            "and 5 more",
            "actions/runs/1",
        ] {
            assert!(text.contains(needle), "{needle} missing from {text}");
        }
        assert_eq!(v["blocks"][0]["type"], "header");
        assert_eq!(v["blocks"][1]["fields"].as_array().map(Vec::len), Some(6));
    }

    #[test]
    fn long_texts_are_clipped_to_slack_limits() {
        let mut n = notice(Verdict::Succeeded);
        n.environment = "x".repeat(400);
        let v = slack_blocks(&n, "#c");
        let header = v["blocks"][0]["text"]["text"].as_str().unwrap_or_default();
        assert_eq!(header.chars().count(), 150);
        assert!(subject(&n).chars().count() <= 100);
    }

    #[test]
    fn chatbot_notifications_follow_the_custom_schema() {
        let v: Value = serde_json::from_str(&chatbot_json(&notice(Verdict::Succeeded))).unwrap();
        assert_eq!(v["version"], "1.0");
        assert_eq!(v["source"], "custom");
        assert_eq!(v["content"]["textType"], "client-markdown");
        assert!(
            v["content"]["title"]
                .as_str()
                .unwrap()
                .contains("succeeded")
        );
    }

    #[test]
    fn plain_text_lists_changes_and_trace() {
        let text = plain_text(&notice(Verdict::Succeeded));
        assert!(text.starts_with("deploy to production succeeded\n"));
        assert!(text.contains("Trace        t-1"));
        assert!(text.contains("  - stack s0: update"));
    }
}
