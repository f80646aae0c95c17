//! Service rollouts against the harness: ECS rolling updates to new image digests, Lambda
//! versions behind the `live` alias, a canary rolled back by an alarm, and the no-op.

use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::emulator::{Account, resource_writes};
use crate::support::zip::zip;
use crate::support::{Project, run_json};

/// A local project in `account`; the validator's canary watches each step for 20 s.
pub(crate) fn project(account: &Account) -> Project {
    let project = Project::copy();
    project.replace(
        "environments/local.yaml",
        "account_id: \"123456789012\"",
        &format!("account_id: \"{}\"", account.account_id),
    );
    project.replace(
        "environments/local.yaml",
        "services:\n",
        "services:\n  validator:\n    lambda:\n      rollout: { strategy: canary, step_percent: 10, step_interval_seconds: 20 }\n",
    );
    project
}

/// Pushes an image (a manifest naming `label`) to an ECR repository, which the registry
/// stack must have created (deploy first, as on AWS); returns its digest.
pub(crate) async fn push_image(
    account: &Account,
    repository: &str,
    tag: &str,
    label: &str,
) -> String {
    let ecr = aws_sdk_ecr::Client::new(&account.sdk_config(3).await);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1, "digest": format!("sha256:{:064x}", label.len())},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 1, "digest": format!("sha256:{}", label.repeat(64).chars().take(64).collect::<String>())}]
    });
    let put = ecr
        .put_image()
        .repository_name(repository)
        .image_manifest(manifest.to_string())
        .image_tag(tag)
        .send()
        .await
        .expect("put image");
    put.image()
        .and_then(|i| i.image_id())
        .and_then(|i| i.image_digest())
        .expect("digest")
        .to_string()
}

/// A Lambda package whose handler returns `label`.
pub(crate) fn package(project: &Project, name: &str, label: &str) -> String {
    let path = project.path().join(format!("{name}-{label}.zip"));
    let code = format!("def handler(event, context):\n    return {label:?}\n");
    std::fs::write(&path, zip(&[("validator.py", &code), ("parser.py", &code)])).expect("zip");
    path.display().to_string()
}

pub(crate) fn service<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["services"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["service"] == name))
        .unwrap_or_else(|| panic!("no service {name} in {report}"))
}

fn deploy(project: &Project, account: &Account, extra: &[&str]) -> (Option<i32>, Value, String) {
    let mut args = vec!["deploy", "--env", "local"];
    args.extend_from_slice(extra);
    run_json(project, account, &args)
}

struct Live {
    task_definition: String,
    image: String,
}

async fn ecs_service(account: &Account, name: &str) -> Live {
    let ecs = aws_sdk_ecs::Client::new(&account.sdk_config(3).await);
    let services = ecs
        .describe_services()
        .cluster("facturascan-local")
        .services(name)
        .send()
        .await
        .expect("describe services");
    let task_definition = services.services()[0]
        .task_definition()
        .expect("td")
        .to_string();
    let td = ecs
        .describe_task_definition()
        .task_definition(&task_definition)
        .send()
        .await
        .expect("td");
    let image = td.task_definition().expect("td").container_definitions()[0]
        .image()
        .expect("image")
        .to_string();
    Live {
        task_definition,
        image,
    }
}

/// (alias version, alias weights, that version's CodeSha256).
async fn alias(account: &Account, function: &str) -> (String, Option<Value>, String) {
    let lambda = aws_sdk_lambda::Client::new(&account.sdk_config(3).await);
    let alias = lambda
        .get_alias()
        .function_name(function)
        .name("live")
        .send()
        .await
        .expect("alias");
    let version = alias.function_version().expect("version").to_string();
    let weights = alias
        .routing_config()
        .and_then(|r| r.additional_version_weights())
        .filter(|w| !w.is_empty())
        .map(|w| serde_json::json!(w));
    let sha = lambda
        .get_function_configuration()
        .function_name(function)
        .qualifier(&version)
        .send()
        .await
        .expect("config")
        .code_sha256()
        .unwrap_or_default()
        .to_string();
    (version, weights, sha)
}

fn sha_of(path: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::STANDARD
        .encode(sha2::Sha256::digest(std::fs::read(path).expect("zip")))
}

#[tokio::test]
async fn services_roll_out_new_artifacts_and_a_repeat_writes_nothing() {
    let account = Account::new();
    let project = project(&account);
    let (code, _, stderr) = deploy(&project, &account, &[]);
    assert_eq!(code, Some(0), "stacks first: {stderr}");
    let ocr_digest = push_image(&account, "facturascan/ocr", "v1", "a").await;
    let backend_digest = push_image(&account, "facturascan/backend", "v1", "b").await;
    let parser_zip = package(&project, "parser", "one");
    let validator_zip = package(&project, "validator", "one");
    let artifacts = format!(
        r#"{{"services": {{"ocr": {{"image": "facturascan/ocr:v1"}}, "parser": {{"package": "{parser_zip}"}}}}}}"#
    );
    std::fs::write(project.path().join("artifacts.json"), artifacts).expect("artifacts");

    let args = [
        "--artifacts",
        "artifacts.json",
        "--image",
        "backend=v1",
        "--package",
        &format!("validator={validator_zip}"),
    ];
    let (code, report, stderr) = deploy(&project, &account, &args);
    assert_eq!(code, Some(0), "{stderr}\n{report}");
    for name in ["ocr", "backend", "parser", "validator"] {
        assert_eq!(
            service(&report, name)["result"],
            "rolled_out",
            "{name}: {report}"
        );
    }
    // Tags became digests: the task definitions run exactly the pushed bytes.
    let registry = format!("{}.dkr.ecr.eu-west-1.amazonaws.com", account.account_id);
    for (name, digest) in [("ocr", &ocr_digest), ("backend", &backend_digest)] {
        let live = ecs_service(&account, name).await;
        assert_eq!(
            live.image,
            format!("{registry}/facturascan/{name}@{digest}")
        );
        assert!(
            live.task_definition
                .ends_with(&format!("facturascan-local-{name}:1")),
            "{}",
            live.task_definition
        );
        assert_eq!(service(&report, name)["artifact"], digest.as_str());
    }
    for (name, zip) in [("parser", &parser_zip), ("validator", &validator_zip)] {
        let (version, weights, sha) = alias(&account, &format!("facturascan-local-{name}")).await;
        assert_eq!(sha, sha_of(zip), "{name} runs the package");
        assert_eq!(weights, None);
        assert_ne!(version, "$LATEST");
    }
    assert!(
        stderr.contains("service ocr: (service ocr) has reached a steady state."),
        "events shown: {stderr}"
    );

    // The same artifacts again: every service unchanged, not one write.
    account.reset_requests().await;
    let (code, report, stderr) = deploy(&project, &account, &args);
    assert_eq!(code, Some(0), "{stderr}");
    for name in ["ocr", "backend", "parser", "validator"] {
        assert_eq!(
            service(&report, name)["result"],
            "unchanged",
            "{name}: {report}"
        );
    }
    let counters = account.requests().await;
    assert_eq!(resource_writes(&counters), 0, "{counters}");
}

#[tokio::test]
async fn an_alarm_during_a_canary_rolls_the_alias_back_and_fails_the_deploy() {
    let account = Account::new();
    let project = project(&account);
    let first = package(&project, "validator", "one");
    let (code, _, stderr) = deploy(
        &project,
        &account,
        &["--package", &format!("validator={first}")],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let (old_version, _, old_sha) = alias(&account, "facturascan-local-validator").await;

    let second = package(&project, "validator", "two");
    let package_arg = format!("validator={second}");
    let child = crate::support::spawn_json(
        &project,
        &account,
        &["deploy", "--env", "local", "--package", &package_arg],
    );
    // Wait for the canary step (10% on the new version), then fire the service's alarm.
    let started = Instant::now();
    loop {
        let (_, weights, _) = alias(&account, "facturascan-local-validator").await;
        if weights.is_some() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the canary step never came"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, weights, _) = alias(&account, "facturascan-local-validator").await;
    let weights = weights.expect("weights");
    assert_eq!(
        weights.as_object().map(|w| w.values().next().cloned()),
        Some(Some(serde_json::json!(0.1)))
    );
    aws_sdk_cloudwatch::Client::new(&account.sdk_config(3).await)
        .set_alarm_state()
        .alarm_name("facturascan-local-validator-error-rate")
        .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
        .state_reason("test: errors at 12%")
        .send()
        .await
        .expect("set alarm state");

    let output: Output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    let validator = service(&report, "validator");
    assert_eq!(validator["result"], "failed");
    let message = validator["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(
            "alarm facturascan-local-validator-error-rate fired with 10% of traffic on version"
        ) && message.ends_with(&format!("the alias is back on version {old_version}")),
        "{message}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "rolled back before the step's 20 s ended"
    );
    let (version, weights, sha) = alias(&account, "facturascan-local-validator").await;
    assert_eq!((version, weights, sha), (old_version, None, old_sha));

    // The alarm still fires: the next deploy of that service is refused before any change.
    account.reset_requests().await;
    let third = package(&project, "validator", "three");
    let (code, _, stderr) = deploy(
        &project,
        &account,
        &["--package", &format!("validator={third}")],
    );
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains("validator: alarm facturascan-local-validator-error-rate is in ALARM"),
        "{stderr}"
    );
    assert!(stderr.contains("when_alarm_firing"), "{stderr}");
    assert_eq!(resource_writes(&account.requests().await), 0);
}

#[tokio::test]
async fn bad_artifacts_are_refused_before_any_change() {
    let account = Account::new();
    let project = project(&account);
    let cases: [(&[&str], &str); 5] = [
        (&["--image", "ocr"], "is not `service=artifact`"),
        (
            &["--image", "nope=v1"],
            "`nope` is not an enabled service of `local`",
        ),
        (
            &["--package", "ocr=x.zip"],
            "`ocr` runs on ECS: it takes an image, not a package",
        ),
        (
            &["--image", "ocr=v1", "--image", "ocr=v2"],
            "service `ocr` is given two artifacts",
        ),
        (&["--image", "ocr=sha256:abc"], "is not an image reference"),
    ];
    for (args, says) in cases {
        let (code, _, stderr) = deploy(&project, &account, args);
        assert_eq!(code, Some(1), "{args:?}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    // Resolution happens before the lock: a missing tag or package path writes nothing at
    // all (no lock, no record, no notification).
    account.reset_requests().await;
    let (code, _, stderr) = deploy(&project, &account, &["--image", "ocr=v9"]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("image facturascan/ocr:v9 not found"),
        "{stderr}"
    );
    let missing = project.path().join("no-such.zip").display().to_string();
    let (code, _, stderr) = deploy(
        &project,
        &account,
        &["--package", &format!("parser={missing}")],
    );
    assert_eq!(code, Some(1), "{stderr}");
    let counters = account.requests().await;
    assert_eq!(counters["writes"], 0, "{counters}");
}

#[tokio::test]
async fn throttling_errors_and_lost_answers_never_give_a_wrong_result() {
    let account = Account::new();
    let project = project(&account);
    project.replace(
        "environments/local.yaml",
        "    max_attempts: 8",
        "    max_attempts: 10",
    );
    let (code, _, stderr) = deploy(&project, &account, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let digest = push_image(&account, "facturascan/ocr", "v1", "d").await;
    let parser = package(&project, "parser", "one");
    let (code, _, stderr) = deploy(
        &project,
        &account,
        &["--package", &format!("parser={parser}")],
    );
    assert_eq!(
        code,
        Some(0),
        "a first version, so the next rollout shifts the alias: {stderr}"
    );

    // Every PublishVersion answer lost after the version was made: the rollout finds the
    // version it published instead of publishing again.
    let parser = package(&project, "parser", "two");
    account
        .faults(serde_json::json!({"lost": 1.0, "operations": ["PublishVersion"], "seed": 1}))
        .await;
    let (code, report, stderr) = deploy(
        &project,
        &account,
        &["--package", &format!("parser={parser}")],
    );
    account.faults_off().await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(service(&report, "parser")["result"], "rolled_out");
    assert_eq!(published_with(&account, &parser).await, 1);

    let parser = package(&project, "parser", "three");
    // Throttling, 5xx, and answers lost after the write was done, on every rollout call.
    account
        .faults(serde_json::json!({"throttle": 0.1, "server_error": 0.1, "lost": 0.3, "seed": 5, "services": ["ecs", "lambda", "ecr"]}))
        .await;
    let (code, report, stderr) = deploy(
        &project,
        &account,
        &[
            "--image",
            "ocr=v1",
            "--package",
            &format!("parser={parser}"),
        ],
    );
    let injected = account.requests().await["faults"].clone();
    account.faults_off().await;
    assert!(
        injected.as_object().is_some_and(|f| !f.is_empty()),
        "faults were injected: {injected}"
    );

    let (version, weights, sha) = alias(&account, "facturascan-local-parser").await;
    let live = ecs_service(&account, "ocr").await;
    if code == Some(0) {
        // Success is only reported for what is really in place.
        assert_eq!(
            service(&report, "parser")["result"],
            "rolled_out",
            "{report}"
        );
        assert_eq!((sha.as_str(), &weights), (sha_of(&parser).as_str(), &None));
        assert!(live.image.ends_with(&digest));
    } else {
        // A failure is reported as one, naming the service, never half-hidden.
        assert_eq!(code, Some(1), "{stderr}");
        assert!(
            report["services"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s["result"] == "failed")),
            "{report}"
        );
    }
    // However the answers went, the new code was published at most once.
    assert!(published_with(&account, &parser).await <= 1);
    let _ = version;
}

/// Published versions (not $LATEST) of the parser holding the package at `zip`.
async fn published_with(account: &Account, zip: &str) -> usize {
    let lambda = aws_sdk_lambda::Client::new(&account.sdk_config(3).await);
    let versions = lambda
        .list_versions_by_function()
        .function_name("facturascan-local-parser")
        .send()
        .await
        .expect("versions");
    versions
        .versions()
        .iter()
        .filter(|v| v.version() != Some("$LATEST") && v.code_sha256() == Some(sha_of(zip).as_str()))
        .count()
}

#[tokio::test]
async fn an_ab_split_is_shown_with_each_sides_figures_then_promoted() {
    let account = Account::new();
    let project = project(&account);
    project.replace(
        "environments/local.yaml",
        "services:\n",
        "services:\n  parser:\n    lambda:\n      rollout: { strategy: ab, step_percent: 10 }\n",
    );
    let (code, _, stderr) = deploy(
        &project,
        &account,
        &[
            "--package",
            &format!("parser={}", package(&project, "parser", "control")),
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let (control, _, _) = alias(&account, "facturascan-local-parser").await;
    let (code, report, stderr) = deploy(
        &project,
        &account,
        &[
            "--package",
            &format!("parser={}", package(&project, "parser", "variant")),
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("A/B split: version"), "{stderr}");
    let variant = service(&report, "parser")["new"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches("version ")
        .to_string();
    let (version, weights, _) = alias(&account, "facturascan-local-parser").await;
    assert_eq!(version, control, "the control keeps the alias");
    assert_eq!(weights, Some(serde_json::json!({ variant.clone(): 0.1 })));
    // Recorded as what it is: the control, with the new version as the split's variant.
    let (_, status, _) = run_json(&project, &account, &["status", "--env", "local"]);
    let parser = &status["current"]["services"]["parser"];
    assert_eq!(
        parser["version"].as_str(),
        Some(control.as_str()),
        "{parser}"
    );
    assert_eq!(parser["split"]["percent"], 10, "{parser}");
    assert_eq!(
        parser["split"]["variant"]["version"].as_str(),
        Some(variant.as_str()),
        "{parser}"
    );

    // What Lambda would report per executed version: 90 calls and 1 error on the control,
    // 10 calls and 2 errors on the variant.
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&account.sdk_config(3).await);
    for (v, calls, errors) in [(&control, 90.0, 1.0), (&variant, 10.0, 2.0)] {
        let datum = |name: &str, value: f64| {
            let dims = [
                ("FunctionName", "facturascan-local-parser".to_string()),
                ("Resource", "facturascan-local-parser:live".to_string()),
                ("ExecutedVersion", v.clone()),
            ];
            aws_sdk_cloudwatch::types::MetricDatum::builder()
                .metric_name(name)
                .value(value)
                .set_dimensions(Some(
                    dims.iter()
                        .map(|(k, v)| {
                            aws_sdk_cloudwatch::types::Dimension::builder()
                                .name(*k)
                                .value(v)
                                .build()
                        })
                        .collect(),
                ))
                .build()
        };
        cloudwatch
            .put_metric_data()
            .namespace("AWS/Lambda")
            .metric_data(datum("Invocations", calls))
            .metric_data(datum("Errors", errors))
            .send()
            .await
            .expect("put metrics");
    }
    let (code, shown, stderr) =
        run_json(&project, &account, &["traffic", "--env", "local", "parser"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        (
            shown["control"]["version"].as_str(),
            shown["control"]["percent"].as_f64()
        ),
        (Some(control.as_str()), Some(90.0))
    );
    assert_eq!(
        (
            shown["variant"]["version"].as_str(),
            shown["variant"]["percent"].as_f64()
        ),
        (Some(variant.as_str()), Some(10.0))
    );
    assert_eq!(
        (
            shown["control"]["invocations"].as_f64(),
            shown["control"]["error_rate"].as_f64()
        ),
        (Some(90.0), Some(1.1))
    );
    assert_eq!(
        (
            shown["variant"]["invocations"].as_f64(),
            shown["variant"]["error_rate"].as_f64()
        ),
        (Some(10.0), Some(20.0))
    );

    // Changing the split: a bad variant is refused; a new share applies; promote ends it.
    let (code, _, stderr) = run_json(
        &project,
        &account,
        &[
            "traffic",
            "--env",
            "local",
            "set",
            "parser",
            "--variant",
            &control,
            "--percent",
            "20",
        ],
    );
    assert_eq!(code, Some(1));
    assert!(stderr.contains("is already the control"), "{stderr}");
    let (code, _, _) = run_json(
        &project,
        &account,
        &[
            "traffic",
            "--env",
            "local",
            "set",
            "parser",
            "--variant",
            &variant,
            "--percent",
            "25",
        ],
    );
    assert_eq!(code, Some(0));
    let (_, weights, _) = alias(&account, "facturascan-local-parser").await;
    assert_eq!(weights, Some(serde_json::json!({ variant.clone(): 0.25 })));
    let (code, promoted, _) = run_json(
        &project,
        &account,
        &["traffic", "--env", "local", "promote", "parser"],
    );
    assert_eq!(code, Some(0));
    assert_eq!(promoted["variant"], Value::Null, "{promoted}");
    let (version, weights, _) = alias(&account, "facturascan-local-parser").await;
    assert_eq!((version, weights), (variant, None));
    let (code, aborted, _) = run_json(
        &project,
        &account,
        &["traffic", "--env", "local", "abort", "parser"],
    );
    assert_eq!(code, Some(0));
    assert!(
        aborted["changed"]
            .as_str()
            .is_some_and(|c| c.starts_with("no variant was running"))
    );
    let (code, _, stderr) = run_json(&project, &account, &["traffic", "--env", "local", "ocr"]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains(
            "is neither an enabled Lambda service of `local` nor an ECS service with a path"
        ),
        "{stderr}"
    );
}

#[tokio::test]
async fn skip_wait_finishes_a_canary_without_watching_its_step() {
    let account = Account::new();
    let project = project(&account);
    let first = package(&project, "validator", "one");
    let (code, _, stderr) = deploy(
        &project,
        &account,
        &["--package", &format!("validator={first}")],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let second = package(&project, "validator", "two");
    let (code, report, stderr) = deploy(
        &project,
        &account,
        &["--skip-wait", "--package", &format!("validator={second}")],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(service(&report, "validator")["result"], "rolled_out");
    assert!(
        stderr.contains("10% of traffic on version"),
        "the canary step still happens: {stderr}"
    );
    assert!(
        stderr.contains("--skip-wait: not watching this step"),
        "{stderr}"
    );
    let (_, weights, sha) = alias(&account, "facturascan-local-validator").await;
    assert_eq!((weights, sha), (None, sha_of(&second)));
}

/// The task definition an ECS service runs: (image, cpu, memory, environment).
async fn running_task(account: &Account, name: &str) -> (String, String, String, Vec<String>) {
    let live = ecs_service(account, name).await;
    let ecs = aws_sdk_ecs::Client::new(&account.sdk_config(3).await);
    let td = ecs
        .describe_task_definition()
        .task_definition(&live.task_definition)
        .send()
        .await
        .expect("td")
        .task_definition
        .expect("td");
    let environment = td.container_definitions()[0]
        .environment()
        .iter()
        .map(|kv| format!("{}={}", kv.name().unwrap_or(""), kv.value().unwrap_or("")))
        .collect();
    (
        live.image,
        td.cpu().unwrap_or_default().to_string(),
        td.memory().unwrap_or_default().to_string(),
        environment,
    )
}

#[tokio::test]
async fn the_first_deploy_of_an_empty_account_creates_each_service_on_its_first_image() {
    let account = Account::new();
    let project = project(&account);
    // No repository, no image: the stacks deploy and the services wait for an image.
    let (code, report, stderr) = deploy(&project, &account, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    for name in ["ocr", "backend"] {
        assert_eq!(
            service(&report, name)["result"],
            "awaiting_image",
            "{report}"
        );
    }
    let ecs = aws_sdk_ecs::Client::new(&account.sdk_config(3).await);
    let listed = ecs
        .list_services()
        .cluster("facturascan-local")
        .send()
        .await
        .expect("list services");
    assert!(
        listed.service_arns().is_empty(),
        "{:?}",
        listed.service_arns()
    );

    let digest = push_image(&account, "facturascan/ocr", "v1", "a").await;
    let (code, report, stderr) = deploy(&project, &account, &["--image", "ocr=v1"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(service(&report, "ocr")["result"], "rolled_out", "{report}");
    assert!(stderr.contains("created service ocr"), "{stderr}");
    let (image, cpu, memory, _) = running_task(&account, "ocr").await;
    assert!(
        image.ends_with(&format!("facturascan/ocr@{digest}")),
        "{image}"
    );
    assert_eq!((cpu.as_str(), memory.as_str()), ("256", "512"));
}

#[tokio::test]
async fn a_rolled_out_image_survives_a_cpu_and_environment_change_which_takes_effect() {
    let account = Account::new();
    let project = project(&account);
    let (code, _, stderr) = deploy(&project, &account, &[]);
    assert_eq!(code, Some(0), "the registry stack first: {stderr}");
    let digest = push_image(&account, "facturascan/ocr", "v1", "a").await;
    push_image(&account, "facturascan/backend", "v1", "b").await;
    let images = ["--image", "ocr=v1", "--image", "backend=v1"];
    let (code, _, stderr) = deploy(&project, &account, &images);
    assert_eq!(code, Some(0), "{stderr}");

    // The stack's base changes (cpu, memory, one variable); no image is named.
    project.replace(
        "environments/local.yaml",
        "  ocr:\n    ecs:\n      cpu: 256\n      memory: 512\n",
        "  ocr:\n    ecs:\n      cpu: 512\n      memory: 1024\n      environment: { LOG_FORMAT: json, OCR_ENGINE: textract }\n",
    );
    let (code, report, stderr) = deploy(&project, &account, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(service(&report, "ocr")["result"], "rolled_out", "{report}");
    assert!(
        report["services"].as_array().is_some_and(|s| s.len() == 1),
        "backend's base did not move: not looked at: {report}"
    );
    let (image, cpu, memory, environment) = running_task(&account, "ocr").await;
    assert!(
        image.ends_with(&format!("facturascan/ocr@{digest}")),
        "the image kept: {image}"
    );
    assert_eq!((cpu.as_str(), memory.as_str()), ("512", "1024"));
    assert!(
        environment.contains(&"OCR_ENGINE=textract".to_string()),
        "{environment:?}"
    );

    // Nothing changed since: the service is not even read.
    account.reset_requests().await;
    let (code, report, stderr) = deploy(&project, &account, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let counters = account.requests().await;
    assert_eq!(
        counters["by_operation"]["ecs:DescribeServices"],
        Value::Null,
        "{counters}\n{report}"
    );
    assert_eq!(resource_writes(&counters), 0, "{counters}");
}
