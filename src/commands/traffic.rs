//! `traffic`: the A/B split of a Lambda service (alias weights) or an ECS service (target
//! group weights) with each side's figures; `set`, `promote`
//! and `abort` change it first.

use super::Session;
use crate::error::{Error, Usage};
use crate::services::evaluation::{self, Verdict};
use crate::services::traffic::{self, TrafficReport};

/// What to change before showing the split.
pub enum Change {
    Set {
        variant: String,
        percent: u32,
    },
    Promote,
    Abort,
    /// The verdict against the guard rails; with `apply`, carried out.
    Evaluate {
        apply: bool,
    },
}

pub struct Request {
    pub service: Option<String>,
    pub change: Option<Change>,
    pub window_minutes: u32,
}

pub async fn run(session: &Session<'_>, request: Request) -> Result<TrafficReport, Error> {
    let loaded = session.load_env()?;
    let config = &loaded.config;
    let service = request.service.ok_or(Usage::TrafficNeedsService)?;
    traffic::target_of(config, &service)?;
    let aws = session.aws(&config.environment).await?;
    let changed = match request.change {
        Some(Change::Set { variant, percent }) => {
            Some(traffic::set(&aws, config, &service, &variant, percent).await?)
        }
        Some(Change::Promote) => Some(traffic::promote(&aws, config, &service).await?),
        Some(Change::Abort) => Some(traffic::abort(&aws, config, &service).await?),
        Some(Change::Evaluate { apply }) => {
            return evaluate(&aws, config, &service, request.window_minutes, apply).await;
        }
        None => None,
    };
    let mut report = traffic::show(&aws, config, &service, request.window_minutes).await?;
    report.changed = changed;
    Ok(report)
}

/// The split as it is, judged against the guard rails; the verdict carried out with
/// `apply` (keep collecting changes nothing).
async fn evaluate(
    aws: &crate::aws::AwsContext,
    config: &crate::config::Config,
    service: &str,
    window_minutes: u32,
    apply: bool,
) -> Result<TrafficReport, Error> {
    let mut report = traffic::show(aws, config, service, window_minutes).await?;
    if report.variant.is_none() {
        return Err(traffic::TrafficError::NoVariant {
            service: service.to_string(),
            control: report.control.version.clone(),
        }
        .into());
    }
    let mut evaluation = evaluation::evaluate(
        &report.comparisons,
        &traffic::guards_of(config, service),
        report.sample_ratio,
    );
    if apply {
        evaluation.applied = match evaluation.verdict {
            Verdict::Promote => Some(traffic::promote(aws, config, service).await?),
            Verdict::Abort => Some(traffic::abort(aws, config, service).await?),
            Verdict::KeepCollecting | Verdict::SampleRatioMismatch => None,
        };
    }
    report.evaluation = Some(evaluation);
    Ok(report)
}
