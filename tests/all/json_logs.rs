//! JSON logs are JSON (issue 16 item 6): with `--log-format json`, every line on stderr of a
//! full deploy, a failed deploy, an audit and a rollback is one JSON object with the
//! platform's fields, stack events and errors included.

use serde_json::Value;

use crate::rollouts::package;
use crate::support::emulator::Account;
use crate::support::{Project, run_json};

const FIELDS: [&str; 8] = [
    "tenant_id",
    "user_id",
    "trace_id",
    "action",
    "result",
    "latency_ms",
    "level",
    "message",
];

/// Every stderr line parsed; a line that is not JSON or misses a field fails the test.
fn lines(stderr: &str, what: &str) -> Vec<Value> {
    assert!(!stderr.trim().is_empty(), "{what}: nothing logged");
    stderr
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {line}"));
            for field in FIELDS {
                assert!(!value[field].is_null(), "{what}: no `{field}` in {line}");
            }
            value
        })
        .collect()
}

fn run(project: &Project, account: &Account, args: &[&str]) -> (Option<i32>, Vec<Value>) {
    let mut args = args.to_vec();
    args.extend_from_slice(&["--env", "local", "--log-format", "json"]);
    let (code, _, stderr) = run_json(project, account, &args);
    let what = args.join(" ");
    (code, lines(&stderr, &what))
}

#[tokio::test]
async fn every_stderr_line_is_a_json_object_with_the_platform_fields() {
    let account = Account::new();
    let project = Project::copy();

    // A full first deploy: stack events, service progress and the end of the run.
    // A deploy of a new validator package (--skip-wait: the canary's step is not the point).
    let deploy_package = |label: &str| {
        let zip = package(&project, "validator", label);
        run(
            &project,
            &account,
            &[
                "deploy",
                "--skip-wait",
                "--package",
                &format!("validator={zip}"),
            ],
        )
    };
    let (code, deploy) = deploy_package("first");
    assert_eq!(code, Some(0));
    assert!(
        deploy
            .iter()
            .any(|l| l["event"] == "stack_event" && l["stack"] == "network"),
        "stack events are JSON lines with their stack"
    );
    assert!(
        deploy
            .iter()
            .any(|l| l["event"] == "service_finished" && !l["service"].is_null())
    );
    assert!(deploy.iter().all(|l| l["action"] == "deploy"));

    let (code, _) = deploy_package("second");
    assert_eq!(code, Some(0));

    // A failed deploy: the error itself is a JSON line at level error.
    let (code, failed) = run(
        &project,
        &account,
        &["deploy", "--package", "validator=/no/such.zip"],
    );
    assert_eq!(code, Some(1));
    let error = failed
        .iter()
        .find(|l| l["level"] == "error")
        .expect("an error line");
    assert_eq!(error["result"], "error");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("/no/such.zip")),
        "{error}"
    );

    // An audit (whatever its verdict) and a rollback.
    let (_, audit) = run(&project, &account, &["audit", "drift"]);
    assert!(audit.iter().any(|l| l["action"] == "audit.drift"));
    let (code, rollback) = run(&project, &account, &["rollback", "--yes"]);
    assert_eq!(code, Some(0));
    assert!(
        rollback
            .iter()
            .any(|l| l["action"] == "rollback" && l["result"] == "ok")
    );
}
