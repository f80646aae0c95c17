//! A version's approval: pending when registered, then approved or rejected by a person
//! (`model approve|reject`). Production runs approved versions only: a deploy or a traffic
//! move there refuses any other, and a promotion into it carries the source's approval.
//!
//! Registration records how the version compares with the champion (the version the
//! `champion` alias names) on the metrics both have; a candidate that shares none with it
//! is flagged as incomparable, for the reviewer to see before approving.
//!
//! Stored as a document beside the version (`registry/<model>/approvals/<00000001>.json`,
//! the one document a decision rewrites; the versioned bucket keeps every earlier one) or,
//! for an MLflow model, as the version's `facturactl.approval` tag.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The alias whose version a candidate is compared with.
pub const CHAMPION: &str = "champion";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalState {
    Pending,
    Approved,
    Rejected,
}

impl ApprovalState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }
}

/// A version's approval document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Approval {
    pub state: ApprovalState,
    /// Who decided (who registered it, while pending).
    pub by: String,
    /// RFC 3339, UTC.
    pub at: String,
    /// Why, as the reviewer said it (required to reject).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// How it compared with the champion when it was registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
}

impl Approval {
    /// A new version's: pending, with its comparison.
    pub fn pending(by: String, comparison: Comparison) -> Self {
        Self {
            state: ApprovalState::Pending,
            by,
            at: crate::logging::rfc3339(std::time::SystemTime::now()),
            reason: None,
            comparison: Some(comparison),
        }
    }

    /// A decision on a version, keeping its registration's comparison.
    pub fn decided(
        previous: Option<Approval>,
        state: ApprovalState,
        by: String,
        reason: Option<String>,
    ) -> Self {
        Self {
            state,
            by,
            at: crate::logging::rfc3339(std::time::SystemTime::now()),
            reason,
            comparison: previous.and_then(|p| p.comparison),
        }
    }
}

/// The state of a version that may have no document (registered before approvals, or by
/// MLflow without the tag): pending.
pub fn state_of(approval: Option<&Approval>) -> ApprovalState {
    approval.map_or(ApprovalState::Pending, |a| a.state)
}

/// A candidate beside the champion, as registered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Comparison {
    /// No `champion` alias when it was registered: nothing to compare with.
    NoChampion,
    /// The metrics both have, each with both values.
    Compared {
        champion: u32,
        metrics: Vec<MetricChange>,
    },
    /// A champion with no metric in common: flagged, the reviewer compares by other means.
    Incomparable {
        champion: u32,
        candidate_metrics: Vec<String>,
        champion_metrics: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MetricChange {
    pub metric: String,
    pub candidate: f64,
    pub champion: f64,
    /// `candidate - champion`.
    pub change: f64,
}

impl Comparison {
    /// `candidate`'s metrics against `champion`'s (`None`: there is no champion).
    pub fn of(
        candidate: &BTreeMap<String, f64>,
        champion: Option<(u32, &BTreeMap<String, f64>)>,
    ) -> Self {
        let Some((version, theirs)) = champion else {
            return Self::NoChampion;
        };
        let metrics: Vec<MetricChange> = candidate
            .iter()
            .filter_map(|(metric, &ours)| {
                let &other = theirs.get(metric)?;
                Some(MetricChange {
                    metric: metric.clone(),
                    candidate: ours,
                    champion: other,
                    change: ours - other,
                })
            })
            .collect();
        if metrics.is_empty() {
            return Self::Incomparable {
                champion: version,
                candidate_metrics: candidate.keys().cloned().collect(),
                champion_metrics: theirs.keys().cloned().collect(),
            };
        }
        Self::Compared {
            champion: version,
            metrics,
        }
    }

    /// Flagged for the reviewer: a champion, and nothing to compare it on.
    pub fn flagged(&self) -> bool {
        matches!(self, Self::Incomparable { .. })
    }
}

impl std::fmt::Display for Comparison {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoChampion => write!(f, "no `{CHAMPION}` to compare with"),
            Self::Compared { champion, metrics } => {
                write!(f, "against v{champion}:")?;
                for m in metrics {
                    let sign = if m.change >= 0.0 { "+" } else { "" };
                    write!(
                        f,
                        " {} {} ({sign}{})",
                        m.metric,
                        trim(m.candidate),
                        trim(m.change)
                    )?;
                }
                Ok(())
            }
            Self::Incomparable {
                champion,
                candidate_metrics,
                champion_metrics,
            } => write!(
                f,
                "FLAGGED: no metric in common with v{champion} (candidate: {}; champion: {})",
                list(candidate_metrics),
                list(champion_metrics)
            ),
        }
    }
}

fn trim(value: f64) -> String {
    let text = format!("{value:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.into()
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn a_candidate_is_compared_on_the_metrics_both_have() {
        let champion = metrics(&[("auc", 0.9), ("samples", 100.0)]);
        let candidate = metrics(&[("auc", 0.93), ("recall", 0.5)]);
        let c = Comparison::of(&candidate, Some((3, &champion)));
        let Comparison::Compared { champion, metrics } = &c else {
            panic!("{c:?}");
        };
        assert_eq!(*champion, 3);
        assert_eq!(metrics.len(), 1);
        assert_eq!(metrics[0].metric, "auc");
        assert!((metrics[0].change - 0.03).abs() < 1e-12);
        assert!(!c.flagged());
        assert_eq!(c.to_string(), "against v3: auc 0.93 (+0.03)");
    }

    #[test]
    fn nothing_in_common_is_flagged_and_no_champion_is_not() {
        let c = Comparison::of(
            &metrics(&[("recall", 0.5)]),
            Some((2, &metrics(&[("auc", 0.9)]))),
        );
        assert!(c.flagged(), "{c:?}");
        assert!(c.to_string().starts_with("FLAGGED"), "{c}");
        let first = Comparison::of(&metrics(&[("auc", 0.9)]), None);
        assert_eq!(first, Comparison::NoChampion);
        assert!(!first.flagged());
    }

    #[test]
    fn a_version_without_a_document_is_pending_and_a_decision_keeps_the_comparison() {
        assert_eq!(state_of(None), ApprovalState::Pending);
        let pending = Approval::pending("ci".into(), Comparison::NoChampion);
        let approved =
            Approval::decided(Some(pending), ApprovalState::Approved, "ana".into(), None);
        assert_eq!(state_of(Some(&approved)), ApprovalState::Approved);
        assert_eq!(approved.comparison, Some(Comparison::NoChampion));
    }
}
