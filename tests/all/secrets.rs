//! Canary secrets: values planted in every place a secret comes from (SSM Parameter Store,
//! Secrets Manager, the process environment) are used for real (webhooks and the Sentry
//! token are sent to local receivers that echo them back in their errors) and never appear
//! in anything the tool writes: stdout, stderr, JSON, Markdown, logs at every level, the
//! GitHub step summary and outputs, notifications' bodies, or the release records.

use std::collections::BTreeMap;

use crate::support::Project;
use crate::support::emulator::Account;
use crate::support::receiver::{Receiver, Reply};

const SSM_CANARY: &str = "CANARYssmWebhook5e1f";
const SM_CANARY: &str = "CANARYsecretsmgrToken77ab";
const ENV_CANARY: &str = "CANARYenvWebhook0c9d";

/// Everything one run wrote.
struct Written {
    args: String,
    code: Option<i32>,
    text: String,
}

fn run(project: &Project, account: &Account, slack: &Receiver, args: &[&str]) -> Written {
    let dir = tempfile::tempdir().expect("tempdir");
    let summary = dir.path().join("summary.md");
    let output = dir.path().join("output");
    let out = project
        .cmd()
        .env("AWS_ACCESS_KEY_ID", &account.access_key)
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env(
            "CANARY_WEBHOOK",
            format!("{}/services/T9/B9/{ENV_CANARY}", slack.url),
        )
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_SHA", "4b825dc642cb6eb9a060e54bf8d69288fbee4904")
        .args(args)
        .args(["--endpoint-url", &account.endpoint])
        .output()
        .expect("run facturactl");
    let mut text = String::new();
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    text.push_str(&std::fs::read_to_string(&summary).unwrap_or_default());
    text.push_str(&std::fs::read_to_string(&output).unwrap_or_default());
    Written {
        args: args.join(" "),
        code: out.status.code(),
        text,
    }
}

async fn plant(account: &Account, slack: &Receiver) {
    let config = account.sdk_config(3).await;
    aws_sdk_ssm::Client::new(&config)
        .put_parameter()
        .name("/facturascan/canary/webhook")
        .value(format!("{}/services/T1/B1/{SSM_CANARY}", slack.url))
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .expect("put parameter");
    aws_sdk_secretsmanager::Client::new(&config)
        .create_secret()
        .name("facturascan/canary/sentry")
        .secret_string(SM_CANARY)
        .send()
        .await
        .expect("create secret");
}

fn leaks(text: &str) -> Vec<&'static str> {
    [SSM_CANARY, SM_CANARY, ENV_CANARY]
        .into_iter()
        .filter(|c| text.contains(c))
        .collect()
}

#[tokio::test]
async fn canary_secrets_never_appear_in_any_output_or_record() {
    let account = Account::new();
    // Every Slack and Sentry answer is a 500 that repeats the request, credentials included.
    let slack = Receiver::start(vec![Reply::EchoAll; 200]);
    let sentry = Receiver::start(vec![Reply::EchoAll; 200]);
    plant(&account, &slack).await;
    let project = Project::copy();
    project.use_account(&account);
    project.replace(
        "environments/local.yaml",
        "  channels: [\"ops-email\"]",
        "  channels: [\"dev-monitoring\", \"ops-email\", \"canary-env\"]\n  attempts: 2\n  timeout_seconds: 2",
    );
    project.replace(
        "environments/local.yaml",
        "      webhook: env:FACTURASCAN_LOCAL_SLACK_WEBHOOK",
        "      webhook: ssm:/facturascan/canary/webhook\n    canary-env:\n      channel: \"#canary\"\n      webhook: env:CANARY_WEBHOOK",
    );
    project.replace(
        "environments/local.yaml",
        "sentry: ~\n",
        &format!(
            "sentry:\n  url: {}\n  organization: facturascan\n  projects: [facturascan-ocr]\n  token: secretsmanager:facturascan/canary/sentry\n",
            sentry.url
        ),
    );

    let env = ["--env", "local"];
    let mut runs: Vec<Vec<&str>> = Vec::new();
    for output in ["text", "json", "markdown"] {
        for logs in [
            &["--log-format", "text", "-vv"][..],
            &["--log-format", "json", "-v"],
        ] {
            for command in [
                &["deploy"][..],
                &["plan", "--diff"],
                &["status"],
                &["history"],
                &["audit", "drift", "--notify"],
                &["audit", "alarms", "--notify"],
                &[
                    "notify",
                    "--stage",
                    "build",
                    "--result",
                    "failure",
                    "--message",
                    "boom",
                ],
                &["config", "show"],
                &["validate"],
                // Failure paths: a rollback with nothing to go back to, a refused traffic
                // change, an unknown service.
                &["rollback", "--to", "no-such-record", "--yes"],
                &[
                    "traffic",
                    "parser",
                    "set",
                    "--variant",
                    "9",
                    "--percent",
                    "5",
                ],
                &["deploy", "--image", "nosuch=v1"],
            ] {
                let mut args: Vec<&str> = command.to_vec();
                args.extend(env);
                args.extend(["--output", output]);
                args.extend(logs);
                runs.push(args);
            }
        }
    }
    let mut codes: BTreeMap<String, Option<i32>> = BTreeMap::new();
    let mut failures = Vec::new();
    for args in &runs {
        let written = run(&project, &account, &slack, args);
        codes.insert(written.args.clone(), written.code);
        let leaked = leaks(&written.text);
        if !leaked.is_empty() {
            failures.push(format!("{}: {leaked:?}\n{}", written.args, written.text));
        }
    }
    // A config error about a secret written in clear never quotes it.
    let clear = Project::copy();
    clear.replace(
        "environments/local.yaml",
        "      webhook: env:FACTURASCAN_LOCAL_SLACK_WEBHOOK",
        &format!("      webhook: https://hooks.slack.com/services/T1/B1/{ENV_CANARY}"),
    );
    let written = run(&clear, &account, &slack, &["deploy", "--env", "local"]);
    assert_eq!(written.code, Some(1));
    if !leaks(&written.text).is_empty() {
        failures.push(format!("config error: {}", written.text));
    }

    assert!(
        failures.is_empty(),
        "canaries leaked:\n{}",
        failures.join("\n---\n")
    );

    // Both paths ran: deploys succeeded (with failed notifications), a rollback to nothing
    // was refused, a bad artifact failed.
    assert_eq!(
        codes["deploy --env local --output json --log-format json -v"],
        Some(0)
    );
    assert_eq!(
        codes["rollback --to no-such-record --yes --env local --output json --log-format json -v"],
        Some(3)
    );
    assert_eq!(
        codes["deploy --image nosuch=v1 --env local --output text --log-format text -vv"],
        Some(1)
    );

    // The canaries were really used, so the checks above could fail.
    let slack_paths: Vec<String> = slack.received().iter().map(|r| r.path.clone()).collect();
    assert!(
        slack_paths.iter().any(|p| p.contains(SSM_CANARY)),
        "SSM webhook used"
    );
    assert!(
        slack_paths.iter().any(|p| p.contains(ENV_CANARY)),
        "env webhook used"
    );
    assert!(
        sentry
            .received()
            .iter()
            .any(|r| r.header("authorization") == Some(&format!("Bearer {SM_CANARY}"))),
        "Sentry token used"
    );
    // Notification bodies carry no secret.
    for r in slack.received().iter().chain(sentry.received().iter()) {
        assert!(
            leaks(&r.body).is_empty(),
            "a body carries a secret: {}",
            r.body
        );
    }

    // Nor do the release records.
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&account.sdk_config(3).await)
            .force_path_style(true)
            .build(),
    );
    let bucket = format!("facturascan-local-releases-{}", account.account_id);
    let listed = s3
        .list_objects_v2()
        .bucket(&bucket)
        .send()
        .await
        .expect("list");
    let keys: Vec<String> = listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect();
    assert!(keys.iter().any(|k| k.starts_with("records/")), "{keys:?}");
    for key in keys {
        let object = s3
            .get_object()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await
            .expect("get");
        let bytes = object.body.collect().await.expect("body").into_bytes();
        let text = String::from_utf8_lossy(&bytes);
        assert!(leaks(&text).is_empty(), "{key} carries a secret: {text}");
    }
}
