//! Audits against the harness: clean after a deploy, then every out-of-band change made
//! with the AWS SDK (as a person would in the console) is found and named. CloudFormation
//! drift results, which the emulator cannot produce, come as recorded responses.

use serde_json::{Value, json};

use crate::rollouts::{package, project, push_image};
use crate::support::emulator::Account;
use crate::support::{Project, repo_root, run_json};

fn audit(project: &Project, account: &Account, args: &[&str]) -> (Option<i32>, Value, String) {
    let mut all = vec!["audit"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--env", "local"]);
    run_json(project, account, &all)
}

fn kinds(report: &Value) -> Vec<(String, String)> {
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            (
                f["kind"].as_str().unwrap_or("").to_string(),
                f["resource"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn has(report: &Value, kind: &str, resource: &str) -> bool {
    kinds(report)
        .iter()
        .any(|(k, r)| k == kind && r.starts_with(resource))
}

/// A local deploy with an image and two packages, so the record has services.
async fn deployed(account: &Account) -> Project {
    let project = project(account);
    // The registry stack creates the repository; the build pushes into it.
    let (code, _, stderr) = run_json(&project, account, &["deploy", "--env", "local"]);
    assert_eq!(code, Some(0), "{stderr}");
    push_image(account, "facturascan/ocr", "v1", "f").await;
    let parser = package(&project, "parser", "one");
    let validator = package(&project, "validator", "one");
    let (code, _, stderr) = run_json(
        &project,
        account,
        &[
            "deploy",
            "--env",
            "local",
            "--image",
            "ocr=v1",
            "--package",
            &format!("parser={parser}"),
            "--package",
            &format!("validator={validator}"),
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    project
}

#[tokio::test]
async fn a_clean_deploy_audits_clean_and_every_out_of_band_change_is_named() {
    let account = Account::new();
    let project = deployed(&account).await;
    // The emulator offers no CloudFormation drift detection: not a clean bill, but
    // `incomplete` (exit 1), naming the check that did not run and why, in one line.
    let (code, report, stderr) = audit(&project, &account, &["drift"]);
    assert_eq!(
        code,
        Some(1),
        "incomplete after a deploy: {report}\n{stderr}"
    );
    assert_eq!(report["verdict"], "incomplete", "{report}");
    let not_run = report["not_run"].as_array().expect("not_run");
    assert_eq!(not_run.len(), 1, "{report}");
    assert!(
        not_run[0]["why"]
            .as_str()
            .is_some_and(|w| w.starts_with("drift detection not offered here")
                && !w.contains("ServiceError")
                && !w.contains('\n')),
        "one sentence, no SDK structure: {report}"
    );
    // Where a check is known to be missing, --allow-incomplete: nothing found, exit 0.
    let (code, report, _) = audit(&project, &account, &["drift", "--allow-incomplete"]);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["verdict"], "incomplete");
    let (code, _, _) = audit(&project, &account, &["alarms"]);
    assert_eq!(code, Some(0));

    let config = account.sdk_config(3).await;
    let ecs = aws_sdk_ecs::Client::new(&config);
    let lambda = aws_sdk_lambda::Client::new(&config);
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&config);
    let sns = aws_sdk_sns::Client::new(&config);
    let cluster = "facturascan-local";

    // ECS: desired count on ocr; a task definition registered and set by hand on backend.
    ecs.update_service()
        .cluster(cluster)
        .service("ocr")
        .desired_count(3)
        .send()
        .await
        .expect("scale");
    let current = ecs
        .describe_services()
        .cluster(cluster)
        .services("ocr")
        .send()
        .await
        .expect("describe");
    let td = ecs
        .describe_task_definition()
        .task_definition(current.services()[0].task_definition().unwrap_or_default())
        .send()
        .await
        .expect("td")
        .task_definition
        .expect("td");
    let by_hand = ecs
        .register_task_definition()
        .family(td.family().unwrap_or_default())
        .set_container_definitions(Some(td.container_definitions().to_vec()))
        .set_requires_compatibilities(Some(td.requires_compatibilities().to_vec()))
        .set_network_mode(td.network_mode().cloned())
        .cpu("256")
        .memory("512")
        .send()
        .await
        .expect("register by hand");
    let arn = by_hand
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .expect("arn")
        .to_string();
    ecs.update_service()
        .cluster(cluster)
        .service("ocr")
        .task_definition(&arn)
        .send()
        .await
        .expect("set by hand");

    // Lambda: parser's alias moved to another version; validator given weights; memory changed.
    let function = |name: &str| format!("facturascan-local-{name}");
    let published = lambda
        .publish_version()
        .function_name(function("parser"))
        .description("by hand")
        .send()
        .await
        .expect("publish");
    let other = published.version().expect("version").to_string();
    lambda
        .update_alias()
        .function_name(function("parser"))
        .name("live")
        .function_version("$LATEST")
        .send()
        .await
        .expect("move alias");
    let validator_alias = lambda
        .get_alias()
        .function_name(function("validator"))
        .name("live")
        .send()
        .await
        .expect("alias");
    lambda
        .update_alias()
        .function_name(function("validator"))
        .name("live")
        .routing_config(
            aws_sdk_lambda::types::AliasRoutingConfiguration::builder()
                .additional_version_weights(other.clone(), 0.3)
                .build(),
        )
        .function_version(validator_alias.function_version().unwrap_or_default())
        .send()
        .await
        .expect("weights");
    lambda
        .update_function_configuration()
        .function_name(function("validator"))
        .memory_size(1024)
        .send()
        .await
        .expect("memory");

    // Alarms: one deleted, one threshold changed, one action removed.
    let alarm = |name: &str| format!("facturascan-local-{name}");
    cloudwatch
        .delete_alarms()
        .alarm_names(alarm("api-5xx-rate"))
        .send()
        .await
        .expect("delete");
    let described = cloudwatch
        .describe_alarms()
        .alarm_names(alarm("ocr-latency"))
        .alarm_names(alarm("rds-connections"))
        .send()
        .await
        .expect("describe alarms");
    for a in described.metric_alarms() {
        let mut put = cloudwatch
            .put_metric_alarm()
            .alarm_name(a.alarm_name().unwrap_or_default())
            .set_alarm_description(a.alarm_description().map(str::to_string))
            .set_namespace(a.namespace().map(str::to_string))
            .set_metric_name(a.metric_name().map(str::to_string))
            .set_dimensions(Some(a.dimensions().to_vec()))
            .set_statistic(a.statistic().cloned())
            .set_extended_statistic(a.extended_statistic().map(str::to_string))
            .set_period(a.period())
            .set_evaluation_periods(a.evaluation_periods())
            .set_datapoints_to_alarm(a.datapoints_to_alarm())
            .set_comparison_operator(a.comparison_operator().cloned())
            .set_treat_missing_data(a.treat_missing_data().map(str::to_string))
            .set_actions_enabled(a.actions_enabled())
            .set_ok_actions(Some(a.ok_actions().to_vec()));
        if a.alarm_name() == Some(alarm("ocr-latency").as_str()) {
            put = put
                .threshold(9000.0)
                .set_alarm_actions(Some(a.alarm_actions().to_vec()));
        } else {
            put = put
                .set_threshold(a.threshold())
                .set_alarm_actions(Some(Vec::new()));
        }
        put.send().await.expect("put by hand");
    }
    // The ops email unsubscribed.
    let topic = format!(
        "arn:aws:sns:eu-west-1:{}:facturascan-local-alerts-ops-email",
        account.account_id
    );
    let subs = sns
        .list_subscriptions_by_topic()
        .topic_arn(&topic)
        .send()
        .await
        .expect("subs");
    for s in subs.subscriptions() {
        sns.unsubscribe()
            .subscription_arn(s.subscription_arn().unwrap_or_default())
            .send()
            .await
            .expect("unsubscribe");
    }

    // A backend service facturactl never rolled out (created by hand, at 4 tasks): it is
    // audited against the config anyway.
    ecs.create_service()
        .cluster(cluster)
        .service_name("backend")
        .task_definition(&arn)
        .desired_count(4)
        .send()
        .await
        .expect("a service created by hand");

    let (code, report, stderr) = audit(&project, &account, &["drift"]);
    assert_eq!(code, Some(2), "findings exit 2: {stderr}");
    let expected = [
        ("ecs.desired_count", "service backend"),
        ("ecs.desired_count", "service ocr"),
        ("ecs.task_definition", "service ocr"),
        ("lambda.alias", "service parser"),
        ("lambda.weights", "service validator"),
        ("lambda.configuration", "service validator memory_mb"),
        ("alarm.missing", "alarm facturascan-local-api-5xx-rate"),
        ("alarm.threshold", "alarm facturascan-local-ocr-latency"),
        ("alarm.actions", "alarm facturascan-local-rds-connections"),
        (
            "topic.subscription",
            "topic facturascan-local-alerts-ops-email",
        ),
    ];
    for (kind, resource) in expected {
        assert!(
            has(&report, kind, resource),
            "{kind} on {resource} not found in {:#?}",
            kinds(&report)
        );
    }
    let threshold = report["findings"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["kind"] == "alarm.threshold"))
        .expect("threshold finding");
    assert_eq!(
        (threshold["expected"].as_str(), threshold["actual"].as_str()),
        (Some("5000.0"), Some("9000.0"))
    );
    assert!(
        threshold["fix"]
            .as_str()
            .is_some_and(|f| f.contains("alarms apply"))
    );

    // Findings can be told to the notification channels (the ops email, through SNS).
    let (code, told, _) = audit(&project, &account, &["alarms", "--notify"]);
    assert_eq!(code, Some(2));
    assert_eq!(
        (
            told["notifications"][0]["channel"].as_str(),
            told["notifications"][0]["sent"].as_bool()
        ),
        (Some("ops-email"), Some(true)),
        "{told}"
    );

    // The Markdown form, for a GitHub step summary.
    let output = project
        .cmd()
        .env("AWS_ACCESS_KEY_ID", &account.access_key)
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .args([
            "audit",
            "alarms",
            "--env",
            "local",
            "--endpoint-url",
            &account.endpoint,
            "--format",
            "markdown",
        ])
        .output()
        .expect("run");
    let markdown = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        markdown.starts_with("### alarms audit of `local`:"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| high | alarm facturascan-local-api-5xx-rate | alarm.missing |"),
        "{markdown}"
    );
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(repo_root().join("tests/fixtures/cloudformation").join(name))
        .expect("fixture")
}

fn detection(
    stack: &str,
    detection: &str,
    drift: Option<&str>,
    reason: Option<&str>,
    count: u32,
) -> Value {
    let body = fixture("describe-stack-drift-detection-status.xml")
        .replace("STACK_NAME", stack)
        .replace("DETECTION_STATUS", detection)
        .replace(
            "DRIFT_STATUS",
            &drift
                .map(|d| format!("<StackDriftStatus>{d}</StackDriftStatus>"))
                .unwrap_or_default(),
        )
        .replace(
            "DETECTION_REASON",
            &reason
                .map(|r| format!("<DetectionStatusReason>{r}</DetectionStatusReason>"))
                .unwrap_or_default(),
        )
        .replace("DRIFTED_COUNT", &count.to_string());
    json!({"status": 200, "body": body})
}

#[tokio::test]
async fn cloudformation_drift_results_become_findings() {
    let account = Account::new();
    let project = project(&account);
    let (code, _, stderr) = run_json(
        &project,
        &account,
        &["deploy", "--env", "local", "--stack", "auth"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let stack = "facturascan-local-auth";
    let started = json!({"status": 200, "body": fixture("detect-stack-drift.xml")});
    let drifts = json!({"status": 200, "body": fixture("describe-stack-resource-drifts.xml").replace("STACK_NAME", stack)});
    let drift_audit = || audit(&project, &account, &["drift", "--stack", "auth"]);

    // IN_SYNC: clean.
    account
        .script("cloudformation:DetectStackDrift", vec![started.clone()])
        .await;
    account
        .script(
            "cloudformation:DescribeStackDriftDetectionStatus",
            vec![
                detection(stack, "DETECTION_IN_PROGRESS", None, None, 0),
                detection(stack, "DETECTION_COMPLETE", Some("IN_SYNC"), None, 0),
            ],
        )
        .await;
    let (code, report, stderr) = drift_audit();
    assert_eq!(code, Some(0), "{report}\n{stderr}");

    // DRIFTED: a property changed, a resource deleted.
    account
        .script("cloudformation:DetectStackDrift", vec![started.clone()])
        .await;
    account
        .script(
            "cloudformation:DescribeStackDriftDetectionStatus",
            vec![detection(
                stack,
                "DETECTION_COMPLETE",
                Some("DRIFTED"),
                None,
                2,
            )],
        )
        .await;
    account
        .script("cloudformation:DescribeStackResourceDrifts", vec![drifts])
        .await;
    let (code, report, _) = drift_audit();
    assert_eq!(code, Some(2), "{report}");
    let modified = report["findings"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["kind"] == "stack.resource_modified"))
        .expect("modified");
    assert_eq!(
        modified["resource"],
        format!("{stack}/UserPool (AWS::Cognito::UserPool) /Policies/PasswordPolicy/MinimumLength")
    );
    assert_eq!(
        (modified["expected"].as_str(), modified["actual"].as_str()),
        (Some("12"), Some("8"))
    );
    assert!(
        has(
            &report,
            "stack.resource_deleted",
            &format!("{stack}/DashboardClient")
        ),
        "{report}"
    );

    // Detection failed: a check not run (exit 1), not a finding, and the rest still runs.
    account
        .script("cloudformation:DetectStackDrift", vec![started])
        .await;
    account
        .script(
            "cloudformation:DescribeStackDriftDetectionStatus",
            vec![detection(
                stack,
                "DETECTION_FAILED",
                None,
                Some("Failed to detect drift on resource [UserPool]: access denied"),
                0,
            )],
        )
        .await;
    let (code, report, _) = drift_audit();
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(report["verdict"], "incomplete", "{report}");
    assert!(
        report["not_run"]
            .as_array()
            .is_some_and(|n| n
                .iter()
                .any(|n| n["why"].as_str().is_some_and(|n| n.contains(
                    "drift detection failed: Failed to detect drift on resource [UserPool]"
                )))),
        "{report}"
    );
}
