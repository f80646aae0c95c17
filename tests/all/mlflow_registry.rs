//! MLflow's model registry against a real `mlflow server` (sqlite backend, artifacts in
//! the emulator's S3): versions and aliases from the registry, parameters and metrics from
//! the run, the signature as the input schema; a deploy by alias and by number, a schema
//! mismatch and a hash mismatch refused before any write, a rollback to the earlier model.

use aws_sdk_s3::primitives::ByteStream;
use serde_json::{Value, json};

use crate::models::{deploy_model, live_model_of, local_scoring, model, scoring_package};
use crate::support::emulator::Account;
use crate::support::mlflow::mlflow;
use crate::support::{Project, UNVERIFIED, run_json};

const SIGNATURE: &str = r#"[{"type": "string", "name": "supplier", "required": true}, {"type": "string", "name": "vat", "required": true}, {"type": "double", "name": "total", "required": true}, {"type": "string", "name": "currency", "required": true}, {"type": "string", "name": "issued_at", "required": true}]"#;

/// The scoring service serving `name` from MLflow (the shipped retraining, for
/// `fraud-scoring` in S3, taken out).
fn mlflow_project(account: &Account, name: &str) -> Project {
    let project = local_scoring(
        account,
        &format!("    model:\n      name: {name}\n      registry: mlflow\n"),
    );
    let overlay = project.read("environments/local.yaml");
    project.write(
        "environments/local.yaml",
        &format!(
            "{overlay}\nmlflow:\n  tracking_uri: {}\nmodels:\n  fraud-scoring: ~\n",
            mlflow().url
        ),
    );
    scoring_package(&project);
    project
}

/// Logs a model as MLflow's client would (MLmodel and the pickled file under the run's
/// artifacts in S3) and registers it as the next version of `name`; returns its number.
async fn log_version(
    account: &Account,
    env: &str,
    name: &str,
    bytes: &str,
    signature: &str,
    tags: Value,
) -> String {
    let server = mlflow();
    let run = server
        .run(&[("max_depth", "6")], &[("auc", 0.91), ("f1", 0.84)])
        .await;
    let bucket = format!("facturascan-{env}-models-{}", account.account_id);
    let prefix = format!("mlflow/0/{run}/artifacts/model");
    let mlmodel = format!(
        "artifact_path: model\nflavors:\n  python_function:\n    loader_module: mlflow.sklearn\n    model_path: model.pkl\n  sklearn:\n    pickled_model: model.pkl\nsignature:\n  inputs: '{signature}'\n"
    );
    let s3 = account.s3().await;
    for (file, body) in [("MLmodel", mlmodel), ("model.pkl", bytes.to_string())] {
        s3.put_object()
            .bucket(&bucket)
            .key(format!("{prefix}/{file}"))
            .body(ByteStream::from(body.into_bytes()))
            .send()
            .await
            .expect("put the artifact");
    }
    let created = server
        .call(
            "POST",
            "model-versions/create",
            json!({"name": name, "source": format!("s3://{bucket}/{prefix}"), "run_id": run, "tags": tags}),
        )
        .await;
    created["model_version"]["version"]
        .as_str()
        .expect("version")
        .to_string()
}

#[tokio::test]
async fn mlflow_versions_are_resolved_deployed_refused_and_rolled_back() {
    let account = Account::new();
    let name = format!("fraud-{}", account.account_id);
    let project = mlflow_project(&account, &name);
    let (code, _, stderr) = run_json(&project, &account, &["deploy", "--env", "local"]);
    assert_eq!(code, Some(0), "{stderr}");
    mlflow()
        .call("POST", "registered-models/create", json!({"name": name}))
        .await;
    let one = log_version(
        &account,
        "local",
        &name,
        "weights one",
        SIGNATURE,
        json!([]),
    )
    .await;
    assert_eq!(one, "1");
    let two = log_version(
        &account,
        "local",
        &name,
        "weights two",
        SIGNATURE,
        json!([]),
    )
    .await;

    // `model alias` sets MLflow's alias; `model show` resolves it as a deploy does.
    let (code, out, stderr) = model(&project, &account, &["alias", &name, "champion", "1"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(out["aliases"]["champion"], 1, "{out}");
    let (code, out, stderr) = model(&project, &account, &["show", &name, "champion"]);
    assert_eq!(code, Some(0), "{stderr}");
    let version = &out["versions"][0];
    assert_eq!(out["registry"], mlflow().url.as_str());
    assert_eq!(version["version"], 1);
    assert_eq!(version["params"]["max_depth"], "6");
    assert_eq!(version["metrics"]["auc"], 0.91);
    assert_eq!(
        version["input"]["total"], "number",
        "the signature: {version}"
    );
    assert!(
        version["artifact"]["uri"]
            .as_str()
            .is_some_and(|u| u.ends_with("/artifacts/model/model.pkl")),
        "the flavor's file: {version}"
    );
    let sha_one = version["artifact"]["sha256"]
        .as_str()
        .expect("sha")
        .to_string();
    let (code, out, stderr) = model(&project, &account, &["list", &name]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(out["versions"].as_array().map(Vec::len), Some(2), "{out}");

    // Registering is MLflow's: refused before any AWS call.
    project.write("w.bin", "w");
    project.write("input.json", "{}");
    let (code, _, stderr) = model(
        &project,
        &account,
        &[
            "register",
            &name,
            "--file",
            "w.bin",
            "--input",
            "input.json",
        ],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("registered in MLflow, not by facturactl"),
        "{stderr}"
    );

    let function = "facturascan-local-scoring";
    let deploy = |reference: &str| deploy_model(&project, &account, "local", reference);
    let (code, _, stderr) = deploy("champion");
    assert_eq!(code, Some(0), "{stderr}");
    // The service loads it from the environment's registry, where its role may read: the
    // bytes MLflow's version names, copied and hashed on the way.
    let (uri, sha) = live_model_of(&account, function).await;
    let registry = format!(
        "s3://facturascan-local-models-{}/registry/{name}/artifacts/sha256-{sha_one}",
        account.account_id
    );
    assert_eq!(uri, registry);
    assert_eq!(sha, sha_one);
    let copied = account
        .s3()
        .await
        .get_object()
        .bucket(format!("facturascan-local-models-{}", account.account_id))
        .key(format!("registry/{name}/artifacts/sha256-{sha_one}"))
        .send()
        .await
        .expect("the copy is in the registry")
        .body
        .collect()
        .await
        .expect("its bytes")
        .into_bytes();
    assert_eq!(crate::support::sha256_hex(&copied), sha_one);

    // A signature that is not what the service sends, and bytes that are not the tagged
    // hash: each refused (exit 3), nothing changed.
    let narrow = r#"[{"type": "string", "name": "supplier", "required": true}]"#;
    let three = log_version(&account, "local", &name, "weights three", narrow, json!([])).await;
    let four = log_version(
        &account,
        "local",
        &name,
        "weights four",
        SIGNATURE,
        json!([{"key": "sha256", "value": "0".repeat(64)}]),
    )
    .await;
    for (reference, expected) in [
        (three.as_str(), "`vat` is declared but not in the model"),
        (four.as_str(), "but was registered as 0000"),
    ] {
        let (code, out, stderr) = deploy(reference);
        assert_eq!(code, Some(3), "{reference}: {stderr}");
        assert_eq!(out["kind"], "refused", "{out}");
        assert!(stderr.contains(expected), "{reference}: {stderr}");
        assert_eq!(live_model_of(&account, function).await.1, sha_one);
    }

    // Version 2 by number, then a rollback restores version 1 with the code.
    let (code, _, stderr) = deploy(&two);
    assert_eq!(code, Some(0), "{stderr}");
    let (_, sha_two) = live_model_of(&account, function).await;
    assert_ne!(sha_two, sha_one);
    let (code, status, stderr) = run_json(&project, &account, &["status", "--env", "local"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(status.to_string().contains(&sha_two), "{status}");
    let (code, _, stderr) = run_json(&project, &account, &["rollback", "--env", "local", "--yes"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(live_model_of(&account, function).await.1, sha_one);
}

#[test]
fn a_model_in_mlflow_needs_the_tracking_server() {
    let project = Project::copy();
    project.replace(
        "deploy.toml",
        "[services.scoring.model]\nname = \"fraud-scoring\"\n",
        "[services.scoring.model]\nname = \"fraud-scoring\"\nregistry = \"mlflow\"\n",
    );
    let output = project
        .cmd()
        .args(["validate", "--env", "staging"])
        .output()
        .expect("validate");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("deploy.toml:")
            && stderr.contains("service `scoring`'s model is in MLflow, but no [mlflow] is set"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_tracking_token_never_crosses_plain_http_outside_local() {
    let account = Account::new();
    let project = Project::for_deploys_in(&account).await;
    crate::models::staging_and_production_with_scoring(&project);
    let file = "environments/staging.yaml";
    project.replace(
        file,
        "  scoring:\n    enabled: true\n",
        "  scoring:\n    enabled: true\n    model:\n      name: guarded\n      registry: mlflow\n",
    );
    let overlay = project.read(file);
    // The test server answers plain http: staging refuses to send it a token.
    project.write(
        file,
        &format!(
            "{overlay}\nmlflow:\n  tracking_uri: {}\nmodels:\n  fraud-scoring: ~\n",
            mlflow().url
        ),
    );
    let output = project
        .cmd()
        .env("AWS_ACCESS_KEY_ID", &account.access_key)
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("MLFLOW_TRACKING_TOKEN", "t0ken")
        .args(["model", "list", "guarded", "--env", "staging"])
        .args(["--endpoint-url", &account.endpoint])
        .output()
        .expect("model list");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr
            .contains("a tracking token is not sent over plain http outside the local environment"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_model_from_mlflow_is_promoted_into_the_targets_registry() {
    let account = Account::new();
    let project = Project::for_deploys_in(&account).await;
    crate::models::staging_and_production_with_scoring(&project);
    let name = format!("promoted-{}", account.account_id);
    for env in ["staging", "production"] {
        let file = format!("environments/{env}.yaml");
        let registry = if env == "staging" {
            "\n      registry: mlflow"
        } else {
            ""
        };
        project.replace(
            &file,
            "  scoring:\n    enabled: true\n",
            &format!("  scoring:\n    enabled: true\n    model:\n      name: {name}{registry}\n"),
        );
        let overlay = project.read(&file);
        project.write(
            &file,
            &format!(
                "{overlay}\nmlflow:\n  tracking_uri: {}\nmodels:\n  fraud-scoring: ~\n",
                mlflow().url
            ),
        );
    }
    scoring_package(&project);
    project.git_release(Some("v1.0.0"));
    let (code, _, stderr) = run_json(&project, &account, &["deploy", "--env", "staging"]);
    assert_eq!(code, Some(0), "{stderr}");
    mlflow()
        .call("POST", "registered-models/create", json!({"name": name}))
        .await;
    log_version(
        &account,
        "staging",
        &name,
        "promoted weights",
        SIGNATURE,
        json!([]),
    )
    .await;
    let (code, staged, stderr) = deploy_model(&project, &account, "staging", "1");
    assert_eq!(code, Some(0), "{stderr}\n{staged}");
    let (code, _, stderr) = run_json(
        &project,
        &account,
        &["deploy", "--env", "production", "--yes"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    // Approved in MLflow (the version's `facturactl.approval` tag), then promoted.
    let (code, approved, stderr) = run_json(
        &project,
        &account,
        &["model", "approve", &name, "1", "--env", "staging"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        approved["approvals"]["1"]["state"], "approved",
        "{approved}"
    );
    let (code, promoted, stderr) = run_json(
        &project,
        &account,
        &[
            "promote",
            "--from",
            "staging",
            "--to",
            "production",
            "--yes",
            "--skip-verification",
            "--reason",
            UNVERIFIED,
        ],
    );
    assert_eq!(code, Some(0), "{stderr}\n{promoted}");
    // Production runs the bytes MLflow's version names, copied into its own registry.
    let sha = crate::support::sha256_hex(b"promoted weights");
    let (code, shown, stderr) = run_json(
        &project,
        &account,
        &["model", "show", &name, "1", "--env", "production"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        shown["versions"][0]["artifact"]["sha256"],
        sha.as_str(),
        "{shown}"
    );
    assert_eq!(shown["versions"][0]["metrics"]["auc"], 0.91, "{shown}");
    assert_eq!(shown["approvals"]["1"]["state"], "approved", "{shown}");
    let (_, live) = live_model_of(&account, "facturascan-production-scoring").await;
    assert_eq!(live, sha);
}

/// Logs a model with MLflow's own client, as ordinary MLflow 3 training code does
/// (`tests/all/support/log_model.py`: `mlflow.sklearn.log_model(...,
/// registered_model_name=...)`), its artifacts in the environment's models bucket; the
/// version it registered.
fn log_with_client(account: &Account, name: &str, signed: bool) -> String {
    let bucket = format!("facturascan-local-models-{}", account.account_id);
    let mut command = std::process::Command::new(crate::support::emulator::python());
    command
        .arg(crate::support::repo_root().join("tests/all/support/log_model.py"))
        .args([name, bucket.as_str()]);
    if !signed {
        command.arg("--no-signature");
    }
    let output = command
        .env("MLFLOW_TRACKING_URI", &mlflow().url)
        .env("MLFLOW_S3_ENDPOINT_URL", &account.endpoint)
        .env("AWS_ACCESS_KEY_ID", &account.access_key)
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_DEFAULT_REGION", "eu-west-1")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .expect("run log_model.py");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "log_model.py: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .last()
        .expect("the version printed")
        .trim()
        .to_string()
}

#[tokio::test]
async fn a_model_logged_by_mlflow_3_is_deployed_and_an_unusable_version_listed_alone() {
    let account = Account::new();
    let name = format!("fraud-{}", account.account_id);
    let project = mlflow_project(&account, &name);
    let (code, _, stderr) = run_json(&project, &account, &["deploy", "--env", "local"]);
    assert_eq!(code, Some(0), "{stderr}");
    let signed = log_with_client(&account, &name, true);
    let unsigned = log_with_client(&account, &name, false);
    let again = log_with_client(&account, &name, true);

    // MLflow 3 registers `models:/m-...`: resolved through the server's download URI.
    let (code, out, stderr) = model(&project, &account, &["show", &name, &signed]);
    assert_eq!(code, Some(0), "{stderr}");
    let version = &out["versions"][0];
    assert_eq!(version["metrics"]["auc"], 0.91, "{version}");
    assert_eq!(version["input"]["total"], "number", "{version}");
    let uri = version["artifact"]["uri"].as_str().unwrap_or_default();
    // The flavor's file of the logged model (MLflow 3.17 writes scikit-learn as skops).
    assert!(
        uri.contains("/mlflow/models/m-") && uri.contains("/artifacts/model."),
        "the logged model's file: {uri}"
    );

    // The version without a signature is listed on its own line; the others are listed.
    let (code, out, stderr) = model(&project, &account, &["list", &name]);
    assert_eq!(code, Some(0), "{stderr}");
    let listed: Vec<String> = out["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| v["version"].to_string())
        .collect();
    assert_eq!(listed, vec![signed.clone(), again.clone()], "{out}");
    assert_eq!(out["unusable"][0]["version"], unsigned.as_str(), "{out}");
    assert!(
        out["unusable"][0]["problem"]
            .as_str()
            .is_some_and(|p| p.contains("no signature")),
        "{out}"
    );
    let text = project
        .cmd()
        .env("AWS_ACCESS_KEY_ID", &account.access_key)
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .args(["model", "list", &name, "--env", "local"])
        .args(["--endpoint-url", &account.endpoint])
        .output()
        .expect("model list");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains(&format!("version {unsigned} cannot serve")),
        "{text}"
    );

    // Deployed as logged: the service loads the pickled pipeline MLflow wrote.
    let (code, _, stderr) = deploy_model(&project, &account, "local", &signed);
    assert_eq!(code, Some(0), "{stderr}");
    let (live, sha) = live_model_of(&account, "facturascan-local-scoring").await;
    assert!(
        live.contains("/registry/") && live.ends_with(&format!("sha256-{sha}")),
        "copied into the environment's registry: {live}"
    );
    assert_eq!(Some(sha.as_str()), version["artifact"]["sha256"].as_str());
}
