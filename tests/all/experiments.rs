//! A/B evaluation on the platform's measures against the harness: four published versions
//! of the scoring function, CloudWatch data seeded per version (Lambda's own figures and
//! the service's prediction metrics), and each verdict (keep collecting, abort, promote)
//! given, then carried out with `--apply`.

use serde_json::Value;

use crate::support::emulator::Account;
use crate::support::{Project, run_json};

const FUNCTION: &str = "facturascan-local-scoring";

/// The local project with the scoring service on (all at once) and its guard rails.
/// Its guard rails: tighter samples, no p95 limit (the emulator computes no percentiles of
/// seeded data; a limited measure without data keeps an experiment collecting).
fn scoring_project(account: &Account) -> Project {
    crate::models::local_scoring(account, GUARDS)
}

const GUARDS: &str = "    ab:\n      min_samples: 100\n      max_p95_increase_ms: ~\n      max_error_rate_increase: 1.0\n      max_agreement_drop: 2.0\n      max_false_positive_increase: 1.0\n      max_false_negative_increase: 1.0\n";

/// The scoring project with a ramp of three steps (10%, 50%, 100%), deployed.
fn ramp_project(account: &Account) -> Project {
    let project =
        crate::models::local_scoring(account, &format!("{GUARDS}      steps: [10, 50, 100]\n"));
    let (code, _, stderr) = run_json(&project, account, &["deploy", "--env", "local"]);
    assert_eq!(code, Some(0), "{stderr}");
    project
}

/// Deploys scoring code labelled `label`; the version it published.
fn publish(project: &Project, account: &Account, label: &str) -> String {
    let path = project.path().join(format!("scoring-{label}.zip"));
    let code = format!("def predict(event, context):\n    return {label:?}\n");
    std::fs::write(&path, crate::support::zip::zip(&[("scoring.py", &code)])).expect("zip");
    let package = format!("scoring={}", path.display());
    let (code, out, stderr) = run_json(
        project,
        account,
        &["deploy", "--env", "local", "--package", &package],
    );
    assert_eq!(code, Some(0), "{stderr}");
    crate::rollouts::service(&out, "scoring")["running"]
        .as_str()
        .expect("the version")
        .to_string()
}

/// One version's figures: (invocations, errors) as Lambda reports them, and the
/// service's (predictions, validated, agreements, false positives, false negatives).
async fn seed(account: &Account, version: &str, lambda: (f64, f64), own: [f64; 5]) {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&account.sdk_config(3).await);
    let datum = |name: &str, value: f64, dims: &[(&str, &str)]| {
        MetricDatum::builder()
            .metric_name(name)
            .value(value)
            .set_dimensions(Some(
                dims.iter()
                    .map(|(k, v)| Dimension::builder().name(*k).value(*v).build())
                    .collect(),
            ))
            .build()
    };
    let alias = format!("{FUNCTION}:live");
    let executed = [
        ("FunctionName", FUNCTION),
        ("Resource", alias.as_str()),
        ("ExecutedVersion", version),
    ];
    cloudwatch
        .put_metric_data()
        .namespace("AWS/Lambda")
        .metric_data(datum("Invocations", lambda.0, &executed))
        .metric_data(datum("Errors", lambda.1, &executed))
        .send()
        .await
        .expect("Lambda metrics");
    let mine = [("Service", "scoring"), ("Version", version)];
    let mut put = cloudwatch
        .put_metric_data()
        .namespace("FacturaScan360/local");
    for (name, value) in [
        "Predictions",
        "Validated",
        "Agreements",
        "FalsePositives",
        "FalseNegatives",
    ]
    .into_iter()
    .zip(own)
    {
        put = put.metric_data(datum(name, value, &mine));
    }
    put.send().await.expect("service metrics");
}

fn traffic(project: &Project, account: &Account, args: &[&str]) -> (Option<i32>, Value, String) {
    let mut all = vec!["traffic", "--env", "local"];
    all.extend_from_slice(args);
    run_json(project, account, &all)
}

async fn alias(account: &Account) -> (String, Vec<String>) {
    alias_of(account, FUNCTION).await
}

/// The `live` alias of `function`: its version and the variants weighted beside it.
pub(crate) async fn alias_of(account: &Account, function: &str) -> (String, Vec<String>) {
    let lambda = aws_sdk_lambda::Client::new(&account.sdk_config(3).await);
    let alias = lambda
        .get_alias()
        .function_name(function)
        .name("live")
        .send()
        .await
        .expect("alias");
    let variants = alias
        .routing_config()
        .and_then(|r| r.additional_version_weights())
        .map(|w| w.keys().cloned().collect())
        .unwrap_or_default();
    (
        alias.function_version().unwrap_or_default().to_string(),
        variants,
    )
}

fn measure<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["comparisons"]
        .as_array()
        .and_then(|c| c.iter().find(|m| m["measure"] == name))
        .unwrap_or_else(|| panic!("no {name} in {report}"))
}

/// The control of a running experiment, to which splits are set.
struct Served<'a> {
    project: &'a Project,
    account: &'a Account,
    control: &'a str,
}

impl Served<'_> {
    /// Sets a 10% split on `variant`, then seeds what each side served since it started
    /// (the window of every evaluation): the control nine times the variant's requests,
    /// with 90% agreement and 5% false positives and negatives of 36000 validated.
    async fn split(&self, variant: &str, lambda: (f64, f64), own: [f64; 5]) {
        // A split starts at its whole second: the last experiment's figures end before it.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let set = ["set", "scoring", "--variant", variant, "--percent", "10"];
        let (code, _, stderr) = traffic(self.project, self.account, &set);
        assert_eq!(code, Some(0), "{stderr}");
        seed(
            self.account,
            self.control,
            (45000.0, 90.0),
            [45000.0, 36000.0, 32400.0, 1800.0, 1800.0],
        )
        .await;
        seed(self.account, variant, lambda, own).await;
    }
}

#[tokio::test]
async fn each_verdict_from_the_platforms_measures_and_apply_carries_it_out() {
    let account = Account::new();
    let project = scoring_project(&account);
    let (code, _, stderr) = run_json(&project, &account, &["deploy", "--env", "local"]);
    assert_eq!(code, Some(0), "{stderr}");
    let good = publish(&project, &account, "good");
    let bad = publish(&project, &account, "bad");
    let young = publish(&project, &account, "young");
    let lopsided = publish(&project, &account, "lopsided");
    let control = publish(&project, &account, "control");
    assert_eq!(alias(&account).await.0, control);
    // Too few validated predictions on the variant (its share of requests, but only 40 of
    // its predictions validated yet): keep collecting (exit 2).
    let serves = Served {
        project: &project,
        account: &account,
        control: &control,
    };
    serves
        .split(&young, (5000.0, 10.0), [5000.0, 40.0, 36.0, 2.0, 2.0])
        .await;
    let (code, report, stderr) = traffic(&project, &account, &["evaluate", "scoring"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        report["evaluation"]["verdict"], "keep_collecting",
        "{report}"
    );
    let reasons = report["evaluation"]["reasons"].to_string();
    assert!(
        reasons.contains("40 samples") || reasons.contains("and 40 samples"),
        "{reasons}"
    );

    // As many requests on a 10% variant as on the control: the split is not what it
    // says, so no verdict (exit 3), and --apply changes nothing.
    serves
        .split(
            &lopsided,
            (45000.0, 90.0),
            [45000.0, 36000.0, 32400.0, 1800.0, 1800.0],
        )
        .await;
    let (code, report, stderr) = traffic(&project, &account, &["evaluate", "scoring", "--apply"]);
    assert_eq!(code, Some(3), "{stderr}\n{report}");
    assert_eq!(
        report["evaluation"]["verdict"], "sample_ratio_mismatch",
        "{report}"
    );
    assert_eq!(
        report["sample_ratio"]["observed_percent"].as_f64(),
        Some(50.0)
    );
    assert!(report["evaluation"]["applied"].is_null(), "{report}");
    let (on, weights) = alias(&account).await;
    assert_eq!(on, control);
    assert!(!weights.is_empty(), "the split was left as it was");

    // Twice the false negatives: abort (exit 3), the interval well past the 1 pp allowed.
    serves
        .split(&bad, (5000.0, 10.0), [5000.0, 4000.0, 3200.0, 200.0, 400.0])
        .await;
    let (code, report, stderr) = traffic(&project, &account, &["evaluate", "scoring"]);
    assert_eq!(code, Some(3), "{stderr}");
    assert_eq!(report["evaluation"]["verdict"], "abort");
    let fnr = measure(&report, "false negatives");
    assert_eq!(
        (
            fnr["control"].as_f64(),
            fnr["variant"].as_f64(),
            fnr["difference"].as_f64()
        ),
        (Some(5.0), Some(10.0), Some(5.0)),
        "{fnr}"
    );
    let (low, high) = (
        fnr["interval"][0].as_f64().unwrap_or(0.0),
        fnr["interval"][1].as_f64().unwrap_or(0.0),
    );
    assert!(low > 1.0 && low < 5.0 && high > 5.0, "{fnr}");
    assert!(stderr.is_empty() || !stderr.contains("error"), "{stderr}");
    // Shown without evaluating too: both sides and the difference with its interval.
    let (code, shown, _) = traffic(&project, &account, &["scoring"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        measure(&shown, "agreement")["difference"].as_f64(),
        Some(-10.0)
    );
    assert!(shown["evaluation"].is_null());
    // --apply carries the abort out: all traffic back on the control.
    let (code, report, _) = traffic(&project, &account, &["evaluate", "scoring", "--apply"]);
    assert_eq!(code, Some(3));
    assert!(
        report["evaluation"]["applied"]
            .as_str()
            .is_some_and(|a| a.contains("removed")),
        "{report}"
    );
    assert_eq!(alias(&account).await, (control.clone(), Vec::new()));

    // As good or better everywhere, tightly measured: promote, and --apply moves the alias.
    serves
        .split(
            &good,
            (5000.0, 10.0),
            [5000.0, 4000.0, 3640.0, 190.0, 170.0],
        )
        .await;
    let (code, report, stderr) = traffic(&project, &account, &["evaluate", "scoring", "--apply"]);
    assert_eq!(code, Some(0), "{stderr}\n{report}");
    assert_eq!(report["evaluation"]["verdict"], "promote", "{report}");
    assert_eq!(alias(&account).await, (good, Vec::new()));
}

/// The environment's current record, as `status` shows it.
fn current(project: &Project, account: &Account) -> Value {
    let (code, status, stderr) = run_json(project, account, &["status", "--env", "local"]);
    assert_eq!(code, Some(0), "{stderr}");
    status["current"].clone()
}

/// Findings of `audit drift` on the scoring function's alias and weights.
fn alias_findings(project: &Project, account: &Account) -> Vec<Value> {
    let (_, report, stderr) = run_json(project, account, &["audit", "drift", "--env", "local"]);
    report["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings list: {stderr}"))
        .iter()
        .filter(|f| f["kind"].as_str().is_some_and(|k| k.starts_with("lambda.")))
        .filter(|f| f["resource"] == "service scoring")
        .cloned()
        .collect()
}

#[tokio::test]
async fn traffic_changes_are_releases_locked_recorded_and_audited() {
    let account = Account::new();
    let project = scoring_project(&account);
    let (code, _, stderr) = run_json(&project, &account, &["deploy", "--env", "local"]);
    assert_eq!(code, Some(0), "{stderr}");
    let candidate = publish(&project, &account, "candidate");
    let champion = publish(&project, &account, "champion");
    assert_eq!(alias(&account).await.0, champion);

    // Another run holds the deploy lock: the split is refused before any change (exit 3).
    let bucket = format!("facturascan-local-releases-{}", account.account_id);
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 600;
    let lock = serde_json::json!({
        "owner": "someone else",
        "trace_id": "t-1",
        "action": "deploy",
        "started_at": "2026-12-06T10:00:00Z",
        "expires_at": expires,
    });
    let s3 = account.s3().await;
    s3.put_object()
        .bucket(&bucket)
        .key("lock.json")
        .body(lock.to_string().into_bytes().into())
        .send()
        .await
        .expect("a foreign lock");
    let set = ["set", "scoring", "--variant", &candidate, "--percent", "10"];
    let (code, _, stderr) = traffic(&project, &account, &set);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("someone else"), "{stderr}");
    assert_eq!(alias(&account).await, (champion.clone(), Vec::new()));
    s3.delete_object()
        .bucket(&bucket)
        .key("lock.json")
        .send()
        .await
        .expect("lock removed");

    // The split is a release: recorded with both sides, the window starting at it, and
    // the drift audit takes it as desired state.
    let (code, report, stderr) = traffic(&project, &account, &set);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(report["since"].is_string(), "{report}");
    assert!(report["window_minutes"].as_u64() <= Some(1), "{report}");
    let record = current(&project, &account);
    assert_eq!(record["action"], "traffic", "{record}");
    let scoring = &record["services"]["scoring"];
    assert_eq!(scoring["version"].as_str(), Some(champion.as_str()));
    assert_eq!(scoring["split"]["percent"], 10, "{scoring}");
    assert_eq!(
        scoring["split"]["variant"]["version"].as_str(),
        Some(candidate.as_str())
    );
    assert!(
        scoring["split"]["variant"]["package"].is_string(),
        "the variant as its release recorded it: {scoring}"
    );
    assert!(
        record["traffic"]["moved"]
            .as_str()
            .is_some_and(|m| m.contains("10% on variant"))
    );
    assert_eq!(alias_findings(&project, &account), Vec::<Value>::new());
    let (_, status, _) = run_json(&project, &account, &["status", "--env", "local"]);
    assert!(status["lock"].is_null(), "the lock was released: {status}");

    // Promoting the variant records it as what the service runs: the next promotion
    // ships it, and the audit is clean.
    let (code, _, stderr) = traffic(&project, &account, &["promote", "scoring"]);
    assert_eq!(code, Some(0), "{stderr}");
    let record = current(&project, &account);
    let scoring = &record["services"]["scoring"];
    assert_eq!(
        scoring["version"].as_str(),
        Some(candidate.as_str()),
        "{record}"
    );
    assert!(scoring["split"].is_null(), "{scoring}");
    assert_eq!(alias_findings(&project, &account), Vec::<Value>::new());

    // An alias moved by hand is still drift.
    let lambda = aws_sdk_lambda::Client::new(&account.sdk_config(3).await);
    lambda
        .update_alias()
        .function_name(FUNCTION)
        .name("live")
        .function_version(&champion)
        .send()
        .await
        .expect("alias moved by hand");
    assert!(!alias_findings(&project, &account).is_empty());

    // Each change is in the history, by who made it.
    let (_, history, _) = run_json(&project, &account, &["history", "--env", "local"]);
    let traffic_records = history["records"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["action"] == "traffic")
        .count();
    assert_eq!(traffic_records, 2, "{history}");

    // A change whose notice did not reach a channel (the Slack webhook's host answers
    // nothing here) exits 4 when the environment asks for it, as a deploy does.
    project.replace(
        "environments/local.yaml",
        "  channels: [\"ops-email\"]",
        "  channels: [\"dev-monitoring\", \"ops-email\"]\n  warning_exit: true\n  attempts: 1\n  timeout_seconds: 1",
    );
    // (The alias was put back on the champion by hand above.)
    let set = ["set", "scoring", "--variant", &candidate, "--percent", "10"];
    let (code, report, stderr) = traffic(&project, &account, &set);
    assert_eq!(code, Some(4), "{stderr}\n{report}");
    assert!(
        report["notifications"]
            .as_array()
            .is_some_and(|n| n.iter().any(|d| d["sent"] == false)),
        "{report}"
    );
}

/// What both sides served at an even split: the control's figures (90% agreement, 5%
/// false positives and negatives of 40000 validated) and the variant's.
async fn served_evenly(account: &Account, control: &str, variant: &str, own: [f64; 5]) {
    seed(
        account,
        control,
        (50000.0, 100.0),
        [50000.0, 40000.0, 36000.0, 2000.0, 2000.0],
    )
    .await;
    seed(account, variant, (50000.0, 100.0), own).await;
}

#[tokio::test]
async fn a_ramp_moves_step_by_step_on_promote_and_stops_on_abort() {
    let account = Account::new();
    let project = ramp_project(&account);
    let good = publish(&project, &account, "good");
    let bad = publish(&project, &account, "bad");
    let control = publish(&project, &account, "control");
    let serves = Served {
        project: &project,
        account: &account,
        control: &control,
    };
    let better = [5000.0, 4000.0, 3640.0, 190.0, 170.0];
    let evaluate_apply = || {
        // Each step starts at its whole second: the last step's figures end before it.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        traffic(&project, &account, &["evaluate", "scoring", "--apply"])
    };
    let share = |weights: &[(String, f64)]| weights.first().map(|(_, w)| *w);

    // 10% promoted: the ramp moves to 50%, recorded as a step, not a promotion.
    serves.split(&good, (5000.0, 10.0), better).await;
    let (code, report, stderr) = evaluate_apply();
    assert_eq!(code, Some(0), "{stderr}\n{report}");
    assert!(
        report["evaluation"]["applied"]
            .as_str()
            .is_some_and(|a| a.starts_with("50% on variant")),
        "{report}"
    );
    assert_eq!(share(&weights(&account).await), Some(0.5));
    assert_eq!(
        current(&project, &account)["services"]["scoring"]["split"]["percent"],
        50
    );
    // 50% promoted: the last step is the promotion.
    served_evenly(
        &account,
        &control,
        &good,
        [50000.0, 40000.0, 36400.0, 1900.0, 1700.0],
    )
    .await;
    let (code, report, stderr) = evaluate_apply();
    assert_eq!(code, Some(0), "{stderr}\n{report}");
    assert_eq!(alias(&account).await, (good.clone(), Vec::new()));

    // Another ramp, worse at its second step: aborted there, all back on the control.
    let serves = Served {
        control: &good,
        ..serves
    };
    serves.split(&bad, (5000.0, 10.0), better).await;
    let (code, _, stderr) = evaluate_apply();
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(share(&weights(&account).await), Some(0.5));
    served_evenly(
        &account,
        &good,
        &bad,
        [50000.0, 40000.0, 32000.0, 2000.0, 4000.0],
    )
    .await;
    let (code, report, stderr) = evaluate_apply();
    assert_eq!(code, Some(3), "{stderr}\n{report}");
    assert_eq!(report["evaluation"]["verdict"], "abort");
    assert_eq!(alias(&account).await, (good, Vec::new()));
    let (_, history, _) = run_json(&project, &account, &["history", "--env", "local"]);
    let steps = history["records"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["action"] == "traffic")
        .count();
    assert_eq!(
        steps, 6,
        "two sets, two steps, a promotion, an abort: {history}"
    );
}

/// The `live` alias's additional version weights.
async fn weights(account: &Account) -> Vec<(String, f64)> {
    let lambda = aws_sdk_lambda::Client::new(&account.sdk_config(3).await);
    let alias = lambda
        .get_alias()
        .function_name(FUNCTION)
        .name("live")
        .send()
        .await
        .expect("alias");
    alias
        .routing_config()
        .and_then(|r| r.additional_version_weights())
        .map(|w| w.iter().map(|(k, v)| (k.clone(), *v)).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn evaluate_watch_follows_a_ramp_to_its_end() {
    let account = Account::new();
    let project = ramp_project(&account);
    let good = publish(&project, &account, "good");
    let control = publish(&project, &account, "control");
    let serves = Served {
        project: &project,
        account: &account,
        control: &control,
    };
    serves
        .split(
            &good,
            (5000.0, 10.0),
            [5000.0, 4000.0, 3640.0, 190.0, 170.0],
        )
        .await;
    // The step starts at its whole second: the first step's figures end before it.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let watching = crate::support::spawn_json(
        &project,
        &account,
        &[
            "traffic", "--env", "local", "evaluate", "scoring", "--apply", "--watch", "6s",
        ],
    );
    // Its first look moves the ramp to 50%; what the variant serves there, it promotes.
    let started = std::time::Instant::now();
    while weights(&account).await.first().map(|(_, w)| *w) != Some(0.5) {
        assert!(
            started.elapsed().as_secs() < 60,
            "the first step never came"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    served_evenly(
        &account,
        &control,
        &good,
        [50000.0, 40000.0, 36400.0, 1900.0, 1700.0],
    )
    .await;
    let output = watching.wait_with_output().expect("the watch ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stderr}\n{stdout}");
    let report: Value = serde_json::from_slice(&output.stdout).expect("one JSON document");
    assert_eq!(report["evaluation"]["verdict"], "promote", "{report}");
    assert_eq!(alias(&account).await, (good, Vec::new()));
}
