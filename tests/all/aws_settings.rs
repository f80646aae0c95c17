//! AWS conventions (issue 18 item 1): `--profile` and `AWS_PROFILE` against the environment
//! file's profile, `--region` against the file's region and the region variables, and the
//! SDK's service-specific endpoint variables alongside `--endpoint-url`, an explicit
//! profile against exported keys (issue 29 item 4).

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

/// The AWS CLI's order: `--endpoint-url` above all, then `AWS_ENDPOINT_URL_<SERVICE>`, then
/// `AWS_ENDPOINT_URL`.
#[test]
fn the_endpoint_flag_wins_over_a_service_variable_which_wins_over_the_global_one() {
    let account = Account::new();
    let project = Project::copy();
    let s3 = Tripwire::start();
    let (code, stderr) = run(
        &project,
        &account,
        &["status", "--env", "local"],
        &[("AWS_ENDPOINT_URL_S3", &s3.url)],
    );
    assert_eq!(code, Some(0), "S3 went to --endpoint-url: {stderr}");
    assert_eq!(s3.hits(), 0, "AWS_ENDPOINT_URL_S3 lost to --endpoint-url");

    // Without the flag, the service's variable wins over AWS_ENDPOINT_URL: STS answered
    // from the emulator (the account guard passed), the record read went to the S3
    // endpoint the variable names, where nothing answers.
    project.use_account(&account);
    let output = project
        .cmd()
        .env("AWS_ACCESS_KEY_ID", &account.access_key)
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_ENDPOINT_URL", &account.endpoint)
        .env("AWS_ENDPOINT_URL_S3", &s3.url)
        .args(["status", "--env", "local"])
        .output()
        .expect("run facturactl");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_ne!(output.status.code(), Some(0), "{stderr}");
    assert!(s3.hits() > 0, "S3 went to AWS_ENDPOINT_URL_S3: {stderr}");
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

/// `--profile` (explicit) uses the profile's credentials even with keys exported, as the
/// AWS CLI does; `AWS_PROFILE` leaves the exported keys first, as the AWS CLI does too.
#[test]
fn an_explicit_profile_wins_over_exported_keys_and_the_variable_does_not() {
    let (exported, profiled) = (Account::new(), Account::new());
    let project = Project::copy();
    project.use_account(&profiled);
    project.write(
        "aws-credentials",
        &format!(
            "[other]\naws_access_key_id = {}\naws_secret_access_key = secret\n",
            profiled.access_key
        ),
    );
    let credentials = project.path().join("aws-credentials");
    let run = |extra: &[&str], vars: &[(&str, &str)]| {
        let mut cmd = project.cmd();
        cmd.env("AWS_ACCESS_KEY_ID", &exported.access_key)
            .env("AWS_SECRET_ACCESS_KEY", "secret")
            .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .args([
                "status",
                "--env",
                "local",
                "--endpoint-url",
                &profiled.endpoint,
            ])
            .args(extra);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let output = cmd.output().expect("run facturactl");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stderr) = run(&["--profile", "other"], &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains(
            "AWS_ACCESS_KEY_ID is exported, but profile `other` (from --profile) is used"
        ),
        "{stderr}"
    );
    // The exported keys are another account's: the account guard refuses them.
    let (code, stderr) = run(&[], &[("AWS_PROFILE", "other")]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains(&exported.account_id), "{stderr}");
}

/// A profile whose role needs an MFA code.
fn mfa_profiles(project: &Project, base: &Account, role_account: &str) -> std::path::PathBuf {
    project.write(
        "aws-config",
        &format!(
            "[profile mfa]\nrole_arn = arn:aws:iam::{role_account}:role/deployer\nsource_profile = base\nmfa_serial = arn:aws:iam::{role_account}:mfa/ana\n\n[profile base]\naws_access_key_id = {}\naws_secret_access_key = secret\n",
            base.access_key
        ),
    );
    project.path().join("aws-config")
}

#[test]
fn an_mfa_profile_is_refused_off_a_terminal_before_any_call() {
    let account = Account::new();
    let project = Project::copy();
    let config = mfa_profiles(&project, &account, &account.account_id);
    let tripwire = Tripwire::start();
    let output = project
        .cmd()
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .args(["status", "--env", "local", "--profile", "mfa"])
        .args(["--endpoint-url", &tripwire.url])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "profile `mfa` needs an MFA code (arn:aws:iam::{}:mfa/ana), and there is no terminal to ask for it",
            account.account_id
        )),
        "{stderr}"
    );
    assert_eq!(tripwire.hits(), 0);
}

/// On a terminal (a pseudo-terminal made by util-linux's `script`), the code is asked for
/// and the role is assumed with it: the run goes on as that role.
#[test]
fn an_mfa_profile_asks_for_the_code_on_a_terminal() {
    let role = Account::new();
    let project = Project::copy();
    project.use_account(&role);
    // The role the profile assumes, trusting its account's keys with MFA.
    let trust = format!(
        r#"{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Principal": {{"AWS": "arn:aws:iam::{}:root"}}, "Action": "sts:AssumeRole", "Condition": {{"Bool": {{"aws:MultiFactorAuthPresent": "true"}}}}}}]}}"#,
        role.account_id
    );
    let made = std::process::Command::new(crate::support::emulator::python())
        .args([
            "-c",
            "import sys, boto3; boto3.client('iam', endpoint_url=sys.argv[1], region_name='us-east-1').create_role(RoleName='deployer', AssumeRolePolicyDocument=sys.argv[2])",
            &role.endpoint,
            &trust,
        ])
        .env("AWS_ACCESS_KEY_ID", &role.access_key)
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .output()
        .expect("python");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let config = mfa_profiles(&project, &role, &role.account_id);
    let binary = assert_cmd::cargo::cargo_bin("facturactl");
    let command = format!(
        "{} status --env local --profile mfa --endpoint-url {}",
        binary.display(),
        role.endpoint
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(project.path())
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("CI")
        .env_remove("GITHUB_ACTIONS")
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux `script` makes the terminal (apt-get install util-linux)");
    // The code goes in once the prompt is up (the terminal would drop earlier input).
    std::thread::sleep(std::time::Duration::from_secs(2));
    use std::io::Write as _;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"123456\n")
        .expect("type the code");
    let output = child.wait_with_output().expect("script");
    let screen = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{screen}");
    assert!(
        screen.contains(&format!(
            "MFA code for arn:aws:iam::{}:mfa/ana (profile `mfa`):",
            role.account_id
        )),
        "{screen}"
    );
    assert!(
        screen.contains("`local` has no successful release recorded"),
        "{screen}"
    );
}

/// A CA and a certificate for 127.0.0.1 signed by it, in `dir`: (ca.pem, cert.pem, key.pem).
fn certificates(dir: &std::path::Path) -> [std::path::PathBuf; 3] {
    let at = |name: &str| dir.join(name);
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "key.pem",
        "-out",
        "cert.csr",
    ]);
    std::fs::write(
        at("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .expect("ext");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "cert.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "ext.cnf",
        "-out",
        "cert.pem",
    ]);
    [at("ca.pem"), at("cert.pem"), at("key.pem")]
}

#[test]
fn a_ca_bundle_from_the_variable_or_the_profile_is_what_https_trusts() {
    use std::io::BufRead as _;
    let account = Account::new();
    let project = Project::copy();
    project.use_account(&account);
    let [ca, cert, key] = certificates(project.path());
    let mut proxy = std::process::Command::new(crate::support::emulator::python())
        .arg(crate::support::repo_root().join("tests/all/support/tls_proxy.py"))
        .args([
            &account.endpoint,
            &cert.display().to_string(),
            &key.display().to_string(),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the TLS proxy");
    let mut port = String::new();
    std::io::BufReader::new(proxy.stdout.take().expect("stdout"))
        .read_line(&mut port)
        .expect("its port");
    let endpoint = format!("https://127.0.0.1:{}", port.trim());
    project.write(
        "aws-config",
        &format!("[profile tls]\nca_bundle = {}\n", ca.display()),
    );
    project.write(
        "aws-credentials",
        &format!(
            "[tls]\naws_access_key_id = {}\naws_secret_access_key = secret\n",
            account.access_key
        ),
    );
    let run = |extra: &[&str], vars: &[(&str, &std::path::Path)]| {
        let mut cmd = project.cmd();
        // The machine's own AWS_CA_BUNDLE (if any) would win over the profile's.
        cmd.env_remove("AWS_CA_BUNDLE")
            .env("AWS_ACCESS_KEY_ID", &account.access_key)
            .env("AWS_CONFIG_FILE", project.path().join("aws-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                project.path().join("aws-credentials"),
            )
            .args(["status", "--env", "local", "--endpoint-url", &endpoint])
            .args(extra);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let output = cmd.output().expect("run facturactl");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    // The system's certificates (rustls's platform roots) do not know the test's CA.
    let (code, stderr) = run(&[], &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("UnknownIssuer") || stderr.contains("certificate"),
        "{stderr}"
    );
    let (code, stderr) = run(&[], &[("AWS_CA_BUNDLE", &ca)]);
    assert_eq!(code, Some(0), "AWS_CA_BUNDLE: {stderr}");
    let (code, stderr) = run(&["--profile", "tls"], &[]);
    assert_eq!(code, Some(0), "the profile's ca_bundle: {stderr}");
    let missing = project.path().join("no-such-bundle.pem");
    let (code, stderr) = run(&[], &[("AWS_CA_BUNDLE", &missing)]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot read the CA bundle") && stderr.contains("(AWS_CA_BUNDLE)"),
        "{stderr}"
    );
    drop(proxy.stdin.take());
    let _ = proxy.wait();
}
