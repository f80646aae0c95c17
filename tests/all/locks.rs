//! The deploy lock: one deploy per environment at a time, across processes; released on
//! success, failure and Ctrl-C; a killed deploy's lock expires and is taken over; an
//! operator can force it open.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::rollouts::{package, project};
use crate::support::emulator::Account;
use crate::support::{Project, run_json, run_json_within, spawn_json};

/// A deploy of a validator package in the background: its canary step holds the deploy
/// (and the lock) for the step's 6 s.
fn spawn_deploy(project: &Project, account: &Account, label: &str) -> Child {
    let zip = package(project, "validator", label);
    let package = format!("validator={zip}");
    spawn_json(
        project,
        account,
        &["deploy", "--env", "local", "--package", &package],
    )
}

/// The lock's holder, as `status` shows it (None when free).
fn holder(project: &Project, account: &Account) -> Option<serde_json::Value> {
    let (_, status, _) = run_json(project, account, &["status", "--env", "local"]);
    Some(status["lock"].clone()).filter(|l| !l.is_null())
}

async fn wait_for_lock(project: &Project, account: &Account) {
    let started = Instant::now();
    while holder(project, account).is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the deploy never took the lock"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn finish(child: Child) -> (Option<i32>, String) {
    let output = child.wait_with_output().expect("wait");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A local project whose validator canary holds for 6 s and whose lock lives 3 s unrenewed,
/// already deployed once (so the store and a first validator version exist).
async fn deployed(account: &Account) -> Project {
    let project = project(account);
    project.replace(
        "environments/local.yaml",
        "step_interval_seconds: 20",
        "step_interval_seconds: 6",
    );
    project.replace(
        "environments/local.yaml",
        "channels:\n  email:",
        "release:\n  lock_ttl_seconds: 3\n\nchannels:\n  email:",
    );
    let zip = package(&project, "validator", "zero");
    let (code, _, stderr) = run_json(
        &project,
        account,
        &[
            "deploy",
            "--env",
            "local",
            "--package",
            &format!("validator={zip}"),
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    project
}

#[tokio::test]
async fn two_deploys_at_once_one_proceeds_and_the_lock_is_gone_after() {
    let account = Account::new();
    let project = deployed(&account).await;
    let first = spawn_deploy(&project, &account, "one");
    let second = spawn_deploy(&project, &account, "two");
    let (a, b) = (finish(first), finish(second));
    let mut codes = [a.0, b.0];
    codes.sort();
    assert_eq!(
        codes,
        [Some(0), Some(3)],
        "exactly one proceeds:\n{}\n---\n{}",
        a.1,
        b.1
    );
    let refused = if a.0 == Some(3) { &a.1 } else { &b.1 };
    assert!(
        refused.contains("`local` is being deployed: deploy by"),
        "names the holder: {refused}"
    );
    assert!(
        holder(&project, &account).is_none(),
        "released after success"
    );
}

#[tokio::test]
async fn a_destroy_is_refused_while_a_deploy_holds_the_lock_and_deletes_nothing() {
    let account = Account::new();
    let project = deployed(&account).await;
    let deploy = spawn_deploy(&project, &account, "one");
    wait_for_lock(&project, &account).await;
    account.reset_requests().await;
    let (code, _, stderr) = run_json(&project, &account, &["destroy", "--env", "local", "--yes"]);
    assert_eq!(code, Some(3), "refused while the deploy runs: {stderr}");
    assert!(
        stderr.contains("`local` is being deployed: deploy by"),
        "names the holder: {stderr}"
    );
    // The deploy writes meanwhile; the destroy deleted nothing.
    let counters = account.requests().await;
    for deletion in [
        "cloudformation:DeleteStack",
        "ecs:DeleteService",
        "cloudwatch:DeleteAlarms",
    ] {
        assert!(
            counters["by_operation"][deletion].is_null(),
            "{deletion}: {counters}"
        );
    }
    let (deployed, stderr) = finish(deploy);
    assert_eq!(deployed, Some(0), "the deploy finishes: {stderr}");

    // Free again: the destroy takes the lock, removes everything and releases it.
    let (code, _, stderr) = run_json(&project, &account, &["destroy", "--env", "local", "--yes"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        holder(&project, &account).is_none(),
        "released after the destroy"
    );
}

#[tokio::test]
async fn a_killed_deploys_lock_expires_and_is_taken_over_and_ctrl_c_releases_it() {
    let account = Account::new();
    let project = deployed(&account).await;

    // SIGKILL: nothing runs to release the lock; it stays until it expires.
    let mut killed = spawn_deploy(&project, &account, "one");
    wait_for_lock(&project, &account).await;
    killed.kill().expect("SIGKILL");
    let _ = killed.wait();
    let left = holder(&project, &account).expect("the killed deploy's lock remains");
    assert_eq!(left["action"], "deploy");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let zip = package(&project, "validator", "two");
    let (code, _, stderr) = run_json(
        &project,
        &account,
        &[
            "deploy",
            "--env",
            "local",
            "--package",
            &format!("validator={zip}"),
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("took over an expired deploy lock"),
        "{stderr}"
    );
    assert!(holder(&project, &account).is_none());

    // SIGINT (Ctrl-C) mid-rollout: the lock is released and the run says what may be half-done.
    let interrupted = spawn_deploy(&project, &account, "three");
    wait_for_lock(&project, &account).await;
    // Well inside the validator's 6 s canary step.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let status = Command::new("kill")
        .args(["-INT", &interrupted.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(status.success());
    let (code, stderr) = finish(interrupted);
    assert_eq!(code, Some(130), "{stderr}");
    assert!(
        stderr.contains(
            "interrupted (SIGINT or SIGTERM); the deploy lock was released; no record was written"
        ),
        "{stderr}"
    );
    // What was done and what was in flight.
    assert!(stderr.contains("stacks done: "), "{stderr}");
    assert!(
        stderr.contains("services in progress: validator (rolling out "),
        "{stderr}"
    );
    assert!(holder(&project, &account).is_none(), "released on Ctrl-C");

    // SIGTERM (a cancelled CI job) likewise.
    let terminated = spawn_deploy(&project, &account, "four");
    wait_for_lock(&project, &account).await;
    let status = Command::new("kill")
        .args(["-TERM", &terminated.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let (code, stderr) = finish(terminated);
    assert_eq!(code, Some(130), "{stderr}");
    assert!(holder(&project, &account).is_none(), "released on SIGTERM");
}

#[tokio::test]
async fn an_operator_forces_a_dead_lock_open_and_it_is_recorded() {
    let account = Account::new();
    let project = deployed(&account).await;
    let mut killed = spawn_deploy(&project, &account, "one");
    wait_for_lock(&project, &account).await;
    killed.kill().expect("SIGKILL");
    let _ = killed.wait();
    let (code, _, stderr) = run_json(&project, &account, &["unlock", "--env", "local"]);
    assert_eq!(
        code,
        Some(3),
        "asks first; without a terminal, refused: {stderr}"
    );
    let (code, out, stderr) = run_json(&project, &account, &["unlock", "--env", "local", "--yes"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(out["released"]["action"], "deploy");
    assert!(holder(&project, &account).is_none());
    let s3 = account.s3().await;
    let listed = s3
        .list_objects_v2()
        .bucket(format!("facturascan-local-releases-{}", account.account_id))
        .prefix("unlocks/")
        .send()
        .await
        .expect("list");
    assert_eq!(listed.contents().len(), 1, "the forced unlock is recorded");
}

async fn put(account: &Account, key: &str, body: &[u8]) {
    account
        .s3()
        .await
        .put_object()
        .bucket(format!("facturascan-local-releases-{}", account.account_id))
        .key(key)
        .body(body.to_vec().into())
        .send()
        .await
        .expect("put");
}

/// Corrupt state never traps the tool: a lock or a record that does not parse is an error
/// naming the object and the fix (never "free" or "no release"), a deploy ends at once
/// instead of looping, and `unlock --yes` clears an unreadable lock, recorded.
#[tokio::test]
async fn a_corrupt_lock_or_record_is_reported_and_an_operator_can_clear_the_lock() {
    let account = Account::new();
    let project = deployed(&account).await;
    let bucket = format!("facturascan-local-releases-{}", account.account_id);
    let limit = Duration::from_secs(60);
    for garbage in [&b"not a lock {"[..], b""] {
        put(&account, "lock.json", garbage).await;
        account.reset_requests().await;
        let (code, _, stderr) =
            run_json_within(&project, &account, &["deploy", "--env", "local"], limit);
        assert_eq!(code, Some(1), "{stderr}");
        assert!(
            stderr.contains(&format!("s3://{bucket}/lock.json is not a deploy lock")),
            "{stderr}"
        );
        assert!(stderr.contains("facturactl unlock --env"), "{stderr}");
        let requests = account.requests().await;
        let total = requests["total"].as_u64().unwrap_or(u64::MAX);
        assert!(
            total < 20,
            "a corrupt lock is no reason to loop: {requests}"
        );
        let (code, _, stderr) =
            run_json_within(&project, &account, &["status", "--env", "local"], limit);
        assert_eq!(code, Some(1), "status cannot say who holds it: {stderr}");
        assert!(
            stderr.contains("lock.json is not a deploy lock"),
            "{stderr}"
        );

        let (code, out, stderr) = run_json_within(
            &project,
            &account,
            &["unlock", "--env", "local", "--yes"],
            limit,
        );
        assert_eq!(code, Some(0), "{stderr}");
        assert!(out["released"].is_null(), "{out}");
        assert!(out["unreadable"].is_string(), "{out}");
        assert!(holder(&project, &account).is_none());
    }
    let unlocks = account
        .s3()
        .await
        .list_objects_v2()
        .bucket(&bucket)
        .prefix("unlocks/")
        .send()
        .await
        .expect("list");
    assert_eq!(unlocks.contents().len(), 2, "each clearing is recorded");

    // A corrupt current record: not "no successful release".
    put(&account, "current.json", b"{\"id\": 12").await;
    let (code, _, stderr) =
        run_json_within(&project, &account, &["status", "--env", "local"], limit);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "s3://{bucket}/current.json is not a deployment record"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("list-object-versions"), "{stderr}");
}

/// A deploy with nothing to change takes no lock, but only when it saw the lock free: while
/// another run holds it, the environment may be half-changed, so the no-op waits for the
/// lock like any deploy (refused here, waiting 0 s) and records nothing.
#[tokio::test]
async fn a_no_op_while_another_run_holds_the_lock_is_refused_and_records_nothing() {
    let account = Account::new();
    let project = deployed(&account).await;
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 600;
    let lock = serde_json::json!({
        "owner": "another run", "trace_id": "t-1", "action": "deploy",
        "started_at": "2026-12-07T00:00:00Z", "expires_at": until,
    });
    put(&account, "lock.json", lock.to_string().as_bytes()).await;
    account.reset_requests().await;
    let limit = Duration::from_secs(60);
    let (code, _, stderr) =
        run_json_within(&project, &account, &["deploy", "--env", "local"], limit);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("deploy by another run"), "{stderr}");
    let requests = account.requests().await;
    let ops = &requests["by_operation"];
    assert_eq!(
        ops["s3:PUT"], 1,
        "only the refused take of the lock: {requests}"
    );
    assert!(ops.get("sns:Publish").is_none(), "{requests}");
}
