//! `plan --save FILE` then `deploy --plan FILE`: what was reviewed is what runs, and a plan
//! that no longer holds is refused before any change (issue 29, item 2).

use serde_json::Value;

use crate::support::emulator::{Account, resource_writes};
use crate::support::{Project, run_json as run};

/// The local environment deployed in `account`, and a template change to plan.
fn deployed(account: &Account) -> Project {
    let project = Project::copy();
    let (code, report, stderr) = run(&project, account, &["deploy", "--env", "local"]);
    assert_eq!(code, Some(0), "{stderr}\n{report}");
    project.replace(
        "templates/stacks/auth.yaml.tera",
        "          TemporaryPasswordValidityDays: 3",
        "          TemporaryPasswordValidityDays: 2",
    );
    project
}

fn stack_action(report: &Value, stack: &str) -> String {
    report["stacks"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["stack"] == stack))
        .map(|s| {
            format!(
                "{}/{}",
                s["action"].as_str().unwrap_or(""),
                s["result"].as_str().unwrap_or("")
            )
        })
        .unwrap_or_else(|| panic!("{stack} not in {report}"))
}

async fn temporary_password_days(account: &Account) -> String {
    let cfn = aws_sdk_cloudformation::Client::new(&account.sdk_config(3).await);
    let template = cfn
        .get_template()
        .stack_name("facturascan-local-auth")
        .send()
        .await
        .expect("auth template");
    let body = template.template_body().unwrap_or_default();
    let at = body
        .find("TemporaryPasswordValidityDays")
        .expect("in the template");
    body[at..]
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take(1)
        .collect()
}

#[tokio::test]
async fn a_saved_plan_executes_exactly_its_change_sets() {
    let account = Account::new();
    let project = deployed(&account);
    let file = project.path().join("local.plan.json");
    let file = file.to_str().expect("utf-8");
    let (code, plan, stderr) = run(
        &project,
        &account,
        &["plan", "--env", "local", "--save", file],
    );
    assert_eq!(code, Some(0), "{stderr}\n{plan}");
    assert_eq!(plan["saved_to"], file, "{plan}");
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(file).expect("plan file")).expect("JSON");
    let with_change_sets: Vec<&str> = saved["stacks"]
        .as_array()
        .expect("stacks")
        .iter()
        .filter(|s| s["change_set"].is_string())
        .map(|s| s["stack"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(with_change_sets, ["auth"], "{saved}");
    assert_eq!(
        temporary_password_days(&account).await,
        "3",
        "nothing applied by plan"
    );

    // The approved plan runs: the auth stack's change set, nothing else rewritten.
    account.reset_requests().await;
    let (code, report, stderr) = run(
        &project,
        &account,
        &["deploy", "--env", "local", "--plan", file, "--yes"],
    );
    assert_eq!(code, Some(0), "{stderr}\n{report}");
    assert_eq!(stack_action(&report, "auth"), "update/succeeded");
    assert_eq!(stack_action(&report, "network"), "unchanged/succeeded");
    let ops = account.requests().await;
    assert_eq!(
        ops["by_operation"]["cloudformation:ExecuteChangeSet"], 1,
        "{ops}"
    );
    assert!(
        ops["by_operation"]["cloudformation:UpdateStack"].is_null(),
        "{ops}"
    );
    assert_eq!(temporary_password_days(&account).await, "2");
    assert!(
        report["record"].is_string(),
        "recorded like any deploy: {report}"
    );

    // Applied once: its change set is gone, so the same file is refused.
    let (code, refused, _) = run(
        &project,
        &account,
        &["deploy", "--env", "local", "--plan", file, "--yes"],
    );
    assert_eq!(code, Some(3), "{refused}");
    assert_eq!(refused["status"], "refused", "{refused}");
}

#[tokio::test]
async fn a_plan_whose_stack_or_configuration_moved_is_refused_and_nothing_changes() {
    let account = Account::new();
    let project = deployed(&account);
    let file = project.path().join("local.plan.json");
    let file = file.to_str().expect("utf-8");
    let (code, _, stderr) = run(
        &project,
        &account,
        &["plan", "--env", "local", "--save", file],
    );
    assert_eq!(code, Some(0), "{stderr}");

    // The configuration moves after the review: refused, nothing written.
    project.replace(
        "templates/stacks/auth.yaml.tera",
        "          TemporaryPasswordValidityDays: 2",
        "          TemporaryPasswordValidityDays: 1",
    );
    account.reset_requests().await;
    let (code, refused, stderr) = run(
        &project,
        &account,
        &["deploy", "--env", "local", "--plan", file, "--yes"],
    );
    assert_eq!(code, Some(3), "{stderr}\n{refused}");
    let message = refused["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("the template of `auth` is not the planned one"),
        "{refused}"
    );
    assert!(
        refused["help"]
            .as_str()
            .is_some_and(|h| h.contains("plan --save")),
        "{refused}"
    );
    assert_eq!(resource_writes(&account.requests().await), 0);

    // The stack moves (another deploy of it): refused, nothing written.
    project.replace(
        "templates/stacks/auth.yaml.tera",
        "          TemporaryPasswordValidityDays: 1",
        "          TemporaryPasswordValidityDays: 2",
    );
    project.replace(
        "environments/local.yaml",
        "\nstacks:\n",
        "\nstacks:\n  database:\n    parameters:\n      MaxConnections: 150\n",
    );
    let (code, _, stderr) = run(
        &project,
        &account,
        &["deploy", "--env", "local", "--stack", "database"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    account.reset_requests().await;
    let (code, refused, stderr) = run(
        &project,
        &account,
        &["deploy", "--env", "local", "--plan", file, "--yes"],
    );
    assert_eq!(code, Some(3), "{stderr}\n{refused}");
    let message = refused["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("stack `database` changed since the plan"),
        "{refused}"
    );
    assert_eq!(resource_writes(&account.requests().await), 0);
    assert_eq!(
        temporary_password_days(&account).await,
        "3",
        "auth untouched"
    );

    // Not a plan at all: refused before any AWS call (exit 1).
    std::fs::write(file, "{\"format\": 9}").expect("write");
    account.reset_requests().await;
    let (code, error, _) = run(
        &project,
        &account,
        &["deploy", "--env", "local", "--plan", file, "--yes"],
    );
    assert_eq!(code, Some(1), "{error}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("is not a plan")),
        "{error}"
    );
    assert_eq!(account.requests().await["total"], 0);
}
