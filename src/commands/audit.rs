//! `audit drift` and `audit alarms`: findings for scheduled runs (exit 2 when any; exit 1,
//! `incomplete`, when a check could not run, unless `--allow-incomplete`).

use std::time::{Duration, Instant};

use super::{Session, steps};
use crate::audit::{AuditReport, drift};
use crate::aws::AwsContext;
use crate::config::LoadedConfig;
use crate::error::Error;
use crate::notify::{Delivery, Verdict};
use crate::release::store::Store;
use crate::render::{self, RenderedEnv};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audit {
    /// Stacks (CloudFormation drift included), services changed out of band, alarms.
    Drift,
    /// Alarms as declared, their wiring, undeclared, firing or without data.
    Alarms,
}

impl Audit {
    fn as_str(self) -> &'static str {
        match self {
            Self::Drift => "drift",
            Self::Alarms => "alarms",
        }
    }
}

pub struct Request {
    pub audit: Audit,
    /// Only these stacks (drift; services and alarms are then not audited).
    pub stacks: Vec<String>,
    /// Tell the notification channels when there are findings.
    pub notify: bool,
    pub stale_hours: u64,
    /// Checks that could not run do not fail the audit.
    pub allow_incomplete: bool,
}

pub struct Outcome {
    pub report: AuditReport,
    pub notifications: Vec<Delivery>,
    pub allow_incomplete: bool,
}

pub async fn run(session: &Session<'_>, request: Request) -> Result<Outcome, Error> {
    let loaded = session.load_env()?;
    let rendered = render::render(&loaded)?;
    steps::check_stack_names(&rendered, &request.stacks)?;
    let config = &loaded.config;
    let started = Instant::now();
    let aws = session.aws(&config.environment).await?;
    let mut report = AuditReport::new(request.audit.as_str(), &config.environment.name);
    if request.audit == Audit::Drift {
        audit_drift(&aws, &loaded, &rendered, &request.stacks, &mut report).await;
    }
    if request.audit == Audit::Alarms || request.stacks.is_empty() {
        let stale = Duration::from_secs(request.stale_hours.saturating_mul(3600));
        let audited =
            crate::audit::alarms::audit(&aws, config, &rendered.alarms, stale, &mut report).await;
        if let Err(e) = audited {
            report.not_run("alarms", e);
        }
    }
    report.sort();
    let mut notifications = Vec::new();
    if request.notify && !report.clean() {
        notifications = notify_findings(session, &aws, &loaded, &report, started).await;
    }
    Ok(Outcome {
        report,
        notifications,
        allow_incomplete: request.allow_incomplete,
    })
}

/// Stacks, then (without `--stack`) services against the config and the last record. A
/// part that fails (access denied, throttling that gave up) is a check not run; the others
/// still run.
async fn audit_drift(
    aws: &AwsContext,
    loaded: &LoadedConfig,
    rendered: &RenderedEnv,
    stacks: &[String],
    report: &mut AuditReport,
) {
    let config = &loaded.config;
    let options = drift::DriftOptions {
        only: steps::only(stacks),
        ..Default::default()
    };
    let store = Store::new(aws, config);
    let (record, stack_result) = tokio::join!(
        store.current(),
        drift::stacks(aws, config, rendered, &options, report)
    );
    if let Err(e) = stack_result {
        report.not_run("stacks", e);
    }
    if !stacks.is_empty() {
        return;
    }
    let record = match record {
        Ok(record) => record,
        Err(e) => {
            report.not_run("the deployment record (images and versions)", e);
            None
        }
    };
    if let Some(note) = record.as_ref().map(verification_note) {
        report.notes.push(note);
    }
    if let Err(e) = drift::services(aws, config, rendered, record.as_ref(), report).await {
        report.not_run("services", e);
    }
    match crate::audit::retraining::schedules(aws, rendered).await {
        Ok(findings) => report.findings.extend(findings),
        Err(e) => report.not_run("retraining schedules", e),
    }
}

/// What the release that runs was verified as (`verify`), for the audit's reader.
fn verification_note(record: &crate::release::record::Record) -> String {
    match &record.verification {
        Some(v) => format!(
            "the running release {} was verified at {} by {}: {}",
            record.id,
            v.at,
            v.who,
            v.result.as_str()
        ),
        None => format!(
            "the running release {} was never verified (`facturactl verify --env {}`)",
            record.id, record.environment
        ),
    }
}

/// Tells the channels the first 20 findings.
async fn notify_findings(
    session: &Session<'_>,
    aws: &AwsContext,
    loaded: &LoadedConfig,
    report: &AuditReport,
    started: Instant,
) -> Vec<Delivery> {
    let config = &loaded.config;
    let summary: Vec<String> = report
        .findings
        .iter()
        .take(20)
        .map(|f| {
            format!(
                "[{}] {}: {} (expected {}, found {})",
                f.severity.as_str(),
                f.resource,
                f.kind,
                f.expected,
                f.actual
            )
        })
        .collect();
    let mut notice = steps::provenance(session, loaded, None).stage_notice(
        &format!("{} audit", report.audit),
        &config.environment.name,
        Verdict::Failed,
        started.elapsed().as_millis() as u64,
        Some(&format!(
            "{} findings, {} checks not run",
            report.findings.len(),
            report.not_run.len()
        )),
    );
    let not_run = report
        .not_run
        .iter()
        .map(|n| format!("not run: {}: {}", n.check, n.why));
    notice.changes = summary.into_iter().chain(not_run).collect();
    let deliveries = crate::notify::send(aws, config, &notice).await;
    session.warn_undelivered(&deliveries);
    deliveries
}
