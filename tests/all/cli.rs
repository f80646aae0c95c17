//! The CLI as a user meets it: outputs, determinism, exit codes, logs.

use crate::support::{Project, facturactl, repo_root};

#[test]
fn render_is_byte_for_byte_deterministic() {
    let project = Project::copy();
    let out = |dir: &str| {
        project
            .cmd()
            .args(["render", "--env", "production", "--out", dir])
            .assert()
            .success();
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(project.path().join(dir))
            .expect("out dir")
            .map(|e| {
                let e = e.expect("entry");
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).expect("read"),
                )
            })
            .collect();
        files.sort();
        files
    };
    let first = out("a");
    let second = out("b");
    assert_eq!(
        first.len(),
        2 * 9 + 2,
        "9 stacks (template + params), alarms.json, index.json"
    );
    assert_eq!(first, second);
}

#[test]
fn render_writes_templates_parameters_hashes_and_alarms() {
    let project = Project::copy();
    project
        .cmd()
        .args(["render", "--env", "staging", "--out", "out"])
        .assert()
        .success();
    let params: serde_json::Value =
        serde_json::from_str(&project.read("out/database.params.json")).expect("params json");
    assert_eq!(params["stack_name"], "facturascan-staging-database");
    assert_eq!(params["parameters"]["InstanceClass"], "db.t4g.small");
    assert_eq!(params["inputs"]["KmsKeyArn"], "security.KmsKeyArn");
    let body = project.read("out/database.yaml");
    let hash = params["hash"].as_str().expect("hash");
    assert_eq!(hash, facturactl::render::content_hash(&body));
    let alarms: serde_json::Value =
        serde_json::from_str(&project.read("out/alarms.json")).expect("alarms");
    let names: Vec<&str> = alarms
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert!(
        names.contains(&"facturascan-staging-scoring-error-rate"),
        "{names:?}"
    );
}

#[test]
fn overlay_values_reach_the_rendered_templates() {
    let project = Project::copy();
    project.replace(
        "environments/staging.yaml",
        "desired_count: 2",
        "desired_count: 2\n      cpu: 512",
    );
    project
        .cmd()
        .args(["render", "--env", "staging", "--out", "out"])
        .assert()
        .success();
    assert!(project.read("out/processing.yaml").contains("Cpu: \"512\""));
}

#[test]
fn json_output_is_one_document() {
    let output = facturactl()
        .current_dir(repo_root())
        .args(["validate", "--env", "production", "--output", "json"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(doc["environment"], "production");
    assert_eq!(doc["policy"]["mode"], "enforce");
    assert_eq!(doc["blocking"], 0);
}

#[test]
fn config_show_prints_secret_references_not_values() {
    let output = facturactl()
        .current_dir(repo_root())
        .env(
            "FACTURASCAN_LOCAL_SLACK_WEBHOOK",
            "https://hooks.slack.com/services/CANARY",
        )
        .args(["config", "show", "--env", "local", "--output", "json"])
        .output()
        .expect("run");
    assert!(output.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(doc["config"]["environment"]["name"], "local");
    assert_eq!(
        doc["config"]["channels"]["slack"]["dev-monitoring"]["webhook"],
        "env:FACTURASCAN_LOCAL_SLACK_WEBHOOK"
    );
    // Layered: local's cpu overrides deploy.toml's, deploy.toml's repository stays.
    assert_eq!(doc["config"]["services"]["ocr"]["ecs"]["cpu"], 256);
    assert_eq!(
        doc["config"]["services"]["ocr"]["ecs"]["repository"],
        "facturascan/ocr"
    );
    assert!(!String::from_utf8_lossy(&output.stdout).contains("CANARY"));
}

#[test]
fn schema_describes_both_files() {
    for (file, title) in [("deploy", "deploy.toml"), ("environment", "environments/")] {
        let output = facturactl()
            .args(["schema", "--file", file])
            .output()
            .expect("run");
        assert!(output.status.success());
        let schema: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
        assert!(schema["title"].as_str().unwrap_or("").contains(title));
        assert!(schema["properties"]["stacks"].is_object());
    }
}

#[test]
fn help_documents_exit_codes() {
    let output = facturactl().arg("--help").output().expect("run");
    let text = String::from_utf8_lossy(&output.stdout);
    for line in [
        "0  done",
        "1  error",
        "2  changes or drift found",
        "3  refused by a gate",
    ] {
        assert!(text.contains(line), "{line} missing from --help");
    }
}

#[test]
fn usage_errors_exit_1_not_2() {
    // 2 means "changes found"; a bad flag must not look like that to a pipeline.
    facturactl().args(["render", "--bogus"]).assert().code(1);
    facturactl()
        .current_dir(repo_root())
        .arg("render")
        .assert()
        .code(1)
        .stderr(predicates::str::contains("--env"));
}

#[test]
fn json_logs_carry_the_platform_fields() {
    let output = facturactl()
        .current_dir(repo_root())
        .env("FACTURACTL_TRACE_ID", "trace-123")
        .env("GITHUB_ACTOR", "ana")
        .args(["validate", "--env", "local", "--log-format", "json"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr
        .lines()
        .rfind(|l| l.starts_with('{'))
        .expect("a JSON log line");
    let line: serde_json::Value = serde_json::from_str(last).expect("JSON line");
    assert_eq!(line["trace_id"], "trace-123");
    assert_eq!(line["user_id"], "ana");
    assert_eq!(line["tenant_id"], "platform");
    assert_eq!(line["action"], "validate");
    assert_eq!(line["result"], "ok");
    assert!(line["latency_ms"].is_u64());
}

#[test]
fn ci_defaults_to_json_logs() {
    let output = facturactl()
        .current_dir(repo_root())
        .env("CI", "true")
        .args(["validate", "--env", "local"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with('{') && l.contains("\"trace_id\"")),
        "{stderr}"
    );
}

#[test]
fn project_dir_flag_finds_the_project() {
    let project = Project::copy();
    facturactl()
        .args(["-C"])
        .arg(project.path())
        .args(["validate", "--env", "local"])
        .assert()
        .success();
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let out = crate::support::facturactl()
        .arg("--version")
        .output()
        .expect("run");
    let version = String::from_utf8_lossy(&out.stdout);
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(crate::support::repo_root())
        .output()
        .expect("git");
    let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
    assert_eq!(head.len(), 12, "a git checkout");
    assert!(
        version.starts_with(&format!(
            "facturactl {} (commit {head}",
            env!("CARGO_PKG_VERSION")
        )),
        "{version} vs HEAD {head}"
    );
}

#[test]
fn no_color_and_color_never_leave_no_escape_sequence_on_either_stream() {
    let run = |vars: &[(&str, &str)], args: &[&str]| {
        let mut cmd = facturactl();
        cmd.current_dir(repo_root())
            .args(["validate", "--env", "local", "--log-format", "text", "-v"])
            .args(args);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let output = cmd.output().expect("run");
        let both = [output.stdout, output.stderr].concat();
        String::from_utf8_lossy(&both).into_owned()
    };
    // The control: forced colour does colour (so the checks below can fail).
    assert!(run(&[("CLICOLOR_FORCE", "1")], &[]).contains('\u{1b}'));
    for (vars, args) in [
        (&[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")][..], &[][..]),
        (&[("CLICOLOR_FORCE", "1")][..], &["--color", "never"][..]),
        (&[][..], &[][..]),
    ] {
        let text = run(vars, args);
        assert!(!text.contains('\u{1b}'), "{vars:?} {args:?}: {text:?}");
    }
}

#[test]
fn success_and_error_json_documents_share_one_envelope() {
    let document = |args: &[&str]| -> serde_json::Value {
        let output = facturactl()
            .current_dir(repo_root())
            .args(args)
            .args(["--output", "json"])
            .output()
            .expect("run");
        serde_json::from_slice(&output.stdout).expect("one JSON document on stdout")
    };
    let ok = document(&["validate", "--env", "local"]);
    let error = document(&["validate", "--env", "nowhere"]);
    for (doc, status) in [(&ok, "succeeded"), (&error, "error")] {
        assert_eq!(doc["schema_version"], 1, "{doc}");
        assert_eq!(doc["command"], "validate", "{doc}");
        assert_eq!(doc["status"], status, "{doc}");
        // The envelope comes first, in this order.
        let keys: Vec<&String> = doc.as_object().expect("a map").keys().take(3).collect();
        assert_eq!(keys, ["schema_version", "command", "status"]);
    }
    assert_eq!(ok["stacks"], 9, "the outcome's own keys follow: {ok}");
    assert_eq!(error["kind"], "config");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("nowhere"))
    );
}

#[test]
fn an_error_document_carries_the_errors_data_and_its_help_apart() {
    let output = facturactl()
        .current_dir(repo_root())
        .args(["deploy", "--env", "local", "--image", "ocr=Not An Image"])
        .args(["--output", "json"])
        .output()
        .expect("run");
    let error: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("one JSON document on stdout");
    assert_eq!(error["kind"], "artifact", "{error}");
    assert_eq!(
        error["detail"],
        serde_json::json!({"not_a_tag": {"service": "ocr", "tag": "Not An Image"}}),
        "the reason names the variant, its fields the data: {error}"
    );
    let help = error["help"].as_str().expect("help apart from the message");
    assert!(help.contains("1 to 128"), "{help}");
    let message = error["message"].as_str().expect("message");
    assert!(
        message.contains("`Not An Image` is not an image tag") && message.contains(help),
        "{message}"
    );
}

/// `--color` reaches clap's own messages (a command line that does not parse), with the
/// same precedence as the logs': the flag over CLICOLOR_FORCE, NO_COLOR over auto.
#[test]
fn the_color_flag_reaches_the_usage_errors() {
    let usage = |args: &[&str], vars: &[(&str, &str)]| {
        let mut cmd = crate::support::facturactl();
        cmd.env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE")
            .args(args);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run");
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let ansi = |text: &str| text.contains('\u{1b}');
    assert!(ansi(&usage(&["--color", "always", "--no-such-flag"], &[])));
    assert!(!ansi(&usage(
        &["--color", "never", "--no-such-flag"],
        &[("CLICOLOR_FORCE", "1")]
    )));
    assert!(ansi(&usage(
        &["--no-such-flag"],
        &[("CLICOLOR_FORCE", "1")]
    )));
    assert!(!ansi(&usage(
        &["--no-such-flag"],
        &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]
    )));
    assert!(
        !ansi(&usage(&["--no-such-flag"], &[])),
        "off a terminal, no colour"
    );
}

/// What the shell's Tab offers after `words` (the last one is being typed), asked the way
/// the fish registration asks (one candidate per line, a tab before its help).
fn completed(project: &Project, words: &[&str], aws: &std::path::Path) -> Vec<String> {
    let out = project
        .cmd()
        .env("FACTURACTL_COMPLETE", "fish")
        .env("AWS_CONFIG_FILE", aws.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", aws.join("credentials"))
        .arg("--")
        .arg("facturactl")
        .args(words)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| line.split('\t').next().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn completions_offer_the_projects_environments_stacks_and_the_aws_profiles() {
    let project = Project::copy();
    // What is there at the moment of the Tab: a new environment file, a new profile.
    project.write(
        "environments/qa.yaml",
        &project.read("environments/staging.yaml"),
    );
    let aws = tempfile::tempdir().expect("tmp");
    std::fs::write(
        aws.path().join("config"),
        "[default]\nregion = eu-west-1\n[profile facturascan-staging]\nregion = eu-west-1\n",
    )
    .expect("config");
    std::fs::write(
        aws.path().join("credentials"),
        "[facturascan-ci]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = x\n",
    )
    .expect("credentials");
    let aws = aws.path();
    assert_eq!(
        completed(&project, &["deploy", "--env", ""], aws),
        ["local", "production", "qa", "staging"]
    );
    assert_eq!(completed(&project, &["plan", "-e", "s"], aws), ["staging"]);
    assert_eq!(
        completed(
            &project,
            &["promote", "--from", "staging", "--to", "p"],
            aws
        ),
        ["production"]
    );
    let stacks = completed(&project, &["deploy", "--stack", ""], aws);
    for stack in ["network", "storage", "processing", "ml", "alerts"] {
        assert!(stacks.iter().any(|s| s == stack), "{stack}: {stacks:?}");
    }
    assert_eq!(
        completed(&project, &["destroy", "--stack", "proc"], aws),
        ["processing"]
    );
    assert_eq!(
        completed(&project, &["status", "--profile", "facturascan-"], aws),
        ["facturascan-ci", "facturascan-staging"]
    );
    assert!(completed(&project, &["dep"], aws).contains(&"deploy".to_string()));
    // No project here: nothing to offer, and no error on the shell's line.
    let empty = tempfile::tempdir().expect("tmp");
    let out = facturactl()
        .current_dir(empty.path())
        .env("FACTURACTL_COMPLETE", "fish")
        .args(["--", "facturactl", "deploy", "--env", ""])
        .output()
        .expect("run");
    assert!(out.status.success() && out.stdout.is_empty() && out.stderr.is_empty());
}

/// The bash script the release archives ship, sourced in a real bash and called as bash
/// calls it on Tab.
#[test]
fn the_bash_registration_completes_through_the_binary() {
    let project = Project::copy();
    let script = project.path().join("facturactl.bash");
    let out = facturactl()
        .args(["completions", "bash"])
        .output()
        .expect("run");
    std::fs::write(&script, &out.stdout).expect("script");
    let binary = assert_cmd::cargo::cargo_bin("facturactl");
    let path = format!(
        "{}:{}",
        binary.parent().expect("dir").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new("bash")
        .current_dir(project.path())
        .env("PATH", path)
        .arg("-c")
        .arg(
            r#"source ./facturactl.bash
COMP_WORDS=(facturactl deploy --env st); COMP_CWORD=3; COMP_TYPE=9
_clap_complete_facturactl facturactl st --env
printf '%s\n' "${COMPREPLY[@]}""#,
        )
        .output()
        .expect("bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.split_whitespace().collect::<Vec<_>>(),
        ["staging"],
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A project of one stack and no `[verify]` is valid: the default entry point
/// (`api.ApiUrl`) binds only a project whose checks go through it.
#[test]
fn a_project_without_verify_or_an_api_stack_validates() {
    let dir = tempfile::tempdir().expect("tmp");
    let write = |file: &str, text: &str| {
        let path = dir.path().join(file);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    };
    write(
        "deploy.toml",
        "[project]\nname = \"small\"\n\n[stacks.topic]\ntemplate = \"topic.yaml.tera\"\n",
    );
    write(
        "environments/local.yaml",
        "environment:\n  tier: local\n  account_id: \"123456789012\"\n  region: eu-west-1\n",
    );
    write(
        "templates/stacks/topic.yaml.tera",
        "AWSTemplateFormatVersion: \"2010-09-09\"\nResources:\n  Topic:\n    Type: AWS::SNS::Topic\n    Properties:\n      KmsMasterKeyId: alias/aws/sns\n",
    );
    let out = facturactl()
        .current_dir(dir.path())
        .args(["validate", "--env", "local"])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // With an HTTP check, the entry point's stack must exist.
    write(
        "deploy.toml",
        "[project]\nname = \"small\"\n\n[stacks.topic]\ntemplate = \"topic.yaml.tera\"\n\n[[verify.smoke.http]]\nname = \"health\"\npath = \"/health\"\n",
    );
    let out = facturactl()
        .current_dir(dir.path())
        .args(["validate", "--env", "local"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the entry point's stack `api` is not an enabled stack"),
        "{stderr}"
    );
}
