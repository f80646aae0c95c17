//! Everything refusable offline is refused before any AWS call (issue 33, item 6): bad
//! packages, image references ECR would refuse, bad artifacts files, out-of-range traffic
//! and versions, aliases shaped like versions, a rollback nobody can confirm, endpoints
//! that are not URLs. A tripwire stands in for the endpoint and counts connections.

use crate::support::{Project, Tripwire};

struct Case {
    name: &'static str,
    args: Vec<String>,
    exit: i32,
    says: &'static str,
}

fn case(name: &'static str, args: &[&str], exit: i32, says: &'static str) -> Case {
    Case {
        name,
        args: args.iter().map(|a| (*a).to_string()).collect(),
        exit,
        says,
    }
}

/// The files the cases name, written into the project copy.
fn files(project: &Project) {
    project.write("dist/empty.zip", "");
    project.write("dist/text.zip", "just text, not a zip");
    project.write(
        "dist/fake.zip",
        "PK\u{3}\u{4} starts like a zip and is not one",
    );
    std::fs::create_dir_all(project.path().join("dist/dir.zip")).expect("mkdir");
    project.write(
        "dist/missing-path.json",
        r#"{"services": {"validator": {"package": "nowhere/validator.zip"}}}"#,
    );
    project.write(
        "dist/twice.json",
        "{\"services\": {\n  \"ocr\": {\"image\": \"v1\"},\n  \"ocr\": {\"image\": \"v2\"}\n}}\n",
    );
    project.write("model.bin", "weights");
    project.write("input.json", r#"{"total": "number"}"#);
}

fn with<'a>(head: &[&'a str], tail: &[&'a str]) -> Vec<&'a str> {
    [head, tail].concat()
}

fn cases() -> Vec<Case> {
    let deploy = |extra: &[&str]| {
        let mut args = vec!["deploy", "--env", "local"];
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_string).collect::<Vec<_>>()
    };
    let mut cases = vec![
        case("missing package", &[], 1, "cannot read the package"),
        case("empty package", &[], 1, "is empty"),
        case("directory as package", &[], 1, "is not a file"),
        case("text as package", &[], 1, "is not a zip file"),
        case("PK but not a zip", &[], 1, "is not a zip file"),
        case(
            "image from another registry",
            &[],
            1,
            "is not an ECR registry",
        ),
        case(
            "uppercase repository",
            &[],
            1,
            "is not an ECR repository name",
        ),
        case(
            "artifacts file with a bad path",
            &[],
            1,
            "cannot read the package",
        ),
        case(
            "artifacts file naming a service twice",
            &[],
            1,
            "service `ocr` is named twice",
        ),
    ];
    let deploys: [&[&str]; 9] = [
        &["--package", "validator=dist/nope.zip"],
        &["--package", "validator=dist/empty.zip"],
        &["--package", "validator=dist/dir.zip"],
        &["--package", "validator=dist/text.zip"],
        &["--package", "validator=dist/fake.zip"],
        &["--image", "ocr=docker.io/library/ocr:v1"],
        &[
            "--image",
            "ocr=123456789012.dkr.ecr.eu-west-1.amazonaws.com/Facturascan/OCR:v1",
        ],
        &["--artifacts", "dist/missing-path.json"],
        &["--artifacts", "dist/twice.json"],
    ];
    for (case, extra) in cases.iter_mut().zip(deploys) {
        case.args = deploy(extra);
    }
    let traffic = ["traffic", "--env", "local", "set", "validator", "--variant"];
    cases.extend([
        case(
            "traffic of 0%",
            &with(&traffic, &["2", "--percent", "0"]),
            1,
            "--percent",
        ),
        case(
            "traffic of 100%",
            &with(&traffic, &["2", "--percent", "100"]),
            1,
            "--percent",
        ),
        case(
            "traffic of 150%",
            &with(&traffic, &["2", "--percent", "150"]),
            1,
            "--percent",
        ),
        case(
            "a variant that is not a number",
            &with(&traffic, &["abc", "--percent", "10"]),
            1,
            "expected a version or revision number",
        ),
        case(
            "alias to version 0",
            &[
                "model",
                "alias",
                "fraud-scoring",
                "champion",
                "0",
                "--env",
                "local",
            ],
            1,
            "VERSION",
        ),
        case(
            "alias shaped like a version",
            &[
                "model",
                "alias",
                "fraud-scoring",
                "v1",
                "1",
                "--env",
                "local",
            ],
            1,
            "`v1`",
        ),
        case(
            "a metric given twice",
            &[
                "model",
                "register",
                "fraud-scoring",
                "--file",
                "model.bin",
                "--input",
                "input.json",
                "--metric",
                "auc=0.9",
                "--metric",
                "auc=0.8",
                "--env",
                "local",
            ],
            1,
            "`auc` is given twice",
        ),
        case(
            "rollback nobody can confirm",
            &["rollback", "--env", "local"],
            3,
            "nothing was rolled back",
        ),
        case(
            "an empty endpoint",
            &["status", "--env", "local", "--endpoint-url", ""],
            1,
            "--endpoint-url `` is not an endpoint: it is empty",
        ),
        case(
            "an endpoint without a scheme",
            &[
                "status",
                "--env",
                "local",
                "--endpoint-url",
                "127.0.0.1:4566",
            ],
            1,
            "is not an endpoint",
        ),
        case(
            "an endpoint of another scheme",
            &[
                "status",
                "--env",
                "local",
                "--endpoint-url",
                "ftp://127.0.0.1:21",
            ],
            1,
            "its scheme is not http or https",
        ),
    ]);
    cases
}

#[test]
fn everything_refusable_offline_is_refused_before_any_aws_call() {
    let tripwire = Tripwire::start();
    let project = Project::copy();
    files(&project);
    let mut failures = Vec::new();
    for case in cases() {
        let mut cmd = project.cmd();
        cmd.env("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE")
            .env("AWS_SECRET_ACCESS_KEY", "secret")
            .args(&case.args);
        // The endpoint cases bring their own; the others get the tripwire.
        if !case.args.iter().any(|a| a == "--endpoint-url") {
            cmd.args(["--endpoint-url", &tripwire.url]);
        }
        let before = tripwire.hits();
        let output = cmd
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let problems: Vec<String> = [
            (output.status.code() != Some(case.exit))
                .then(|| format!("exit {:?}, not {}", output.status.code(), case.exit)),
            (!stderr.contains(case.says)).then(|| format!("no `{}`", case.says)),
            (tripwire.hits() != before).then(|| "reached the AWS endpoint".to_string()),
            stderr.contains("panicked").then(|| "panicked".to_string()),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !problems.is_empty() {
            failures.push(format!("{}: {}\n{stderr}", case.name, problems.join(", ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// clap's own usage errors speak the run's formats (issue 33, item 8): an error document
/// on stdout with `-o json` (it holds to the output schema), one JSON event on stderr with
/// `--log-format json`, exit 1 either way.
#[test]
fn usage_errors_honour_json_output_and_json_logs() {
    let project = Project::copy();
    let bad = [
        "traffic",
        "--env",
        "local",
        "set",
        "validator",
        "--variant",
        "2",
        "--percent",
        "0",
    ];
    let output = project
        .cmd()
        .args(bad)
        .args(["-o", "json"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let document: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("a JSON document");
    crate::support::assert_conforms(&document);
    assert_eq!(document["command"], "arguments");
    assert_eq!(document["status"], "error");
    assert_eq!(document["kind"], "usage");
    assert!(
        document["message"]
            .as_str()
            .unwrap_or_default()
            .contains("--percent"),
        "{document}"
    );

    let output = project
        .cmd()
        .args(bad)
        .args(["--log-format", "json"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let event: serde_json::Value = serde_json::from_str(stderr.trim()).expect("one JSON event");
    assert_eq!(event["kind"], "usage", "{event}");
    assert_eq!(event["result"], "error", "{event}");
    assert!(event["trace_id"].is_string(), "{event}");

    let output = project.cmd().args(bad).output().expect("run");
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).starts_with("error: invalid value '0'"));
}
