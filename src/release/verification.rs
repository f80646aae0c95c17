//! A release's verification (`facturactl verify`) as its record keeps it, and the rule a
//! promotion applies to it: a passing verification of exactly what is promoted, recent
//! enough.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::record::{Record, ServiceRecord, run_alike};

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

/// Why a release may not be promoted on its verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum Unverified {
    /// `verify` never ran against this release.
    Never,
    /// The last verification did not pass.
    NotPassed {
        result: VerificationResult,
        at: String,
    },
    /// It verified other artifacts or models than the release runs.
    OtherArtifacts { at: String },
    /// It passed, longer ago than `[verify] max_age_hours`.
    TooOld { at: String, max_age_hours: u32 },
}

impl fmt::Display for Unverified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Never => write!(f, "it was never verified"),
            Self::NotPassed { result, at } => {
                write!(
                    f,
                    "its verification at {at} {}",
                    match result {
                        VerificationResult::Failed => "failed",
                        _ => "could not run every check",
                    }
                )
            }
            Self::OtherArtifacts { at } => write!(
                f,
                "the verification at {at} checked other artifacts or models than it runs"
            ),
            Self::TooOld { at, max_age_hours } => write!(
                f,
                "its verification at {at} is older than {max_age_hours} h ([verify] max_age_hours)"
            ),
        }
    }
}

/// Whether `record` carries a passing verification of exactly what it runs, younger
/// than `max_age_hours` at `now`.
pub fn promotable(record: &Record, max_age_hours: u32, now: SystemTime) -> Result<(), Unverified> {
    let Some(v) = &record.verification else {
        return Err(Unverified::Never);
    };
    if v.result != VerificationResult::Passed {
        return Err(Unverified::NotPassed {
            result: v.result,
            at: v.at.clone(),
        });
    }
    if !run_alike(&v.services, &record.services) {
        return Err(Unverified::OtherArtifacts { at: v.at.clone() });
    }
    let age = now
        .duration_since(UNIX_EPOCH + Duration::from_secs(v.at_epoch))
        .unwrap_or_default();
    if age > Duration::from_secs(u64::from(max_age_hours) * 3600) {
        return Err(Unverified::TooOld {
            at: v.at.clone(),
            max_age_hours,
        });
    }
    Ok(())
}
