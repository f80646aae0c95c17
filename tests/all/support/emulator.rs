//! The local AWS harness (scripts/local_aws.py) for integration tests.
//!
//! One emulator per test binary, started on first use: moto takes about a second to start,
//! and the tests run in parallel. Tests do not share state even so: each test takes an
//! [`Account`], whose access key maps to its own moto account and its own request counters
//! and fault settings in the harness. The emulator reads its stdin and exits when this
//! process does (the pipe closes), so nothing outlives the tests, even after a panic.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_cloudformation::config::Credentials;
use serde_json::{Value, json};

use super::repo_root;

pub struct Emulator {
    pub endpoint: String,
    _process: Mutex<(Child, ChildStdin)>,
}

static EMULATOR: OnceLock<Emulator> = OnceLock::new();

/// The shared emulator, started on first use.
pub fn emulator() -> &'static Emulator {
    EMULATOR.get_or_init(start)
}

/// The Python of `.venv`, with the pinned moto, installed if needed.
pub fn python() -> String {
    let output = Command::new(repo_root().join("scripts/python-env"))
        .output()
        .expect("scripts/python-env runs");
    assert!(
        output.status.success(),
        "python-env: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    format!("{}/python", String::from_utf8_lossy(&output.stdout).trim())
}

fn start() -> Emulator {
    let mut child = Command::new(python())
        .arg(repo_root().join("scripts/local_aws.py"))
        .args(["serve", "--port", "0", "--exit-on-stdin-eof"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the local AWS harness");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the endpoint line");
    let endpoint = line
        .trim()
        .strip_prefix("endpoint ")
        .unwrap_or_else(|| panic!("the harness printed {line:?}, not its endpoint"))
        .to_string();
    let stdin = child.stdin.take().expect("stdin");
    Emulator {
        endpoint,
        _process: Mutex::new((child, stdin)),
    }
}

/// One test's own AWS account in the emulator.
pub struct Account {
    pub access_key: String,
    pub account_id: String,
    pub endpoint: String,
}

static NEXT_ACCOUNT: AtomicU64 = AtomicU64::new(0);

impl Account {
    pub fn new() -> Self {
        let endpoint = emulator().endpoint.clone();
        let n = NEXT_ACCOUNT.fetch_add(1, Ordering::SeqCst);
        let account_id = format!(
            "{:012}",
            200_000_000_000 + u64::from(std::process::id()) * 1000 + n
        );
        Self {
            access_key: format!("ACCT{account_id}TEST"),
            account_id,
            endpoint,
        }
    }

    pub fn credentials(&self) -> Credentials {
        Credentials::new(&self.access_key, "secret", None, None, "facturactl-tests")
    }

    /// A loader with this account's credentials, for `AwsContext::with_loader`.
    pub fn loader(&self) -> aws_config::ConfigLoader {
        aws_config::defaults(BehaviorVersion::latest()).credentials_provider(self.credentials())
    }

    /// SDK config for this account against the emulator, with `attempts` tries per call.
    pub async fn sdk_config(&self, attempts: u32) -> SdkConfig {
        self.loader()
            .region(Region::new("eu-west-1"))
            .endpoint_url(&self.endpoint)
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(attempts)
                    .with_initial_backoff(std::time::Duration::from_millis(5)),
            )
            .load()
            .await
    }

    /// An S3 client for this account (path-style, as the emulator serves buckets).
    pub async fn s3(&self) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&self.sdk_config(3).await)
                .force_path_style(true)
                .build(),
        )
    }

    /// Creates the secrets the shipped config refers to (the dev-monitoring webhook in SSM,
    /// the Sentry token in Secrets Manager), as an operator does once per account: without
    /// them, the preflight at the start of a staging or production deploy refuses it.
    pub async fn seed_platform_secrets(&self) {
        let config = self.sdk_config(3).await;
        let _ = aws_sdk_ssm::Client::new(&config)
            .put_parameter()
            .name("/facturascan/slack/dev-monitoring-webhook")
            .value("https://hooks.slack.invalid/seeded")
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .overwrite(true)
            .send()
            .await
            .expect("seed the webhook");
        let _ = aws_sdk_secretsmanager::Client::new(&config)
            .create_secret()
            .name("facturascan/sentry-auth-token")
            .secret_string("seeded")
            .send()
            .await;
    }

    /// Requests an ACM certificate for `domain` (moto issues it at once); its ARN.
    pub async fn certificate(&self, domain: &str) -> String {
        aws_sdk_acm::Client::new(&self.sdk_config(3).await)
            .request_certificate()
            .domain_name(domain)
            .send()
            .await
            .expect("request a certificate")
            .certificate_arn()
            .expect("an ARN")
            .to_string()
    }

    fn control(
        &self,
        method: reqwest::Method,
        what: &str,
        body: Option<Value>,
    ) -> impl Future<Output = Value> + use<> {
        let url = format!("{}/__harness/{what}?key={}", self.endpoint, self.access_key);
        async move {
            let client = reqwest::Client::new();
            let mut request = client.request(method, url);
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await.expect("harness control request");
            assert!(
                response.status().is_success(),
                "harness control: {}",
                response.status()
            );
            response.json().await.expect("harness control JSON")
        }
    }

    /// Turns faults on for this account only: `{throttle, server_error, reset, latency_ms,
    /// jitter_ms, seed, services, operations}`.
    pub async fn faults(&self, mut spec: Value) {
        spec["key"] = json!(self.access_key);
        self.control(reqwest::Method::PUT, "faults", Some(spec))
            .await;
    }

    /// Queues recorded AWS-shaped responses for one operation (`"cloudformation:DescribeStacks"`)
    /// of this account: `{"status", "body"}` answers or `{"pass": true}` to let moto answer.
    pub async fn script(&self, operation: &str, responses: Vec<Value>) {
        let body = json!({"key": self.access_key, "operation": operation, "responses": responses});
        self.control(reqwest::Method::PUT, "script", Some(body))
            .await;
    }

    /// Speeds this account's Step Functions clock: a state's TimeoutSeconds pass at
    /// `seconds_per_minute` real seconds a minute (the harness's training runner).
    pub async fn clock(&self, seconds_per_minute: f64) {
        let body = json!({"key": self.access_key, "seconds_per_minute": seconds_per_minute});
        self.control(reqwest::Method::PUT, "clock", Some(body))
            .await;
    }

    /// Makes this account's `service` (`backend`, `scoring`) behind the harness's entry
    /// point answer `{status}` or slowly (`{latency_ms}`); `None` clears every such fault.
    pub async fn service_fault(&self, spec: Option<Value>) {
        match spec {
            Some(mut spec) => {
                spec["key"] = json!(self.access_key);
                self.control(reqwest::Method::PUT, "services", Some(spec))
                    .await;
            }
            None => {
                self.control(reqwest::Method::DELETE, "services", None)
                    .await;
            }
        }
    }

    pub async fn faults_off(&self) {
        self.control(reqwest::Method::DELETE, "faults", None).await;
    }

    /// This account's request counters.
    pub async fn requests(&self) -> Value {
        self.control(reqwest::Method::GET, "requests", None).await
    }

    pub async fn reset_requests(&self) {
        self.control(reqwest::Method::DELETE, "requests", None)
            .await;
    }
}

/// Writes in `counters` that changed the environment's resources: all of them but the
/// tool's own bookkeeping, that is the deploy notification (`sns:Publish`) and the release
/// store in S3 (lock, records, kept packages; the stacks never write to S3 through the API).
pub fn resource_writes(counters: &Value) -> u64 {
    let ops = &counters["by_operation"];
    let bookkeeping: u64 = [
        "sns:Publish",
        "s3:PUT",
        "s3:POST",
        "s3:DELETE",
        "s3:Versioning",
    ]
    .iter()
    .map(|op| ops[op].as_u64().unwrap_or(0))
    .sum();
    counters["writes"].as_u64().unwrap_or(0) - bookkeeping
}
