//! Retraining: the rendered schedule, drift rule and job (their permissions judged by the
//! policy rules; cfn_lint.rs lints them with every stack), and `retrain` on the emulator:
//! a run that fails registers nothing, a run that succeeds becomes a version, its input
//! checked against the serving service's, and a schedule changed out of band is found by
//! the drift audit.

use aws_sdk_s3::primitives::ByteStream;
use serde_json::Value;

use crate::models::{local_scoring, model};
use crate::support::emulator::Account;
use crate::support::{Project, run_json};

const BUCKET_DATA: &str = "validated/";

fn records(rows: &[(&str, f64, bool)], total_as: &str) -> String {
    rows.iter()
        .map(|(supplier, total, fraud)| {
            let total = if total_as == "string" {
                format!("\"{total}\"")
            } else {
                format!("{total}")
            };
            format!(
                r#"{{"supplier": "{supplier}", "vat": "ES1", "total": {total}, "currency": "EUR", "issued_at": "2026-11-30", "fraud": {fraud}}}"#
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn put_batch(account: &Account, key: &str, body: String) {
    account
        .s3()
        .await
        .put_object()
        .bucket(format!(
            "facturascan-local-processed-{}",
            account.account_id
        ))
        .key(format!("{BUCKET_DATA}{key}"))
        .body(ByteStream::from(body.into_bytes()))
        .send()
        .await
        .expect("put batch data");
}

fn retrain(project: &Project, account: &Account, extra: &[&str]) -> (Option<i32>, Value, String) {
    let mut args = vec!["retrain", "fraud-scoring", "--env", "local"];
    args.extend_from_slice(extra);
    run_json(project, account, &args)
}

fn versions(project: &Project, account: &Account) -> usize {
    let (code, out, stderr) = model(project, account, &["list", "fraud-scoring"]);
    assert_eq!(code, Some(0), "{stderr}");
    out["versions"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn a_run_is_followed_to_its_end_and_its_output_registered_never_deployed() {
    let account = Account::new();
    let project = local_scoring(&account, "");
    let (code, _, stderr) = run_json(&project, &account, &["deploy", "--env", "local"]);
    assert_eq!(code, Some(0), "{stderr}");

    // The training image is checked by the preflight: a warning until it is pushed into
    // the repository the registry stack now creates for it.
    let training_image = || async {
        let (_, report, stderr) = run_json(&project, &account, &["preflight", "--env", "local"]);
        report["checks"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| {
                c["subject"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("training job of fraud-scoring"))
            })
            .map(|c| c["status"].as_str().unwrap_or_default().to_string())
            .unwrap_or_else(|| panic!("no training image check: {report} {stderr}"))
    };
    assert_eq!(training_image().await, "warning");
    crate::rollouts::push_image(&account, "facturascan/fraud-training", "1.0.0", "t").await;
    assert_eq!(training_image().await, "passed");

    // No batch data: the job exits 2, the run is reported failed, nothing is registered.
    let (code, out, stderr) = retrain(&project, &account, &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(out["kind"], "training", "{out}");
    assert!(stderr.contains("no batch data under"), "{stderr}");
    assert!(stderr.contains("exit code 2"), "{stderr}");
    assert!(
        stderr.contains("/facturascan/local/ecs/fraud-scoring-training"),
        "names the log group: {stderr}"
    );
    assert_eq!(versions(&project, &account), 0);

    put_batch(
        &account,
        "2026-11.jsonl",
        records(
            &[
                ("acme", 10.5, false),
                ("acme", 12.0, false),
                ("evil", 99.0, true),
            ],
            "number",
        ),
    )
    .await;
    let (code, out, stderr) = retrain(&project, &account, &["--alias", "candidate"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("finished (exit code 0)"),
        "followed: {stderr}"
    );
    let run = out["run"].as_str().expect("run id").to_string();
    assert_eq!(out["version"]["version"], 1, "{out}");
    assert_eq!(out["version"]["metrics"]["samples"], 3.0, "{out}");
    assert_eq!(out["version"]["params"]["training_run"], run.as_str());
    assert_eq!(
        out["version"]["params"]["training_image"],
        "facturascan/fraud-training:1.0.0"
    );
    assert_eq!(out["version"]["input"]["total"], "number");
    assert_eq!(out["aliases"]["candidate"], 1);
    assert!(
        out["task"]
            .as_str()
            .is_some_and(|t| t.contains(":task/facturascan-local/")),
        "{out}"
    );
    assert!(
        out["output"]
            .as_str()
            .is_some_and(|o| o.ends_with(&format!("/training/fraud-scoring/{run}/"))),
        "{out}"
    );
    // Registered, not deployed: the service still runs no model.
    let (code, status, stderr) = run_json(&project, &account, &["status", "--env", "local"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        !status.to_string().contains(&run),
        "a retrain deploys nothing: {status}"
    );
    // The version resolves (hash checked) like any registered one.
    let (code, shown, stderr) = model(&project, &account, &["show", "fraud-scoring", "candidate"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(shown["versions"][0]["version"], 1);

    // Its lineage: the image by the digest ECS reports (the tag can move) and every
    // object the run read, by ETag; pending approval, with nothing to compare with yet.
    let lineage = &out["version"]["lineage"];
    assert_eq!(lineage["run"], run.as_str(), "{out}");
    assert!(
        lineage["image_digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:")),
        "{out}"
    );
    assert_eq!(
        lineage["data"][0]["key"], "validated/2026-11.jsonl",
        "{out}"
    );
    assert!(
        lineage["data"][0]["etag"]
            .as_str()
            .is_some_and(|e| !e.is_empty())
    );
    assert_eq!(out["approval"]["state"], "pending", "{out}");
    assert_eq!(
        out["approval"]["comparison"]["kind"], "no_champion",
        "{out}"
    );
    assert_eq!(out["identical"], false);

    // The same run twice is one version: the run was decided.
    let (code, out, stderr) = retrain(&project, &account, &["--register", &run]);
    assert_eq!(code, Some(3), "{stderr}");
    assert_eq!(out["kind"], "refused", "{out}");
    assert!(
        stderr.contains("was decided already: registered as version 1"),
        "{stderr}"
    );
    assert_eq!(versions(&project, &account), 1);

    // The same data again trains the same bytes: that version, not a new one.
    let (code, out, stderr) = retrain(&project, &account, &["--alias", "again"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(out["identical"], true, "{out}");
    assert_eq!(out["version"]["version"], 1, "{out}");
    assert_eq!(out["aliases"]["again"], 1, "{out}");
    assert_eq!(versions(&project, &account), 1);
}

#[tokio::test]
async fn a_run_whose_input_is_not_the_services_is_refused_and_registers_nothing() {
    let account = Account::new();
    let project = local_scoring(&account, "");
    let (code, _, stderr) = run_json(&project, &account, &["deploy", "--env", "local"]);
    assert_eq!(code, Some(0), "{stderr}");
    put_batch(
        &account,
        "2026-11.jsonl",
        records(&[("acme", 10.5, false), ("evil", 99.0, true)], "string"),
    )
    .await;
    let (code, out, stderr) = retrain(&project, &account, &[]);
    assert_eq!(code, Some(3), "{stderr}");
    assert_eq!(out["kind"], "refused", "{out}");
    assert!(
        stderr.contains("`total` is string in the model, number as declared"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was registered"), "{stderr}");
    assert_eq!(versions(&project, &account), 0);
}

/// Writes what a run started by the schedule writes (its id is its ECS task id): the
/// artifact, then `model.json` (with `metrics`) unless the run is still going. Its lineage
/// names the image digest itself: ECS knows no task of that id.
async fn put_run(account: &Account, run: &str, total: &str, ended: bool) {
    put_run_as(
        account,
        run,
        total,
        ended,
        &format!("weights of {run}"),
        r#"{"samples": 40}"#,
    )
    .await;
}

async fn put_run_as(
    account: &Account,
    run: &str,
    total: &str,
    ended: bool,
    bytes: &str,
    metrics: &str,
) {
    let s3 = account.s3().await;
    let bucket = format!("facturascan-local-models-{}", account.account_id);
    let mut files = vec![("model", bytes.to_string())];
    if ended {
        files.push((
            "model.json",
            format!(
                r#"{{"parameters": {{"smoothing": 1}}, "metrics": {metrics},
                    "input": {{"supplier": "string", "vat": "string", "total": "{total}",
                               "currency": "string", "issued_at": "string"}},
                    "lineage": {{"image_digest": "sha256:{digest}",
                                 "data": [{{"key": "validated/2026-11.jsonl", "etag": "e1"}}]}}}}"#,
                digest = "ab".repeat(32)
            ),
        ));
    }
    for (name, body) in files {
        s3.put_object()
            .bucket(&bucket)
            .key(format!("training/fraud-scoring/{run}/{name}"))
            .body(ByteStream::from(body.into_bytes()))
            .send()
            .await
            .expect("put run output");
    }
}

#[tokio::test]
async fn ended_runs_nobody_followed_are_registered_by_register_pending() {
    let account = Account::new();
    let project = local_scoring(&account, "");
    let (code, _, stderr) = run_json(&project, &account, &["deploy", "--env", "local"]);
    assert_eq!(code, Some(0), "{stderr}");
    crate::rollouts::push_image(&account, "facturascan/fraud-training", "1.0.0", "t").await;
    let (code, out, stderr) = retrain(&project, &account, &["--register-pending"]);
    assert_eq!(code, Some(0), "nothing waits: {stderr}");
    assert_eq!(out["command"], "retrain.pending");
    assert_eq!(out["runs"], serde_json::json!([]), "{out}");

    // A run `retrain` followed is a version already, and is left alone.
    put_batch(
        &account,
        "2026-11.jsonl",
        records(&[("acme", 10.5, false), ("evil", 99.0, true)], "number"),
    )
    .await;
    let (code, out, stderr) = retrain(&project, &account, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let followed = out["run"].as_str().expect("run id").to_string();
    let (code, _, stderr) = model(
        &project,
        &account,
        &["alias", "fraud-scoring", "champion", "1"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    // Three runs the schedule started: one ended with the service's input, one whose input
    // is not the service's, one still writing.
    let good = "0f3a9c2e5b7d41e8a6c4f2b9d1e7a3c5";
    let wrong = "1b2c8d4e6f0a42b9c7d5e3f1a8b6c4d2";
    let running = "2d4e1f3a5b7c49d8e6f4a2c0b9d7e5f3";
    put_run(&account, good, "number", true).await;
    put_run(&account, wrong, "string", true).await;
    put_run(&account, running, "number", false).await;

    let (code, out, stderr) = retrain(
        &project,
        &account,
        &["--register-pending", "--alias", "candidate"],
    );
    assert_eq!(code, Some(3), "a refused run is exit 3: {stderr} {out}");
    assert_eq!(out["status"], "refused", "{out}");
    let runs = out["runs"].as_array().expect("runs");
    assert_eq!(
        runs.len(),
        2,
        "the followed run is not registered twice: {out}"
    );
    assert_eq!(runs[0]["run"], good);
    assert_eq!(runs[0]["status"], "registered");
    assert_eq!(runs[0]["version"]["version"], 2, "{out}");
    assert_eq!(runs[0]["version"]["params"]["training_run"], good);
    assert_eq!(runs[0]["version"]["metrics"]["samples"], 40.0);
    // Pending approval, compared with the champion on the metric both have.
    let (code, shown, stderr) = model(&project, &account, &["show", "fraud-scoring", "2"]);
    assert_eq!(code, Some(0), "{stderr}");
    let approval = &shown["approvals"]["2"];
    assert_eq!(approval["state"], "pending", "{shown}");
    assert_eq!(approval["comparison"]["kind"], "compared", "{shown}");
    assert_eq!(approval["comparison"]["champion"], 1, "{shown}");
    assert_eq!(approval["comparison"]["metrics"][0]["metric"], "samples");
    assert_eq!(
        approval["comparison"]["metrics"][0]["change"], 38.0,
        "{shown}"
    );
    assert_eq!(runs[1]["run"], wrong);
    assert_eq!(runs[1]["status"], "refused");
    assert!(
        runs[1]["message"]
            .as_str()
            .is_some_and(|m| m.contains("`total` is string in the model, number as declared")),
        "{out}"
    );
    assert_eq!(out["unfinished"], serde_json::json!([running]), "{out}");
    assert_eq!(out["alias"]["version"], 2, "{out}");
    assert_eq!(out["aliases"]["candidate"], 2, "{out}");
    assert_eq!(versions(&project, &account), 2);
    assert!(!out.to_string().contains(&followed), "{out}");

    // Once the running one ends it is registered; the refused one was decided and is not
    // reported again (the job goes green). A run with the bytes of version 2 is that
    // version; one sharing no metric with the champion is registered, flagged.
    put_run(&account, running, "number", true).await;
    let same = "3e5f2a4b6c8d40e9f7a5b3c1d0e8f6a4";
    put_run_as(
        &account,
        same,
        "number",
        true,
        &format!("weights of {good}"),
        "{}",
    )
    .await;
    let odd = "4f6a3b5c7d9e41f0a8b6c4d2e1f9a7b5";
    put_run_as(&account, odd, "number", true, "odd", r#"{"recall": 0.5}"#).await;
    let (code, out, stderr) = retrain(&project, &account, &["--register-pending"]);
    assert_eq!(code, Some(0), "{stderr} {out}");
    let statuses: Vec<(&str, &str)> = out["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| (r["run"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        vec![
            (running, "registered"),
            (same, "identical"),
            (odd, "registered")
        ],
        "{out}"
    );
    assert_eq!(out["runs"][1]["version"]["version"], 2, "{out}");
    assert_eq!(out["unfinished"], serde_json::json!([]), "{out}");
    assert_eq!(versions(&project, &account), 4);
    // The alias stays where it was when none is asked for.
    assert_eq!(out["aliases"]["candidate"], 2, "{out}");
    let (_, shown, _) = model(&project, &account, &["show", "fraud-scoring", "4"]);
    assert_eq!(
        shown["approvals"]["4"]["comparison"]["kind"], "incomparable",
        "{shown}"
    );

    // A run the drift rule started that died before writing anything: ECS is asked, it is
    // reported failed once, and recorded.
    let died = run_unattended(&account, Some("s3://nowhere-bucket/empty/")).await;
    let (code, out, stderr) = retrain(&project, &account, &["--register-pending"]);
    assert_eq!(code, Some(1), "a failed run is exit 1: {stderr} {out}");
    assert_eq!(out["runs"][0]["run"], died.as_str(), "{out}");
    assert_eq!(out["runs"][0]["status"], "failed", "{out}");
    assert!(
        out["runs"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("exit code") && m.contains("without writing model.json")),
        "{out}"
    );
    let (code, out, stderr) = retrain(&project, &account, &["--register-pending"]);
    assert_eq!(code, Some(0), "reported once: {stderr} {out}");
    assert_eq!(out["runs"], serde_json::json!([]), "{out}");

    // A run the schedule started on Fargate: no variable names its task, so the job reads
    // its id from the task metadata endpoint and writes under it. (The same batch data as
    // the followed run: the same bytes, so that version.)
    let scheduled = run_unattended(&account, None).await;
    let (code, out, stderr) = retrain(&project, &account, &["--register-pending"]);
    assert_eq!(code, Some(0), "{stderr} {out}");
    assert_eq!(out["runs"][0]["run"], scheduled.as_str(), "{out}");
    assert_eq!(out["runs"][0]["status"], "identical", "{out}");
    assert_eq!(out["runs"][0]["version"]["version"], 1, "{out}");
}

/// Starts the training task as the drift rule does (RunTask, not by facturactl), its data
/// overridden when given; returns the task id once it stopped.
async fn run_unattended(account: &Account, data_uri: Option<&str>) -> String {
    use aws_sdk_ecs::types::{
        AwsVpcConfiguration, ContainerOverride, KeyValuePair, LaunchType, NetworkConfiguration,
        TaskOverride,
    };
    let config = account.sdk_config(3).await;
    let ecs = aws_sdk_ecs::Client::new(&config);
    // The private subnets the stacks were given (the schedule's and the drift rule's).
    let stacks = aws_sdk_cloudformation::Client::new(&config)
        .describe_stacks()
        .send()
        .await
        .expect("stacks");
    let parameter = |key: &str| -> Vec<String> {
        stacks
            .stacks()
            .iter()
            .flat_map(|s| s.parameters())
            .find(|p| p.parameter_key() == Some(key))
            .and_then(|p| p.parameter_value())
            .unwrap_or_else(|| panic!("a stack with {key}"))
            .split(',')
            .map(|s| s.trim_matches(|c| "[]' ".contains(c)).to_string())
            .collect()
    };
    let (subnets, groups) = (
        parameter("PrivateSubnetIds"),
        parameter("ServiceSecurityGroupId"),
    );
    let out = ecs
        .run_task()
        .cluster("facturascan-local")
        .task_definition("facturascan-local-fraud-scoring-training")
        .launch_type(LaunchType::Fargate)
        .started_by("events-rule/drift")
        .network_configuration(
            NetworkConfiguration::builder()
                .awsvpc_configuration(
                    AwsVpcConfiguration::builder()
                        .set_subnets(Some(subnets))
                        .set_security_groups(Some(groups))
                        .build()
                        .expect("awsvpc"),
                )
                .build(),
        )
        .set_overrides(data_uri.map(|uri| {
            TaskOverride::builder()
                .container_overrides(
                    ContainerOverride::builder()
                        .name("training")
                        .environment(
                            KeyValuePair::builder()
                                .name("TRAINING_DATA_URI")
                                .value(uri)
                                .build(),
                        )
                        .build(),
                )
                .build()
        }))
        .send()
        .await
        .expect("RunTask");
    let arn = out.tasks()[0].task_arn().expect("task arn").to_string();
    for _ in 0..100 {
        let described = ecs
            .describe_tasks()
            .cluster("facturascan-local")
            .tasks(&arn)
            .send()
            .await
            .expect("DescribeTasks");
        if described.tasks()[0].last_status() == Some("STOPPED") {
            return arn.rsplit('/').next().unwrap_or_default().to_string();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the task never stopped");
}

#[tokio::test]
async fn the_drift_audit_finds_a_schedule_changed_out_of_band() {
    let account = Account::new();
    let project = local_scoring(&account, "");
    let (code, _, stderr) = run_json(&project, &account, &["deploy", "--env", "local"]);
    assert_eq!(code, Some(0), "{stderr}");
    let audit = || run_json(&project, &account, &["audit", "drift", "--env", "local"]);
    let kinds = |out: &Value| -> Vec<String> {
        out["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| f["kind"] == "retraining.schedule")
            .map(|f| f["resource"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let (_, out, stderr) = audit();
    assert!(
        kinds(&out).is_empty(),
        "in sync after a deploy: {out} {stderr}"
    );

    let scheduler = aws_sdk_scheduler::Client::new(&account.sdk_config(3).await);
    let name = "facturascan-local-fraud-scoring-training";
    let live = scheduler
        .get_schedule()
        .name(name)
        .send()
        .await
        .expect("the stack's schedule exists");
    assert_eq!(live.schedule_expression(), Some("cron(0 3 ? * MON *)"));
    assert_eq!(live.schedule_expression_timezone(), Some("Europe/Madrid"));
    scheduler
        .update_schedule()
        .name(name)
        .schedule_expression("rate(1 day)")
        .schedule_expression_timezone("Europe/Madrid")
        .state(aws_sdk_scheduler::types::ScheduleState::Disabled)
        .set_flexible_time_window(live.flexible_time_window().cloned())
        .set_target(live.target().cloned())
        .send()
        .await
        .expect("update the schedule out of band");
    let (code, out, stderr) = audit();
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        kinds(&out),
        vec![
            format!("schedule {name} expression"),
            format!("schedule {name} state")
        ],
        "{out}"
    );

    scheduler
        .delete_schedule()
        .name(name)
        .send()
        .await
        .expect("delete the schedule");
    let (_, out, _) = audit();
    assert_eq!(kinds(&out), vec![format!("schedule {name}")], "{out}");
}

#[test]
fn the_rendered_retraining_is_least_privilege_and_starts_the_job() {
    let project = Project::copy();
    let staging = project.read("environments/staging.yaml") + crate::cfn_lint::ON_END;
    project.write("environments/staging.yaml", &staging);
    project
        .cmd()
        .args(["render", "--env", "staging", "--out", "out"])
        .assert()
        .success();
    let ml = project.read("out/ml.yaml");
    for expected in [
        "Type: AWS::Scheduler::Schedule",
        r#"ScheduleExpression: "cron(0 3 ? * MON *)""#,
        r#"ScheduleExpressionTimezone: "Europe/Madrid""#,
        "Type: AWS::Events::Rule",
        "detail-type: [CloudWatch Alarm State Change]",
        "alarm:facturascan-staging-fraud-scoring-drift",
        r#"Family: "facturascan-staging-fraud-scoring-training""#,
        // Reads only its data prefix, writes only its own output prefix.
        r#"StringLike: { "s3:prefix": "validated/*" }"#,
        "facturascan-staging-processed-${AWS::AccountId}/validated/*",
        "${ModelBucketName}/training/fraud-scoring/*",
        "task-definition/facturascan-staging-fraud-scoring-training:*",
        r#"StringEquals: { "iam:PassedToService": ecs-tasks.amazonaws.com }"#,
        // Scheduled and drift-started runs go through the runner, which stops a run past
        // its 120 minutes, and which alone the start role may start.
        "Type: AWS::StepFunctions::StateMachine",
        r#"StateMachineName: "facturascan-staging-fraud-scoring-training""#,
        r#""Resource": "arn:${AWS::Partition}:states:::ecs:runTask.sync", "TimeoutSeconds": 7200"#,
        "Action: [ecs:StopTask, ecs:DescribeTasks]",
        "Action: states:StartExecution",
        "Arn: { Ref: FraudScoringTrainingRunner }",
        // Staging announces each run's end to the repository's training workflow, the
        // token read from Secrets Manager by CloudFormation, never written here.
        "Type: AWS::Events::ApiDestination",
        r#"InvocationEndpoint: "https://api.github.com/repos/facturascan/facturascan-360/dispatches""#,
        "{{resolve:secretsmanager:facturascan/github-dispatch:SecretString:authorization}}",
        "task-definition/facturascan-staging-fraud-scoring-training:",
        r#""event_type": "training-run-ended""#,
        "Action: events:InvokeApiDestination",
    ] {
        assert!(ml.contains(expected), "{expected} in ml.yaml:\n{ml}");
    }
    let alarms: Value = serde_json::from_str(&project.read("out/alarms.json")).expect("alarms");
    let drift = alarms
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["name"] == "facturascan-staging-fraud-scoring-drift")
        .unwrap_or_else(|| panic!("the drift alarm is an alarm definition: {alarms}"));
    assert_eq!(drift["threshold"], 90.0);
    assert_eq!(drift["comparison"], "LessThanThreshold");
    assert_eq!(drift["evaluation_periods"], 3);
    assert_eq!(drift["service"], "scoring");
    // A run that failed, timed out or was aborted pages the training alarm's channels.
    let failed = alarms
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["name"] == "facturascan-staging-fraud-scoring-training-failed")
        .unwrap_or_else(|| panic!("the training alarm: {alarms}"));
    let text = failed.to_string();
    for metric in [
        "ExecutionsFailed",
        "ExecutionsTimedOut",
        "ExecutionsAborted",
    ] {
        assert!(text.contains(metric), "{metric}: {failed}");
    }
    assert!(
        text.contains("stateMachine:facturascan-staging-fraud-scoring-training"),
        "{failed}"
    );
    assert_eq!(
        failed["channels"],
        serde_json::json!(["ops-email"]),
        "{failed}"
    );

    // The policy rule sees a runner that may not pass the task's roles, and a start role
    // that may not start the runner.
    project.replace(
        "templates/partials/retraining.tera",
        "                Action: iam:PassRole\n",
        "                Action: iam:GetRole\n",
    );
    project.replace(
        "templates/partials/retraining.tera",
        "                Action: states:StartExecution\n",
        "                Action: states:DescribeExecution\n",
    );
    project.replace(
        "templates/partials/retraining.tera",
        "                Action: events:InvokeApiDestination\n",
        "                Action: events:PutEvents\n",
    );
    let output = project
        .cmd()
        .args(["validate", "--env", "staging"])
        .output()
        .expect("validate");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("START_PERMISSIONS")
            && stdout.contains("FraudScoringTrainingSchedule")
            && stdout.contains("FraudScoringDriftRetraining")
            && stdout.contains("states:StartExecution")
            && stdout.contains("FraudScoringTrainingRunner")
            && stdout.contains("iam:PassRole")
            && stdout.contains("FraudScoringRunEnded")
            && stdout.contains("events:InvokeApiDestination"),
        "{stdout}"
    );
}

#[test]
fn retraining_settings_aws_would_refuse_are_config_errors() {
    let project = Project::copy();
    project.replace(
        "deploy.toml",
        r#"schedule = "cron(0 3 ? * MON *)""#,
        r#"schedule = "cron(0 3 * * MON *)""#,
    );
    project.replace(
        "deploy.toml",
        r#"measure = "agreement", threshold = 90"#,
        r#"measure = "agreement", threshold = 190"#,
    );
    let on_end = crate::cfn_lint::ON_END
        .replace(
            "repository: facturascan/facturascan-360",
            "repository: https://github.com/facturascan/facturascan-360",
        )
        .replace(
            "token_secret: facturascan/github-dispatch",
            "token_secret: \"arn:aws:secretsmanager:eu-west-1:1:secret:x\"",
        );
    let staging = project.read("environments/staging.yaml") + &on_end;
    project.write("environments/staging.yaml", &staging);
    let output = project
        .cmd()
        .args(["validate", "--env", "staging"])
        .output()
        .expect("validate");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for expected in [
        "deploy.toml:",
        "exactly one of day-of-month and day-of-week must be `?`",
        "threshold 190 is out of range for agreement",
        "environments/staging.yaml:",
        "`https://github.com/facturascan/facturascan-360` is not a GitHub repository",
        "is not a secret name",
    ] {
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }
}

/// Starts the training runner as the schedule does (StartExecution with `input`) and
/// waits for the execution to end; its status, and the run's task as ECS left it.
async fn run_scheduled(account: &Account, input: &str) -> (String, aws_sdk_ecs::types::Task) {
    let config = account.sdk_config(3).await;
    let sfn = aws_sdk_sfn::Client::new(&config);
    let machine = format!(
        "arn:aws:states:eu-west-1:{}:stateMachine:facturascan-local-fraud-scoring-training",
        account.account_id
    );
    let started = sfn
        .start_execution()
        .state_machine_arn(&machine)
        .input(input)
        .send()
        .await
        .expect("StartExecution");
    let mut status = String::new();
    for _ in 0..400 {
        let described = sfn
            .describe_execution()
            .execution_arn(started.execution_arn())
            .send()
            .await
            .expect("DescribeExecution");
        status = described.status().as_str().to_string();
        if status != "RUNNING" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The execution ends first; the task it stopped stops within seconds.
    let ecs = aws_sdk_ecs::Client::new(&config);
    for _ in 0..200 {
        let stopped = ecs
            .list_tasks()
            .cluster("facturascan-local")
            .family("facturascan-local-fraud-scoring-training")
            .desired_status(aws_sdk_ecs::types::DesiredStatus::Stopped)
            .send()
            .await
            .expect("ListTasks");
        let described = ecs
            .describe_tasks()
            .cluster("facturascan-local")
            .set_tasks(Some(stopped.task_arns().to_vec()))
            .send()
            .await
            .expect("DescribeTasks");
        let task = described
            .tasks()
            .iter()
            .max_by_key(|t| t.created_at().map(|d| (d.secs(), d.subsec_nanos())))
            .cloned()
            .expect("the run's task");
        if task.last_status() == Some("STOPPED") {
            return (status, task);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the run's task never stopped");
}

/// A scheduled or drift-started run goes through the runner: one that hangs is stopped
/// when its `timeout_minutes` pass (the emulator's clock sped up: two hours in seconds),
/// one that fails ends the execution FAILED; both are what the training alarm counts.
#[tokio::test]
async fn a_hung_scheduled_run_is_stopped_and_a_failed_one_fails_its_execution() {
    let account = Account::new();
    let project = local_scoring(&account, "");
    let (code, _, stderr) = run_json(&project, &account, &["deploy", "--env", "local"]);
    assert_eq!(code, Some(0), "{stderr}");
    crate::rollouts::push_image(&account, "facturascan/fraud-training", "1.0.0", "t").await;
    put_batch(
        &account,
        "2026-11.jsonl",
        records(&[("acme", 10.5, false), ("evil", 99.0, true)], "number"),
    )
    .await;
    // 120 minutes pass in 1.2 seconds.
    account.clock(0.01).await;

    let (status, task) = run_scheduled(&account, r#"{"harness_hang_seconds": 300}"#).await;
    assert_eq!(status, "TIMED_OUT");
    assert!(
        task.stopped_reason()
            .is_some_and(|r| r.contains("timed out")),
        "{task:?}"
    );

    let (status, task) = run_scheduled(&account, r#"{"started_by": "schedule"}"#).await;
    assert_eq!(status, "SUCCEEDED", "{task:?}");
    assert_eq!(task.containers()[0].exit_code(), Some(0));

    // No data: the job exits non-zero, the execution fails.
    let s3 = account.s3().await;
    let bucket = format!("facturascan-local-processed-{}", account.account_id);
    s3.delete_object()
        .bucket(&bucket)
        .key(format!("{BUCKET_DATA}2026-11.jsonl"))
        .send()
        .await
        .expect("delete the batch");
    let (status, task) = run_scheduled(&account, r#"{"started_by": "drift"}"#).await;
    assert_eq!(status, "FAILED", "{task:?}");
    assert_ne!(task.containers()[0].exit_code(), Some(0));
}
