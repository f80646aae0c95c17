//! ECS rollouts the emulator cannot play (its deployments complete at once): recorded
//! DescribeServices answers for a slow success, a FAILED deployment, a circuit-breaker
//! rollback that ends stable on the old revision, and a rollout past its deadline.

use serde_json::{Value, json};

use crate::recorded::pass;
use crate::rollouts::{project, push_image, service};
use crate::support::emulator::Account;
use crate::support::{Project, run_json};

fn td(account: &Account, revision: u32) -> String {
    format!(
        "arn:aws:ecs:eu-west-1:{}:task-definition/facturascan-local-ocr:{revision}",
        account.account_id
    )
}

/// A DescribeServices answer (awsJson1_1) for the ocr service.
fn services(account: &Account, deployments: Value, events: Value) -> Value {
    let body = json!({
        "services": [{
            "serviceName": "ocr",
            "serviceArn": format!("arn:aws:ecs:eu-west-1:{}:service/facturascan-local/ocr", account.account_id),
            "clusterArn": format!("arn:aws:ecs:eu-west-1:{}:cluster/facturascan-local", account.account_id),
            "status": "ACTIVE",
            "desiredCount": 2,
            "runningCount": 2,
            "taskDefinition": deployments[0]["taskDefinition"],
            "deployments": deployments,
            "events": events
        }],
        "failures": []
    });
    json!({"status": 200, "body": body.to_string(), "content_type": "application/x-amz-json-1.1"})
}

fn deployment(
    status: &str,
    task_definition: &str,
    state: &str,
    running: u32,
    reason: &str,
) -> Value {
    json!({
        "id": format!("ecs-svc/{}", task_definition.len() * 7 + running as usize),
        "status": status,
        "taskDefinition": task_definition,
        "desiredCount": 2,
        "runningCount": running,
        "pendingCount": 2 - running,
        "rolloutState": state,
        "rolloutStateReason": reason,
        "createdAt": 1764148000.0,
        "updatedAt": 1764148000.0
    })
}

fn event(id: &str, message: &str) -> Value {
    json!({"id": id, "createdAt": 1764148000.0, "message": message})
}

/// Stacks deployed, the services created on a first image (ocr at revision 1; backend too,
/// so that only ocr is read by the next deploy), a second image pushed, the local deadline shortened to 10 s.
async fn ready() -> (Account, Project) {
    let account = Account::new();
    let project = project(&account);
    project.replace(
        "environments/local.yaml",
        "  ocr:\n    ecs:\n",
        "  ocr:\n    ecs:\n      rollout: { deadline_seconds: 10 }\n",
    );
    let (code, _, stderr) = run_json(&project, &account, &["deploy", "--env", "local"]);
    assert_eq!(code, Some(0), "the registry stack first: {stderr}");
    push_image(&account, "facturascan/ocr", "v1", "b").await;
    push_image(&account, "facturascan/backend", "v1", "d").await;
    let first = [
        "deploy",
        "--env",
        "local",
        "--image",
        "ocr=v1",
        "--image",
        "backend=v1",
    ];
    let (code, _, stderr) = run_json(&project, &account, &first);
    assert_eq!(code, Some(0), "{stderr}");
    push_image(&account, "facturascan/ocr", "v2", "c").await;
    (account, project)
}

fn roll_out(project: &Project, account: &Account) -> (Option<i32>, Value, String) {
    run_json(
        project,
        account,
        &["deploy", "--env", "local", "--image", "ocr=v2"],
    )
}

#[tokio::test]
async fn a_rollout_in_progress_then_completed_succeeds_showing_each_event_once() {
    let (account, project) = ready().await;
    let (new, old) = (td(&account, 2), td(&account, 1));
    let started = event(
        "e1",
        "(service ocr) has started 2 tasks: (task a) (task b).",
    );
    let steady = event("e2", "(service ocr) has reached a steady state.");
    account
        .script(
            "ecs:DescribeServices",
            vec![
                pass(),
                services(
                    &account,
                    json!([
                        deployment("PRIMARY", &new, "IN_PROGRESS", 0, ""),
                        deployment("ACTIVE", &old, "COMPLETED", 2, "")
                    ]),
                    json!([]),
                ),
                services(
                    &account,
                    json!([
                        deployment("PRIMARY", &new, "IN_PROGRESS", 1, ""),
                        deployment("ACTIVE", &old, "COMPLETED", 2, "")
                    ]),
                    json!([started]),
                ),
                services(
                    &account,
                    json!([deployment("PRIMARY", &new, "COMPLETED", 2, "done")]),
                    json!([steady, started]),
                ),
            ],
        )
        .await;
    let (code, report, stderr) = roll_out(&project, &account);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(service(&report, "ocr")["result"], "rolled_out");
    assert_eq!(stderr.matches("has started 2 tasks").count(), 1, "{stderr}");
    assert_eq!(
        stderr.matches("has reached a steady state").count(),
        1,
        "{stderr}"
    );
}

#[tokio::test]
async fn a_failed_deployment_is_a_failed_deploy_with_the_stopped_tasks_reasons() {
    let (account, project) = ready().await;
    let new = td(&account, 2);
    let task = format!(
        "arn:aws:ecs:eu-west-1:{}:task/facturascan-local/0f1e2d3c",
        account.account_id
    );
    account
        .script(
            "ecs:DescribeServices",
            vec![
                pass(),
                services(
                    &account,
                    json!([deployment(
                        "PRIMARY",
                        &new,
                        "FAILED",
                        0,
                        "ECS deployment circuit breaker: tasks failed to start."
                    )]),
                    json!([]),
                ),
            ],
        )
        .await;
    account
        .script(
            "ecs:ListTasks",
            vec![json!({"status": 200, "body": json!({"taskArns": [task]}).to_string(), "content_type": "application/x-amz-json-1.1"})],
        )
        .await;
    let tasks = json!({"tasks": [{
        "taskArn": task,
        "taskDefinitionArn": new,
        "lastStatus": "STOPPED",
        "stoppedReason": "CannotPullContainerError: pull image manifest has been retried 5 time(s): not found"
    }], "failures": []});
    account
        .script(
            "ecs:DescribeTasks",
            vec![json!({"status": 200, "body": tasks.to_string(), "content_type": "application/x-amz-json-1.1"})],
        )
        .await;
    let (code, report, stderr) = roll_out(&project, &account);
    assert_eq!(code, Some(1), "{stderr}");
    let ocr = service(&report, "ocr");
    assert_eq!(ocr["result"], "failed");
    assert_eq!(
        ocr["message"],
        "deployment FAILED: ECS deployment circuit breaker: tasks failed to start."
    );
    assert!(
        stderr.contains("task 0f1e2d3c stopped: CannotPullContainerError"),
        "{stderr}"
    );
    assert_eq!(report["services"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn ending_stable_on_the_old_revision_after_a_rollback_is_a_failure() {
    let (account, project) = ready().await;
    let old = td(&account, 1);
    account
        .script(
            "ecs:DescribeServices",
            vec![
                pass(),
                // Stable, complete, every task running, but on the old revision.
                services(
                    &account,
                    json!([deployment(
                        "PRIMARY",
                        &old,
                        "COMPLETED",
                        2,
                        "ECS deployment ecs-svc/1 completed."
                    )]),
                    json!([]),
                ),
            ],
        )
        .await;
    let (code, report, stderr) = roll_out(&project, &account);
    assert_eq!(code, Some(1), "{stderr}");
    let message = service(&report, "ocr")["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.starts_with(
            "rolled back: the PRIMARY deployment runs facturascan-local-ocr:1 (COMPLETED)"
        ),
        "{message}"
    );
}

#[tokio::test]
async fn a_rollout_past_its_deadline_fails_with_the_last_state() {
    let (account, project) = ready().await;
    let new = td(&account, 2);
    let stuck = services(
        &account,
        json!([deployment("PRIMARY", &new, "IN_PROGRESS", 1, "")]),
        json!([]),
    );
    let mut answers = vec![pass()];
    answers.extend(std::iter::repeat_n(stuck, 30));
    account.script("ecs:DescribeServices", answers).await;
    let (code, report, stderr) = roll_out(&project, &account);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(
        service(&report, "ocr")["message"],
        "not finished within 10 s (deadline_seconds): IN_PROGRESS, running 1 of 2"
    );
}
