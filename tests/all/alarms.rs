//! `facturactl alarms plan|apply` against the harness, through the CloudWatch CBOR bridge.

use serde_json::Value;

use crate::support::emulator::Account;
use crate::support::{Project, run_json};

/// An `alarms` or `deploy` run on the local environment.
fn run(project: &Project, account: &Account, args: &[&str]) -> (Option<i32>, Value, String) {
    let mut args = args.to_vec();
    args.extend_from_slice(&["--env", "local"]);
    run_json(project, account, &args)
}

fn changed(report: &Value) -> Vec<(String, String)> {
    report["changes"]
        .as_array()
        .map(|changes| {
            changes
                .iter()
                .filter(|c| c["action"] != "unchanged")
                .map(|c| {
                    (
                        c["name"].as_str().unwrap_or_default().to_string(),
                        c["action"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn alarms_are_created_updated_and_deleted_exactly_as_defined() {
    let account = Account::new();
    let project = Project::copy();
    // Topic ARNs name the account: use this test's own.
    project.replace(
        "environments/local.yaml",
        "account_id: \"123456789012\"",
        &format!("account_id: \"{}\"", account.account_id),
    );
    // A deploy applies the alarms after the stacks.
    let (code, deployed, stderr) = run(&project, &account, &["deploy"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(changed(&deployed["alarms"]).len(), 13, "{deployed}");
    let (code, _, _) = run(
        &project,
        &account,
        &["alarms", "plan", "--detailed-exitcode"],
    );
    assert_eq!(code, Some(0), "nothing left to do");

    // Every action points at a topic the alerts stack created.
    let config = account.sdk_config(3).await;
    let cfn = aws_sdk_cloudformation::Client::new(&config);
    let alerts = cfn
        .describe_stacks()
        .stack_name("facturascan-local-alerts")
        .send()
        .await
        .expect("alerts");
    let topics: Vec<String> = alerts.stacks()[0]
        .outputs()
        .iter()
        .filter_map(|o| o.output_value().map(str::to_string))
        .collect();
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&config);
    let alarms = cloudwatch
        .describe_alarms()
        .alarm_name_prefix("facturascan-local-")
        .send()
        .await
        .expect("describe");
    assert_eq!(alarms.metric_alarms().len(), 13);
    for alarm in alarms.metric_alarms() {
        assert!(
            !alarm.alarm_actions().is_empty(),
            "{:?} notifies someone",
            alarm.alarm_name()
        );
        for action in alarm.alarm_actions().iter().chain(alarm.ok_actions()) {
            assert!(topics.contains(action), "{action} is not one of {topics:?}");
        }
    }
    // Local alarms are wired but silent (`notifications.alarm_actions: false`).
    assert!(
        alarms
            .metric_alarms()
            .iter()
            .all(|a| a.actions_enabled() == Some(false))
    );
    // Each topic's subscriptions match its channel: the email channel's addresses, the
    // Slack channel's forwarder Lambda.
    let sns = aws_sdk_sns::Client::new(&config);
    let prefix = format!(
        "arn:aws:sns:eu-west-1:{}:facturascan-local-alerts-",
        account.account_id
    );
    let subscriptions = async |channel: &str| {
        let mut found: Vec<(String, String)> = sns
            .list_subscriptions_by_topic()
            .topic_arn(format!("{prefix}{channel}"))
            .send()
            .await
            .expect("subscriptions")
            .subscriptions()
            .iter()
            .map(|s| {
                (
                    s.protocol().unwrap_or_default().to_string(),
                    s.endpoint().unwrap_or_default().to_string(),
                )
            })
            .collect();
        found.sort();
        found
    };
    assert_eq!(
        subscriptions("ops-email").await,
        [(
            "email".to_string(),
            "devops+local@facturascan.com".to_string()
        )]
    );
    assert_eq!(
        subscriptions("dev-monitoring").await,
        [(
            "lambda".to_string(),
            format!(
                "arn:aws:lambda:eu-west-1:{}:function:facturascan-local-slack-dev-monitoring",
                account.account_id
            )
        )]
    );
    let latency = alarms
        .metric_alarms()
        .iter()
        .find(|a| a.alarm_name() == Some("facturascan-local-ocr-latency"))
        .expect("OCR latency alarm");
    assert_eq!(
        (latency.threshold(), latency.extended_statistic()),
        (Some(5000.0), Some("p95"))
    );

    // An alarm deleted by hand: the plan shows it (exit 2), apply brings it back.
    cloudwatch
        .delete_alarms()
        .alarm_names("facturascan-local-api-5xx-rate")
        .send()
        .await
        .expect("delete by hand");
    let (code, plan, _) = run(
        &project,
        &account,
        &["alarms", "plan", "--detailed-exitcode"],
    );
    assert_eq!(code, Some(2));
    assert_eq!(
        changed(&plan),
        [(
            "facturascan-local-api-5xx-rate".to_string(),
            "create".to_string()
        )]
    );
    let (code, applied, stderr) = run(&project, &account, &["alarms", "apply"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(changed(&applied).len(), 1);

    // A second apply writes nothing.
    account.reset_requests().await;
    let (_, again, _) = run(&project, &account, &["alarms", "apply"]);
    assert!(changed(&again).is_empty(), "{again}");
    assert_eq!(account.requests().await["writes"], 0);

    // A changed threshold updates exactly that alarm.
    project.append(
        "environments/local.yaml",
        "\nalarms:\n  ocr-latency:\n    threshold: 4000\n",
    );
    let (_, updated, _) = run(&project, &account, &["alarms", "apply"]);
    assert_eq!(
        changed(&updated),
        [(
            "facturascan-local-ocr-latency".to_string(),
            "update".to_string()
        )]
    );

    // A hand-made alarm under the same prefix is not the tool's: it stays. Removing a
    // definition (the DLQ alarms' settings disabled) deletes exactly its alarms.
    cloudwatch
        .put_metric_alarm()
        .alarm_name("facturascan-local-hand-made")
        .namespace("Custom")
        .metric_name("Anything")
        .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .expect("hand-made alarm");
    project.append(
        "environments/local.yaml",
        "  dlq-depth:\n    enabled: false\n",
    );
    let (_, deleted, stderr) = run(&project, &account, &["alarms", "apply"]);
    let mut gone = changed(&deleted);
    gone.sort();
    assert_eq!(
        gone,
        [
            (
                "facturascan-local-invoices-dlq-depth".to_string(),
                "delete".to_string()
            ),
            (
                "facturascan-local-validation-dlq-depth".to_string(),
                "delete".to_string()
            ),
        ],
        "{stderr}"
    );
    let left = cloudwatch
        .describe_alarms()
        .alarm_name_prefix("facturascan-local-")
        .send()
        .await
        .expect("describe");
    let names: Vec<&str> = left
        .metric_alarms()
        .iter()
        .filter_map(|a| a.alarm_name())
        .collect();
    assert!(names.contains(&"facturascan-local-hand-made"));
    assert_eq!(names.len(), 12, "{names:?}");
}
