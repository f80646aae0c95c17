//! The S3 model registry against the harness: register (content-addressed bytes, numbered
//! versions, aliases), list, resolve by version and by alias with the bytes hashed, and a
//! tampered version refused (exit 3).

use serde_json::Value;

use crate::rollouts::project;
use crate::support::emulator::Account;
use crate::support::{Project, UNVERIFIED, run_json};

/// A deployed local environment (its storage stack creates the models bucket) with the
/// model files `model-a.bin`, `model-b.bin` and `input.json` in the project.
pub(crate) fn registry_project(account: &Account) -> Project {
    let project = project(account);
    let (code, _, stderr) = run_json(&project, account, &["deploy", "--env", "local"]);
    assert_eq!(code, Some(0), "{stderr}");
    project.write("model-a.bin", "weights of model a");
    project.write("model-b.bin", "weights of model b");
    project.write(
        "input.json",
        r#"{"supplier": "string", "vat": "string", "total": "number"}"#,
    );
    project
}

pub(crate) fn model(
    project: &Project,
    account: &Account,
    args: &[&str],
) -> (Option<i32>, Value, String) {
    let mut all = vec!["model"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--env", "local"]);
    run_json(project, account, &all)
}

pub(crate) fn register(project: &Project, account: &Account, file: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "register",
        "fraud-scoring",
        "--file",
        file,
        "--input",
        "input.json",
    ];
    args.extend_from_slice(extra);
    let (code, out, stderr) = model(project, account, &args);
    assert_eq!(code, Some(0), "{stderr}");
    out
}

#[tokio::test]
async fn versions_are_registered_resolved_by_number_and_alias_and_hash_checked() {
    let account = Account::new();
    let project = registry_project(&account);
    let first = register(
        &project,
        &account,
        "model-a.bin",
        &[
            "--param",
            "max_depth=6",
            "--metric",
            "auc=0.91",
            "--alias",
            "champion",
        ],
    );
    let v1 = &first["versions"][0];
    assert_eq!(v1["version"], 1, "{first}");
    assert_eq!(v1["params"]["max_depth"], "6");
    assert_eq!(v1["metrics"]["auc"], 0.91);
    assert_eq!(v1["input"]["total"], "number");
    let sha_a = crate::support::sha256_hex(b"weights of model a");
    assert_eq!(v1["artifact"]["sha256"], sha_a.as_str());
    assert_eq!(
        v1["artifact"]["key"],
        format!("registry/fraud-scoring/artifacts/sha256-{sha_a}").as_str()
    );
    assert!(
        v1["artifact"]["version_id"].is_string(),
        "versioned bucket: {v1}"
    );
    assert_eq!(first["aliases"]["champion"], 1);

    // The same bytes again: a new version, the same object.
    let again = register(&project, &account, "model-a.bin", &[]);
    assert_eq!(again["versions"][0]["version"], 2);
    assert_eq!(again["versions"][0]["artifact"], v1["artifact"]);
    let second = register(&project, &account, "model-b.bin", &["--alias", "candidate"]);
    assert_eq!(second["versions"][0]["version"], 3);

    let (code, listed, stderr) = model(&project, &account, &["list", "fraud-scoring"]);
    assert_eq!(code, Some(0), "{stderr}");
    let numbers: Vec<u64> = listed["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .filter_map(|v| v["version"].as_u64())
        .collect();
    assert_eq!(numbers, [1, 2, 3]);
    assert_eq!(
        listed["aliases"],
        serde_json::json!({"champion": 1, "candidate": 3})
    );

    // Resolved by alias and by number, each read and hashed.
    for (reference, version) in [("champion", 1), ("candidate", 3), ("2", 2), ("v3", 3)] {
        let (code, shown, stderr) =
            model(&project, &account, &["show", "fraud-scoring", reference]);
        assert_eq!(code, Some(0), "{reference}: {stderr}");
        assert_eq!(shown["versions"][0]["version"], version, "{reference}");
    }
    let (code, moved, stderr) = model(
        &project,
        &account,
        &["alias", "fraud-scoring", "champion", "3"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(moved["aliases"]["champion"], 3);

    // Unknown names are errors (exit 1) that say where to look.
    let (code, _, stderr) = model(&project, &account, &["show", "fraud-scoring", "9"]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("has no version 9") && stderr.contains("model list fraud-scoring"),
        "{stderr}"
    );
    let (code, _, stderr) = model(&project, &account, &["show", "fraud-scoring", "Latest"]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("neither a version number nor an alias"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_version_whose_bytes_are_not_the_registered_ones_is_refused() {
    let account = Account::new();
    let project = registry_project(&account);
    register(&project, &account, "model-a.bin", &[]);
    // The version document claims other bytes than the object holds (a document edited
    // by hand, or an object version replaced).
    tamper_version(&account, "fraud-scoring", 1, &"0".repeat(64)).await;
    let (code, out, stderr) = model(&project, &account, &["show", "fraud-scoring", "1"]);
    assert_eq!(code, Some(3), "{stderr}");
    // A refusal's error document says `refused`, as the exit code does.
    assert_eq!(out["status"], "refused");
    assert_eq!(out["kind"], "refused");
    assert!(
        stderr.contains("hashes to") && stderr.contains("but was registered as 0000"),
        "{stderr}"
    );
}

/// Rewrites version `version`'s document with another SHA-256.
pub(crate) async fn tamper_version(account: &Account, name: &str, version: u32, sha256: &str) {
    let s3 = account.s3().await;
    let bucket = format!("facturascan-local-models-{}", account.account_id);
    let key = format!("registry/{name}/versions/{version:08}.json");
    let doc = s3
        .get_object()
        .bucket(&bucket)
        .key(&key)
        .send()
        .await
        .expect("get the version document");
    let bytes = doc.body.collect().await.expect("body").into_bytes();
    let mut document: Value = serde_json::from_slice(&bytes).expect("json");
    document["artifact"]["sha256"] = sha256.into();
    // The bucket refuses overwrites of version documents: deleted, then written anew.
    s3.delete_object()
        .bucket(&bucket)
        .key(&key)
        .send()
        .await
        .expect("delete the version document");
    s3.put_object()
        .bucket(&bucket)
        .key(&key)
        .if_none_match("*")
        .body(serde_json::to_vec(&document).expect("json").into())
        .send()
        .await
        .expect("put the tampered document");
}

#[tokio::test]
async fn registered_bytes_are_written_once_and_the_audit_hashes_what_the_service_loads() {
    let account = Account::new();
    let project = scoring_project(&account).await;
    let (code, _, stderr) = deploy_model(&project, &account, "local", "champion");
    assert_eq!(code, Some(0), "{stderr}");
    let (uri, _) = live_model(&account).await;
    let (bucket, key) = uri
        .strip_prefix("s3://")
        .and_then(|r| r.split_once('/'))
        .expect("an S3 URI");
    let s3 = account.s3().await;
    let put = |conditional: bool| {
        let request = s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(b"other bytes".to_vec().into());
        if conditional {
            request.if_none_match("*")
        } else {
            request
        }
    };
    // An overwrite is refused by the bucket's policy, and a write-once one by S3.
    let refused = put(false).send().await.expect_err("an overwrite");
    assert_eq!(
        refused.as_service_error().and_then(|e| e.meta().code()),
        Some("AccessDenied"),
        "{refused:?}"
    );
    let refused = put(true).send().await.expect_err("a second first write");
    assert_eq!(
        refused.raw_response().map(|r| r.status().as_u16()),
        Some(412),
        "{refused:?}"
    );
    let (_, report, stderr) = run_json(&project, &account, &["audit", "drift", "--env", "local"]);
    let kinds = report["findings"].to_string();
    assert!(!kinds.contains("model.bytes"), "{stderr}\n{report}");

    // Deleted and uploaded anew under the same key: the audit hashes what the service
    // would load and reports it.
    s3.delete_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .expect("delete");
    put(true).send().await.expect("a new object");
    let (code, report, stderr) =
        run_json(&project, &account, &["audit", "drift", "--env", "local"]);
    assert_eq!(code, Some(2), "findings exit 2: {stderr}");
    let found = report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["kind"] == "model.bytes")
        .unwrap_or_else(|| panic!("no model.bytes finding: {report}"));
    assert_eq!(found["severity"], "high", "{found}");
}

/// The input the scoring service declares (deploy.toml), as `model register --input` takes it.
pub(crate) const SCORING_INPUT: &str = r#"{"supplier": "string", "vat": "string", "total": "number", "currency": "string", "issued_at": "string"}"#;

/// `scoring.zip` in the project: a scoring handler.
pub(crate) fn scoring_package(project: &Project) {
    let code = "def predict(event, context):\n    return {'fraud_score': 0.1}\n";
    let zip = crate::support::zip::zip(&[("scoring.py", code)]);
    std::fs::write(project.path().join("scoring.zip"), zip).expect("zip");
}

/// `deploy --env <env> --package scoring=scoring.zip --model scoring=<reference>`: the
/// scoring package with a model of the registry.
pub(crate) fn deploy_model(
    project: &Project,
    account: &Account,
    env: &str,
    reference: &str,
) -> (Option<i32>, Value, String) {
    let model = format!("scoring={reference}");
    run_json(
        project,
        account,
        &[
            "deploy",
            "--env",
            env,
            "--package",
            "scoring=scoring.zip",
            "--model",
            &model,
        ],
    )
}

/// The local project with the ML stack and the scoring service on, rolled out all at once
/// (deploy.toml's linear rollout watches five 2-minute steps), `extra` added to the
/// service's settings (indented as they are).
pub(crate) fn local_scoring(account: &Account, extra: &str) -> Project {
    let project = project(account);
    project.replace(
        "environments/local.yaml",
        "stacks:\n",
        "stacks:\n  ml:\n    enabled: true\n",
    );
    project.replace(
        "environments/local.yaml",
        "services:\n",
        &format!(
            "services:\n  scoring:\n    enabled: true\n    lambda:\n      rollout: {{ strategy: all-at-once }}\n{extra}"
        ),
    );
    project
}

/// The local project with the ML stack and the scoring service on, deployed, its models
/// registered: version 1 (`champion`) and 2 take the declared input, 3 does not.
async fn scoring_project(account: &Account) -> Project {
    let project = local_scoring(account, "");
    let (code, _, stderr) = run_json(&project, account, &["deploy", "--env", "local"]);
    assert_eq!(code, Some(0), "{stderr}");
    project.write("input.json", SCORING_INPUT);
    project.write(
        "other-input.json",
        r#"{"supplier": "string", "total": "integer"}"#,
    );
    for (file, text) in [
        ("m1.bin", "model one"),
        ("m2.bin", "model two"),
        ("m3.bin", "model three"),
    ] {
        project.write(file, text);
    }
    register(&project, account, "m1.bin", &["--alias", "champion"]);
    register(&project, account, "m2.bin", &[]);
    let (code, _, stderr) = model(
        &project,
        account,
        &[
            "register",
            "fraud-scoring",
            "--file",
            "m3.bin",
            "--input",
            "other-input.json",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    scoring_package(&project);
    project
}

/// MODEL_URI and MODEL_SHA256 of the version behind the local scoring function's alias.
async fn live_model(account: &Account) -> (String, String) {
    live_model_of(account, "facturascan-local-scoring").await
}

/// MODEL_URI and MODEL_SHA256 of the version behind `function`'s `live` alias.
pub(crate) async fn live_model_of(account: &Account, function: &str) -> (String, String) {
    let lambda = aws_sdk_lambda::Client::new(&account.sdk_config(3).await);
    let alias = lambda
        .get_alias()
        .function_name(function)
        .name("live")
        .send()
        .await
        .expect("the live alias");
    let config = lambda
        .get_function_configuration()
        .function_name(function)
        .qualifier(alias.function_version().expect("version"))
        .send()
        .await
        .expect("the live version");
    let vars = config
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default();
    (
        vars.get("MODEL_URI").cloned().unwrap_or_default(),
        vars.get("MODEL_SHA256").cloned().unwrap_or_default(),
    )
}

fn recorded_model(project: &Project, account: &Account) -> Value {
    let (code, status, stderr) = run_json(project, account, &["status", "--env", "local"]);
    assert_eq!(code, Some(0), "{stderr}");
    status["current"]["services"]["scoring"]["model"].clone()
}

fn records(project: &Project, account: &Account) -> usize {
    let (_, history, _) = run_json(project, account, &["history", "--env", "local"]);
    history["records"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn a_model_is_deployed_by_reference_kept_by_later_deploys_and_rolled_back() {
    let account = Account::new();
    let project = scoring_project(&account).await;
    let sha = |text: &str| crate::support::sha256_hex(text.as_bytes());

    // By alias, with the code: the live version names the model by its content address.
    let (code, out, stderr) = deploy_model(&project, &account, "local", "champion");
    assert_eq!(code, Some(0), "{stderr}\n{out}");
    let (uri, live_sha) = live_model(&account).await;
    assert_eq!(live_sha, sha("model one"));
    assert!(
        uri.ends_with(&format!(
            "/registry/fraud-scoring/artifacts/sha256-{}",
            sha("model one")
        )),
        "{uri}"
    );
    let pinned = recorded_model(&project, &account);
    assert_eq!(
        (pinned["name"].as_str(), pinned["version"].as_u64()),
        (Some("fraud-scoring"), Some(1)),
        "{pinned}"
    );
    assert_eq!(pinned["sha256"], sha("model one").as_str());

    // A deploy that names no model keeps it: no stack change, no new version.
    let (code, out, stderr) = run_json(&project, &account, &["deploy", "--env", "local"]);
    assert_eq!(code, Some(0), "{stderr}");
    let ml = out["stacks"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["stack"] == "ml"))
        .cloned();
    assert_eq!(
        ml.as_ref().map(|m| m["action"].clone()),
        Some("unchanged".into()),
        "{out}"
    );
    assert_eq!(live_model(&account).await.1, sha("model one"));
    let (code, plan, stderr) = run_json(&project, &account, &["plan", "--env", "local"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        !plan.to_string().contains("ModelSha256"),
        "the plan would change the model: {plan}"
    );

    // By number, without code: the same code published again with the new model.
    let (code, out, stderr) = run_json(
        &project,
        &account,
        &["deploy", "--env", "local", "--model", "scoring=2"],
    );
    assert_eq!(code, Some(0), "{stderr}\n{out}");
    assert_eq!(live_model(&account).await.1, sha("model two"));
    assert_eq!(recorded_model(&project, &account)["version"], 2);
    let (_, history, _) = run_json(&project, &account, &["history", "--env", "local"]);
    let newest = history["records"]
        .as_array()
        .and_then(|r| r.first())
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        newest["services"]["scoring"]["model"]["version"], 2,
        "{history}"
    );

    // The audit compares the model the live version runs with the record: clean, then
    // the alias moved by hand to the version that runs model one.
    let model_findings = |audit: &Value| -> Vec<Value> {
        audit["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| f["kind"] == "model.live")
            .cloned()
            .collect()
    };
    let (_, audit, stderr) = run_json(&project, &account, &["audit", "drift", "--env", "local"]);
    assert!(model_findings(&audit).is_empty(), "{stderr}\n{audit}");
    let lambda = aws_sdk_lambda::Client::new(&account.sdk_config(3).await);
    let moved = |version: &'static str| {
        lambda
            .update_alias()
            .function_name("facturascan-local-scoring")
            .name("live")
            .function_version(version)
            .send()
    };
    moved("1").await.expect("alias moved");
    let (code, audit, stderr) = run_json(&project, &account, &["audit", "drift", "--env", "local"]);
    assert_eq!(code, Some(2), "{stderr}");
    let found = model_findings(&audit);
    assert_eq!(found.len(), 1, "{audit}");
    assert!(
        found[0]["expected"]
            .as_str()
            .is_some_and(|e| e.starts_with("fraud-scoring v2"))
            && found[0]["actual"]
                .as_str()
                .is_some_and(|a| a.contains(&sha("model one"))),
        "{found:?}"
    );
    moved("2").await.expect("alias moved back");

    // An A/B of the two models: each side of the split names the model its version runs.
    let (code, _, stderr) = run_json(
        &project,
        &account,
        &[
            "traffic",
            "--env",
            "local",
            "set",
            "scoring",
            "--variant",
            "1",
            "--percent",
            "10",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let (_, split, _) = run_json(
        &project,
        &account,
        &["traffic", "--env", "local", "scoring"],
    );
    assert_eq!(
        (
            split["control"]["model_sha256"].as_str(),
            split["variant"]["model_sha256"].as_str()
        ),
        (
            Some(sha("model two").as_str()),
            Some(sha("model one").as_str())
        ),
        "{split}"
    );
    run_json(
        &project,
        &account,
        &["traffic", "--env", "local", "abort", "scoring"],
    );

    // A schema that differs is refused before any write, naming the fields.
    let before = records(&project, &account);
    let (code, out, stderr) = run_json(
        &project,
        &account,
        &["deploy", "--env", "local", "--model", "scoring=3"],
    );
    assert_eq!(code, Some(3), "{stderr}");
    assert_eq!(out["kind"], "refused");
    for field in [
        "`total` is integer in the model, number as declared",
        "`currency` is declared but not in the model",
    ] {
        assert!(stderr.contains(field), "{field}: {stderr}");
    }
    // And so are bytes that are not the registered ones.
    tamper_version(&account, "fraud-scoring", 1, &"1".repeat(64)).await;
    let (code, _, stderr) = run_json(
        &project,
        &account,
        &["deploy", "--env", "local", "--model", "scoring=champion"],
    );
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("but was registered as 1111"), "{stderr}");
    assert_eq!(
        records(&project, &account),
        before,
        "a refused deploy wrote a record"
    );
    assert_eq!(live_model(&account).await.1, sha("model two"));

    // A rollback restores the model with the code: the earlier version runs model one.
    let (code, out, stderr) =
        run_json(&project, &account, &["rollback", "--env", "local", "--yes"]);
    assert_eq!(code, Some(0), "{stderr}\n{out}");
    assert_eq!(live_model(&account).await.1, sha("model one"));
    assert_eq!(recorded_model(&project, &account)["version"], 1);
}

#[test]
fn model_assignments_are_checked_before_any_aws_call() {
    let project = Project::copy();
    let tripwire = crate::support::Tripwire::start();
    for (args, says) in [
        (&["--model", "ocr=3"][..], "service `ocr` declares no model"),
        (
            &["--model", "scoring"][..],
            "is not `<service>=<version or alias>`",
        ),
        (
            &["--model", "scoring=Latest"][..],
            "neither a version number nor an alias",
        ),
    ] {
        let output = project
            .cmd()
            .args([
                "deploy",
                "--env",
                "staging",
                "--endpoint-url",
                &tripwire.url,
            ])
            .args(args)
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains(says) && stderr.contains("= help:"),
            "{args:?}: {stderr}"
        );
    }
    assert_eq!(tripwire.hits(), 0, "bad input reached the AWS endpoint");
}

/// Staging and production in one emulator account, both running the scoring service (all
/// at once); the database and production's registry left out as in `releases`.
pub(crate) fn staging_and_production_with_scoring(project: &Project) {
    project.without_database();
    project.with_scoring_everywhere();
    project.replace(
        "environments/production.yaml",
        "  registry:\n",
        "  registry:\n    enabled: false\n",
    );
}

#[tokio::test]
async fn a_promotion_runs_the_same_model_copied_into_the_target_registry() {
    let account = Account::new();
    let project = Project::for_deploys_in(&account).await;
    staging_and_production_with_scoring(&project);
    project.write("input.json", SCORING_INPUT);
    project.write("m1.bin", "model one");
    scoring_package(&project);
    project.git_release(Some("v1.0.0"));
    let (code, _, stderr) = run_json(&project, &account, &["deploy", "--env", "staging"]);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, _, stderr) = run_json(
        &project,
        &account,
        &[
            "model",
            "register",
            "fraud-scoring",
            "--file",
            "m1.bin",
            "--input",
            "input.json",
            "--env",
            "staging",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let (code, staged, stderr) = deploy_model(&project, &account, "staging", "1");
    assert_eq!(code, Some(0), "{stderr}\n{staged}");

    let promote = [
        "promote",
        "--from",
        "staging",
        "--to",
        "production",
        "--yes",
        "--skip-verification",
        "--reason",
        UNVERIFIED,
    ];
    // Production runs approved versions only: refused before anything changes, then
    // approved where it was registered and reviewed.
    let (code, out, stderr) = run_json(&project, &account, &promote);
    assert_eq!(code, Some(3), "{stderr}\n{out}");
    assert!(
        stderr.contains("`fraud-scoring` version 1 is pending, not approved"),
        "{stderr}"
    );
    let approve = |state: &str, reason: &str| {
        let mut args = vec!["model", state, "fraud-scoring", "1", "--env", "staging"];
        if !reason.is_empty() {
            args.extend(["--reason", reason]);
        }
        run_json(&project, &account, &args)
    };
    let (code, _, stderr) = approve("reject", "");
    assert_eq!(code, Some(1), "a rejection needs a reason: {stderr}");
    let (code, decided, stderr) = approve("approve", "beats v0 on the holdout");
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(decided["approvals"]["1"]["state"], "approved", "{decided}");
    assert_eq!(
        decided["approvals"]["1"]["reason"],
        "beats v0 on the holdout"
    );
    // Production's stacks are deployed before its first promotion: its storage stack
    // creates the registry the model is copied into.
    let (code, _, stderr) = run_json(&project, &account, &promote);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("`production` has no model registry yet")
            && stderr.contains("deploy --env production"),
        "{stderr}"
    );
    let (code, _, stderr) = run_json(
        &project,
        &account,
        &["deploy", "--env", "production", "--yes"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let (code, promoted, stderr) = run_json(&project, &account, &promote);
    assert_eq!(code, Some(0), "{stderr}\n{promoted}");
    let (_, status, _) = run_json(&project, &account, &["status", "--env", "production"]);
    let pin = &status["current"]["services"]["scoring"]["model"];
    let sha = crate::support::sha256_hex(b"model one");
    assert_eq!(
        (pin["version"].as_u64(), pin["sha256"].as_str()),
        (Some(1), Some(sha.as_str())),
        "{status}"
    );
    let production_bucket = format!("s3://facturascan-production-models-{}/", account.account_id);
    assert!(
        pin["uri"]
            .as_str()
            .is_some_and(|u| u.starts_with(&production_bucket)),
        "{pin}"
    );
    // Production's registry now holds the version, its bytes checked on the way.
    let (code, shown, stderr) = run_json(
        &project,
        &account,
        &["model", "show", "fraud-scoring", "1", "--env", "production"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(shown["versions"][0]["artifact"]["sha256"], sha.as_str());
    // Its approval came with it.
    assert_eq!(shown["approvals"]["1"]["state"], "approved", "{shown}");
    // And the production function's live version runs it.
    let (_, live) = live_model_of(&account, "facturascan-production-scoring").await;
    assert_eq!(live, sha);

    // A version registered in production itself is pending there: a deploy refuses it
    // before any change, and runs it once approved.
    // (The file is outside the checkout: production deploys a clean commit.)
    let outside = std::env::temp_dir().join(format!("m2-{}.bin", account.account_id));
    std::fs::write(&outside, "model two").expect("write the model file");
    let (code, _, stderr) = run_json(
        &project,
        &account,
        &[
            "model",
            "register",
            "fraud-scoring",
            "--file",
            outside.to_str().expect("a UTF-8 path"),
            "--input",
            "input.json",
            "--env",
            "production",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let (code, out, stderr) = deploy_model(&project, &account, "production", "2");
    assert_eq!(code, Some(3), "{stderr}\n{out}");
    assert!(
        stderr.contains("version 2 is pending, not approved"),
        "{stderr}"
    );
    let (_, live_after) = live_model_of(&account, "facturascan-production-scoring").await;
    assert_eq!(live_after, sha, "nothing changed");
    let (code, _, stderr) = run_json(
        &project,
        &account,
        &[
            "model",
            "reject",
            "fraud-scoring",
            "2",
            "--env",
            "production",
            "--reason",
            "drifts",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let (code, _, stderr) = deploy_model(&project, &account, "production", "2");
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains("version 2 is rejected, not approved"),
        "{stderr}"
    );
}

/// `MODEL_SHA256` of one version (or `$LATEST`) of the local scoring function, and its code.
async fn model_and_code_of(account: &Account, qualifier: &str) -> (String, String) {
    let config = aws_sdk_lambda::Client::new(&account.sdk_config(3).await)
        .get_function_configuration()
        .function_name("facturascan-local-scoring")
        .qualifier(qualifier)
        .send()
        .await
        .expect("the version");
    let model = config
        .environment()
        .and_then(|e| e.variables())
        .and_then(|v| v.get("MODEL_SHA256").cloned())
        .unwrap_or_default();
    (model, config.code_sha256().unwrap_or_default().to_string())
}

#[tokio::test]
async fn traffic_set_model_runs_a_registered_version_beside_the_control_on_its_code() {
    let account = Account::new();
    let project = scoring_project(&account).await;
    let (code, deployed, stderr) = deploy_model(&project, &account, "local", "champion");
    assert_eq!(code, Some(0), "{stderr}\n{deployed}");
    let (control, _) = crate::experiments::alias_of(&account, "facturascan-local-scoring").await;
    let (one, control_code) = model_and_code_of(&account, &control).await;
    assert_eq!(one, crate::support::sha256_hex(b"model one"));

    // A version whose input is not the service's is refused before anything changes.
    let traffic = |args: &[&str]| {
        let mut all = vec!["traffic", "--env", "local"];
        all.extend_from_slice(args);
        run_json(&project, &account, &all)
    };
    let (code, _, stderr) = traffic(&["set", "scoring", "--model", "3", "--percent", "10"]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains("does not take what service `scoring` sends"),
        "{stderr}"
    );
    let (code, _, stderr) = traffic(&["set", "scoring", "--percent", "10"]);
    assert_eq!(code, Some(1), "a variant or a model: {stderr}");

    // Version 2 of the model on the control's code, at 10%, recorded with its model.
    let (code, report, stderr) = traffic(&["set", "scoring", "--model", "2", "--percent", "10"]);
    assert_eq!(code, Some(0), "{stderr}\n{report}");
    let (now, variants) = crate::experiments::alias_of(&account, "facturascan-local-scoring").await;
    assert_eq!(now, control, "the control keeps its version");
    let variant = variants.first().expect("a variant").clone();
    let (two, variant_code) = model_and_code_of(&account, &variant).await;
    assert_eq!(two, crate::support::sha256_hex(b"model two"));
    assert_eq!(variant_code, control_code, "the control's code");
    // $LATEST has its own variables back: it is still what the stack describes.
    let (latest, _) = model_and_code_of(&account, "$LATEST").await;
    assert_eq!(latest, one, "$LATEST restored");
    let (_, status, _) = run_json(&project, &account, &["status", "--env", "local"]);
    let split = &status["current"]["services"]["scoring"]["split"];
    assert_eq!(split["percent"], 10, "{status}");
    assert_eq!(split["variant"]["model"]["version"], 2, "{status}");
    assert_eq!(split["variant"]["version"], variant.as_str(), "{status}");

    // Promoted: the control runs version 2, and the record says so.
    let (code, _, stderr) = traffic(&["promote", "scoring"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(recorded_model(&project, &account)["version"], 2);
}
