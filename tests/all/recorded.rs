//! The stack states the emulator cannot reach (it never fails or rolls back a stack), served
//! as recorded AWS-shaped responses by the harness, through the real SDK and CLI.

use serde_json::{Value, json};

use crate::support::emulator::{Account, resource_writes};
use crate::support::{Project, repo_root, run_json};

const STACK: &str = "facturascan-local-auth";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(repo_root().join("tests/fixtures/cloudformation").join(name))
        .expect("fixture")
}

fn stacks(status: &str) -> Value {
    let body = fixture("describe-stacks.xml")
        .replace("STACK_NAME", STACK)
        .replace("STACK_STATUS", status)
        .replace("STACK_REASON", "recorded");
    json!({"status": 200, "body": body})
}

/// Events of a failed operation: the user pool failed, the client was cancelled.
fn events(stack_status: &str, failed: &str, in_progress: &str) -> Value {
    let body = fixture("describe-stack-events.xml")
        .replace("STACK_NAME", STACK)
        .replace("STACK_STATUS", stack_status)
        .replace("RESOURCE_FAILED_STATUS", failed)
        .replace("RESOURCE_CANCELLED_STATUS", failed)
        .replace("RESOURCE_IN_PROGRESS_STATUS", in_progress);
    json!({"status": 200, "body": body})
}

pub(crate) fn pass() -> Value {
    json!({"pass": true})
}

/// The auth stack's next create or update fails and rolls back, in recorded responses:
/// `rollback` is `ROLLBACK` or `UPDATE_ROLLBACK`, `operation` `CREATE` or `UPDATE`.
pub(crate) async fn script_failed_operation(account: &Account, rollback: &str, operation: &str) {
    account
        .script(
            "cloudformation:DescribeStacks",
            vec![
                pass(),
                stacks(&format!("{rollback}_IN_PROGRESS")),
                stacks(&format!("{rollback}_COMPLETE")),
            ],
        )
        .await;
    let failed = events(
        &format!("{rollback}_COMPLETE"),
        &format!("{operation}_FAILED"),
        &format!("{operation}_IN_PROGRESS"),
    );
    account
        .script(
            "cloudformation:DescribeStackEvents",
            vec![failed.clone(), failed.clone(), failed],
        )
        .await;
}

/// A deploy of the local environment's `auth` stack alone.
fn deploy(project: &Project, account: &Account, extra: &[&str]) -> (Option<i32>, Value, String) {
    let mut args = vec!["deploy", "--env", "local", "--stack", "auth"];
    args.extend_from_slice(extra);
    run_json(project, account, &args)
}

fn auth(report: &Value) -> Value {
    report["stacks"][0].clone()
}

#[tokio::test]
async fn a_create_that_fails_and_rolls_back_names_the_resource() {
    let account = Account::new();
    let project = Project::copy();
    script_failed_operation(&account, "ROLLBACK", "CREATE").await;

    let (code, report, stderr) = deploy(&project, &account, &[]);
    assert_eq!(code, Some(1), "{stderr}\n{report}");
    let auth = auth(&report);
    assert_eq!(auth["action"], "create");
    assert_eq!(auth["result"], "failed");
    assert_eq!(auth["status"], "ROLLBACK_COMPLETE");
    assert_eq!(auth["failures"][0]["resource"], "UserPool");
    assert!(
        auth["failures"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("MinimumLength"))
    );
    assert!(
        auth["message"]
            .as_str()
            .is_some_and(|m| m.contains("ROLLBACK_COMPLETE: UserPool")),
        "{auth}"
    );
    // Events were shown once each while waiting, oldest first.
    let shown = stderr
        .matches("auth: UserPool AWS::Cognito::UserPool CREATE_FAILED")
        .count();
    assert_eq!(shown, 1, "{stderr}");
}

#[tokio::test]
async fn an_update_that_fails_and_rolls_back_is_a_failed_deploy() {
    let account = Account::new();
    let project = Project::copy();
    let (code, _, stderr) = deploy(&project, &account, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    project.replace(
        "templates/stacks/auth.yaml.tera",
        "          TemporaryPasswordValidityDays: 3",
        "          TemporaryPasswordValidityDays: 2",
    );
    script_failed_operation(&account, "UPDATE_ROLLBACK", "UPDATE").await;

    let (code, report, stderr) = deploy(&project, &account, &[]);
    assert_eq!(code, Some(1), "{stderr}\n{report}");
    let auth = auth(&report);
    assert_eq!(
        (auth["action"].as_str(), auth["result"].as_str()),
        (Some("update"), Some("failed"))
    );
    assert_eq!(auth["status"], "UPDATE_ROLLBACK_COMPLETE");
    assert_eq!(auth["failures"][0]["status"], "UPDATE_FAILED");
    assert_eq!(auth["failures"][0]["resource"], "UserPool");
}

#[tokio::test]
async fn update_rollback_failed_is_refused_with_the_recovery_step() {
    let account = Account::new();
    let project = Project::copy();
    account
        .script(
            "cloudformation:DescribeStacks",
            vec![stacks("UPDATE_ROLLBACK_FAILED")],
        )
        .await;
    account
        .script(
            "cloudformation:DescribeStackEvents",
            vec![events(
                "UPDATE_ROLLBACK_FAILED",
                "UPDATE_FAILED",
                "UPDATE_IN_PROGRESS",
            )],
        )
        .await;
    let (code, report, stderr) = deploy(&project, &account, &[]);
    assert_eq!(code, Some(1), "{stderr}\n{report}");
    let auth = auth(&report);
    let message = auth["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!(
            "aws cloudformation continue-update-rollback --stack-name {STACK}"
        )),
        "{message}"
    );
    assert_eq!(auth["failures"][0]["resource"], "UserPool");
    assert_eq!(
        resource_writes(&account.requests().await),
        0,
        "nothing was attempted"
    );
}

#[tokio::test]
async fn a_stack_busy_with_another_deploy_is_refused_or_waited_for() {
    let account = Account::new();
    let project = Project::copy();
    account
        .script(
            "cloudformation:DescribeStacks",
            vec![stacks("UPDATE_IN_PROGRESS")],
        )
        .await;
    let (code, report, stderr) = deploy(&project, &account, &["--no-wait"]);
    assert_eq!(code, Some(1), "{stderr}");
    let message = auth(&report)["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains("UPDATE_IN_PROGRESS") && message.contains("--no-wait"),
        "{message}"
    );
    assert_eq!(resource_writes(&account.requests().await), 0);

    // Without --no-wait: wait until the other operation ends, then deploy.
    account
        .script(
            "cloudformation:DescribeStacks",
            vec![
                stacks("UPDATE_IN_PROGRESS"),
                stacks("UPDATE_IN_PROGRESS"),
                stacks("DELETE_COMPLETE"),
            ],
        )
        .await;
    let (code, report, stderr) = deploy(&project, &account, &[]);
    assert_eq!(code, Some(0), "{stderr}\n{report}");
    assert!(
        stderr.contains("auth: UPDATE_IN_PROGRESS"),
        "waited: {stderr}"
    );
    assert_eq!(auth(&report)["action"], "create");
}
