//! AWS conventions (issue 18 item 1): `--profile` and `AWS_PROFILE` against the environment
//! file's profile, `--region` against the file's region and the region variables, and the
//! SDK's service-specific endpoint variables alongside `--endpoint-url`.

use crate::support::emulator::Account;
use crate::support::{Project, Tripwire};

fn run(
    project: &Project,
    account: &Account,
    args: &[&str],
    vars: &[(&str, &str)],
) -> (Option<i32>, String) {
    project.use_account(account);
    let mut cmd = project.cmd();
    cmd.env("AWS_ACCESS_KEY_ID", &account.access_key)
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .args(args)
        .args(["--endpoint-url", &account.endpoint]);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let output = cmd.output().expect("run facturactl");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_service_endpoint_variable_keeps_that_service_off_the_endpoint_flag() {
    let account = Account::new();
    let project = Project::copy();
    let s3 = Tripwire::start();
    let (code, stderr) = run(
        &project,
        &account,
        &["status", "--env", "local"],
        &[("AWS_ENDPOINT_URL_S3", &s3.url)],
    );
    // STS answered from the emulator (the account guard passed); the record read went to
    // the S3 endpoint the variable names, where nothing answers.
    assert_ne!(code, Some(0), "{stderr}");
    assert!(
        s3.hits() > 0,
        "S3 went to --endpoint-url, not AWS_ENDPOINT_URL_S3: {stderr}"
    );
    assert!(!stderr.contains("GetCallerIdentity failed"), "{stderr}");
}

#[test]
fn a_profile_given_for_the_run_wins_over_the_file_and_says_so() {
    let account = Account::new();
    let project = Project::copy();
    project.replace(
        "environments/local.yaml",
        "  region: eu-west-1\n",
        "  region: eu-west-1\n  profile: local-deployer\n",
    );
    // Static keys in the environment come first in the credential chain, so the profile
    // needs no file here: what matters is which name wins and that it is said.
    let (code, stderr) = run(
        &project,
        &account,
        &["status", "--env", "local"],
        &[("AWS_PROFILE", "ana-admin")],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("profile `ana-admin` from AWS_PROFILE is used, not `local-deployer` from environments/local.yaml"),
        "{stderr}"
    );
    let (_, stderr) = run(
        &project,
        &account,
        &["status", "--env", "local", "--profile", "ci"],
        &[("AWS_PROFILE", "ana-admin")],
    );
    assert!(
        stderr.contains("profile `ci` from --profile is used"),
        "{stderr}"
    );
}

#[test]
fn region_variables_never_move_an_environment_and_the_flag_does() {
    let account = Account::new();
    let project = Project::copy();
    let (code, stderr) = run(
        &project,
        &account,
        &["status", "--env", "local"],
        &[("AWS_REGION", "us-east-1")],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr
            .contains("AWS_REGION=us-east-1 is ignored: environment `local` deploys to eu-west-1"),
        "{stderr}"
    );

    let tripwire = Tripwire::start();
    let output = project
        .cmd()
        .args([
            "status",
            "--env",
            "local",
            "--region",
            "eu-wset-1",
            "--endpoint-url",
            &tripwire.url,
        ])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("did you mean `eu-west-1`?"), "{stderr}");
    assert_eq!(tripwire.hits(), 0);

    // The effective config says where the environment goes.
    let output = project
        .cmd()
        .args([
            "config",
            "show",
            "--env",
            "local",
            "--region",
            "eu-central-1",
        ])
        .output()
        .expect("run");
    let shown = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        shown.contains("eu-central-1") && !shown.contains("eu-west-1"),
        "{shown}"
    );
}
