//! The S3 model registry against the harness: register (content-addressed bytes, numbered
//! versions, aliases), list, resolve by version and by alias with the bytes hashed, and a
//! tampered version refused (exit 3).

use serde_json::Value;

use crate::rollouts::project;
use crate::support::emulator::Account;
use crate::support::{Project, run_json};

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
    assert_eq!(out["status"], "error");
    assert_eq!(out["kind"], "refused");
    assert!(
        stderr.contains("hashes to") && stderr.contains("but was registered as 0000"),
        "{stderr}"
    );
}

/// Rewrites version `version`'s document with another SHA-256.
pub(crate) async fn tamper_version(account: &Account, name: &str, version: u32, sha256: &str) {
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&account.sdk_config(3).await)
            .force_path_style(true)
            .build(),
    );
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
    s3.put_object()
        .bucket(&bucket)
        .key(&key)
        .body(serde_json::to_vec(&document).expect("json").into())
        .send()
        .await
        .expect("put the tampered document");
}
