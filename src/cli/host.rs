//! The process environment, read once at start.

use std::path::PathBuf;

/// What the process was started with, read once by `main` so nothing below reads the
/// environment behind the caller's back.
#[derive(Debug, Clone, Default)]
pub struct Host {
    /// `CI` or `GITHUB_ACTIONS` is set. (The rest of the AWS settings, credentials and
    /// profile, are read by the SDK's own provider chain.)
    pub in_ci: bool,
    /// `GITHUB_ACTOR`.
    pub user: Option<String>,
    /// `USER`.
    pub local_user: Option<String>,
    /// `FACTURACTL_TRACE_ID`, to share one trace id across pipeline stages.
    pub trace_id: Option<String>,
    /// `AWS_ENDPOINT_URL`.
    pub aws_endpoint_url: Option<String>,
    /// The `<SERVICE>` of each `AWS_ENDPOINT_URL_<SERVICE>` set (the SDK reads the values).
    pub aws_service_endpoints: std::collections::BTreeSet<String>,
    /// `AWS_PROFILE`.
    pub aws_profile: Option<String>,
    /// `AWS_ACCESS_KEY_ID` is set (its value is never kept).
    pub aws_keys_exported: bool,
    /// `AWS_CA_BUNDLE`.
    pub aws_ca_bundle: Option<PathBuf>,
    /// `AWS_REGION`, else `AWS_DEFAULT_REGION`: (variable, value).
    pub aws_region: Option<(String, String)>,
    /// `GITHUB_SHA`: the commit a workflow runs for (the checkout may be shallow).
    pub github_sha: Option<String>,
    /// `GITHUB_REF_NAME` when `GITHUB_REF_TYPE` is `tag`.
    pub github_tag: Option<String>,
    /// The workflow run's page, from `GITHUB_SERVER_URL`, `GITHUB_REPOSITORY`, `GITHUB_RUN_ID`.
    pub run_url: Option<String>,
    /// `GITHUB_ACTIONS=true`: the step's summary and output files.
    pub github: Option<super::github::Step>,
    /// `TERM=dumb`: no colour and no live view, even on a terminal.
    pub dumb_terminal: bool,
    /// `RUNNER_DEBUG=1` (a GitHub Actions re-run with debug logging): as `-v`.
    pub runner_debug: bool,
}

impl Host {
    /// JSON log lines by default: in CI, except in a GitHub Actions step, whose log people
    /// read (text inside its log groups; `--log-format json` still asks for JSON).
    pub fn json_logs_by_default(&self) -> bool {
        self.in_ci && self.github.is_none()
    }
}

impl Host {
    pub fn from_process_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Self {
            in_ci: var("CI").is_some() || var("GITHUB_ACTIONS").is_some(),
            runner_debug: var("RUNNER_DEBUG").as_deref() == Some("1"),
            user: var("GITHUB_ACTOR"),
            local_user: var("USER"),
            trace_id: var("FACTURACTL_TRACE_ID"),
            aws_endpoint_url: var("AWS_ENDPOINT_URL"),
            aws_service_endpoints: std::env::vars()
                .filter(|(_, v)| !v.is_empty())
                .filter_map(|(k, _)| k.strip_prefix("AWS_ENDPOINT_URL_").map(str::to_string))
                .collect(),
            aws_profile: var("AWS_PROFILE"),
            aws_keys_exported: var("AWS_ACCESS_KEY_ID").is_some(),
            aws_ca_bundle: var("AWS_CA_BUNDLE").map(PathBuf::from),
            aws_region: ["AWS_REGION", "AWS_DEFAULT_REGION"]
                .into_iter()
                .find_map(|k| var(k).map(|v| (k.to_string(), v))),
            github_sha: var("GITHUB_SHA"),
            github_tag: var("GITHUB_REF_NAME")
                .filter(|_| var("GITHUB_REF_TYPE").as_deref() == Some("tag")),
            run_url: match (
                var("GITHUB_SERVER_URL"),
                var("GITHUB_REPOSITORY"),
                var("GITHUB_RUN_ID"),
            ) {
                (Some(server), Some(repo), Some(run)) => {
                    Some(format!("{server}/{repo}/actions/runs/{run}"))
                }
                _ => None,
            },
            github: (var("GITHUB_ACTIONS").as_deref() == Some("true")).then(|| {
                super::github::Step {
                    summary: var("GITHUB_STEP_SUMMARY").map(PathBuf::from),
                    output: var("GITHUB_OUTPUT").map(PathBuf::from),
                }
            }),
            dumb_terminal: var("TERM").as_deref() == Some("dumb"),
        }
    }
}
