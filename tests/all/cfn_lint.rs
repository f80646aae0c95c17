//! Rendered templates of every environment pass cfn-lint with zero errors. moto accepts
//! templates it does not understand, so this is the check that a template is valid.

use std::process::Command;

use crate::support::{Project, repo_root};

/// An environment overlay's `on_end` for the fraud-scoring model's retraining.
pub(crate) const ON_END: &str = "\nmodels:\n  fraud-scoring:\n    retraining:\n      on_end:\n        repository: facturascan/facturascan-360\n        token_secret: facturascan/github-dispatch\n";

#[test]
fn rendered_templates_pass_cfn_lint() {
    let version = Command::new("cfn-lint").arg("--version").output();
    let Ok(version) = version else {
        panic!("cfn-lint is not installed: `pip install -r requirements-dev.txt` (CI installs it)");
    };
    assert!(version.status.success());
    let project = Project::copy();
    // Production again, with its Slack channel through AWS Chatbot instead of the forwarder.
    let chatbot = project.read("environments/production.yaml")
        + "\nchannels:\n  slack:\n    dev-monitoring:\n      webhook: ~\n      chatbot: { workspace_id: T0123ABCD, channel_id: C0123ABCD }\n";
    project.write("environments/chatbot.yaml", &chatbot);
    // Staging again, announcing each training run's end (an API destination).
    let announced = project.read("environments/staging.yaml") + ON_END;
    project.write("environments/announced.yaml", &announced);
    let mut files = Vec::new();
    for env in ["local", "staging", "production", "chatbot", "announced"] {
        let dir = format!("out-{env}");
        project
            .cmd()
            .args(["render", "--env", env, "--out", &dir])
            .assert()
            .success();
        for entry in std::fs::read_dir(project.path().join(&dir)).expect("out dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path);
            }
        }
    }
    assert!(
        project
            .read("out-announced/ml.yaml")
            .contains("Type: AWS::Events::ApiDestination")
    );
    let alerts = project.read("out-chatbot/alerts.yaml");
    assert!(
        alerts.contains("Type: AWS::Chatbot::SlackChannelConfiguration"),
        "{alerts}"
    );
    assert!(
        !alerts.contains("DevMonitoringForwarder"),
        "no forwarder beside Chatbot"
    );
    assert!(
        files.len() >= 25,
        "every environment's stacks rendered: {}",
        files.len()
    );
    // Errors fail; warnings (W) and informational findings (I) are shown but allowed.
    let output = Command::new("cfn-lint")
        .args(["--format", "parseable"])
        .args(&files)
        .current_dir(repo_root())
        .output()
        .expect("run cfn-lint");
    let findings = String::from_utf8_lossy(&output.stdout);
    let errors: Vec<&str> = findings.lines().filter(|l| l.contains(":E")).collect();
    assert!(errors.is_empty(), "cfn-lint errors:\n{}", errors.join("\n"));
}

#[test]
fn cfn_lint_catches_a_broken_template() {
    // The check above must be able to fail: an invalid property is an error.
    let project = Project::copy();
    project.replace(
        "templates/stacks/auth.yaml.tera",
        "      GenerateSecret: false",
        "      GenerateSecrett: false",
    );
    project
        .cmd()
        .args(["render", "--env", "local", "--out", "out"])
        .assert()
        .success();
    let output = Command::new("cfn-lint")
        .args(["--format", "parseable"])
        .arg(project.path().join("out/auth.yaml"))
        .output()
        .expect("run cfn-lint");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains(":E3002"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

/// The resource types `validate` knows offline (src/render/resource_types.txt) are the
/// pinned cfn-lint's, every region's: `scripts/resource-types` writes them after a bump.
#[test]
fn the_known_resource_types_are_the_pinned_cfn_lints() {
    let script = "import json,pathlib,cfnlint\np=pathlib.Path(cfnlint.__file__).parent/'data'/'schemas'/'providers'\nn=set()\nfor r in p.glob('*.json'): n.update(json.loads(r.read_text()))\nprint(''.join(f'{x}\\n' for x in sorted(n)), end='')";
    let out = Command::new("python")
        .args(["-c", script])
        .output()
        .expect("python of the tools' venv (scripts/test puts it first on PATH)");
    assert!(
        out.status.success(),
        "cfn-lint is not importable: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let committed = std::fs::read_to_string(repo_root().join("src/render/resource_types.txt"))
        .expect("the list");
    assert!(
        String::from_utf8_lossy(&out.stdout) == committed,
        "src/render/resource_types.txt differs from the installed cfn-lint's: run scripts/resource-types"
    );
}
