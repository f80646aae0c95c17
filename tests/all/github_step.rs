//! facturactl as a GitHub Actions step (`GITHUB_ACTIONS=true`): log groups, annotations,
//! the step summary and step outputs, against the local harness.

use std::collections::BTreeMap;

use crate::rollouts::{project, push_image};
use crate::support::Project;
use crate::support::emulator::Account;

/// A run as GitHub would start it: the step's summary and output files in a temp folder.
struct Step {
    dir: tempfile::TempDir,
}

struct StepRun {
    code: Option<i32>,
    stderr: String,
    summary: String,
    outputs: BTreeMap<String, String>,
}

impl Step {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn run(&self, project: &Project, account: Option<&Account>, args: &[&str]) -> StepRun {
        self.run_with(project, account, &[], args)
    }

    /// `run` with more variables in the step's environment.
    fn run_with(
        &self,
        project: &Project,
        account: Option<&Account>,
        vars: &[(&str, &str)],
        args: &[&str],
    ) -> StepRun {
        let summary = self.dir.path().join("summary.md");
        let output = self.dir.path().join("output");
        let _ = std::fs::remove_file(&summary);
        let _ = std::fs::remove_file(&output);
        let mut cmd = project.cmd();
        cmd.env("GITHUB_ACTIONS", "true")
            .env("CI", "true")
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("GITHUB_OUTPUT", &output)
            .args(args);
        if let Some(account) = account {
            project.use_account(account);
            cmd.env("AWS_ACCESS_KEY_ID", &account.access_key)
                .env("AWS_SECRET_ACCESS_KEY", "secret")
                .args(["--endpoint-url", &account.endpoint]);
        }
        for (name, value) in vars {
            if value.is_empty() {
                cmd.env_remove(name);
            } else {
                cmd.env(name, value);
            }
        }
        let out = cmd.output().expect("run facturactl");
        StepRun {
            code: out.status.code(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            summary: std::fs::read_to_string(&summary).unwrap_or_default(),
            outputs: parse_outputs(&std::fs::read_to_string(&output).unwrap_or_default()),
        }
    }
}

/// GitHub's `name<<DELIMITER` format, read the way the runner reads it.
fn parse_outputs(text: &str) -> BTreeMap<String, String> {
    let mut outputs = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let (name, delimiter) = line.split_once("<<").expect("name<<DELIMITER");
        let mut value = Vec::new();
        for line in lines.by_ref() {
            if line == delimiter {
                break;
            }
            value.push(line);
        }
        outputs.insert(name.to_string(), value.join("\n"));
    }
    outputs
}

#[tokio::test]
async fn plan_and_deploy_write_groups_summary_and_outputs() {
    let account = Account::new();
    let project = project(&account);
    let step = Step::new();

    let plan = step.run(&project, Some(&account), &["plan", "--env", "local"]);
    assert_eq!(plan.code, Some(0), "{}", plan.stderr);
    assert!(plan.summary.contains("network"), "{}", plan.summary);
    assert!(plan.summary.contains("create"), "{}", plan.summary);
    assert_eq!(plan.outputs["environment"], "local");
    assert_eq!(plan.outputs["result"], "changes");
    assert_eq!(plan.outputs["changed-stacks"].split(',').count(), 9);

    let deploy = step.run(&project, Some(&account), &["deploy", "--env", "local"]);
    assert_eq!(deploy.code, Some(0), "{}", deploy.stderr);
    // One group per stack and per ECS service (both awaiting their first image), each
    // opened and closed, with its own lines inside.
    let opened = deploy.stderr.matches("::group::").count();
    assert_eq!(opened, 11, "{}", deploy.stderr);
    assert_eq!(deploy.stderr.matches("::endgroup::").count(), 11);
    assert!(
        deploy
            .stderr
            .contains("::group::service ocr: awaiting image"),
        "{}",
        deploy.stderr
    );
    let network = deploy
        .stderr
        .split("::group::network: create succeeded")
        .nth(1)
        .and_then(|rest| rest.split("::endgroup::").next())
        .expect("a network group");
    assert!(network.contains("network: create"), "{network}");
    assert!(!network.contains("auth:"), "{network}");
    // In a GitHub step, logs are text people read inside the groups (CI elsewhere gets
    // JSON): no line is a JSON object.
    assert!(
        deploy.stderr.lines().all(|l| !l.starts_with('{')),
        "{}",
        deploy.stderr
    );
    // `--log-format json` still asks for JSON: every line is a JSON object, but for the
    // workflow commands (`::group::`, `::endgroup::`, annotations) the runner consumes.
    let json = step.run(
        &project,
        Some(&account),
        &["deploy", "--env", "local", "--log-format", "json"],
    );
    assert_eq!(json.code, Some(0), "{}", json.stderr);
    for line in json.stderr.lines().filter(|l| !l.starts_with("::")) {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(value["trace_id"].is_string(), "{line}");
    }
    // The deploy report, in Markdown, in the summary.
    assert!(deploy.summary.contains("network"), "{}", deploy.summary);
    assert!(deploy.summary.contains('|'), "a table: {}", deploy.summary);
    assert_eq!(deploy.outputs["environment"], "local");
    assert_eq!(deploy.outputs["result"], "succeeded");
    let mut changed: Vec<&str> = deploy.outputs["changed-stacks"].split(',').collect();
    changed.sort_unstable();
    assert_eq!(
        changed,
        [
            "alerts",
            "api",
            "auth",
            "database",
            "network",
            "processing",
            "registry",
            "security",
            "storage"
        ]
    );
    assert_eq!(deploy.outputs["digests"], "{}");
    let stack_outputs: serde_json::Value =
        serde_json::from_str(&deploy.outputs["stack-outputs"]).expect("stack outputs are JSON");
    assert!(
        stack_outputs["network"]["VpcId"]
            .as_str()
            .is_some_and(|v| v.starts_with("vpc-")),
        "{stack_outputs}"
    );

    // A rollout: the digest deployed is an output.
    let digest = push_image(&account, "facturascan/ocr", "v2", "b").await;
    let rollout = step.run(
        &project,
        Some(&account),
        &["deploy", "--env", "local", "--image", "ocr=v2"],
    );
    assert_eq!(rollout.code, Some(0), "{}", rollout.stderr);
    assert_eq!(rollout.outputs["changed-stacks"], "");
    let digests: serde_json::Value =
        serde_json::from_str(&rollout.outputs["digests"]).expect("digests are JSON");
    assert_eq!(digests["ocr"], digest.as_str(), "{digests}");
    assert!(
        rollout.stderr.contains("::group::service ocr:"),
        "{}",
        rollout.stderr
    );
}

#[test]
fn a_config_error_is_an_annotation_on_its_file_and_line() {
    let project = Project::copy();
    project.replace(
        "environments/staging.yaml",
        "      desired_count: 2",
        "      desired_count: 2\n      desired_cont: 3",
    );
    let step = Step::new();
    let run = step.run(&project, None, &["plan", "--env", "staging"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let line = project
        .read("environments/staging.yaml")
        .lines()
        .position(|l| l.contains("desired_cont:"))
        .expect("line")
        + 1;
    let annotation = run
        .stderr
        .lines()
        .find(|l| l.starts_with("::error "))
        .unwrap_or_else(|| panic!("no annotation: {}", run.stderr));
    assert!(
        annotation.starts_with(&format!(
            "::error file=environments/staging.yaml,line={line},col=7,title=facturactl%3A configuration error::unknown key `desired_cont`"
        )),
        "{annotation}"
    );
    assert!(
        run.summary.contains("unknown key `desired_cont`"),
        "{}",
        run.summary
    );
    assert_eq!(run.outputs["result"], "failed");
    assert_eq!(run.outputs["environment"], "staging");
}

/// A failed stack is an `::error` annotation naming the resource and the reason, and a
/// stack skipped because of it a `::warning`; a re-run with debug logging
/// (`RUNNER_DEBUG=1`) is a `-v` run.
#[tokio::test]
async fn failed_stacks_are_error_annotations_and_runner_debug_is_verbose() {
    let account = Account::new();
    let project = project(&account);
    let step = Step::new();
    let deploy = step.run(&project, Some(&account), &["deploy", "--env", "local"]);
    assert_eq!(deploy.code, Some(0), "{}", deploy.stderr);

    // A replacement CloudFormation refuses: the load balancer keeps its name.
    project.replace(
        "templates/stacks/api.yaml.tera",
        "      Scheme: internet-facing",
        "      Scheme: internal",
    );
    let failed = step.run(&project, Some(&account), &["deploy", "--env", "local"]);
    assert_eq!(failed.code, Some(1), "{}", failed.stderr);
    let error = failed
        .stderr
        .lines()
        .find(|l| l.starts_with("::error title=stack api failed::"))
        .unwrap_or_else(|| panic!("no annotation: {}", failed.stderr));
    assert!(
        error.contains("facturascan-local-api: LoadBalancer")
            && error.contains("custom-named resource requires replacing"),
        "{error}"
    );

    let debug = step.run_with(
        &project,
        Some(&account),
        &[("RUNNER_DEBUG", "1")],
        &["status", "--env", "local"],
    );
    assert!(debug.stderr.contains("DEBUG"), "{}", debug.stderr);
}

/// Under GitHub Actions a credential failure points at the job's OIDC role, not at
/// `aws sso login`.
#[test]
fn under_actions_missing_credentials_point_at_oidc() {
    let project = Project::copy();
    let step = Step::new();
    let run = step.run_with(
        &project,
        None,
        &[
            ("AWS_ACCESS_KEY_ID", ""),
            ("AWS_SECRET_ACCESS_KEY", ""),
            ("AWS_PROFILE", ""),
            ("AWS_CONFIG_FILE", "/nonexistent/config"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
        &["status", "--env", "local"],
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains("id-token: write")
            && run.stderr.contains("configure-aws-credentials")
            && !run.stderr.contains("sso login"),
        "{}",
        run.stderr
    );
}
