//! Deploy notifications: Slack through a local receiver standing in for the webhook, email
//! through the emulator's SNS; retries, timeouts, and the webhook URL kept secret.

use std::time::Duration;

use serde_json::Value;

use crate::support::Project;
use crate::support::block_kit::assert_block_kit;
use crate::support::emulator::Account;
use crate::support::receiver::{Receiver, Reply};

/// The secret part of the stand-in webhook URL: no output may ever contain it.
const CANARY: &str = "CANARYhooksecret7f3a";

const SHA: &str = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

/// The local project in `account`, telling both channels, Slack pointing at `receiver`.
fn project(account: &Account, settings: &str) -> Project {
    let project = Project::copy();
    project.replace(
        "environments/local.yaml",
        "account_id: \"123456789012\"",
        &format!("account_id: \"{}\"", account.account_id),
    );
    project.replace(
        "environments/local.yaml",
        "  channels: [\"ops-email\"]",
        &format!("  channels: [\"dev-monitoring\", \"ops-email\"]\n{settings}"),
    );
    project
}

/// facturactl with the webhook variable set and a GitHub Actions tag build's variables.
fn run(
    project: &Project,
    account: &Account,
    receiver: &Receiver,
    args: &[&str],
) -> (Option<i32>, String, String) {
    run_with(project, account, receiver, &[], args)
}

/// `run`, with more environment variables (which may replace the defaults).
fn run_with(
    project: &Project,
    account: &Account,
    receiver: &Receiver,
    env: &[(&str, &str)],
    args: &[&str],
) -> (Option<i32>, String, String) {
    let output = project
        .cmd()
        .env("AWS_ACCESS_KEY_ID", &account.access_key)
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env(
            "FACTURASCAN_LOCAL_SLACK_WEBHOOK",
            format!("{}/services/T0001/B0001/{CANARY}", receiver.url),
        )
        .env("GITHUB_SHA", SHA)
        .env("GITHUB_REF_TYPE", "tag")
        .env("GITHUB_REF_NAME", "v1.4.2")
        .env("GITHUB_ACTOR", "ana")
        .envs(env.iter().copied())
        .args(args)
        .args(["--env", "local", "--endpoint-url", &account.endpoint])
        .output()
        .expect("run facturactl");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn delivery<'a>(report: &'a Value, channel: &str) -> &'a Value {
    report["notifications"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["channel"] == channel))
        .unwrap_or_else(|| panic!("no delivery to {channel}: {report}"))
}

fn field<'a>(message: &'a Value, label: &str) -> &'a str {
    message["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| b["fields"].as_array())
        .flatten()
        .filter_map(|f| f["text"].as_str())
        .find_map(|t| t.strip_prefix(&format!("*{label}:*\n")))
        .unwrap_or_else(|| panic!("no {label} field in {message}"))
}

#[tokio::test]
async fn a_deploy_posts_block_kit_to_slack_and_waits_out_a_429() {
    let account = Account::new();
    let receiver = Receiver::start(vec![Reply::rate_limited(2)]);
    let project = project(&account, "");
    let (code, stdout, stderr) = run(
        &project,
        &account,
        &receiver,
        &["deploy", "--output", "json"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let report = json(&stdout);

    let received = receiver.received();
    assert_eq!(received.len(), 2, "one 429, then the retry");
    let waited = received[1].at - received[0].at;
    assert!(
        waited >= Duration::from_secs(2),
        "retried after {waited:?}, before Retry-After"
    );
    assert!(
        received[0].path.ends_with(CANARY),
        "posted to the webhook's path"
    );
    let slack = delivery(&report, "dev-monitoring");
    assert_eq!(
        (slack["sent"].as_bool(), slack["attempts"].as_u64()),
        (Some(true), Some(2))
    );
    let email = delivery(&report, "ops-email");
    assert_eq!(
        (email["via"].as_str(), email["sent"].as_bool()),
        (Some("sns"), Some(true)),
        "{email}"
    );

    let message: Value = serde_json::from_str(&received[1].body).expect("JSON body");
    assert_block_kit(&message);
    assert_eq!(message["channel"], "#dev-monitoring-local");
    assert_eq!(
        message["blocks"][0]["text"]["text"],
        "deploy to local succeeded"
    );
    assert_eq!(field(&message, "Environment"), "local");
    assert_eq!(field(&message, "Version"), "v1.4.2");
    assert_eq!(field(&message, "Commit"), &SHA[..12]);
    assert_eq!(field(&message, "By"), "ana");
    assert_eq!(field(&message, "Result"), "succeeded");
    assert!(field(&message, "Duration").ends_with('s'));
    let body = message.to_string();
    assert!(body.contains("stack network: create"), "{body}");
    assert!(
        body.contains("alarm facturascan-local-ocr-latency: create"),
        "{body}"
    );
    // The first answer was a 429: the report says nothing went wrong.
    assert!(!stderr.contains("not sent"), "{stderr}");
}

#[tokio::test]
async fn a_dead_webhook_times_out_and_the_deploy_still_succeeds_with_a_warning() {
    let account = Account::new();
    let receiver = Receiver::start(vec![Reply::Hang, Reply::Hang, Reply::Hang, Reply::Hang]);
    let project = project(&account, "  timeout_seconds: 1\n  attempts: 2\n");
    let (code, stdout, stderr) = run(&project, &account, &receiver, &["deploy"]);
    assert_eq!(
        code,
        Some(0),
        "a notification never fails a deploy: {stderr}"
    );
    assert!(
        stdout.contains("warning: notification to `dev-monitoring` (slack) not sent: no answer within 1 s (2 attempts)"),
        "{stdout}"
    );
    assert!(stdout.contains("notified: ops-email (sns)"), "{stdout}");
    assert!(
        stderr.contains("not sent"),
        "warned on stderr too: {stderr}"
    );
    assert!(stdout.contains("deploy done"), "{stdout}");
    assert_eq!(receiver.received().len(), 2);

    // Asked for, the warning becomes exit 4; a pipeline stage's notice behaves the same.
    project.replace(
        "environments/local.yaml",
        "  attempts: 2\n",
        "  attempts: 2\n  warning_exit: true\n",
    );
    let (code, stdout, _) = run(
        &project,
        &account,
        &receiver,
        &["notify", "--stage", "build", "--result", "success"],
    );
    assert_eq!(code, Some(4), "{stdout}");
}

#[tokio::test]
async fn the_webhook_url_never_appears_in_any_output() {
    let account = Account::new();
    // Every answer is a 500 whose body quotes the request line, secret path included.
    let receiver = Receiver::start(vec![Reply::EchoError; 12]);
    let project = project(&account, "  timeout_seconds: 2\n  attempts: 2\n");
    let mut seen = String::new();
    for args in [
        &["deploy", "--output", "json", "--log-format", "json", "-vv"][..],
        &["deploy", "--log-format", "text", "-v"],
        &[
            "notify", "--stage", "build", "--result", "failure", "--output", "markdown",
        ],
        &["config", "show"],
    ] {
        let (code, stdout, stderr) = run(&project, &account, &receiver, args);
        assert!(matches!(code, Some(0)), "{args:?}: {stderr}");
        seen.push_str(&stdout);
        seen.push_str(&stderr);
    }
    assert!(
        seen.contains("HTTP 500: upstream failed for POST /services/T0001/B0001/*** HTTP/1.1"),
        "the failure is reported, scrubbed"
    );
    // The secret was really sent (so the check below could fail), and never printed.
    assert!(receiver.received().iter().all(|r| r.path.contains(CANARY)));
    assert_eq!(
        receiver.received().len(),
        6,
        "2 attempts for each of 3 sends"
    );
    assert!(!seen.contains(CANARY), "the webhook URL leaked:\n{seen}");
}

#[tokio::test]
async fn a_pipeline_stage_failure_is_told_with_its_reason() {
    let account = Account::new();
    let receiver = Receiver::start(Vec::new());
    let project = project(&account, "");
    let (code, stdout, stderr) = run(
        &project,
        &account,
        &receiver,
        &[
            "notify",
            "--stage",
            "integration-tests",
            "--result",
            "failure",
            "--message",
            "pytest: 3 failed in tests/test_validation.py",
            "--duration-seconds",
            "95",
            "--output",
            "json",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let report = json(&stdout);
    assert_eq!(delivery(&report, "dev-monitoring")["sent"], true);
    let message: Value = serde_json::from_str(&receiver.received()[0].body).expect("JSON");
    assert_block_kit(&message);
    assert_eq!(
        message["blocks"][0]["text"]["text"],
        "integration-tests to local failed"
    );
    assert_eq!(field(&message, "Duration"), "1m 35s");
    assert!(
        message
            .to_string()
            .contains("*First failure:*\\npytest: 3 failed in tests/test_validation.py")
    );

    // A bad stage name is refused before anything is sent.
    let (code, _, stderr) = run(
        &project,
        &account,
        &receiver,
        &["notify", "--stage", "Build Step", "--result", "success"],
    );
    assert_eq!(code, Some(1));
    assert!(stderr.contains("is not a stage name"), "{stderr}");
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn a_revoked_webhook_is_not_retried() {
    let account = Account::new();
    let receiver = Receiver::start(vec![Reply::status(404)]);
    let project = project(&account, "");
    let (code, stdout, _) = run(
        &project,
        &account,
        &receiver,
        &["notify", "--stage", "build", "--result", "success"],
    );
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains("not sent: HTTP 404 (1 attempt)"),
        "{stdout}"
    );
    assert_eq!(
        receiver.received().len(),
        1,
        "a 4xx other than 429 is final"
    );
}

#[tokio::test]
async fn a_failed_deploy_names_its_first_failing_resource() {
    let account = Account::new();
    let receiver = Receiver::start(Vec::new());
    let project = project(&account, "");
    // The emulator never fails a stack: the auth stack's create fails in recorded responses.
    crate::recorded::script_failed_operation(&account, "ROLLBACK", "CREATE").await;
    let (code, stdout, stderr) = run(
        &project,
        &account,
        &receiver,
        &["deploy", "--stack", "auth", "--output", "json"],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(delivery(&json(&stdout), "dev-monitoring")["sent"], true);
    let message: Value = serde_json::from_str(&receiver.received()[0].body).expect("JSON");
    assert_block_kit(&message);
    assert_eq!(
        message["blocks"][0]["text"]["text"],
        "deploy to local failed"
    );
    assert_eq!(field(&message, "Result"), "failed");
    let failure = message["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| b["text"]["text"].as_str())
        .find_map(|t| t.strip_prefix("*First failure:*\n"))
        .unwrap_or_else(|| panic!("no failure section: {message}"));
    assert!(
        failure.starts_with("auth/UserPool (AWS::Cognito::UserPool) CREATE_FAILED: ")
            && failure.contains("MinimumLength"),
        "{failure}"
    );
    assert!(message.to_string().contains("stack auth: create (FAILED)"));
}

#[tokio::test]
async fn webhooks_are_read_from_ssm_and_secrets_manager_at_send_time() {
    let account = Account::new();
    let config = account.sdk_config(3).await;
    let receiver = Receiver::start(Vec::new());
    let url = format!("{}/services/T0/B0/{CANARY}", receiver.url);
    aws_sdk_ssm::Client::new(&config)
        .put_parameter()
        .name("/facturascan/slack/dev-monitoring-webhook")
        .value(&url)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .expect("put parameter");
    aws_sdk_secretsmanager::Client::new(&config)
        .create_secret()
        .name("facturascan/slack/dev-monitoring")
        .secret_string(&url)
        .send()
        .await
        .expect("create secret");
    let project = project(&account, "");
    for reference in [
        "ssm:/facturascan/slack/dev-monitoring-webhook",
        "secretsmanager:facturascan/slack/dev-monitoring",
    ] {
        let current = project.read("environments/local.yaml");
        let line = current
            .lines()
            .find(|l| l.trim_start().starts_with("webhook:"))
            .expect("webhook line")
            .to_string();
        project.replace(
            "environments/local.yaml",
            &line,
            &format!("      webhook: {reference}"),
        );
        let (code, stdout, stderr) = run(
            &project,
            &account,
            &receiver,
            &["notify", "--stage", "build", "--result", "success"],
        );
        assert_eq!(code, Some(0), "{stderr}");
        assert!(
            stdout.contains("notified: dev-monitoring (slack)"),
            "{reference}: {stdout}"
        );
        assert!(!format!("{stdout}{stderr}").contains(CANARY));
    }
    assert_eq!(receiver.received().len(), 2);

    // A reference that resolves to nothing is a warning naming the reference, not the value.
    project.replace(
        "environments/local.yaml",
        "webhook: secretsmanager:facturascan/slack/dev-monitoring",
        "webhook: ssm:/facturascan/slack/missing",
    );
    let (code, stdout, _) = run(
        &project,
        &account,
        &receiver,
        &["notify", "--stage", "build", "--result", "success"],
    );
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains(
            "not sent: cannot read secret `ssm:/facturascan/slack/missing`: ParameterNotFound"
        ),
        "{stdout}"
    );
    // Nothing is deployed in this account: the email topic is missing, and the report says how to fix it.
    assert!(stdout.contains("the topic facturascan-local-alerts-ops-email does not exist: deploy the alerts stack first"), "{stdout}");
}

#[tokio::test]
async fn email_goes_through_ses_when_the_channel_has_a_sender() {
    let account = Account::new();
    let receiver = Receiver::start(Vec::new());
    let project = project(&account, "");
    project.replace(
        "environments/local.yaml",
        "      addresses: [\"devops+local@facturascan.com\"]",
        "      addresses: [\"devops+local@facturascan.com\"]\n      ses_from: deploys@facturascan.com",
    );
    let notify = [
        "notify", "--stage", "build", "--result", "success", "--output", "json",
    ];
    // An unverified sender is refused by SES: a warning, not a failure.
    let (code, stdout, _) = run(&project, &account, &receiver, &notify);
    assert_eq!(code, Some(0));
    let email = delivery(&json(&stdout), "ops-email").clone();
    assert_eq!(
        (email["via"].as_str(), email["sent"].as_bool()),
        (Some("ses"), Some(false)),
        "{email}"
    );
    assert!(
        email["error"]
            .as_str()
            .is_some_and(|e| e.contains("SendEmail failed")),
        "{email}"
    );

    aws_sdk_sesv2::Client::new(&account.sdk_config(3).await)
        .create_email_identity()
        .email_identity("deploys@facturascan.com")
        .send()
        .await
        .expect("verify the sender");
    let (code, stdout, _) = run(&project, &account, &receiver, &notify);
    assert_eq!(code, Some(0));
    assert_eq!(
        delivery(&json(&stdout), "ops-email")["sent"],
        true,
        "{stdout}"
    );
}

/// The Sentry settings of the local environment, pointing at `receiver`.
fn with_sentry(project: &Project, receiver: &Receiver) {
    project.replace(
        "environments/local.yaml",
        "sentry: ~\n",
        &format!(
            "sentry:\n  url: {}\n  organization: facturascan\n  projects: [facturascan-ocr, facturascan-backend]\n  token: env:FACTURASCAN_SENTRY_TOKEN\n",
            receiver.url
        ),
    );
}

const SENTRY_TOKEN: &str = "sntrys_CANARYsentrytoken9d1e";

#[tokio::test]
async fn a_deploy_creates_the_sentry_release_and_marks_the_deploy() {
    let account = Account::new();
    let slack = Receiver::start(Vec::new());
    // The first release call meets a 503 (retried); the release exists already (208).
    let sentry = Receiver::start(vec![Reply::status(503), Reply::status(208)]);
    let project = project(&account, "");
    with_sentry(&project, &sentry);
    let (code, stdout, stderr) = run_with(
        &project,
        &account,
        &slack,
        &[
            ("FACTURASCAN_SENTRY_TOKEN", SENTRY_TOKEN),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_REPOSITORY", "facturascan/platform"),
            ("GITHUB_RUN_ID", "42"),
        ],
        &["deploy", "--output", "json", "-vv"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let report = json(&stdout);
    let marked = delivery(&report, "sentry:facturascan");
    assert_eq!(
        (marked["sent"].as_bool(), marked["attempts"].as_u64()),
        (Some(true), Some(3)),
        "{marked}"
    );

    let calls = sentry.received();
    assert_eq!(calls.len(), 3, "{calls:?}");
    for call in &calls {
        assert_eq!(call.method, "POST");
        assert_eq!(
            call.header("authorization"),
            Some(format!("Bearer {SENTRY_TOKEN}").as_str())
        );
    }
    assert_eq!(calls[0].path, "/api/0/organizations/facturascan/releases/");
    assert_eq!(calls[1].path, calls[0].path, "the 503 is retried");
    let release: Value = serde_json::from_str(&calls[1].body).expect("JSON");
    assert_eq!(release["version"], "facturascan@v1.4.2");
    assert_eq!(release["ref"], SHA);
    assert_eq!(
        release["projects"],
        serde_json::json!(["facturascan-ocr", "facturascan-backend"])
    );
    assert_eq!(
        calls[2].path,
        "/api/0/organizations/facturascan/releases/facturascan%40v1.4.2/deploys/"
    );
    let deploy: Value = serde_json::from_str(&calls[2].body).expect("JSON");
    assert_eq!(deploy["environment"], "local");
    assert_eq!(
        deploy["url"],
        "https://github.com/facturascan/platform/actions/runs/42"
    );
    let (begun, ended) = (
        deploy["dateStarted"].as_str().expect("start"),
        deploy["dateFinished"].as_str().expect("end"),
    );
    assert!(begun < ended, "{begun} < {ended}");
    // The token is sent, never shown.
    assert!(!stdout.contains(SENTRY_TOKEN) && !stderr.contains(SENTRY_TOKEN));
}

#[tokio::test]
async fn a_sentry_refusal_is_a_warning_not_a_failed_deploy() {
    let account = Account::new();
    let slack = Receiver::start(Vec::new());
    let sentry = Receiver::start(vec![Reply::Status {
        code: 403,
        headers: Vec::new(),
        body: format!("token {SENTRY_TOKEN} lacks project:releases"),
    }]);
    let project = project(&account, "");
    with_sentry(&project, &sentry);
    // An untagged build: the release is named after the commit.
    let (code, stdout, stderr) = run_with(
        &project,
        &account,
        &slack,
        &[
            ("FACTURASCAN_SENTRY_TOKEN", SENTRY_TOKEN),
            ("GITHUB_REF_TYPE", "branch"),
            ("GITHUB_REF_NAME", "main"),
        ],
        &["deploy"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(sentry.received().len(), 1, "a 403 is not retried");
    assert!(
        stderr
            .contains("creating release facturascan@4b825dc642cb6eb9a060e54bf8d69288fbee4904: 403"),
        "{stderr}"
    );
    assert!(stderr.contains("token *** lacks"), "{stderr}");
    assert!(!stdout.contains(SENTRY_TOKEN) && !stderr.contains(SENTRY_TOKEN));
}
