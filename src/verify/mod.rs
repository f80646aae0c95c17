//! `verify`: checks run against a deployed environment, before its release may be
//! promoted: smoke (requests and invocations that must answer), regression (the
//! validator's answers against a recorded baseline) and load (a Locust run against the
//! platform's latency and error thresholds). Each check ends passed, failed (a threshold),
//! or not run (it could not be carried out: never counted as passed).

pub mod entry;
pub mod load;
pub mod regression;
pub mod smoke;

use std::path::{Path, PathBuf};

use crate::aws::AwsContext;
use crate::config::Config;
use crate::release::verification::{CheckKind, CheckRecord, CheckStatus};

/// What every check needs: the environment, the project's files, and an HTTP client.
pub struct Context<'a> {
    pub aws: &'a AwsContext,
    pub config: &'a Config,
    /// The project directory (samples, baseline, locustfile are relative to it).
    pub root: &'a Path,
    pub http: reqwest::Client,
}

/// What one run asks for.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Write the validator's answers as the new baseline instead of comparing (by hand).
    pub update_baseline: bool,
    /// Where Locust writes its report and statistics.
    pub artifacts: PathBuf,
}

/// Everything a run found: the checks, and what the report shows beside them.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    pub checks: Vec<CheckRecord>,
    /// The load test's statistics over time, for the chart.
    pub load: Option<load::LoadRun>,
    /// `--update-baseline`: where the new baseline was written.
    pub baseline_written: Option<PathBuf>,
}

/// Runs every configured check, smoke first (a release that does not answer is not
/// load-tested).
pub async fn run(ctx: &Context<'_>, options: &Options) -> Findings {
    let entry = entry::resolve(ctx).await;
    let mut findings = Findings {
        checks: smoke::run(ctx, &entry).await,
        ..Findings::default()
    };
    if let Some(settings) = &ctx.config.verify.regression {
        let (check, written) = regression::run(ctx, settings, options.update_baseline).await;
        findings.checks.push(check);
        findings.baseline_written = written;
    }
    if let Some(settings) = &ctx.config.verify.load {
        let smoke_failed = findings
            .checks
            .iter()
            .any(|c| c.kind == CheckKind::Smoke && c.status != CheckStatus::Passed);
        let (check, run) = if smoke_failed {
            (
                not_run(
                    "load",
                    CheckKind::Load,
                    "a smoke check did not pass: a release that does not answer is not load-tested",
                ),
                None,
            )
        } else {
            load::run(ctx, &entry, settings, &options.artifacts).await
        };
        findings.checks.push(check);
        findings.load = run;
    }
    for check in &findings.checks {
        log(check);
    }
    findings
}

/// One line per check on stderr, as the run's log (the report says it all at the end).
fn log(check: &CheckRecord) {
    let problems = check.problems.join("; ");
    match check.status {
        CheckStatus::Passed => tracing::info!("verify {}: passed", check.name),
        CheckStatus::Failed => tracing::warn!("verify {}: failed: {problems}", check.name),
        CheckStatus::NotRun => tracing::warn!("verify {}: not run: {problems}", check.name),
    }
}

/// What a Lambda service's `live` alias answered.
pub struct Invoked {
    pub payload: Vec<u8>,
    /// Lambda's `X-Amz-Function-Error` (`Unhandled`): the function raised.
    pub function_error: Option<String>,
    pub ms: f64,
}

/// Invokes the service's `live` alias (what its callers invoke) with `payload`; `Err` is
/// why it could not be invoked (`<function>:live: <AWS's message>`).
pub async fn invoke_live(
    ctx: &Context<'_>,
    service: &str,
    payload: Vec<u8>,
) -> Result<Invoked, String> {
    let function = ctx.config.service_resource_name(service);
    let started = std::time::Instant::now();
    let answer = ctx
        .aws
        .lambda
        .invoke()
        .function_name(&function)
        .qualifier("live")
        .payload(aws_smithy_types::Blob::new(payload))
        .send()
        .await
        .map_err(|e| {
            format!(
                "{function}:live: {}",
                crate::aws::AwsError::new("Invoke", e).message
            )
        })?;
    Ok(Invoked {
        payload: answer
            .payload()
            .map(|b| b.as_ref().to_vec())
            .unwrap_or_default(),
        function_error: answer.function_error().map(str::to_string),
        ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}

/// A check that passed with these figures.
fn passed(name: &str, kind: CheckKind, figures: Vec<(&str, f64)>) -> CheckRecord {
    CheckRecord {
        name: name.to_string(),
        kind,
        status: CheckStatus::Passed,
        figures: figures
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        problems: Vec::new(),
    }
}

/// A check that failed for these reasons (its figures kept).
fn failed(
    name: &str,
    kind: CheckKind,
    figures: Vec<(&str, f64)>,
    problems: Vec<String>,
) -> CheckRecord {
    CheckRecord {
        status: CheckStatus::Failed,
        problems,
        ..passed(name, kind, figures)
    }
}

/// A check that could not run, and why.
fn not_run(name: &str, kind: CheckKind, why: &str) -> CheckRecord {
    CheckRecord {
        status: CheckStatus::NotRun,
        problems: vec![why.to_string()],
        ..passed(name, kind, Vec::new())
    }
}
