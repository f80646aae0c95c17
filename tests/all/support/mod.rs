//! Shared helpers: a scratch copy of the project, and a listener that proves no AWS call.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use assert_cmd::Command;

/// The harness's entry point of `account` (scripts/local_services.py).
pub fn harness_entry(account: &emulator::Account) -> String {
    format!("{}/__services/{}", account.endpoint, account.account_id)
}

/// The reason the promotion tests give for promoting without a verification: they test
/// what a promotion copies, not what `verify` checks (tests/all/verify.rs does).
pub const UNVERIFIED: &str = "promotion mechanics under test; verify has its own tests";

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A temporary copy of deploy.toml, environments/, templates/ and verify/ (the checks'
/// samples, baseline and locustfile) that a test may break.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn copy() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = repo_root();
        std::fs::copy(root.join("deploy.toml"), dir.path().join("deploy.toml"))
            .expect("copy deploy.toml");
        copy_tree(&root.join("environments"), &dir.path().join("environments"));
        copy_tree(&root.join("templates"), &dir.path().join("templates"));
        copy_tree(&root.join("verify"), &dir.path().join("verify"));
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Copies the repository's `folder` into the project.
    pub fn copy_folder(&self, folder: &str) {
        copy_tree(&repo_root().join(folder), &self.path().join(folder));
    }

    pub fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.path().join(file)).unwrap_or_default()
    }

    pub fn write(&self, file: &str, text: &str) {
        let path = self.path().join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, text).expect("write");
    }

    /// Replaces the first occurrence of `from`; panics if absent so a stale case is noticed.
    pub fn replace(&self, file: &str, from: &str, to: &str) {
        let text = self.read(file);
        assert!(text.contains(from), "{file} does not contain {from:?}");
        self.write(file, &text.replacen(from, to, 1));
    }

    pub fn append(&self, file: &str, text: &str) {
        let mut all = self.read(file);
        all.push_str(text);
        self.write(file, &all);
    }

    /// Points the local environment at `account` (its ARNs and its release bucket, whose
    /// name is global in S3 as in AWS, carry the account id).
    /// A copy for staging and production deploys in `account`: the account's id in every
    /// environment, the platform's secrets seeded and the API certificates issued there (the
    /// preflight refuses a deploy without them, as on AWS).
    pub async fn for_deploys_in(account: &emulator::Account) -> Self {
        account.seed_platform_secrets().await;
        let project = Self::copy();
        project.use_account(account);
        project.use_certificates(account).await;
        project
    }

    /// Points staging's and production's API at certificates issued in `account` (the
    /// emulator's load balancer refuses a certificate ACM does not have, as AWS does).
    pub async fn use_certificates(&self, account: &emulator::Account) {
        for env in ["staging", "production"] {
            self.use_certificate(env, account).await;
        }
    }

    /// Points `env`'s API (staging or production) at a certificate issued in `account`.
    pub async fn use_certificate(&self, env: &str, account: &emulator::Account) {
        let domain = if env == "production" {
            "api.facturascan.com"
        } else {
            "api.staging.facturascan.com"
        };
        let file = format!("environments/{env}.yaml");
        let text = self.read(&file);
        let arn = account.certificate(domain).await;
        let replaced: Vec<String> = text
            .lines()
            .map(|line| match line.split_once("CertificateArn: ") {
                Some((indent, _)) => format!("{indent}CertificateArn: {arn}"),
                None => line.to_string(),
            })
            .collect();
        self.write(&file, &(replaced.join("\n") + "\n"));
    }

    /// Staging without the ML stack and the scoring service.
    pub fn without_ml(&self) {
        self.replace(
            "environments/staging.yaml",
            "  ml:\n    enabled: true\n",
            "  ml:\n    enabled: false\n",
        );
        self.replace(
            "environments/staging.yaml",
            "  scoring:\n    enabled: true\n",
            "  scoring:\n    enabled: false\n",
        );
    }

    /// Staging and production without the database: moto cannot create its parameter
    /// group outside the local tier (see templates/stacks/database.yaml.tera).
    pub fn without_database(&self) {
        for env in ["staging", "production"] {
            self.replace(
                &format!("environments/{env}.yaml"),
                "  database:\n",
                "  database:\n    enabled: false\n",
            );
        }
    }

    /// The scoring service in staging and production (and the ML stack in production),
    /// rolled out all at once: deploy.toml's linear rollout watches five 2-minute steps.
    pub fn with_scoring_everywhere(&self) {
        let scoring = "  scoring:\n    enabled: true\n    lambda:\n      rollout: { strategy: all-at-once }\n";
        self.replace(
            "environments/staging.yaml",
            "  scoring:\n    enabled: true\n",
            scoring,
        );
        self.replace(
            "environments/production.yaml",
            "services:\n",
            &format!("services:\n{scoring}"),
        );
        self.replace(
            "environments/production.yaml",
            "stacks:\n",
            "stacks:\n  ml:\n    enabled: true\n",
        );
    }

    /// `[verify]` of `env` pointed at the harness's entry point of `account`
    /// (scripts/local_services.py), without a test user, with a two-second load test.
    pub fn verify_on_harness(&self, env: &str, account: &emulator::Account) {
        let entry = harness_entry(account);
        self.set_verify(
            env,
            &format!(
                "verify:\n  entry_point: {entry}\n  load:\n    users: 2\n    spawn_rate: 2\n    duration_seconds: 2\n    min_rps: 1\n"
            ),
        );
    }

    /// Replaces the `verify:` block of `env`'s file with `block`.
    pub fn set_verify(&self, env: &str, block: &str) {
        let file = format!("environments/{env}.yaml");
        let text = self.read(&file);
        let start = text.find("\nverify:\n").expect("a verify block") + 1;
        let end = text[start + 1..]
            .find("\n\n")
            .map_or(text.len(), |i| start + 1 + i + 1);
        self.write(&file, &format!("{}{block}{}", &text[..start], &text[end..]));
    }

    /// A zip of the reference function of `service` (services/<service>), marked with
    /// `label` so each release's package has its own hash; its path.
    pub fn reference_package(&self, service: &str, label: &str) -> String {
        let source = format!("{service}.py");
        let code =
            std::fs::read_to_string(repo_root().join("services").join(service).join(&source))
                .expect("a reference function");
        let code = format!("{code}\n# release {label}\n");
        let path = self.path().join(format!("{service}-{label}.zip"));
        std::fs::write(&path, zip::zip(&[(&source, &code)])).expect("zip");
        path.display().to_string()
    }

    pub fn use_account(&self, account: &emulator::Account) {
        let wanted = format!("account_id: \"{}\"", account.account_id);
        for (file, id) in [
            ("environments/local.yaml", "123456789012"),
            ("environments/staging.yaml", "210987654321"),
            ("environments/production.yaml", "345678901234"),
        ] {
            let text = self.read(file);
            if !text.contains(&wanted) {
                self.write(
                    file,
                    &text.replace(&format!("account_id: \"{id}\""), &wanted),
                );
            }
        }
    }

    /// Makes the copy a git repository whose `main` has one commit with everything, tagged
    /// `tag` (annotated) when given: what the release gate of staging and production wants.
    pub fn git_release(&self, tag: Option<&str>) {
        // Packages built by tests and rendered output are not part of a release.
        self.write(".gitignore", "*.zip\nout*/\n");
        self.git(&["init", "--quiet", "--initial-branch=main"]);
        self.git(&["add", "--all"]);
        self.git(&["commit", "--quiet", "--message", "release"]);
        if let Some(tag) = tag {
            self.git(&["tag", "--annotate", tag, "--message", "release"]);
        }
    }

    /// Runs git in the copy, as a fixed test identity; panics on failure.
    pub fn git(&self, args: &[&str]) -> String {
        let output = std::process::Command::new("git")
            .current_dir(self.path())
            .args([
                "-c",
                "user.name=Test",
                "-c",
                "user.email=test@facturascan.com",
                "-c",
                "commit.gpgsign=false",
                "-c",
                "tag.gpgsign=false",
            ])
            .args(args)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .expect("git");
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// facturactl run in this project, with no ambient AWS or CI settings.
    pub fn cmd(&self) -> Command {
        let mut cmd = facturactl();
        cmd.current_dir(self.path());
        cmd
    }
}

/// facturactl started in the background in `project` against `account` (JSON on stdout),
/// for tests that act while it runs (signals, alarms, a second deploy).
pub fn spawn_json(
    project: &Project,
    account: &emulator::Account,
    args: &[&str],
) -> std::process::Child {
    project.use_account(account);
    std::process::Command::new(assert_cmd::cargo::cargo_bin("facturactl"))
        .current_dir(project.path())
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("CI")
        .env_remove("GITHUB_ACTIONS")
        .env("AWS_ACCESS_KEY_ID", &account.access_key)
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .args(args)
        .args(["--endpoint-url", &account.endpoint, "--output", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn facturactl")
}

/// stdout of a facturactl run in `project` with `account`'s credentials against the
/// emulator, as a person reads it (text or `-o markdown`).
pub fn run_text(project: &Project, account: &emulator::Account, args: &[&str]) -> String {
    project.use_account(account);
    let output = project
        .cmd()
        .env("AWS_ACCESS_KEY_ID", &account.access_key)
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .args(args)
        .args(["--endpoint-url", &account.endpoint])
        .output()
        .expect("run facturactl");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// What a facturactl run in `project` with `account`'s credentials against the emulator
/// returned: exit code, the JSON report on stdout (`Null` when there is none), and stderr.
pub fn run_json(
    project: &Project,
    account: &emulator::Account,
    args: &[&str],
) -> (Option<i32>, serde_json::Value, String) {
    run_json_with(project, account, args, None)
}

/// `run_json`, failing the test (instead of hanging it) when the run has not ended within
/// `limit`.
pub fn run_json_within(
    project: &Project,
    account: &emulator::Account,
    args: &[&str],
    limit: std::time::Duration,
) -> (Option<i32>, serde_json::Value, String) {
    run_json_with(project, account, args, Some(limit))
}

fn run_json_with(
    project: &Project,
    account: &emulator::Account,
    args: &[&str],
    limit: Option<std::time::Duration>,
) -> (Option<i32>, serde_json::Value, String) {
    project.use_account(account);
    let mut cmd = project.cmd();
    cmd.env("AWS_ACCESS_KEY_ID", &account.access_key)
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .args(args)
        .args(["--endpoint-url", &account.endpoint, "--output", "json"]);
    if let Some(limit) = limit {
        cmd.timeout(limit);
    }
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("{args:?} did not end (within {limit:?}): {e}"));
    let report = serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null);
    assert_conforms(&report);
    (
        output.status.code(),
        report,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

pub fn facturactl() -> Command {
    let mut cmd = Command::cargo_bin("facturactl").expect("binary");
    for var in [
        "CI",
        "GITHUB_ACTIONS",
        "AWS_ENDPOINT_URL",
        "FACTURACTL_TRACE_ID",
        "AWS_PROFILE",
        "GITHUB_ACTOR",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    cmd
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// A TCP listener standing in for AWS: it counts every connection made to it.
pub struct Tripwire {
    pub url: String,
    hits: Arc<AtomicUsize>,
}

impl Tripwire {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                counter.fetch_add(1, Ordering::SeqCst);
                if let Ok(mut s) = stream {
                    let mut buf = [0u8; 1024];
                    let _ = s.read(&mut buf);
                }
            }
        });
        Self { url, hits }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// 1-based line of the first line containing `needle`.
pub fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("{needle:?} not found"))
}

pub mod block_kit;
pub mod emulator;
pub mod mlflow;
pub mod receiver;
pub mod zip;

/// Panics, with the validator's messages, unless `document` (a `--output json` document;
/// `Null` when none was printed) holds to `schemas/output.schema.json`, the contract the
/// README publishes. Every `run_json` document goes through it, so a report whose
/// `Serialize` drifts from its `JsonSchema` fails the test that printed it.
pub fn assert_conforms(document: &serde_json::Value) {
    if document.is_null() {
        return;
    }
    if let Err(errors) = conforms(document) {
        panic!(
            "this `{}` document breaks schemas/output.schema.json:\n{errors}\n{}",
            document["command"],
            serde_json::to_string_pretty(document).unwrap_or_default()
        );
    }
}

/// `document` checked against `schemas/output.schema.json` by Python's jsonschema (the
/// draft 2020-12 validator): `Err` lists each error as `path : message`.
pub fn conforms(document: &serde_json::Value) -> Result<(), String> {
    const VALIDATE: &str = "import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
document = json.load(sys.stdin)
errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(document), key=str)
def show(e, depth=0):
    print('  ' * depth + ('/'.join(map(str, e.absolute_path)) or '(root)'), ':', e.message[:300])
    for sub in sorted(e.context or [], key=str):
        show(sub, depth + 1)
for e in errors:
    show(e)
sys.exit(1 if errors else 0)";
    static PYTHON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let python = PYTHON.get_or_init(emulator::python);
    let mut child = std::process::Command::new(python)
        .args(["-c", VALIDATE])
        .arg(repo_root().join("schemas/output.schema.json"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run the schema validator");
    serde_json::to_writer(child.stdin.take().expect("stdin"), document).expect("write");
    let output = child.wait_with_output().expect("validator");
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

/// Hex SHA-256, as the model registry keys artifacts.
pub fn sha256_hex(bytes: &[u8]) -> String {
    facturactl::models::sha256_hex(bytes)
}
