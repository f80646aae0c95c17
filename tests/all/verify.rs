//! `verify` against the emulator's real parts: the harness serves each account's entry
//! point (the backend's `/health` and `/invoices`, the scoring service's `/predict`) and
//! runs the deployed Lambda packages; Locust runs for real (two seconds). What a
//! verification records, and what `promote` makes of it.

use serde_json::{Value, json};

use crate::rollouts::push_image;
use crate::support::emulator::Account;
use crate::support::{Project, run_json, run_text};

/// The local environment deployed with the build's images and the reference functions
/// (services/), its `[verify]` on the harness's entry point of `account`.
async fn deployed(account: &Account) -> Project {
    let project = Project::copy();
    project.use_account(account);
    project.verify_on_harness("local", account);
    let (code, _, stderr) = run_json(&project, account, &["bootstrap", "--env", "local"]);
    assert_eq!(code, Some(0), "{stderr}");
    for service in ["backend", "ocr"] {
        push_image(account, &format!("facturascan/{service}"), "v1", "a").await;
    }
    let parser = project.reference_package("parser", "one");
    let validator = project.reference_package("validator", "one");
    deploy(&project, account, &parser, &validator);
    project
}

fn deploy(project: &Project, account: &Account, parser: &str, validator: &str) -> Value {
    let (code, report, stderr) = run_json(
        project,
        account,
        &[
            "deploy",
            "--env",
            "local",
            "--skip-wait",
            "--image",
            "backend=v1",
            "--image",
            "ocr=v1",
            "--package",
            &format!("parser={parser}"),
            "--package",
            &format!("validator={validator}"),
        ],
    );
    assert_eq!(code, Some(0), "{stderr}\n{report}");
    report
}

fn verify(project: &Project, account: &Account) -> (Option<i32>, Value, String) {
    run_json(project, account, &["verify", "--env", "local"])
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["verification"]["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no check {name} in {report}"))
}

fn problems(check: &Value) -> String {
    check["problems"].to_string()
}

#[tokio::test]
async fn a_healthy_release_passes_every_check_and_the_record_says_so() {
    let account = Account::new();
    let project = deployed(&account).await;
    let (code, report, stderr) = verify(&project, &account);
    assert_eq!(code, Some(0), "{stderr}\n{report}");
    assert_eq!(report["result"], "passed", "{report}");
    assert_eq!(report["recorded"], true);
    for (name, kind) in [
        ("backend-health", "smoke"),
        ("parser-sample", "smoke"),
        ("regression", "regression"),
        ("load", "load"),
    ] {
        let c = check(&report, name);
        assert_eq!(
            (c["kind"].as_str(), c["status"].as_str()),
            (Some(kind), Some("passed")),
            "{c}"
        );
    }
    let load = check(&report, "load");
    assert!(load["figures"]["requests"].as_f64() > Some(0.0), "{load}");
    assert_eq!(check(&report, "regression")["figures"]["samples"], 4.0);
    // Locust's own files, read back (never re-computed), and its report for the upload.
    let files: Vec<&str> = report["load_files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        files.iter().any(|f| f.ends_with("locust.html")),
        "{files:?}"
    );

    // The record of the release verified carries it: status, history.
    let (_, status, _) = run_json(&project, &account, &["status", "--env", "local"]);
    let verification = &status["current"]["verification"];
    assert_eq!(verification["result"], "passed", "{status}");
    // Outside GitHub Actions, who verified is the caller AWS names (its ARN).
    assert_eq!(
        verification["who"],
        format!("arn:aws:sts::{}:user/moto", account.account_id),
        "{status}"
    );
    assert_eq!(verification["services"], status["current"]["services"]);
    assert_eq!(report["record"], status["current"]["id"]);
    let text = run_text(&project, &account, &["status", "--env", "local"]);
    assert!(text.contains("verified: passed at"), "{text}");

    // The Markdown for the step summary charts the load test.
    let markdown = run_text(
        &project,
        &account,
        &["verify", "--env", "local", "-o", "markdown"],
    );
    assert!(
        markdown.contains("```mermaid") && markdown.contains("xychart-beta"),
        "{markdown}"
    );
}

#[tokio::test]
async fn a_service_answering_500_fails_smoke_and_is_not_load_tested() {
    let account = Account::new();
    let project = deployed(&account).await;
    account
        .service_fault(Some(json!({"service": "backend", "status": 500})))
        .await;
    let (code, report, stderr) = verify(&project, &account);
    assert_eq!(code, Some(3), "{stderr}\n{report}");
    assert_eq!(report["status"], "refused");
    assert_eq!(report["result"], "failed");
    let health = check(&report, "backend-health");
    assert_eq!(health["status"], "failed");
    assert!(
        problems(health).contains("answered 500, expected 200"),
        "{health}"
    );
    assert_eq!(check(&report, "load")["status"], "not_run");
    // Recorded as failed: the release may not be promoted on it.
    let (_, status, _) = run_json(&project, &account, &["status", "--env", "local"]);
    assert_eq!(status["current"]["verification"]["result"], "failed");
}

#[tokio::test]
async fn a_changed_validation_output_fails_regression_naming_the_invoice_and_field() {
    let account = Account::new();
    let project = deployed(&account).await;
    // A validator that no longer knows the dollar: one invoice's answer changes.
    let source = std::fs::read_to_string(
        crate::support::repo_root().join("services/validator/validator.py"),
    )
    .expect("validator.py");
    let changed = source.replace("\"USD\", ", "");
    assert_ne!(changed, source);
    let zip = project.path().join("validator-changed.zip");
    std::fs::write(
        &zip,
        crate::support::zip::zip(&[("validator.py", &changed)]),
    )
    .expect("zip");
    let parser = project.reference_package("parser", "one");
    deploy(&project, &account, &parser, &zip.display().to_string());

    let (code, report, stderr) = verify(&project, &account);
    assert_eq!(code, Some(3), "{stderr}\n{report}");
    let regression = check(&report, "regression");
    assert_eq!(regression["status"], "failed", "{regression}");
    let found = problems(regression);
    assert!(
        found.contains("003-totals-mismatch.json: checks.currency_known: true → false"),
        "{found}"
    );
    assert!(
        found.contains(
            r#"003-totals-mismatch.json: errors.0: \"totals_match\" → \"currency_known\""#
        ),
        "{found}"
    );
    assert!(!found.contains("001-valid.json"), "{found}");
}

#[tokio::test]
async fn a_slow_service_fails_the_load_tests_p95_threshold() {
    let account = Account::new();
    let project = deployed(&account).await;
    project.replace(
        "environments/local.yaml",
        "    min_rps: 1\n",
        "    min_rps: 1\n    max_p95_ms: 250\n",
    );
    account
        .service_fault(Some(json!({"service": "backend", "latency_ms": 400})))
        .await;
    let (code, report, stderr) = verify(&project, &account);
    assert_eq!(code, Some(3), "{stderr}\n{report}");
    let load = check(&report, "load");
    assert_eq!(load["status"], "failed", "{load}");
    assert!(load["figures"]["p95_ms"].as_f64() >= Some(400.0), "{load}");
    assert!(
        problems(load).contains("p95 of POST /invoices") && problems(load).contains("above 250 ms"),
        "{load}"
    );
    // The smoke checks still passed: slow is not down.
    assert_eq!(check(&report, "backend-health")["status"], "passed");
}

#[tokio::test]
async fn a_check_that_cannot_run_is_incomplete_never_passed() {
    let account = Account::new();
    let project = deployed(&account).await;
    project.replace(
        "environments/local.yaml",
        "  load:\n",
        "  load:\n    locust: /nonexistent/locust\n",
    );
    let (code, report, stderr) = verify(&project, &account);
    assert_eq!(code, Some(1), "{stderr}\n{report}");
    assert_eq!(report["result"], "incomplete");
    let load = check(&report, "load");
    assert_eq!(load["status"], "not_run");
    assert!(
        problems(load).contains("cannot start `/nonexistent/locust`"),
        "{load}"
    );
}

#[tokio::test]
async fn a_baseline_is_never_written_in_ci() {
    let account = Account::new();
    let project = Project::copy();
    account.reset_requests().await;
    let output = project
        .cmd()
        .env("CI", "true")
        .args(["verify", "--env", "local", "--update-baseline"])
        .args(["--endpoint-url", &account.endpoint])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("does not run in CI"), "{stderr}");
    assert_eq!(account.requests().await["total"], 0);
}

#[tokio::test]
async fn a_missing_baseline_is_refused_before_any_aws_call() {
    let account = Account::new();
    let project = Project::copy();
    std::fs::remove_file(project.path().join("verify/baseline.json")).expect("remove");
    account.reset_requests().await;
    let (code, report, stderr) = verify(&project, &account);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("verify.regression.baseline: verify/baseline.json does not exist")
            && stderr.contains("--update-baseline"),
        "{stderr}"
    );
    assert_eq!(report["status"], "error");
    assert_eq!(account.requests().await["total"], 0);
}

/// Staging and production in one account (releases.rs's arrangement), staging verified on
/// the harness, its validator rolled out at once.
async fn promotable_project(account: &Account) -> Project {
    let project = Project::for_deploys_in(account).await;
    project.without_ml();
    project.without_database();
    project.replace(
        "environments/production.yaml",
        "  registry:\n",
        "  registry:\n    enabled: false\n",
    );
    project.replace(
        "environments/staging.yaml",
        "services:\n",
        "services:\n  validator:\n    lambda:\n      rollout: { strategy: all-at-once }\n",
    );
    project.verify_on_harness("staging", account);
    project.git_release(Some("v1.0.0"));
    project
}

fn staging_deploy(project: &Project, account: &Account, label: &str) {
    let parser = project.reference_package("parser", label);
    let validator = project.reference_package("validator", label);
    let (code, report, stderr) = run_json(
        project,
        account,
        &[
            "deploy",
            "--env",
            "staging",
            "--image",
            "backend=v1.0.0",
            "--image",
            "ocr=v1.0.0",
            "--package",
            &format!("parser={parser}"),
            "--package",
            &format!("validator={validator}"),
        ],
    );
    assert_eq!(code, Some(0), "{stderr}\n{report}");
}

fn promote(project: &Project, account: &Account) -> (Option<i32>, Value, String) {
    run_json(
        project,
        account,
        &[
            "promote",
            "--from",
            "staging",
            "--to",
            "production",
            "--yes",
        ],
    )
}

#[tokio::test]
async fn promotion_requires_a_passing_verification_of_exactly_what_it_promotes() {
    let account = Account::new();
    let project = promotable_project(&account).await;
    let (code, _, stderr) = run_json(&project, &account, &["deploy", "--env", "staging"]);
    assert_eq!(code, Some(0), "{stderr}");
    for service in ["backend", "ocr"] {
        push_image(&account, &format!("facturascan/{service}"), "v1.0.0", "b").await;
    }
    staging_deploy(&project, &account, "one");
    let production = |project: &Project| {
        run_json(project, &account, &["status", "--env", "production"]).1["current"].clone()
    };

    // Never verified: refused before any change.
    let (code, refused, stderr) = promote(&project, &account);
    assert_eq!(code, Some(3), "{stderr}");
    assert_eq!(refused["status"], "refused");
    assert!(
        stderr.contains("may not be promoted to `production`: it was never verified")
            && stderr.contains("facturactl verify --env staging"),
        "{stderr}"
    );
    assert!(production(&project).is_null());

    // Verified, and failed: refused.
    account
        .service_fault(Some(json!({"service": "backend", "status": 500})))
        .await;
    let (code, _, stderr) = run_json(&project, &account, &["verify", "--env", "staging"]);
    assert_eq!(code, Some(3), "{stderr}");
    let (code, _, stderr) = promote(&project, &account);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("failed"), "{stderr}");
    assert!(production(&project).is_null());

    // Verified and passed: promoted.
    account.service_fault(None).await;
    let (code, verified, stderr) = run_json(&project, &account, &["verify", "--env", "staging"]);
    assert_eq!(code, Some(0), "{stderr}\n{verified}");
    let (code, promoted, stderr) = promote(&project, &account);
    assert_eq!(code, Some(0), "{stderr}\n{promoted}");
    let current = production(&project);
    assert_eq!(current["action"], "promote");
    assert!(current["skipped_verification"].is_null(), "{current}");

    // Other artifacts since (a new parser): that release is not the one verified.
    staging_deploy(&project, &account, "two");
    let (code, _, stderr) = promote(&project, &account);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("it was never verified"), "{stderr}");
}

/// A user of `pool` with a permanent password, made as docs/guide/verifying.md says.
fn create_user(account: &Account, pool: &str, username: &str, password: &str) {
    let script = "import sys, boto3\n\
c = boto3.client('cognito-idp', endpoint_url=sys.argv[1], region_name='eu-west-1')\n\
c.admin_create_user(UserPoolId=sys.argv[2], Username=sys.argv[3], MessageAction='SUPPRESS')\n\
c.admin_set_user_password(UserPoolId=sys.argv[2], Username=sys.argv[3], Password=sys.argv[4], Permanent=True)\n";
    let out = std::process::Command::new(crate::support::emulator::python())
        .args(["-c", script, &account.endpoint, pool, username, password])
        .env("AWS_ACCESS_KEY_ID", &account.access_key)
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn put_credentials(account: &Account, password: &str) {
    let secrets = aws_sdk_secretsmanager::Client::new(&account.sdk_config(3).await);
    let value = json!({"username": "verify@facturascan.com", "password": password}).to_string();
    let created = secrets
        .create_secret()
        .name("facturascan/local/verify-user")
        .secret_string(&value)
        .send()
        .await;
    if created.is_err() {
        secrets
            .put_secret_value()
            .secret_id("facturascan/local/verify-user")
            .secret_string(value)
            .send()
            .await
            .expect("put the secret");
    }
}

#[tokio::test]
async fn the_requests_sign_in_as_the_test_user_whose_credentials_are_a_secret() {
    let account = Account::new();
    let project = deployed(&account).await;
    // The backend behind API Gateway's Cognito authorizer: no token, no answer.
    account
        .service_fault(Some(json!({"service": "backend", "require_token": true})))
        .await;
    let (code, report, stderr) = verify(&project, &account);
    assert_eq!(code, Some(3), "{stderr}\n{report}");
    assert!(problems(check(&report, "backend-health")).contains("answered 401"));

    let cfn = aws_sdk_cloudformation::Client::new(&account.sdk_config(3).await);
    let auth = cfn
        .describe_stacks()
        .stack_name("facturascan-local-auth")
        .send()
        .await
        .expect("the auth stack");
    let pool = auth.stacks()[0]
        .outputs()
        .iter()
        .find(|o| o.output_key() == Some("UserPoolId"))
        .and_then(|o| o.output_value())
        .unwrap_or_else(|| panic!("UserPoolId in {:?}", auth.stacks()[0].outputs()))
        .to_string();
    create_user(
        &account,
        &pool,
        "verify@facturascan.com",
        "Verify-Passw0rd!",
    );
    put_credentials(&account, "Verify-Passw0rd!").await;
    project.replace(
        "environments/local.yaml",
        "verify:\n",
        "verify:\n  user:\n    credentials: secretsmanager:facturascan/local/verify-user\n",
    );
    let (code, report, stderr) = verify(&project, &account);
    assert_eq!(code, Some(0), "{stderr}\n{report}");
    // Locust signs its requests too (FACTURASCAN_VERIFY_TOKEN): none failed.
    assert_eq!(check(&report, "load")["figures"]["failures"], 0.0);

    // Credentials Cognito refuses: the checks could not run, which is not a pass.
    put_credentials(&account, "wrong").await;
    let (code, report, stderr) = verify(&project, &account);
    assert_eq!(code, Some(1), "{stderr}\n{report}");
    let health = check(&report, "backend-health");
    assert_eq!(health["status"], "not_run");
    assert!(
        problems(health).contains("Cognito refused the test user's sign-in"),
        "{health}"
    );
    assert!(
        !problems(health).contains("wrong"),
        "the password is never shown: {health}"
    );
}

#[tokio::test]
async fn predict_reaches_the_scoring_service_which_refuses_a_model_not_its_pin() {
    let account = Account::new();
    let project = crate::experiments_ecs::ecs_scoring(&account);
    // Only the /predict check: the other services are not deployed here.
    let entry = crate::support::harness_entry(&account);
    project.set_verify(
        "local",
        &format!("verify:\n  entry_point: {entry}\n  smoke:\n    http: []\n    invoke: []\n  regression: ~\n  load: ~\n"),
    );
    let (code, _, stderr) = run_json(&project, &account, &["deploy", "--env", "local"]);
    assert_eq!(code, Some(0), "stacks first: {stderr}");
    push_image(&account, "facturascan/scoring", "v1", "a").await;
    project.write("m1.bin", "model one");
    project.write("input.json", crate::models::SCORING_INPUT);
    let (code, _, stderr) = crate::models::model(
        &project,
        &account,
        &[
            "register",
            "fraud-scoring",
            "--file",
            "m1.bin",
            "--input",
            "input.json",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let (code, _, stderr) = run_json(
        &project,
        &account,
        &[
            "deploy",
            "--env",
            "local",
            "--image",
            "scoring=v1",
            "--model",
            "scoring=1",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");

    let (code, report, stderr) = verify(&project, &account);
    assert_eq!(code, Some(0), "{stderr}\n{report}");
    let predict = check(&report, "scoring-predict");
    assert_eq!(predict["figures"]["status"], 200.0, "{predict}");

    // The pinned artifact's bytes change under it (past the registry's write-once policy,
    // as only an administrator could): the service refuses to serve them.
    let (_, status, _) = run_json(&project, &account, &["status", "--env", "local"]);
    let uri = status["current"]["services"]["scoring"]["model"]["uri"]
        .as_str()
        .expect("the pinned model's uri")
        .to_string();
    let (bucket, key) = uri
        .strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .expect("s3://bucket/key");
    let s3 = account.s3().await;
    s3.delete_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .expect("lift the write-once policy");
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(b"tampered".to_vec().into())
        .send()
        .await
        .expect("overwrite the model");
    let (code, report, stderr) = verify(&project, &account);
    assert_eq!(code, Some(3), "{stderr}\n{report}");
    let predict = check(&report, "scoring-predict");
    assert!(
        problems(predict).contains("answered 500") && problems(predict).contains("is not sha256:"),
        "{predict}"
    );
}
