//! `pipeline render`: the committed workflows are what the definitions render, `--check`
//! catches a hand edit, and a bad definition is refused with its file and line.

use crate::support::{Project, facturactl, repo_root};

/// A project copy with the pipeline definitions, the committed workflows and the folders
/// the jobs lint, test and build.
fn project() -> Project {
    let project = Project::copy();
    let root = repo_root();
    for folder in ["services", "training"] {
        project.copy_folder(folder);
    }
    for file in [
        "pipelines/platform.toml",
        ".github/workflows/platform.yml",
        ".github/workflows/platform-audit.yml",
        ".github/workflows/platform-training.yml",
        ".github/workflows/platform-operations.yml",
        ".github/workflows/ci.yml",
    ] {
        project.write(
            file,
            &std::fs::read_to_string(root.join(file)).expect("committed file"),
        );
    }
    project
}

#[test]
fn committed_workflows_are_the_rendered_ones() {
    let project = project();
    project
        .cmd()
        .args(["pipeline", "render", "--check"])
        .assert()
        .code(0)
        .stdout(predicates::str::contains("4 workflows up to date"));
    insta::assert_snapshot!(
        "platform_workflow",
        project.read(".github/workflows/platform.yml")
    );
    insta::assert_snapshot!(
        "platform_operations_workflow",
        project.read(".github/workflows/platform-operations.yml")
    );
    insta::assert_snapshot!(
        "platform_audit_workflow",
        project.read(".github/workflows/platform-audit.yml")
    );
    insta::assert_snapshot!(
        "platform_training_workflow",
        project.read(".github/workflows/platform-training.yml")
    );
}

#[test]
fn check_fails_with_a_diff_on_a_hand_edit_and_render_repairs_it() {
    let project = project();
    project.replace(
        ".github/workflows/platform.yml",
        "      contents: read\n      id-token: write",
        "      contents: write\n      id-token: write",
    );
    let out = project
        .cmd()
        .args(["pipeline", "render", "--check"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("--- a/.github/workflows/platform.yml"),
        "{stdout}"
    );
    assert!(stdout.contains("-      contents: write"), "{stdout}");
    assert!(stdout.contains("+      contents: read"), "{stdout}");
    assert!(
        stdout.contains("stale: .github/workflows/platform.yml"),
        "{stdout}"
    );

    // A generated workflow whose definition is gone is stale too, and render removes it.
    project.write(
        ".github/workflows/old.yml",
        &format!("{}\nname: old\n", facturactl::pipeline::GENERATED_MARK),
    );
    project
        .cmd()
        .args(["pipeline", "render"])
        .assert()
        .code(0)
        .stdout(predicates::str::contains(
            "written    .github/workflows/platform.yml",
        ))
        .stdout(predicates::str::contains(
            "removed    .github/workflows/old.yml",
        ));
    assert!(!project.path().join(".github/workflows/old.yml").exists());
    // The hand-written CI workflow is not generated: left alone.
    assert!(project.path().join(".github/workflows/ci.yml").exists());
    project
        .cmd()
        .args(["pipeline", "render", "--check"])
        .assert()
        .code(0);
}

#[test]
fn a_bad_definition_names_file_and_line_and_writes_nothing() {
    let cases = [
        (
            r#"sha = "11bd71901bbe5b1630ceea73d27597364c9af683""#,
            r#"sha = "v4.2.2""#,
            "action `checkout` is not pinned to a commit",
        ),
        (
            r#"role_arn = "arn:aws:iam::345678901234:role/facturascan-deploy-production""#,
            r#"role_arn = "arn:aws:iam::210987654321:role/facturascan-deploy-production""#,
            "the role is in account 210987654321, the environment in 345678901234",
        ),
        (
            "[deploy.production]\ntrigger = \"tag\"",
            "[deploy.production]\ntrigger = \"branch\"",
            "production environment `production` deploys on every push",
        ),
        (
            "service = \"backend\"",
            "service = \"parser\"",
            "`parser` is not an ECS service of deploy.toml",
        ),
        // A promotion whose plan could not be made before the approval.
        (
            "promote_from = \"staging\"\nplan_role_arn = \"arn:aws:iam::345678901234:role/facturascan-plan-production\"",
            "promote_from = \"staging\"",
            "the promotion to `production` has no `plan_role_arn`",
        ),
        // A folder a job reads that is not in the repository (issue 29, item 7).
        (
            "context = \"services/backend\"",
            "context = \"services/api\"",
            "the build context `services/api` is not in the repository",
        ),
        (
            r#"python = ["services"]"#,
            r#"python = ["services", "tests/python"]"#,
            "the test path `tests/python` is not in the repository",
        ),
        (
            "context = \"training/fraud-scoring\"",
            "context = \"training/fraud-scoring\"\ndockerfile = \"training/Dockerfile.gpu\"",
            "the Dockerfile `training/Dockerfile.gpu` is not in the repository",
        ),
        (
            "[notify]\nenvironment = \"staging\"",
            "[notify]\nenvironment = \"qa\"",
            "`qa` is not a valid environment",
        ),
        (
            "timeout_minutes = 45",
            "timeout_minutes = 45\ntimeout = 3",
            "unknown key `timeout`",
        ),
        (
            r#"schedule = "45 5 * * 1""#,
            r#"schedule = "cron(45 5 ? * MON *)""#,
            "the training schedule is not a cron expression",
        ),
        // Values GitHub refuses (issue 33, item 7).
        (
            r#"schedule = "17 6 * * 1-5""#,
            r#"schedule = "61 6 * * 1-5""#,
            "the audit schedule is not a cron expression",
        ),
        (
            "timeout_minutes = 45",
            "timeout_minutes = 0",
            "timeout_minutes 0 is out of range",
        ),
        // A pinned facturactl older than a feature the definition uses.
        (
            r#"facturactl_version = "v0.2.0""#,
            r#"facturactl_version = "v0.1.0""#,
            "facturactl v0.1.0 has no [verify] (facturactl verify): it came in v0.2.0",
        ),
        // One tag must never both release the tool and promote production.
        (
            r#"release_tags = "v*.*.*""#,
            r#"release_tags = "*v*""#,
            "matches facturactl's own release tag `facturactl-v1.2.3`",
        ),
        // A promotion from an environment the pipeline does not verify would be refused.
        (
            "[verify]\nenvironment = \"staging\"",
            "[verify]\nenvironment = \"production\"",
            "the promotion from `staging` would be refused",
        ),
        (
            r#"staging = "arn:aws:iam::210987654321:role/facturascan-models-staging""#,
            r#"staging = "arn:aws:iam::345678901234:role/facturascan-models-staging""#,
            "the role is in account 345678901234, the environment in 210987654321",
        ),
        (
            r#"staging = "arn:aws:iam::210987654321:role/facturascan-models-staging""#,
            "staging = \"arn:aws:iam::210987654321:role/facturascan-models-staging\"\nproduction = \"arn:aws:iam::345678901234:role/facturascan-models-production\"",
            "`production` retrains no model",
        ),
    ];
    for (from, to, message) in cases {
        let project = project();
        project.replace("pipelines/platform.toml", from, to);
        // The error points at the last line of the replacement.
        let text = project.read("pipelines/platform.toml");
        let at = text.find(to).expect("replaced");
        let line = text[..at].matches('\n').count() + to.lines().count();
        let before = project.read(".github/workflows/platform.yml");
        project.replace(
            ".github/workflows/platform.yml",
            "name: platform",
            "name: edited",
        );
        let out = project
            .cmd()
            .args(["pipeline", "render"])
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{message}: {stderr}");
        assert!(stderr.contains(message), "{message}: {stderr}");
        assert!(
            stderr.contains(&format!("pipelines/platform.toml:{line}:")),
            "{message}: want line {line}: {stderr}"
        );
        // Nothing written: the hand edit is still there.
        assert_ne!(project.read(".github/workflows/platform.yml"), before);
    }
}

#[test]
fn images_are_built_natively_for_the_architecture_the_tasks_run_on() {
    let root = repo_root();
    let partial = std::fs::read_to_string(root.join("templates/partials/ecs-service.tera"))
        .expect("the ECS partial");
    let architecture = partial
        .lines()
        .find_map(|l| l.split("CpuArchitecture: ").nth(1))
        .and_then(|rest| rest.split([',', ' ', '}']).next())
        .expect("the tasks' CpuArchitecture");
    let platform = match architecture {
        "ARM64" => "linux/arm64",
        "X86_64" => "linux/amd64",
        other => panic!("unknown CpuArchitecture {other}"),
    };
    let workflow = std::fs::read_to_string(root.join(".github/workflows/platform.yml"))
        .expect("the committed workflow");
    // The two services' images and the model's training image.
    let images = workflow.matches("name: \"image (").count()
        + workflow.matches("name: \"training image (").count();
    assert_eq!(images, 3, "{workflow}");
    assert_eq!(
        workflow
            .matches(&format!("PLATFORM: \"{platform}\""))
            .count(),
        images,
        "every image job builds for {platform}"
    );
    assert!(workflow.contains("docker build --platform \"$PLATFORM\""));
    // Natively: on a runner of that architecture, not under emulation.
    let arm_runners = workflow.matches("runs-on: ubuntu-24.04-arm").count();
    assert_eq!(
        arm_runners == images,
        platform == "linux/arm64",
        "{workflow}"
    );
}

/// The composite action's run step, executed by bash as the runner would, with `fake` as
/// the facturactl script, `inputs` as its inputs' variables (`ARGS`, `COMMAND`,
/// `ENVIRONMENT`, `MESSAGE`, the others empty) and, when given, a `stdout` file (relative
/// to the scratch folder, which is returned with the output so that file can be read).
fn run_action(
    fake: &str,
    inputs: &[(&str, &str)],
    stdout: Option<&str>,
) -> (tempfile::TempDir, std::process::Output) {
    let action: yaml_serde::Value = yaml_serde::from_str(
        &std::fs::read_to_string(repo_root().join("action.yml")).expect("action.yml"),
    )
    .expect("YAML");
    let script = action["runs"]["steps"]
        .as_sequence()
        .and_then(|steps| steps.iter().find(|s| s["id"] == "run"))
        .and_then(|s| s["run"].as_str())
        .expect("the run step")
        .to_string();
    let dir = tempfile::tempdir().expect("tmp");
    let binary = dir.path().join("facturactl");
    std::fs::write(&binary, fake).expect("fake");
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&binary)
        .status()
        .expect("chmod");
    let mut bash = std::process::Command::new("bash");
    bash.arg("-c")
        .arg(&script)
        .env("FACTURACTL", &binary)
        .env("RUNNER_TEMP", dir.path());
    // Every input reaches the step as a variable, empty when not given.
    for name in [
        "ARGS",
        "COMMAND",
        "ENVIRONMENT",
        "MESSAGE",
        "TO",
        "STDOUT_FILE",
    ] {
        bash.env(name, "");
    }
    for (name, value) in inputs {
        bash.env(name, value);
    }
    if let Some(file) = stdout {
        bash.env("STDOUT_FILE", dir.path().join(file));
    }
    let output = bash.output().expect("bash");
    (dir, output)
}

/// The action run with a fake facturactl that prints each argument it gets, NUL-ended
/// (so an argument with a newline stays one).
fn run_action_step(inputs: &[(&str, &str)]) -> (Option<i32>, Vec<String>, String) {
    let (_dir, output) = run_action(
        "#!/usr/bin/env bash\nfor a in \"$@\"; do printf '%s\\0' \"$a\"; done\n",
        inputs,
        None,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The first call prints `--version`; the second is the command.
    let argv = stdout
        .split_terminator('\0')
        .skip(1)
        .map(str::to_string)
        .collect();
    (
        output.status.code(),
        argv,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_action_takes_each_line_as_one_argument_exactly_and_expands_nothing() {
    // One per line, quotes kept, spaces kept; the last newline ends the last line.
    let (code, argv, stderr) = run_action_step(&[(
        "ARGS",
        "notify\n--env\nstaging\n--message\npytest: \"3\" failed\n",
    )]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        argv,
        [
            "notify",
            "--env",
            "staging",
            "--message",
            "pytest: \"3\" failed"
        ]
    );
    // An empty line is an empty argument.
    let (_, argv, _) = run_action_step(&[("ARGS", "notify\n\n--yes")]);
    assert_eq!(argv, ["notify", "", "--yes"]);
    // Nothing is evaluated: variables, substitutions and globs arrive as written.
    let (code, argv, _) =
        run_action_step(&[("ARGS", "notify\n--message\n$HOME $(touch /tmp/pwned) *")]);
    assert_eq!(code, Some(0));
    assert_eq!(argv, ["notify", "--message", "$HOME $(touch /tmp/pwned) *"]);
}

#[test]
fn the_actions_structured_inputs_can_never_become_flags() {
    // Text from an event, with newlines, quotes and what looks like flags and commands:
    // one `--message=` argument, exactly.
    let message = "fix: \"quoted\"\n--yes\n$(rm -rf /)\n";
    let (code, argv, stderr) = run_action_step(&[
        ("COMMAND", "notify"),
        ("ENVIRONMENT", "-x"),
        ("MESSAGE", message),
        ("ARGS", "--stage\nbuild"),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        argv,
        [
            "notify",
            "--stage",
            "build",
            "--env=-x",
            &format!("--message={message}")
        ]
    );
    // A rollback's release typed in the Actions tab: one `--to=` argument, whatever it says.
    let to = "v1.0.0\n--allow-downgrade";
    let (code, argv, stderr) = run_action_step(&[
        ("COMMAND", "rollback"),
        ("ENVIRONMENT", "production"),
        ("TO", to),
        ("ARGS", "--yes"),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        argv,
        [
            "rollback",
            "--yes",
            "--env=production",
            &format!("--to={to}")
        ]
    );
    // The command is one subcommand word: anything else is refused, nothing runs.
    for bad in ["deploy --yes", "--help", "Deploy"] {
        let (code, argv, stderr) = run_action_step(&[("COMMAND", bad)]);
        assert_ne!(code, Some(0), "{bad}");
        assert!(argv.is_empty(), "{bad}: {argv:?}");
        assert!(stderr.is_empty() || !stderr.contains("panic"), "{stderr}");
    }
    // Nothing given: refused.
    let (code, _, _) = run_action_step(&[]);
    assert_ne!(code, Some(0));
}

#[test]
fn schema_hints_and_files_are_checked_and_rewritten() {
    // The repository's own are up to date.
    let output = facturactl()
        .current_dir(repo_root())
        .args(["schema", "--check"])
        .output()
        .expect("run");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );

    let project = Project::copy();
    let write = |args: &[&str]| project.cmd().args(args).output().expect("run");
    assert_eq!(write(&["schema", "--write"]).status.code(), Some(0));
    assert!(
        project
            .read("deploy.toml")
            .starts_with("#:schema ./schemas/deploy.schema.json\n")
    );
    assert!(
        project
            .read("environments/staging.yaml")
            .starts_with("# yaml-language-server: $schema=../schemas/environment.schema.json\n")
    );
    // A hint removed by hand: --check names the file and exits 2; --write puts it back.
    let text = project.read("environments/staging.yaml");
    project.write(
        "environments/staging.yaml",
        text.split_once('\n').map_or("", |(_, rest)| rest),
    );
    let check = write(&["schema", "--check"]);
    assert_eq!(check.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&check.stdout).contains("stale: environments/staging.yaml"));
    assert_eq!(write(&["schema", "--write"]).status.code(), Some(0));
    assert_eq!(write(&["schema", "--check"]).status.code(), Some(0));
    assert_eq!(project.read("environments/staging.yaml"), text);
}

/// A committed workflow of `.github/workflows/`, parsed.
fn committed_workflow(file: &str) -> yaml_serde::Value {
    let path = repo_root().join(".github/workflows").join(file);
    yaml_serde::from_str(&std::fs::read_to_string(path).expect("the committed workflow"))
        .expect("YAML")
}

/// The role a job's steps assume.
fn role_of(steps: &[yaml_serde::Value]) -> &str {
    steps
        .iter()
        .find_map(|s| s["with"]["role-to-assume"].as_str())
        .expect("AWS credentials")
}

/// Production is never approved blind: its plan is made and saved before the protected
/// job, with a role that reads and makes change sets, and the approved job applies it.
#[test]
fn production_applies_the_plan_its_reviewers_saw() {
    let workflow = committed_workflow("platform.yml");
    let jobs = &workflow["jobs"];
    let plan = &jobs["plan-production-promotion"];
    let deploy = &jobs["deploy-production"];
    assert!(
        plan["environment"].is_null(),
        "before the approval: {plan:?}"
    );
    assert_eq!(deploy["environment"], "production");
    let needs = deploy["needs"].as_sequence().expect("needs");
    assert!(
        needs.iter().any(|n| n == "plan-production-promotion"),
        "{needs:?}"
    );
    assert_eq!(
        plan["if"], deploy["if"],
        "both run on a release tag after the verification"
    );
    let plan_steps = plan["steps"].as_sequence().expect("steps");
    assert_eq!(
        role_of(plan_steps),
        "arn:aws:iam::345678901234:role/facturascan-plan-production"
    );
    let args = |steps: &[yaml_serde::Value]| {
        steps
            .iter()
            .find(|s| s["uses"] == "./")
            .and_then(|s| s["with"]["args"].as_str())
            .expect("the facturactl step")
            .to_string()
    };
    assert_eq!(
        args(plan_steps),
        "promote\n--from\nstaging\n--to\nproduction\n--dry-run\n--save\n${{runner.temp}}/production.plan.json\n"
    );
    let upload = plan_steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/upload-artifact@"))
        })
        .expect("the plan is uploaded");
    assert_eq!(upload["with"]["name"], "production-plan");
    assert_eq!(upload["with"]["if-no-files-found"], "error");
    let deploy_steps = deploy["steps"].as_sequence().expect("steps");
    let download = deploy_steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/download-artifact@"))
        })
        .expect("the plan is downloaded");
    assert_eq!(download["with"]["name"], "production-plan");
    assert_eq!(download["with"]["path"], "${{ runner.temp }}/plan");
    assert_eq!(
        args(deploy_steps),
        "promote\n--from\nstaging\n--to\nproduction\n--plan\n${{runner.temp}}/plan/production.plan.json\n--yes\n"
    );
}

#[test]
fn production_needs_staging_verified_which_needs_staging_deployed() {
    let workflow = committed_workflow("platform.yml");
    let jobs = &workflow["jobs"];
    let needs = |job: &str| -> Vec<String> {
        jobs[job]["needs"]
            .as_sequence()
            .expect("needs")
            .iter()
            .filter_map(|n| n.as_str().map(str::to_string))
            .collect()
    };
    assert_eq!(needs("verify-staging"), ["deploy-staging"]);
    assert!(needs("deploy-production").contains(&"verify-staging".to_string()));
    assert!(needs("notify").contains(&"verify-staging".to_string()));
    // On a tag push staging's deploy is skipped and the verification runs anyway; the
    // promotion runs only after it passed.
    let verify = jobs["verify-staging"]["if"].as_str().expect("if");
    assert!(
        verify.contains("needs.deploy-staging.result == 'success'")
            && verify.contains("github.ref_type == 'tag'"),
        "{verify}"
    );
    let promote = jobs["deploy-production"]["if"].as_str().expect("if");
    assert!(
        promote.contains("needs.verify-staging.result == 'success'"),
        "{promote}"
    );
    let steps = jobs["verify-staging"]["steps"]
        .as_sequence()
        .expect("steps");
    let run = steps
        .iter()
        .find(|s| s["uses"] == "./")
        .expect("the facturactl step");
    assert_eq!(
        run["with"]["args"],
        "verify\n--env\nstaging\n--artifacts\nverify-report\n"
    );
    assert_eq!(
        role_of(steps),
        "arn:aws:iam::210987654321:role/facturascan-verify-staging"
    );
    let upload = steps
        .iter()
        .find(|s| s["with"]["path"] == "verify-report/")
        .expect("Locust's report uploaded");
    assert_eq!(upload["if"], "${{ !cancelled() }}");
    // The Locust the job installs is the one the tests run (requirements-dev.txt).
    let pinned = std::fs::read_to_string(repo_root().join("requirements-dev.txt"))
        .expect("requirements")
        .lines()
        .find(|l| l.starts_with("locust=="))
        .expect("locust pinned")
        .to_string();
    let installs = steps
        .iter()
        .filter_map(|s| s["run"].as_str())
        .any(|r| r.contains(&format!("'{pinned}'")));
    assert!(installs, "the verify job installs {pinned}");
}

#[test]
fn the_notify_job_publishes_with_its_own_role_outside_any_environment() {
    let workflow = committed_workflow("platform.yml");
    let notify = &workflow["jobs"]["notify"];
    assert!(notify["environment"].is_null(), "{notify:?}");
    let steps = notify["steps"].as_sequence().expect("steps");
    assert_eq!(
        role_of(steps),
        "arn:aws:iam::210987654321:role/facturascan-notify-staging"
    );
    // Dependabot keeps the pinned actions (and crates, and Python tools) fresh.
    let dependabot = std::fs::read_to_string(repo_root().join(".github/dependabot.yml"))
        .expect("dependabot.yml");
    let parsed: yaml_serde::Value = yaml_serde::from_str(&dependabot).expect("YAML");
    let ecosystems: Vec<&str> = parsed["updates"]
        .as_sequence()
        .expect("updates")
        .iter()
        .filter_map(|u| u["package-ecosystem"].as_str())
        .collect();
    assert_eq!(ecosystems, ["github-actions", "cargo", "pip"]);
}

#[test]
fn rollback_and_unlock_run_by_hand_in_the_environment_with_its_deploy_role() {
    let workflow = committed_workflow("platform-operations.yml");
    let inputs = &workflow["on"]["workflow_dispatch"]["inputs"];
    assert_eq!(inputs["operation"]["options"][0], "rollback");
    assert_eq!(inputs["operation"]["options"][1], "unlock");
    for (env, role) in [
        (
            "staging",
            "arn:aws:iam::210987654321:role/facturascan-deploy-staging",
        ),
        (
            "production",
            "arn:aws:iam::345678901234:role/facturascan-deploy-production",
        ),
    ] {
        let job = &workflow["jobs"][format!("operate-{env}").as_str()];
        // Its reviewers approve; never beside a deploy of the same environment.
        assert_eq!(job["environment"], env);
        assert_eq!(job["concurrency"]["group"], format!("deploy-{env}"));
        let steps = job["steps"].as_sequence().expect("steps");
        assert_eq!(role_of(steps), role);
        let rollback = steps
            .iter()
            .find(|s| s["with"]["command"] == "rollback")
            .expect("rollback");
        // The typed release reaches facturactl as `--to=`, through the action's input.
        assert_eq!(rollback["with"]["to"], "${{ inputs.to }}");
        assert_eq!(rollback["with"]["environment"], env);
        assert!(
            !rollback["with"]["args"]
                .as_str()
                .unwrap_or("")
                .contains("inputs.")
        );
        assert!(steps.iter().any(|s| s["with"]["command"] == "unlock"));
    }
}

#[test]
fn pull_requests_get_the_staging_plan_as_one_comment_with_a_read_only_role() {
    let workflow = committed_workflow("platform.yml");
    assert!(!workflow["on"]["pull_request"].is_null());
    let job = &workflow["jobs"]["plan-staging"];
    // Same-repository pull requests only (a fork gets no OIDC token), never a push.
    let condition = job["if"].as_str().expect("a condition");
    assert!(
        condition.contains("github.event_name == 'pull_request'"),
        "{condition}"
    );
    assert!(
        condition.contains("head.repo.full_name == github.repository"),
        "{condition}"
    );
    // No deploy environment, no lock, no approval: it changes nothing.
    assert!(job["environment"].is_null());
    assert_eq!(job["permissions"]["pull-requests"], "write");
    let steps = job["steps"].as_sequence().expect("steps");
    let role = role_of(steps);
    assert_eq!(
        role,
        "arn:aws:iam::210987654321:role/facturascan-plan-staging"
    );
    let plan = steps
        .iter()
        .find(|s| s["uses"] == "./")
        .expect("the facturactl step");
    assert_eq!(
        plan["with"]["args"],
        "plan\n--env\nstaging\n--output\nmarkdown\n--diff\n"
    );
    assert_eq!(plan["with"]["stdout"], "plan.md");
    let comment = steps
        .iter()
        .find(|s| s["run"].as_str().is_some_and(|r| r.contains("gh api")))
        .expect("the comment step");
    // A failed plan updates the comment too (it says so, with the run's link).
    assert_eq!(comment["if"], "${{ !cancelled() }}");
    let post = comment["run"].as_str().unwrap_or_default();
    assert!(
        post.contains("### Plan failed") && post.contains("actions/runs/"),
        "{post}"
    );
    // Found by its marker and edited, else created: one comment however many pushes.
    assert!(
        post.contains("--method PATCH") && post.contains("startswith(env.MARKER)"),
        "{post}"
    );
}

#[test]
fn scheduled_training_runs_are_registered_by_a_job_per_environment() {
    let workflow = committed_workflow("platform-training.yml");
    assert_eq!(workflow["on"]["schedule"][0]["cron"], "45 5 * * 1");
    let jobs = workflow["jobs"].as_mapping().expect("jobs");
    assert_eq!(jobs.len(), 1, "staging alone retrains a model");
    let (env, account) = ("staging", "210987654321");
    let job = &workflow["jobs"][format!("register-{env}").as_str()];
    assert_eq!(job["permissions"]["id-token"], "write", "{env}");
    assert_eq!(job["concurrency"]["group"], format!("register-{env}"));
    let steps = job["steps"].as_sequence().expect("steps");
    let role = role_of(steps);
    assert_eq!(
        role,
        format!("arn:aws:iam::{account}:role/facturascan-models-{env}")
    );
    let registered: Vec<&str> = steps
        .iter()
        .filter(|s| s["uses"] == "./")
        .filter_map(|s| s["with"]["args"].as_str())
        .collect();
    assert_eq!(
        registered,
        vec![format!(
            "retrain\n--env\n{env}\nfraud-scoring\n--register-pending\n"
        )],
        "{env}"
    );
}

#[test]
fn an_environment_that_retrains_no_model_has_no_training_job() {
    let project = project();
    // Staging without the model's retraining: its registration job would have nothing to do.
    let deploy = project.read("deploy.toml");
    let start = deploy
        .find("[models.fraud-scoring.retraining]")
        .expect("the retraining section");
    let end = deploy[start + 1..]
        .find("\n[")
        .map_or(deploy.len(), |i| start + 1 + i);
    project.write(
        "deploy.toml",
        &format!("{}{}", &deploy[..start], &deploy[end..]),
    );
    let out = project
        .cmd()
        .args(["pipeline", "render", "--check"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("`staging` retrains no model"), "{stderr}");
}

#[test]
fn the_action_can_keep_the_report_for_a_later_step() {
    let (dir, output) = run_action(
        "#!/usr/bin/env bash\necho \"report of $*\"\n[ \"$1\" = --version ] || exit 2\n",
        &[("ARGS", "plan\n--env\nstaging\n--output\nmarkdown")],
        Some("plan.md"),
    );
    // The report is kept, and the command's exit status is the step's (pipefail).
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("plan.md")).expect("kept"),
        "report of plan --env staging --output markdown\n"
    );
}

#[test]
fn releases_ship_static_linux_and_macos_archives_the_action_installs() {
    let release: yaml_serde::Value = yaml_serde::from_str(
        &std::fs::read_to_string(repo_root().join(".github/workflows/release.yml"))
            .expect("release workflow"),
    )
    .expect("YAML");
    let targets: Vec<&str> = release["jobs"]["build"]["strategy"]["matrix"]["include"]
        .as_sequence()
        .expect("a matrix")
        .iter()
        .filter_map(|t| t["target"].as_str())
        .collect();
    assert_eq!(
        targets,
        [
            "x86_64-unknown-linux-musl",
            "aarch64-unknown-linux-musl",
            "aarch64-apple-darwin",
            "x86_64-apple-darwin"
        ]
    );
    let publish = yaml_serde::to_string(&release["jobs"]["publish"]).expect("publish");
    for needed in [
        "actions/attest-build-provenance@",
        "attestations: write",
        "SHA256SUMS",
        "scripts/changelog",
        // One manual page per command and the completions, in every archive.
        "man --out",
        "completions \"$shell\"",
    ] {
        assert!(
            publish.contains(needed),
            "publish lacks {needed}: {publish}"
        );
    }
    // Every archive the action may download is one the release builds.
    let action = std::fs::read_to_string(repo_root().join("action.yml")).expect("action.yml");
    let wanted: Vec<&str> = action
        .lines()
        .filter_map(|l| l.split("target=").nth(1))
        .map(|t| t.trim_end_matches(" ;;").trim())
        .collect();
    assert_eq!(wanted.len(), 4, "{wanted:?}");
    assert!(
        wanted.iter().all(|t| targets.contains(t)),
        "{wanted:?} vs {targets:?}"
    );
    // The tool's release tags are its own: never the platform's, which promote production.
    assert_eq!(release["on"]["push"]["tags"][0], "facturactl-v*");
    assert!(action.contains(r#"gh release download "facturactl-$VERSION""#));
    let platform = committed_workflow("platform.yml");
    let platform_tags = platform["on"]["push"]["tags"][0].as_str().expect("tags");
    assert!(!platform_tags.starts_with("facturactl"), "{platform_tags}");
}

#[test]
fn release_notes_come_from_the_changelog_and_a_version_without_an_entry_is_refused() {
    let notes = std::process::Command::new(repo_root().join("scripts/changelog"))
        .arg("v0.1.0")
        .output()
        .expect("run");
    assert!(notes.status.success());
    assert!(String::from_utf8_lossy(&notes.stdout).contains("First release"));
    let missing = std::process::Command::new(repo_root().join("scripts/changelog"))
        .arg("v9.9.9")
        .output()
        .expect("run");
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no section for v9.9.9"));
}

#[test]
fn an_unpinned_pipeline_installs_the_running_facturactl() {
    let project = project();
    let running = format!("facturactl_version = \"v{}\"\n", env!("CARGO_PKG_VERSION"));
    project.replace(
        "pipelines/platform.toml",
        "facturactl_version = \"v0.2.0\"\n",
        &running,
    );
    project.cmd().args(["pipeline", "render"]).assert().code(0);
    // Without the pin: the same files, which install the running version.
    project.replace("pipelines/platform.toml", &running, "");
    project
        .cmd()
        .args(["pipeline", "render", "--check"])
        .assert()
        .code(0);
}
