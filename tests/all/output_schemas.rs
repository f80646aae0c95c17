//! `--output json` holds to the schema it publishes (`schemas/output.schema.json`): every
//! command's document and the error document. `run_json` checks every emulator test's
//! documents the same way; here are the offline commands, the commands no other test reads
//! as JSON, and proof that the check can fail.

use serde_json::Value;

use crate::rollouts::project;
use crate::support::emulator::Account;
use crate::support::{assert_conforms, conforms, facturactl, repo_root, run_json};

/// A read-only command run in the repository itself, its JSON document.
fn offline(args: &[&str]) -> Value {
    let output = facturactl()
        .current_dir(repo_root())
        .args(args)
        .args(["--output", "json"])
        .output()
        .expect("run facturactl");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

#[test]
fn offline_documents_and_errors_hold_to_the_schema() {
    let cases: [(&[&str], &str, &str); 8] = [
        (
            &["validate", "--env", "production"],
            "validate",
            "succeeded",
        ),
        (&["validate", "--explain"], "validate", "succeeded"),
        (&["render", "--env", "staging"], "render", "succeeded"),
        (
            &["config", "show", "--env", "local"],
            "config.show",
            "succeeded",
        ),
        (
            &["pipeline", "render", "--check"],
            "pipeline.render",
            "succeeded",
        ),
        (&["schema", "--check"], "schema", "succeeded"),
        (&["schema", "--output-of", "deploy"], "schema", "succeeded"),
        // An error document: an environment that does not exist.
        (&["validate", "--env", "nowhere"], "validate", "error"),
    ];
    for (args, command, status) in cases {
        let document = offline(args);
        assert_eq!(
            (document["command"].as_str(), document["status"].as_str()),
            (Some(command), Some(status)),
            "{args:?}: {document}"
        );
        assert_conforms(&document);
    }
}

#[test]
fn a_document_that_breaks_the_contract_is_caught() {
    let good = offline(&["validate", "--env", "local"]);
    assert_conforms(&good);
    let broken = |edit: &dyn Fn(&mut Value)| {
        let mut document = good.clone();
        edit(&mut document);
        conforms(&document).expect_err(&format!("accepted: {document}"))
    };
    assert!(broken(&|d| d["blocking"] = "many".into()).contains("blocking"));
    assert!(broken(&|d| d["schema_version"] = 2.into()).contains("schema_version"));
    assert!(broken(&|d| d["status"] = "fine".into()).contains("status"));
    assert!(broken(&|d| d["command"] = "deploy".into()).contains("stacks"));
    assert!(
        broken(&|d| {
            d.as_object_mut().expect("map").remove("environment");
        })
        .contains("environment")
    );
    // An error document must carry the error's keys.
    assert!(broken(&|d| d["status"] = "error".into()).contains("kind"));
}

/// The commands whose documents no other test reads: plan, alarms, audits, history,
/// notify and destroy, on a deployed local environment.
#[test]
fn emulator_documents_hold_to_the_schema() {
    let account = Account::new();
    let project = project(&account);
    let (code, _, stderr) = run_json(&project, &account, &["deploy", "--env", "local"]);
    assert_eq!(code, Some(0), "{stderr}");
    let runs: [(&[&str], &str); 8] = [
        (&["plan", "--env", "local"], "plan"),
        (&["alarms", "plan", "--env", "local"], "alarms.plan"),
        (&["alarms", "apply", "--env", "local"], "alarms.apply"),
        (&["audit", "alarms", "--env", "local"], "audit.alarms"),
        (&["history", "--env", "local"], "history"),
        (&["status", "--env", "local"], "status"),
        (
            &[
                "notify",
                "--env",
                "local",
                "--stage",
                "build",
                "--result",
                "failure",
                "--message",
                "pytest: 3 failed",
            ],
            "notify",
        ),
        (&["destroy", "--env", "local", "--yes"], "destroy"),
    ];
    for (args, command) in runs {
        // run_json validates the document.
        let (_, document, stderr) = run_json(&project, &account, args);
        assert_eq!(document["command"], command, "{args:?}: {stderr}");
    }
}
