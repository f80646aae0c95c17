//! `[verify]`: what `facturactl verify` checks against a deployed environment before its
//! release may be promoted (smoke, regression, load), and with which thresholds.

use std::fmt;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::secret::SecretRef;

/// `[verify]` in deploy.toml, overridable per environment (`verify:` in the overlay).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifySettings {
    /// Where the HTTP checks and the load test send requests: a stack output
    /// (`api.ApiUrl`, the API Gateway stage), an `https://` URL, or `env:VARIABLE`.
    #[serde(default = "default_entry_point")]
    pub entry_point: EntryPoint,
    /// A verification older than this does not let its release be promoted.
    #[serde(default = "default_max_age_hours")]
    #[schemars(range(min = 1, max = 720))]
    pub max_age_hours: u32,
    /// The test user the HTTP checks sign in as (a bearer token from Cognito).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<TestUser>,
    #[serde(default)]
    pub smoke: Smoke,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regression: Option<Regression>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<Load>,
}

impl Default for VerifySettings {
    fn default() -> Self {
        Self {
            entry_point: default_entry_point(),
            max_age_hours: default_max_age_hours(),
            user: None,
            smoke: Smoke::default(),
            regression: None,
            load: None,
        }
    }
}

fn default_entry_point() -> EntryPoint {
    EntryPoint::Output {
        stack: "api".into(),
        output: "ApiUrl".into(),
    }
}

fn default_max_age_hours() -> u32 {
    72
}

/// Where requests go: a stack's output, a URL, or a variable holding the URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum EntryPoint {
    Output { stack: String, output: String },
    Url(String),
    Env(String),
}

impl TryFrom<String> for EntryPoint {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        if text.starts_with("https://") || text.starts_with("http://") {
            return Ok(Self::Url(text.trim_end_matches('/').to_string()));
        }
        if let Some(var) = text.strip_prefix("env:")
            && !var.is_empty()
            && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Ok(Self::Env(var.to_string()));
        }
        match text.split_once('.') {
            Some((stack, output)) if !stack.is_empty() && !output.is_empty() => Ok(Self::Output {
                stack: stack.to_string(),
                output: output.to_string(),
            }),
            _ => Err(
                "expected a stack output (`api.ApiUrl`), an `https://` URL or `env:VARIABLE`"
                    .into(),
            ),
        }
    }
}

impl From<EntryPoint> for String {
    fn from(e: EntryPoint) -> Self {
        e.to_string()
    }
}

impl fmt::Display for EntryPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Output { stack, output } => write!(f, "{stack}.{output}"),
            Self::Url(url) => f.write_str(url),
            Self::Env(var) => write!(f, "env:{var}"),
        }
    }
}

impl JsonSchema for EntryPoint {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "EntryPoint".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A stack output (`api.ApiUrl`), an http(s) URL, or `env:VARIABLE`.",
            "pattern": "^(https?://.+|env:[A-Za-z0-9_]+|[^.]+\\..+)$"
        })
    }
}

/// `[verify.user]`: a test user of the environment's user pool, signed in with
/// USER_PASSWORD_AUTH on a client that allows it (the auth stack's `VerifyClientId`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestUser {
    /// The app client: a stack output, as `auth.VerifyClientId`.
    #[serde(default = "default_client")]
    pub client: String,
    /// A secret holding `{"username": ..., "password": ...}`.
    pub credentials: SecretRef,
}

fn default_client() -> String {
    "auth.VerifyClientId".into()
}

/// `[verify.smoke]`: requests that must answer, each with its status and fields. Every
/// service with a `[services.<name>.model]` is also asked `/predict` with an input built
/// from the model's declared fields.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Smoke {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http: Vec<HttpCheck>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invoke: Vec<InvokeCheck>,
    /// The fields a `/predict` answer must have.
    #[serde(default = "default_predict_fields")]
    pub predict_fields: Vec<String>,
}

fn default_predict_fields() -> Vec<String> {
    vec!["fraud_score".into()]
}

/// One HTTP request through the entry point.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    pub name: String,
    /// Appended to the entry point, as `/health`.
    pub path: String,
    #[serde(default)]
    pub method: HttpMethod,
    /// A JSON body (a file in the project), for POST.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<PathBuf>,
    /// The status the answer must have.
    #[serde(default = "default_status")]
    pub status: u16,
    /// Top-level fields the JSON answer must have.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect: Vec<String>,
}

fn default_status() -> u16 {
    200
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    #[default]
    Get,
    Post,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
        }
    }
}

/// One invocation of a Lambda service's `live` alias with a sample event.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InvokeCheck {
    pub name: String,
    /// The Lambda service, as `parser`.
    pub service: String,
    /// The event, a JSON file in the project.
    pub event: PathBuf,
    /// Top-level fields the function's answer must have.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect: Vec<String>,
}

/// `[verify.regression]`: sample invoices run through the deployed validator, each
/// answer compared field by field with the recorded baseline.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Regression {
    /// The Lambda service that validates, as `validator`.
    pub service: String,
    /// A directory of sample invoices (`*.json`).
    pub samples: PathBuf,
    /// The recorded answers (`verify --update-baseline` writes it).
    pub baseline: PathBuf,
}

/// `[verify.load]`: a headless Locust run against the entry point. The thresholds default
/// to the platform's alerts: p95 of the OCR path within 5 s, errors within 1 %.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Load {
    /// The locustfile, in the project.
    pub locustfile: PathBuf,
    /// Simulated users at full load.
    #[serde(default = "default_users")]
    #[schemars(range(min = 1, max = 10000))]
    pub users: u32,
    /// Users started per second.
    #[serde(default = "default_spawn_rate")]
    #[schemars(range(min = 1, max = 1000))]
    pub spawn_rate: u32,
    #[serde(default = "default_duration")]
    #[schemars(range(min = 1, max = 3600))]
    pub duration_seconds: u32,
    /// The request (Locust's name for it) whose 95th percentile is bounded, as
    /// `POST /invoices`; `Aggregated` bounds every request together.
    #[serde(default = "default_p95_request")]
    pub p95_request: String,
    /// Its 95th percentile response time, at most (ms).
    #[serde(default = "default_p95")]
    pub max_p95_ms: f64,
    /// Failed requests over all requests, at most (percent).
    #[serde(default = "default_error_rate")]
    pub max_error_rate_percent: f64,
    /// Requests per second over the run, at least.
    #[serde(default = "default_min_rps")]
    pub min_rps: f64,
    /// The Locust program (a pinned install: `scripts/python-env`).
    #[serde(default = "default_locust")]
    pub locust: String,
}

fn default_users() -> u32 {
    20
}
fn default_spawn_rate() -> u32 {
    5
}
fn default_duration() -> u32 {
    60
}
fn default_p95_request() -> String {
    "Aggregated".into()
}
fn default_p95() -> f64 {
    5000.0
}
fn default_error_rate() -> f64 {
    1.0
}
fn default_min_rps() -> f64 {
    1.0
}
fn default_locust() -> String {
    "locust".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_point_is_an_output_a_url_or_a_variable() {
        let parse = |s: &str| EntryPoint::try_from(s.to_string());
        assert_eq!(
            parse("api.ApiUrl").unwrap(),
            EntryPoint::Output {
                stack: "api".into(),
                output: "ApiUrl".into()
            }
        );
        assert_eq!(
            parse("https://x.example/prod/").unwrap(),
            EntryPoint::Url("https://x.example/prod".into())
        );
        assert_eq!(parse("env:API").unwrap(), EntryPoint::Env("API".into()));
        assert!(parse("api").is_err());
        assert!(parse("env:").is_err());
        assert!(parse("env:A B").is_err());
    }
}
