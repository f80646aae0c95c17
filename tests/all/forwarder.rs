//! The Slack forwarder Lambda of the alerts stack, run on recorded CloudWatch alarm SNS
//! events: the code exactly as the rendered template deploys it, its AWS calls against the
//! harness, its webhook call to a local receiver.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::block_kit::assert_block_kit;
use crate::support::emulator::{Account, python};
use crate::support::receiver::Receiver;
use crate::support::{Project, repo_root};

/// The forwarder's source from the rendered production alerts stack, written as index.py.
fn forwarder(dir: &Path) -> std::path::PathBuf {
    let project = Project::copy();
    let out = dir.join("rendered");
    let status = project
        .cmd()
        .args(["render", "--env", "production", "--out"])
        .arg(&out)
        .output()
        .expect("render");
    assert!(status.status.success());
    let template = std::fs::read_to_string(out.join("alerts.yaml")).expect("alerts template");
    let yaml: yaml_serde::Value = yaml_serde::from_str(&template).expect("YAML");
    let code = yaml["Resources"]["DevMonitoringForwarder"]["Properties"]["Code"]["ZipFile"]
        .as_str()
        .expect("inline code");
    let anomaly = yaml["Resources"]["DevMonitoringForwarder"]["Properties"]["Environment"]
        ["Variables"]["ANOMALY_SOURCES"]
        .as_str()
        .expect("ANOMALY_SOURCES");
    assert_eq!(
        serde_json::from_str::<Value>(anomaly).expect("JSON"),
        serde_json::json!({"facturascan-production-validation-failure-spike": "/facturascan/production/lambda/validator"})
    );
    let path = dir.join("index.py");
    std::fs::write(&path, code).expect("write");
    path
}

/// Runs the forwarder on one fixture; returns the message the receiver got.
fn forward(account: &Account, index: &Path, fixture: &str, seed_logs: bool) -> Value {
    let receiver = Receiver::start(Vec::new());
    let mut cmd = Command::new(python());
    cmd.arg(repo_root().join("tests/fixtures/alarm-sns/drive_forwarder.py"))
        .arg(index)
        .arg(repo_root().join("tests/fixtures/alarm-sns").join(fixture))
        .env("AWS_ENDPOINT_URL", &account.endpoint)
        .env("AWS_ACCESS_KEY_ID", &account.access_key)
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_DEFAULT_REGION", "eu-west-1")
        .env("AWS_REGION", "eu-west-1")
        .env("WEBHOOK_REF", "env:SLACK_URL")
        .env("SLACK_URL", format!("{}/services/T0/B0/xyz", receiver.url))
        .env(
            "ANOMALY_SOURCES",
            r#"{"facturascan-production-validation-failure-spike": "/facturascan/production/lambda/validator"}"#,
        );
    if seed_logs {
        cmd.env("SEED_LOG_GROUP", "/facturascan/production/lambda/validator");
    }
    let output = cmd.output().expect("python");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let received = receiver.received();
    assert_eq!(received.len(), 1, "one post per record");
    let message: Value = serde_json::from_str(&received[0].body).expect("JSON");
    assert_block_kit(&message);
    message
}

fn header(message: &Value) -> &str {
    message["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap_or_default()
}

fn field<'a>(message: &'a Value, label: &str) -> &'a str {
    message["blocks"][1]["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["text"].as_str())
        .find_map(|t| t.strip_prefix(&format!("*{label}:*\n")))
        .unwrap_or_else(|| panic!("no {label} in {message}"))
}

#[test]
fn alarm_notifications_become_readable_slack_messages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = forwarder(dir.path());
    let account = Account::new();

    let rate = forward(&account, &index, "lambda-error-rate-alarm.json", false);
    assert_eq!(
        header(&rate),
        "facturascan-production-parser-error-rate is ALARM (was OK)"
    );
    assert_eq!(field(&rate, "State"), "ALARM");
    // Escaped for mrkdwn: Slack shows `> 1.0 ...`, not a blockquote.
    assert_eq!(field(&rate, "Threshold"), "&gt; 1.0 for 1 of 1 periods");
    assert_eq!(
        field(&rate, "Metric"),
        "Error rate (%) = 100 * errors / MAX([errors, invocations])"
    );
    let text = rate.to_string();
    assert!(
        text.contains("3.4782608695652173") && text.contains("OK -&gt; ALARM transition"),
        "the reason, with the datapoint, escaped: {text}"
    );
    assert!(
        text.contains("Lambda parser error rate is above 1.0%"),
        "the description"
    );
    assert!(
        text.contains("https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/facturascan-production-parser-error-rate"),
        "a console link: {text}"
    );
    assert!(
        !text.contains("Input anomalies"),
        "only the validation alarm has them"
    );

    let latency = forward(&account, &index, "ocr-latency-alarm.json", false);
    assert_eq!(
        field(&latency, "Metric"),
        "p95 of FacturaScan360/production OcrResponseTime (Service=ocr) over 60 s"
    );
    assert_eq!(
        field(&latency, "Threshold"),
        "&gt; 5000.0 for 3 of 5 periods"
    );

    let recovered = forward(&account, &index, "rds-connections-ok.json", false);
    assert_eq!(
        header(&recovered),
        "facturascan-production-rds-connections recovered: OK (was ALARM)"
    );
    assert!(
        recovered["text"]
            .as_str()
            .is_some_and(|t| t.starts_with(":large_green_circle:"))
    );
    assert_eq!(
        field(&recovered, "Metric"),
        "maximum of AWS/RDS DatabaseConnections (DBInstanceIdentifier=facturascan-production-db) over 300 s"
    );
}

#[test]
fn the_validation_alarm_lists_the_input_anomalies_behind_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = forwarder(dir.path());
    let account = Account::new();
    let message = forward(
        &account,
        &index,
        "validation-failure-spike-alarm.json",
        true,
    );
    let anomalies = message["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| b["text"]["text"].as_str())
        .find(|t| t.starts_with("*Input anomalies:*"))
        .unwrap_or_else(|| panic!("no anomaly section: {message}"));
    // Four failures in the 5-minute window (the one 15 minutes old is out), by rule and
    // tenant, the biggest first; successes and non-JSON lines ignored.
    assert!(anomalies.contains("4 failed validations"), "{anomalies}");
    let lines: Vec<&str> = anomalies.lines().filter(|l| l.starts_with('•')).collect();
    assert_eq!(
        lines,
        [
            "• `tax-id-checksum` tenant `acme`: 3",
            "• `total-mismatch` tenant `globex`: 1"
        ]
    );
    assert!(
        anomalies.contains(
            "e.g. invoice `INV-1001` (tax-id-checksum): NIF B1234567 fails its check digit"
        )
    );
    assert!(!anomalies.contains("initech"), "{anomalies}");

    // Without its log group (or the permission to read it), the alarm still goes out.
    let other = Account::new();
    let message = forward(&other, &index, "validation-failure-spike-alarm.json", false);
    assert!(
        message
            .to_string()
            .contains("*Input anomalies:* unavailable (ResourceNotFoundException"),
        "{message}"
    );
}

/// A message that is not alarm JSON (a test publish, another service's notice) is posted as
/// escaped text instead of crashing the forwarder, so nothing on the topic is lost and no
/// input can mention `<!channel>` or forge a link.
#[test]
fn a_message_that_is_not_an_alarm_is_posted_escaped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = forwarder(dir.path());
    let account = Account::new();
    let message = forward(&account, &index, "not-an-alarm.json", false);
    assert_eq!(
        header(&message),
        "Message on facturascan-production-alerts-dev-monitoring"
    );
    let body = message["blocks"][1]["text"]["text"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(
        body,
        "test publish &lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;"
    );
}
