//! Releases: the tag gate on real git repositories, promotion, rollback, records and the
//! deploy lock against the harness.

use serde_json::Value;

use crate::rollouts::{package, push_image, service};
use crate::support::emulator::Account;
use crate::support::{Project, UNVERIFIED, run_json};

/// `release check` in `project` for `env`, with extra environment variables.
fn check(project: &Project, env: &str, vars: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = project.cmd();
    cmd.args(["release", "check", "--env", env]);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let output = cmd.output().expect("run");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), text)
}

fn refused(project: &Project, env: &str, says: &str) {
    let (code, text) = check(project, env, &[]);
    assert_eq!(code, Some(3), "{text}");
    assert!(text.contains(says), "expected {says:?} in:\n{text}");
}

#[test]
fn production_takes_only_annotated_release_tags_on_main() {
    let project = Project::copy();
    project.git_release(None);
    refused(&project, "production", "has no release tag");

    project.git(&["tag", "v1.0.0"]);
    refused(&project, "production", "tag v1.0.0 is a lightweight tag");
    project.git(&["tag", "-d", "v1.0.0"]);

    project.git(&["tag", "-a", "release-1", "-m", "x"]);
    refused(&project, "production", "its tags release-1 do not match");

    project.git(&["tag", "-a", "v1.0.0", "-m", "1.0.0"]);
    let (code, text) = check(&project, "production", &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("ok: v1.0.0 is an annotated tag") && text.contains("tag v1.0.0"),
        "{text}"
    );

    // Dirty: a changed file, then an untracked one.
    project.append("deploy.toml", "\n# edit\n");
    refused(&project, "production", "uncommitted changes: deploy.toml");
    project.git(&["checkout", "--", "deploy.toml"]);
    project.write("notes.txt", "x");
    refused(&project, "production", "uncommitted changes: notes.txt");
    std::fs::remove_file(project.path().join("notes.txt")).expect("rm");

    // The tag stays on an older commit: HEAD moved on.
    project.git(&["commit", "--quiet", "--allow-empty", "-m", "after the tag"]);
    project.git(&["tag", "-a", "v1.0.1-rc.1", "-m", "rc"]);
    let (code, text) = check(
        &project,
        "production",
        &[("GITHUB_REF_TYPE", "tag"), ("GITHUB_REF_NAME", "v1.0.0")],
    );
    assert_eq!(code, Some(3));
    assert!(
        text.contains("tag v1.0.0 points at") && text.contains("not at"),
        "{text}"
    );

    // A release tag on a side branch never deploys.
    project.git(&["checkout", "--quiet", "-b", "hotfix"]);
    project.git(&["commit", "--quiet", "--allow-empty", "-m", "side"]);
    project.git(&["tag", "-a", "v1.0.2", "-m", "side"]);
    refused(&project, "production", "tag v1.0.2 is not on main");

    // GitHub Actions ran for another commit than the checkout.
    let (code, text) = check(
        &project,
        "production",
        &[("GITHUB_SHA", "0000000000000000000000000000000000000000")],
    );
    assert_eq!(code, Some(3));
    assert!(
        text.contains("GITHUB_SHA is 000000000000 but the checkout is at"),
        "{text}"
    );
}

#[test]
fn staging_takes_main_or_a_release_candidate_tag() {
    let project = Project::copy();
    project.git_release(None);
    let (code, text) = check(&project, "staging", &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("is on main"), "{text}");

    project.git(&["checkout", "--quiet", "-b", "feature"]);
    project.git(&["commit", "--quiet", "--allow-empty", "-m", "wip"]);
    refused(
        &project,
        "staging",
        "is not on main and has no release candidate tag",
    );
    project.git(&["tag", "-a", "v2.0.0-rc.1", "-m", "rc"]);
    let (code, text) = check(&project, "staging", &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("release candidate tag v2.0.0-rc.1"), "{text}");

    // Not a checkout at all.
    let bare = Project::copy();
    let (code, text) = check(&bare, "staging", &[]);
    assert_eq!(code, Some(3));
    assert!(text.contains("is not a git checkout"), "{text}");
    // The local emulator has no gate.
    let (code, _) = check(&bare, "local", &[]);
    assert_eq!(code, Some(0));
}

fn without_ml_and_database(project: &Project) {
    project.without_ml();
    project.without_database();
    // One emulator account plays both environments: staging's registry stack owns the
    // repositories, so production's (the same names in the same account) stays out.
    project.replace(
        "environments/production.yaml",
        "  registry:\n",
        "  registry:\n    enabled: false\n",
    );
}

/// A command in `project` against `account`, JSON on stdout.
fn run(project: &Project, account: &Account, args: &[&str]) -> (Option<i32>, Value, String) {
    run_json(project, account, args)
}

fn parser_sha(report: &Value) -> String {
    service(report, "parser")["artifact"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn staging_is_promoted_to_production_then_production_rolls_back() {
    let account = Account::new();
    let project = Project::for_deploys_in(&account).await;
    // Left out: the ML stack (no part in promotion) and the database, whose parameter group
    // moto cannot create outside the local tier (see templates/stacks/database.yaml.tera).
    without_ml_and_database(&project);
    project.git_release(Some("v1.0.0"));
    // The registry stack creates the repository; the build pushes into it.
    let (code, _, stderr) = run(&project, &account, &["deploy", "--env", "staging"]);
    assert_eq!(code, Some(0), "{stderr}");
    let digest = push_image(&account, "facturascan/ocr", "v1.0.0", "e").await;
    let first = package(&project, "parser", "one");
    let (code, staged, stderr) = run(
        &project,
        &account,
        &[
            "deploy",
            "--env",
            "staging",
            "--image",
            "ocr=v1.0.0",
            "--package",
            &format!("parser={first}"),
        ],
    );
    assert_eq!(code, Some(0), "{stderr}\n{staged}");
    let record = staged["record"].as_str().expect("a record id").to_string();

    let (code, promoted, stderr) = run(
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
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(promoted["operation"], "promote");
    assert!(
        stderr.contains("Promote `staging`")
            && stderr.contains(&format!(
                "ocr: {}",
                service(&staged, "ocr")["running"].as_str().unwrap_or("?")
            )),
        "{stderr}"
    );
    // Production runs the same bytes: the staging digest and the same code hash.
    assert_eq!(service(&promoted, "ocr")["artifact"], digest.as_str());
    assert_eq!(parser_sha(&promoted), parser_sha(&staged));
    let (code, status, _) = run(&project, &account, &["status", "--env", "production"]);
    assert_eq!(code, Some(0));
    assert_eq!(status["current"]["action"], "promote");
    // Promoted without a verification: the reason is on the record.
    assert_eq!(status["current"]["skipped_verification"], UNVERIFIED);
    assert_eq!(status["current"]["tag"], "v1.0.0");
    assert_eq!(status["current"]["from"], format!("staging/{record}"));
    assert_eq!(
        status["current"]["services"]["parser"]["code_sha256"],
        parser_sha(&staged).as_str()
    );
    assert_eq!(status["lock"], Value::Null, "the lock was released");

    // A second release: new parser code, tagged v1.1.0, through staging to production.
    project.write("parser.txt", "two");
    project.git(&["add", "parser.txt"]);
    project.git(&["commit", "--quiet", "-m", "parser two"]);
    project.git(&["tag", "-a", "v1.1.0", "-m", "1.1.0"]);
    let second = package(&project, "parser", "two");
    let (code, staged2, stderr) = run(
        &project,
        &account,
        &[
            "deploy",
            "--env",
            "staging",
            "--package",
            &format!("parser={second}"),
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let (code, _, stderr) = run(
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
    assert_eq!(code, Some(0), "{stderr}");
    let (_, status, _) = run(&project, &account, &["status", "--env", "production"]);
    assert_eq!(
        status["current"]["services"]["parser"]["code_sha256"],
        parser_sha(&staged2).as_str()
    );

    // Rollback: the previous release's code, no stack touched.
    account.reset_requests().await;
    let (code, rolled, stderr) = run(
        &project,
        &account,
        &["rollback", "--env", "production", "--yes"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(rolled["operation"], "rollback");
    assert_eq!(
        service(&rolled, "parser")["result"],
        "rolled_out",
        "{rolled}"
    );
    let counters = account.requests().await;
    let stack_writes: u64 = [
        "CreateStack",
        "UpdateStack",
        "DeleteStack",
        "CreateChangeSet",
    ]
    .iter()
    .map(|op| {
        counters["by_operation"][format!("cloudformation:{op}")]
            .as_u64()
            .unwrap_or(0)
    })
    .sum();
    assert_eq!(stack_writes, 0, "{counters}");
    let (_, status, _) = run(&project, &account, &["status", "--env", "production"]);
    assert_eq!(status["current"]["action"], "rollback");
    assert_eq!(status["current"]["tag"], "v1.0.0");
    assert_eq!(
        status["current"]["services"]["parser"]["code_sha256"],
        parser_sha(&staged).as_str()
    );
    let (_, history, _) = run(&project, &account, &["history", "--env", "production"]);
    let actions: Vec<&str> = history["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| r["action"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(actions, ["rollback", "promote", "promote"]);
}

#[tokio::test]
async fn promotion_refuses_a_failed_source_and_an_untagged_commit() {
    let account = Account::new();
    let project = Project::for_deploys_in(&account).await;
    without_ml_and_database(&project);
    project.git_release(None);
    let (code, _, stderr) = run(
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
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains("`staging` has no deployment record to promote"),
        "{stderr}"
    );

    let (code, _, stderr) = run(
        &project,
        &account,
        &["deploy", "--env", "staging", "--stack", "auth"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    // Staging runs an untagged commit: production's gate refuses it.
    let (code, _, stderr) = run(
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
    assert_eq!(code, Some(3));
    assert!(
        stderr.contains("release gate of `production`") && stderr.contains("has no release tag"),
        "{stderr}"
    );

    // A failed staging deploy (an image that does not exist) is never promoted.
    project.replace(
        "environments/staging.yaml",
        "max_attempts: 8",
        "max_attempts: 2",
    );
    project.git(&["commit", "--quiet", "--all", "-m", "fewer retries"]);
    project.git(&["tag", "-a", "v3.0.0", "-m", "3"]);
    account
        .script("cloudformation:DescribeStacks", vec![serde_json::json!({"status": 500, "body": "<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>recorded outage</Message></Error></ErrorResponse>"}); 2])
        .await;
    let (code, _, stderr) = run(
        &project,
        &account,
        &["deploy", "--env", "staging", "--stack", "auth"],
    );
    assert_eq!(code, Some(1), "{stderr}");
    let (_, history, _) = run(&project, &account, &["history", "--env", "staging"]);
    assert_eq!(
        history["records"][0]["result"], "failed",
        "a deploy that errs is recorded too: {history}"
    );
    assert!(
        history["records"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("recorded outage")),
        "{history}"
    );
    let (code, _, stderr) = run(
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
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains("`staging`'s last deploy") && stderr.contains("failed"),
        "{stderr}"
    );
}

/// A rollback, like every command that changes AWS, is refused without `--yes` when no one
/// can be asked (CI, a pipe), and writes nothing; with it, it rolls back.
#[tokio::test]
async fn a_rollback_without_yes_is_refused_when_no_one_can_be_asked() {
    let account = Account::new();
    let project = Project::copy();
    for label in ["first", "second"] {
        let zip = package(&project, "validator", label);
        let (code, _, stderr) = run_json(
            &project,
            &account,
            // --skip-wait: the canary's five-minute step is not what this test is about.
            &[
                "deploy",
                "--env",
                "local",
                "--skip-wait",
                "--package",
                &format!("validator={zip}"),
            ],
        );
        assert_eq!(code, Some(0), "{stderr}");
    }
    account.reset_requests().await;
    let (code, _, stderr) = run_json(&project, &account, &["rollback", "--env", "local"]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains("not confirmed: nothing was rolled back"),
        "{stderr}"
    );
    assert_eq!(account.requests().await["writes"], 0);
    let (code, report, stderr) =
        run_json(&project, &account, &["rollback", "--env", "local", "--yes"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(report["operation"], "rollback");
}

#[tokio::test]
async fn promotion_refuses_before_the_lock_an_image_the_target_registry_does_not_hold() {
    let account = Account::new();
    let project = Project::for_deploys_in(&account).await;
    without_ml_and_database(&project);
    project.git_release(Some("v1.0.0"));
    let (code, _, stderr) = run(&project, &account, &["deploy", "--env", "staging"]);
    assert_eq!(code, Some(0), "{stderr}");
    push_image(&account, "facturascan/ocr", "v1.0.0", "g").await;
    let (code, _, stderr) = run(
        &project,
        &account,
        &["deploy", "--env", "staging", "--image", "ocr=v1.0.0"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    // The image leaves the registry production pulls from (here the same one: one account
    // plays both environments), as when replication has not copied it yet.
    let ecr = aws_sdk_ecr::Client::new(&account.sdk_config(3).await);
    ecr.batch_delete_image()
        .repository_name("facturascan/ocr")
        .image_ids(
            aws_sdk_ecr::types::ImageIdentifier::builder()
                .image_tag("v1.0.0")
                .build(),
        )
        .send()
        .await
        .expect("delete the image");
    account.reset_requests().await;
    let (code, _, stderr) = run(
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
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains("lacks images to promote") && stderr.contains("ocr:"),
        "{stderr}"
    );
    let counters = account.requests().await;
    assert_eq!(
        crate::support::emulator::resource_writes(&counters),
        0,
        "refused before the lock: {counters}"
    );
    assert_eq!(counters["writes"], 0, "not even a lock: {counters}");
}

#[tokio::test]
async fn a_downgrade_is_refused_with_both_versions_and_allowed_with_the_flag() {
    let account = Account::new();
    let project = Project::for_deploys_in(&account).await;
    without_ml_and_database(&project);
    project.git_release(Some("v2.0.0"));
    let deploy = |extra: &[&str]| {
        let mut args = vec!["deploy", "--env", "staging", "--stack", "auth"];
        args.extend_from_slice(extra);
        run(&project, &account, &args)
    };
    let (code, _, stderr) = deploy(&[]);
    assert_eq!(code, Some(0), "{stderr}");
    // The same commit, tagged as an older release.
    project.git(&["tag", "-a", "v1.9.0", "-m", "older"]);
    account.reset_requests().await;
    let (code, _, stderr) = deploy(&["--tag", "v1.9.0"]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains("runs v2.0.0; v1.9.0 is older"),
        "both versions named: {stderr}"
    );
    assert_eq!(account.requests().await["writes"], 0);
    let (code, _, stderr) = deploy(&["--tag", "v1.9.0", "--allow-downgrade"]);
    assert_eq!(code, Some(0), "{stderr}");
    // A newer release goes without the flag.
    project.git(&["tag", "-a", "v2.1.0", "-m", "newer"]);
    let (code, _, stderr) = deploy(&["--tag", "v2.1.0"]);
    assert_eq!(code, Some(0), "{stderr}");
}

/// Production's plan is shown before the protected job (`promote --dry-run --save`), and
/// the protected job applies exactly it (`promote --plan`), or refuses when staging moved.
#[tokio::test]
async fn a_promotion_is_planned_then_applied_exactly_from_its_saved_plan() {
    let account = Account::new();
    let project = Project::for_deploys_in(&account).await;
    without_ml_and_database(&project);
    project.git_release(Some("v1.0.0"));
    let (code, _, stderr) = run(&project, &account, &["deploy", "--env", "staging"]);
    assert_eq!(code, Some(0), "{stderr}");
    let digest = push_image(&account, "facturascan/ocr", "v1.0.0", "e").await;
    let first = package(&project, "parser", "one");
    let package_arg = format!("parser={first}");
    let deploy_staging = [
        "deploy",
        "--env",
        "staging",
        "--image",
        "ocr=v1.0.0",
        "--package",
        &package_arg,
    ];
    let (code, staged, stderr) = run(&project, &account, &deploy_staging);
    assert_eq!(code, Some(0), "{stderr}\n{staged}");
    let _first_record = staged["record"].as_str().expect("a record id").to_string();
    // Outside the checkout, as the pipeline keeps it (a file in the working tree makes the
    // release gate refuse it as uncommitted).
    let plans = tempfile::tempdir().expect("tmp");
    let file = plans.path().join("production.plan.json");
    let file = file.to_str().expect("utf-8");
    let promote = [
        "promote",
        "--from",
        "staging",
        "--to",
        "production",
        "--skip-verification",
        "--reason",
        UNVERIFIED,
    ];
    let with = |extra: &[&str]| -> Vec<String> {
        promote.iter().chain(extra).map(|s| s.to_string()).collect()
    };

    // The first promotion creates production. A stack whose inputs come from stacks the
    // plan creates has no change set yet: its template is reviewed, its inputs are known
    // after the apply (CreateStack then); the others' change sets are executed.
    let (code, first, stderr) = run(
        &project,
        &account,
        &as_args(&with(&["--dry-run", "--save", file])),
    );
    assert_eq!(code, Some(0), "{stderr}\n{first}");
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(file).expect("plan file")).expect("JSON");
    let saved_stacks = saved["stacks"].as_array().expect("stacks");
    let executed = saved_stacks
        .iter()
        .filter(|s| s["change_set"].is_string())
        .count();
    let after_apply = saved_stacks
        .iter()
        .filter(|s| s["inputs_after_apply"] == true)
        .count();
    assert!(executed > 0 && after_apply > 0, "{saved}");
    assert_eq!(executed + after_apply, saved_stacks.len(), "{saved}");
    account.reset_requests().await;
    let (code, created, stderr) = run(
        &project,
        &account,
        &as_args(&with(&["--plan", file, "--yes"])),
    );
    assert_eq!(code, Some(0), "{stderr}\n{created}");
    let ops = &account.requests().await["by_operation"];
    assert_eq!(
        ops["cloudformation:ExecuteChangeSet"].as_u64(),
        Some(executed as u64),
        "{ops}"
    );
    assert_eq!(
        ops["cloudformation:CreateStack"].as_u64(),
        Some(after_apply as u64),
        "{ops}"
    );

    // The next release changes one template and goes through staging. The plan: the
    // release, its artifacts, each stack's change; nothing applied.
    project.replace(
        "templates/stacks/auth.yaml.tera",
        "          TemporaryPasswordValidityDays: 3",
        "          TemporaryPasswordValidityDays: 2",
    );
    project.git(&[
        "commit",
        "--quiet",
        "-am",
        "auth: shorter temporary passwords",
    ]);
    project.git(&["tag", "-a", "v1.1.0", "-m", "1.1.0"]);
    let (code, staged, stderr) = run(&project, &account, &["deploy", "--env", "staging"]);
    assert_eq!(code, Some(0), "{stderr}");
    let record = staged["record"].as_str().expect("a record id").to_string();
    let (code, plan, stderr) = run(
        &project,
        &account,
        &as_args(&with(&["--dry-run", "--save", file])),
    );
    assert_eq!(code, Some(0), "{stderr}\n{plan}");
    assert_eq!(plan["promotion"]["record"], record.as_str(), "{plan}");
    assert!(
        plan["promotion"]["artifacts"]["ocr"]
            .as_str()
            .is_some_and(|i| i.ends_with(&format!("@{digest}"))),
        "{plan}"
    );
    assert_eq!(plan["saved_to"], file);
    let changed: Vec<&str> = plan["stacks"]
        .as_array()
        .expect("stacks")
        .iter()
        .filter(|s| s["action"] != "no_change")
        .map(|s| s["stack"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(changed, ["auth"], "{plan}");
    let out = project
        .cmd()
        .env("AWS_ACCESS_KEY_ID", &account.access_key)
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .args(as_args(&with(&["--dry-run"])))
        .args(["--endpoint-url", &account.endpoint])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Promote staging (") && text.contains(&format!("@{digest}")),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The protected job: exactly that change set, then the services and the record.
    account.reset_requests().await;
    let (code, promoted, stderr) = run(
        &project,
        &account,
        &as_args(&with(&["--plan", file, "--yes"])),
    );
    assert_eq!(code, Some(0), "{stderr}\n{promoted}");
    assert_eq!(promoted["operation"], "promote");
    let ops = account.requests().await;
    assert_eq!(
        ops["by_operation"]["cloudformation:ExecuteChangeSet"], 1,
        "{ops}"
    );
    assert!(
        ops["by_operation"]["cloudformation:UpdateStack"].is_null(),
        "{ops}"
    );

    // Applied: production is as planned, a new plan changes nothing.
    let (code, again, stderr) = run(
        &project,
        &account,
        &as_args(&with(&["--dry-run", "--save", file])),
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        again["stacks"]
            .as_array()
            .is_some_and(|s| s.iter().all(|s| s["action"] == "no_change")),
        "{again}"
    );

    // Staging moves on after the review: the saved plan promotes another release, refused.
    let second = package(&project, "parser", "two");
    let package_arg = format!("parser={second}");
    let (code, _, stderr) = run(
        &project,
        &account,
        &["deploy", "--env", "staging", "--package", &package_arg],
    );
    assert_eq!(code, Some(0), "{stderr}");
    account.reset_requests().await;
    let (code, refused, stderr) = run(
        &project,
        &account,
        &as_args(&with(&["--plan", file, "--yes"])),
    );
    assert_eq!(code, Some(3), "{stderr}\n{refused}");
    assert_eq!(refused["status"], "refused");
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("`staging` runs") && m.contains(&record)),
        "{refused}"
    );
    assert_eq!(
        crate::support::emulator::resource_writes(&account.requests().await),
        0
    );
}

fn as_args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}
