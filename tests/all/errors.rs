//! Errors read like sentences (issue 16 item 5): each cause of a failed AWS call is one line
//! in plain words on the real SDK against the harness, `-v` adds the request id and `-vv`
//! the raw error, and no raw SDK structure reaches stderr otherwise.

use serde_json::json;

use crate::support::emulator::Account;
use crate::support::{Project, Tripwire};

/// `status --env local` with `account`'s credentials; exit code and stderr.
fn status(project: &Project, account: &Account, extra: &[&str]) -> (Option<i32>, String) {
    project.use_account(account);
    let output = project
        .cmd()
        .env("AWS_ACCESS_KEY_ID", &account.access_key)
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .args([
            "status",
            "--env",
            "local",
            "--endpoint-url",
            &account.endpoint,
        ])
        .args(extra)
        .output()
        .expect("run facturactl");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn error_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.starts_with("error:")).collect()
}

fn assert_plain(stderr: &str) {
    for raw in [
        "ServiceError {",
        "DispatchFailure",
        "raw: Response",
        "SdkBody",
    ] {
        assert!(
            !stderr.contains(raw),
            "raw SDK structure `{raw}` in:\n{stderr}"
        );
    }
}

#[tokio::test]
async fn throttling_that_gave_up_is_one_sentence_and_v_adds_the_request_id() {
    let account = Account::new();
    let project = Project::copy();
    account.faults(json!({"throttle": 1.0})).await;
    let (code, stderr) = status(&project, &account, &[]);
    assert_ne!(code, Some(0));
    let lines = error_lines(&stderr);
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains("throttled it on every attempt"),
        "{stderr}"
    );
    assert!(!lines[0].contains("request id"), "{stderr}");
    assert_plain(&stderr);

    let (_, verbose) = status(&project, &account, &["-v"]);
    assert!(verbose.contains("(request id "), "{verbose}");
    assert_plain(&verbose);
    let (_, raw) = status(&project, &account, &["-vv"]);
    assert!(raw.contains("raw error: ServiceError"), "{raw}");
    account.faults_off().await;
}

#[tokio::test]
async fn a_service_answering_5xx_says_so() {
    let account = Account::new();
    let project = Project::copy();
    account.faults(json!({"server_error": 1.0})).await;
    let (code, stderr) = status(&project, &account, &[]);
    assert_ne!(code, Some(0));
    let lines = error_lines(&stderr);
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("HTTP 503"), "{stderr}");
    assert_plain(&stderr);
    account.faults_off().await;
}

#[test]
fn refused_connections_and_unknown_hosts_are_one_sentence_each() {
    let project = Project::copy();
    // A port that was bound and released: nothing listens there any more.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", listener.local_addr().expect("addr"))
    };
    let refused =
        format!("cannot reach the endpoint ({closed}, from --endpoint-url): Connection refused");
    for (endpoint, says) in [
        (closed.as_str(), refused.as_str()),
        (
            "http://facturactl-no-such-host.invalid:4566",
            "cannot resolve the endpoint's host name (http://facturactl-no-such-host.invalid:4566, from --endpoint-url)",
        ),
    ] {
        let output = project
            .cmd()
            .args(["status", "--env", "local", "--endpoint-url", endpoint])
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert_eq!(error_lines(&stderr).len(), 1, "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
        assert_plain(&stderr);
    }
}

#[test]
fn missing_credentials_say_how_to_provide_them_without_the_providers_raw_errors() {
    let project = Project::copy();
    let tripwire = Tripwire::start();
    let output = project
        .cmd()
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .args([
            "status",
            "--env",
            "staging",
            "--endpoint-url",
            &tripwire.url,
        ])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_ne!(output.status.code(), Some(0));
    assert_eq!(error_lines(&stderr).len(), 1, "{stderr}");
    assert!(stderr.contains("no usable AWS credentials"), "{stderr}");
    assert!(stderr.contains("AWS_PROFILE"), "{stderr}");
    assert!(
        !stderr.contains("WARN"),
        "the SDK's provider warnings stay below -v:\n{stderr}"
    );
    assert_plain(&stderr);
    assert_eq!(tripwire.hits(), 0);
}

/// A profile whose credential_process fails and one that exists nowhere (issue 33, item
/// 8): the process's stderr (it can hold a secret) is never shown, at any verbosity or log
/// format, and a missing profile is named with the profiles that do exist.
#[test]
fn a_failing_credential_process_keeps_its_output_and_a_missing_profile_is_named() {
    let project = Project::copy();
    let tripwire = Tripwire::start();
    project.write(
        "aws-config",
        "[profile leaky]\ncredential_process = sh -c \"echo CANARYSECRET-token >&2; exit 3\"\n\n[profile other]\nregion = eu-west-1\n",
    );
    let config = project.path().join("aws-config");
    let run = |profile: &str, extra: &[&str]| {
        let output = project
            .cmd()
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env("AWS_CONFIG_FILE", &config)
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .args(["status", "--env", "staging", "--profile", profile])
            .args(["--endpoint-url", &tripwire.url])
            .args(extra)
            .output()
            .expect("run");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned()
                + &String::from_utf8_lossy(&output.stderr),
        )
    };
    for extra in [
        &[][..],
        &["-v"],
        &["-vvv"],
        &["--log-format", "json", "-vv"],
        &["-o", "json"],
    ] {
        let (code, out) = run("leaky", extra);
        assert_eq!(code, Some(1), "{extra:?}: {out}");
        assert!(
            !out.contains("CANARYSECRET"),
            "{extra:?} showed the process's stderr:\n{out}"
        );
        assert!(out.contains("exit status: 3"), "{extra:?}: {out}");
        assert!(
            out.contains("run the profile's credential_process yourself"),
            "{extra:?}: {out}"
        );
    }
    let (code, out) = run("nope", &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("profile `nope` is in neither the config nor the credentials file"),
        "{out}"
    );
    assert!(out.contains("profiles there: leaky, other"), "{out}");
    // A profile that exists and gives no credentials: the SSO hint names it.
    let (code, out) = run("other", &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("profile `other` gave none: if it is an SSO profile, run `aws sso login --profile other`"),
        "{out}"
    );
    assert_eq!(tripwire.hits(), 0);
}
