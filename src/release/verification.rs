//! The rule a promotion applies to a release's verification (`facturactl verify`): a
//! passing verification of exactly what is promoted, recent enough. What a verification
//! is lives with the record that keeps it (`record.rs`, re-exported here).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

pub use super::record::{CheckKind, CheckRecord, CheckStatus, Verification, VerificationResult};
use super::record::{Record, run_alike};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RuntimeKind;
    use crate::notify::Verdict;
    use crate::release::record::ServiceRecord;
    use std::collections::BTreeMap;

    fn service(code: &str) -> ServiceRecord {
        ServiceRecord {
            runtime: RuntimeKind::Lambda,
            image: None,
            digest: None,
            task_definition: None,
            base_task_definition: None,
            version: Some("3".into()),
            code_sha256: Some(code.into()),
            package: None,
            model: None,
            split: None,
        }
    }

    fn record(verification: Option<Verification>) -> Record {
        Record {
            id: "20261206T120000.000Z-abcdef12".into(),
            action: super::super::record::Operation::Deploy,
            environment: "staging".into(),
            commit: None,
            tag: None,
            who: "ci".into(),
            at: "2026-12-06T12:00:00Z".into(),
            trace_id: "t".into(),
            result: Verdict::Succeeded,
            stacks: BTreeMap::new(),
            services: [("parser".to_string(), service("aaa"))].into(),
            from: None,
            error: None,
            traffic: None,
            verification,
            skipped_verification: None,
        }
    }

    fn verification(result: VerificationResult, code: &str, at_epoch: u64) -> Verification {
        Verification {
            at: "then".into(),
            at_epoch,
            who: "ci".into(),
            trace_id: "t".into(),
            result,
            checks: Vec::new(),
            services: [("parser".to_string(), service(code))].into(),
        }
    }

    #[test]
    fn only_a_recent_passing_verification_of_what_runs_promotes() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let hour = 3600;
        let at = |r, code, epoch| promotable(&record(Some(verification(r, code, epoch))), 72, now);
        assert_eq!(promotable(&record(None), 72, now), Err(Unverified::Never));
        assert_eq!(
            at(VerificationResult::Passed, "aaa", 1_000_000 - hour),
            Ok(())
        );
        assert!(matches!(
            at(VerificationResult::Failed, "aaa", 1_000_000),
            Err(Unverified::NotPassed {
                result: VerificationResult::Failed,
                ..
            })
        ));
        assert!(matches!(
            at(VerificationResult::Incomplete, "aaa", 1_000_000),
            Err(Unverified::NotPassed { .. })
        ));
        assert!(matches!(
            at(VerificationResult::Passed, "bbb", 1_000_000),
            Err(Unverified::OtherArtifacts { .. })
        ));
        assert!(matches!(
            at(VerificationResult::Passed, "aaa", 1_000_000 - 73 * hour),
            Err(Unverified::TooOld {
                max_age_hours: 72,
                ..
            })
        ));
        assert_eq!(
            at(VerificationResult::Passed, "aaa", 1_000_000 - 72 * hour),
            Ok(())
        );
    }

    #[test]
    fn a_failed_check_fails_the_verification_whatever_did_not_run() {
        let check = |status| CheckRecord {
            name: "c".into(),
            kind: CheckKind::Smoke,
            status,
            figures: BTreeMap::new(),
            problems: Vec::new(),
        };
        use CheckStatus::*;
        assert_eq!(VerificationResult::of(&[]), VerificationResult::Incomplete);
        assert_eq!(
            VerificationResult::of(&[check(Passed)]),
            VerificationResult::Passed
        );
        assert_eq!(
            VerificationResult::of(&[check(Passed), check(NotRun)]),
            VerificationResult::Incomplete
        );
        assert_eq!(
            VerificationResult::of(&[check(NotRun), check(Failed)]),
            VerificationResult::Failed
        );
    }
}
