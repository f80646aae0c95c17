//! Deployment records: what each deploy, promotion and rollback did, kept in S3.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::config::RuntimeKind;
use crate::notify::Verdict;

/// What changed an environment. Records, reports, locks and notices name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Deploy,
    Promote,
    Rollback,
    Destroy,
    /// Day 0: the release store and the stacks that must exist before any image or package.
    Bootstrap,
    /// An A/B split set, promoted or aborted (`traffic`).
    Traffic,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deploy => "deploy",
            Self::Promote => "promote",
            Self::Rollback => "rollback",
            Self::Destroy => "destroy",
            Self::Bootstrap => "bootstrap",
            Self::Traffic => "traffic",
        }
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One deploy, promotion or rollback of one environment.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema, Deserialize)]
pub struct Record {
    /// `20261126T092300.123Z-<trace>`: sorts by time (to the millisecond), unique per run.
    pub id: String,
    pub action: Operation,
    pub environment: String,
    pub commit: Option<String>,
    pub tag: Option<String>,
    pub who: String,
    /// RFC 3339, UTC.
    pub at: String,
    pub trace_id: String,
    pub result: Verdict,
    /// Template hash per stack, as deployed.
    pub stacks: BTreeMap<String, String>,
    /// What each service runs after this release (carried over when not rolled out).
    pub services: BTreeMap<String, ServiceRecord>,
    /// For a promotion, the source environment's record id; for a rollback, the target's;
    /// for a traffic change, the record it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Why a run ended before it had a report (an AWS error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For a traffic change: which service, what moved, and the evaluation that decided it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<TrafficChange>,
    /// The last `verify` of this release: each check, its figures, what it verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    /// A promotion made without a passing verification (`--skip-verification`): why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped_verification: Option<String>,
}

/// A traffic change, as its record keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema, Deserialize)]
pub struct TrafficChange {
    pub service: String,
    /// What moved, as `traffic` printed it.
    pub moved: String,
    /// `traffic evaluate --apply`: the evaluation that decided the move, with its figures
    /// (each measure, its interval and limit, the sample ratio).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<serde_json::Value>,
}

/// A running A/B split of a service: what the variant runs, its share, and since when
/// (every evaluation's window starts there).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema, Deserialize)]
pub struct SplitRecord {
    /// The variant's share of requests, 1 to 99.
    pub percent: u32,
    /// RFC 3339, UTC: when this split was set.
    pub since: String,
    /// Seconds since the Unix epoch of `since`, for the window's arithmetic.
    pub since_epoch: u64,
    /// The variant's code and model, as a release of the service records them.
    pub variant: Box<ServiceRecord>,
}

impl Record {
    /// The model each service runs, by service.
    pub fn model_pins(&self) -> BTreeMap<String, crate::models::ModelPin> {
        self.services
            .iter()
            .filter_map(|(service, s)| Some((service.clone(), s.model.clone()?)))
            .collect()
    }

    pub fn succeeded(&self) -> bool {
        self.result == Verdict::Succeeded
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema, Deserialize)]
pub struct ServiceRecord {
    pub runtime: RuntimeKind,
    /// ECS: the image by digest (`registry/repo@sha256:...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// ECS: the digest alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// ECS: the task definition revision (ARN) the service runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_definition: Option<String>,
    /// ECS: the stack's base task definition that revision was made from; a deploy
    /// re-registers the service's revision when the stack's base moves on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_task_definition: Option<String>,
    /// Lambda: the version behind the `live` alias.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Lambda: CodeSha256 of that version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_sha256: Option<String>,
    /// Lambda: where the package is kept (`s3://<records bucket>/packages/...`), so a
    /// promotion can deploy the same bytes elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// The model version the service runs (`[services.<name>.model]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<crate::models::ModelPin>,
    /// A running A/B split: the fields above are its control.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<SplitRecord>,
}

impl SplitRecord {
    /// A split of `variant` at `percent` that starts `at`.
    pub fn starting(percent: u32, variant: ServiceRecord, at: SystemTime) -> Self {
        Self {
            percent,
            since: stamps(at).1,
            since_epoch: at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            variant: Box::new(variant),
        }
    }

    /// When it started (to the second).
    pub fn started(&self) -> SystemTime {
        UNIX_EPOCH + std::time::Duration::from_secs(self.since_epoch)
    }
}

impl ServiceRecord {
    /// Whether both run the same control (code, image, model), whatever experiment runs
    /// beside it: a traffic change alone is not another release to go back to.
    pub fn runs_as(&self, other: &ServiceRecord) -> bool {
        let control = |s: &ServiceRecord| ServiceRecord {
            split: None,
            ..s.clone()
        };
        control(self) == control(other)
    }
}

/// Whether two releases run the same services (`ServiceRecord::runs_as`).
pub fn run_alike(a: &BTreeMap<String, ServiceRecord>, b: &BTreeMap<String, ServiceRecord>) -> bool {
    a.len() == b.len()
        && a.iter()
            .all(|(name, entry)| b.get(name).is_some_and(|other| entry.runs_as(other)))
}

/// One run of `verify` against the release a record describes.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema, Deserialize)]
pub struct Verification {
    /// RFC 3339, UTC.
    pub at: String,
    /// Seconds since the Unix epoch of `at`, for the age a promotion allows.
    pub at_epoch: u64,
    pub who: String,
    pub trace_id: String,
    pub result: VerificationResult,
    pub checks: Vec<CheckRecord>,
    /// What was verified: each service's code, image and model, as the release ran them.
    pub services: BTreeMap<String, ServiceRecord>,
}

/// How a verification ended: every check passed, one failed its threshold, or one could
/// not run (which never counts as passed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationResult {
    Passed,
    Failed,
    Incomplete,
}

impl VerificationResult {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::Failed => "failed",
            Self::Incomplete => "incomplete",
        }
    }

    /// Failed when a check failed (whatever did not run: the release is not good); else
    /// incomplete when one did not run, or when there was none (nothing was verified).
    pub fn of(checks: &[CheckRecord]) -> Self {
        if checks.iter().any(|c| c.status == CheckStatus::Failed) {
            Self::Failed
        } else if checks.is_empty() || checks.iter().any(|c| c.status == CheckStatus::NotRun) {
            Self::Incomplete
        } else {
            Self::Passed
        }
    }
}

/// One check of a verification, its figures and what it found.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema, Deserialize)]
pub struct CheckRecord {
    pub name: String,
    pub kind: CheckKind,
    pub status: CheckStatus,
    /// What it measured: `status`, `p95_ms`, `error_rate_percent`, `rps`, `samples`, ...
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub figures: BTreeMap<String, f64>,
    /// Why it failed or could not run, one line each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    Smoke,
    Regression,
    Load,
}

impl CheckKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Smoke => "smoke",
            Self::Regression => "regression",
            Self::Load => "load",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Passed,
    Failed,
    NotRun,
}

impl CheckStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::Failed => "failed",
            Self::NotRun => "not run",
        }
    }
}

/// (`20261126T092300Z`, `2026-11-26T09:23:00Z`) for a moment.
pub fn stamps(at: SystemTime) -> (String, String) {
    let secs = at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    // Days to civil date (Howard Hinnant's algorithm), for the proleptic Gregorian calendar.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    (
        format!("{y:04}{mo:02}{d:02}T{h:02}{m:02}{s:02}Z"),
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}Z"),
    )
}

/// A new record id for a run.
pub fn new_id(at: SystemTime, trace_id: &str) -> String {
    let (compact, _) = stamps(at);
    // Milliseconds too: two runs in one second (a promotion, then its rollback) must still
    // list in the order they ran, not in their trace ids' order.
    let millis = at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_millis())
        .unwrap_or(0);
    format!(
        "{}.{millis:03}Z-{}",
        compact.trim_end_matches('Z'),
        trace_id.get(..8).unwrap_or(trace_id)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn ids_sort_by_time_within_a_second() {
        let at = UNIX_EPOCH + Duration::from_millis(1_795_684_980_020);
        let first = new_id(at, "ffffffff-later-trace");
        let second = new_id(at + Duration::from_millis(5), "00000000-earlier-trace");
        assert_eq!(first, "20261126T092300.020Z-ffffffff");
        assert!(first < second, "{first} < {second}");
    }

    #[test]
    fn stamps_are_utc_calendar_times() {
        let at = UNIX_EPOCH + Duration::from_secs(1_795_684_980); // date -u -d @1795684980
        assert_eq!(
            stamps(at),
            ("20261126T092300Z".into(), "2026-11-26T09:23:00Z".into())
        );
        assert_eq!(stamps(UNIX_EPOCH).1, "1970-01-01T00:00:00Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(stamps(leap).1, "2000-02-29T00:00:00Z");
    }
}
