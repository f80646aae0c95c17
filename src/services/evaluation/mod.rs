//! A/B evaluation: each side's rates compared, and a verdict against the service's guard
//! rails (`[services.<name>.ab]`).
//!
//! A rate measure passes when even the worse end of its decision interval (`interval`:
//! always-valid, never narrower than Newcombe's score interval) stays within the worst
//! change allowed (non-inferiority); it fails when even its better end is beyond it;
//! otherwise more samples are needed, and `power` says how many. Because the interval is
//! always valid, running `evaluate` every hour until it decides keeps the rate of wrong
//! verdicts at 1 - confidence (the simulations in `simulation.rs` check it over 24 looks).
//! A split whose sides do not receive their configured shares (`ratio`) gets no verdict.
//! p95 latency is shown and not judged: CloudWatch gives percentiles without the
//! durations an interval of a quantile needs.

mod interval;
mod power;
pub mod ratio;
#[cfg(test)]
mod simulation;

use std::fmt;

use serde::Serialize;

use crate::config::AbGuards;
pub use interval::{Proportion, z_for};
pub use power::Needed;
pub use ratio::SampleRatio;

/// The methods, as the report names them.
pub const METHOD: &str = "always-valid mixture SPRT interval (Johari et al. 2022) with Agresti-Caffo variances, never narrower than Newcombe's hybrid score interval (1998); sample ratio by chi-square at p < 0.001";

/// Which way is worse for a measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Worse {
    Higher,
    Lower,
}

/// One measure of both sides and their difference (variant minus control), in percentage
/// points for rates and milliseconds for latency.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Comparison {
    pub measure: &'static str,
    pub unit: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub difference: Option<f64>,
    /// The decision interval of the difference at the configured confidence (rates only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<(f64, f64)>,
    /// Trials on each side (invocations, or validated predictions).
    pub samples: (f64, f64),
    pub worse: Worse,
    /// The worst change allowed (`[services.<name>.ab]`), when guarded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<f64>,
    /// Whether a verdict reads this measure (p95 latency is shown only).
    pub judged: bool,
    /// The samples the limit needs at the configured power, and the time to them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needed: Option<Needed>,
}

/// What an experiment should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every guarded measure is within its limit with the configured confidence.
    Promote,
    /// Too few samples, or an interval that crosses a limit.
    KeepCollecting,
    /// A guarded measure is beyond its limit with the configured confidence.
    Abort,
    /// The sides do not receive their configured shares: nothing can be concluded.
    SampleRatioMismatch,
}

/// Why the verdict is what it is: one per measure that decided it.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    TooFew {
        measure: &'static str,
        samples: (f64, f64),
        min: f64,
    },
    NoData {
        measure: &'static str,
    },
    /// Beyond the limit even at the interval's better end.
    Beyond(Judged),
    /// Within the limit even at the interval's worse end.
    Within(Judged),
    /// The interval crosses the limit.
    Unsure(Judged),
    NoGuard,
    Mismatch(SampleRatio),
}

/// A measure as judged: its change, interval and limit.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    pub measure: &'static str,
    pub unit: &'static str,
    pub difference: f64,
    pub interval: Option<(f64, f64)>,
    pub limit: f64,
}

impl fmt::Display for Judged {
    /// `false negatives +3.1 pp (interval +2 to +4.2)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:+} {}", self.measure, self.difference, self.unit)?;
        if let Some((low, high)) = self.interval {
            write!(f, " (interval {low:+} to {high:+})")?;
        }
        Ok(())
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooFew {
                measure,
                samples: (nc, nv),
                min,
            } => write!(
                f,
                "{measure}: {nc} and {nv} samples, {min} needed on each side"
            ),
            Self::NoData { measure } => write!(f, "{measure}: no data"),
            Self::Beyond(j) => write!(f, "{j}: worse than the {} {} allowed", j.limit, j.unit),
            Self::Within(j) => write!(f, "{j}: within the {} {} allowed", j.limit, j.unit),
            Self::Unsure(j) => write!(
                f,
                "{j}: could still be worse than the {} {} allowed",
                j.limit, j.unit
            ),
            Self::NoGuard => f.write_str("no guarded measure: set limits in [services.<name>.ab]"),
            Self::Mismatch(r) => write!(
                f,
                "sample ratio mismatch: the variant received {}% of requests where the split gives it {}% (p {}); find why before judging (a cache, retries, a side failing before it counts)",
                r.observed_percent,
                r.expected_percent,
                ratio::p_text(r.p_value)
            ),
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Evaluation {
    pub verdict: Verdict,
    /// Why: one line per measure that decided it.
    #[schemars(with = "Vec<String>")]
    pub reasons: Vec<Reason>,
    pub confidence: f64,
    pub power: f64,
    pub min_samples: u32,
    /// The statistical methods, with their references.
    pub method: &'static str,
    /// The observed split against the configured one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_ratio: Option<SampleRatio>,
    /// What `--apply` changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied: Option<String>,
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The mixture scale of a measure: its limit (a difference of proportions), or 1 pp.
fn tau(limit: Option<f64>) -> f64 {
    limit.filter(|l| *l > 0.0).map_or(0.01, |l| l / 100.0)
}

/// A rate measure of both sides, with the samples its limit needs over a window of
/// `window_minutes`.
pub fn rate(
    measure: &'static str,
    (control, variant): (Proportion, Proportion),
    worse: Worse,
    limit: Option<f64>,
    guards: &AbGuards,
    window_minutes: u32,
) -> Comparison {
    let difference = control
        .rate()
        .zip(variant.rate())
        .map(|(c, v)| round((v - c) * 100.0));
    let interval = interval::decision_interval(control, variant, guards.confidence, tau(limit))
        .map(|(low, high)| (round(low * 100.0), round(high * 100.0)));
    Comparison {
        measure,
        unit: "pp",
        control: control.rate().map(|r| round(r * 100.0)),
        variant: variant.rate().map(|r| round(r * 100.0)),
        difference,
        interval,
        samples: (control.trials, variant.trials),
        worse,
        limit,
        judged: true,
        needed: limit.and_then(|l| needed(control, variant, l, guards, window_minutes)),
    }
}

/// The samples a limit of `limit` pp needs at the observed split.
fn needed(
    control: Proportion,
    variant: Proportion,
    limit: f64,
    guards: &AbGuards,
    window_minutes: u32,
) -> Option<Needed> {
    let total = control.trials + variant.trials;
    if total <= 0.0 || variant.trials <= 0.0 {
        return None;
    }
    let (v, c) = power::needed(power::Design {
        rate: (control.events + 1.0) / (control.trials + 2.0),
        limit: limit / 100.0,
        share: variant.trials / total,
        confidence: guards.confidence,
        power: guards.power,
    })?;
    let per_minute = variant.trials / f64::from(window_minutes.max(1));
    Some(Needed {
        control: c,
        variant: v,
        minutes_left: (per_minute > 0.0)
            .then(|| ((v - variant.trials).max(0.0) / per_minute).ceil()),
    })
}

/// What the comparisons say against the guard rails, unless the split is mismatched.
pub fn evaluate(
    comparisons: &[Comparison],
    guards: &AbGuards,
    sample_ratio: Option<SampleRatio>,
) -> Evaluation {
    let (verdict, reasons) = match sample_ratio.filter(SampleRatio::mismatched) {
        Some(mismatch) => (
            Verdict::SampleRatioMismatch,
            vec![Reason::Mismatch(mismatch)],
        ),
        None => judge(comparisons, f64::from(guards.min_samples)),
    };
    Evaluation {
        verdict,
        reasons,
        confidence: guards.confidence,
        power: guards.power,
        min_samples: guards.min_samples,
        method: METHOD,
        sample_ratio,
        applied: None,
    }
}

/// The verdict of the judged measures.
fn judge(comparisons: &[Comparison], min: f64) -> (Verdict, Vec<Reason>) {
    let mut aborts = Vec::new();
    let mut waits = Vec::new();
    let mut passes = Vec::new();
    for c in comparisons.iter().filter(|c| c.judged) {
        let Some(limit) = c.limit else { continue };
        let (nc, nv) = c.samples;
        if nc < min || nv < min {
            waits.push(Reason::TooFew {
                measure: c.measure,
                samples: c.samples,
                min,
            });
            continue;
        }
        let (Some(difference), Some((low, high))) = (c.difference, c.interval) else {
            waits.push(Reason::NoData { measure: c.measure });
            continue;
        };
        // The interval's ends ordered best to worst, as changes in the bad direction.
        let (best, worst) = match c.worse {
            Worse::Higher => (low, high),
            Worse::Lower => (-high, -low),
        };
        let judged = Judged {
            measure: c.measure,
            unit: c.unit,
            difference,
            interval: c.interval,
            limit,
        };
        if best > limit {
            aborts.push(Reason::Beyond(judged));
        } else if worst <= limit {
            passes.push(Reason::Within(judged));
        } else {
            waits.push(Reason::Unsure(judged));
        }
    }
    if !aborts.is_empty() {
        (Verdict::Abort, aborts)
    } else if !waits.is_empty() {
        (Verdict::KeepCollecting, waits)
    } else if passes.is_empty() {
        (Verdict::KeepCollecting, vec![Reason::NoGuard])
    } else {
        (Verdict::Promote, passes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guards(min_samples: u32) -> AbGuards {
        AbGuards {
            min_samples,
            ..AbGuards::default()
        }
    }

    fn comparison(
        control: (f64, f64),
        variant: (f64, f64),
        worse: Worse,
        limit: f64,
    ) -> Comparison {
        rate(
            "false negatives",
            (
                Proportion {
                    events: control.0,
                    trials: control.1,
                },
                Proportion {
                    events: variant.0,
                    trials: variant.1,
                },
            ),
            worse,
            Some(limit),
            &guards(100),
            60,
        )
    }

    #[test]
    fn each_verdict_and_its_reason() {
        // Few samples: keep collecting.
        let few = comparison((5.0, 50.0), (6.0, 50.0), Worse::Higher, 1.0);
        let e = evaluate(&[few], &guards(100), None);
        assert_eq!(e.verdict, Verdict::KeepCollecting);
        assert!(
            e.reasons[0].to_string().contains("100 needed"),
            "{:?}",
            e.reasons
        );
        // Clearly worse: 2% against 8% of 2000 each.
        let worse = comparison((40.0, 2000.0), (160.0, 2000.0), Worse::Higher, 1.0);
        let e = evaluate(&[worse], &guards(100), None);
        assert_eq!(e.verdict, Verdict::Abort, "{:?}", e.reasons);
        assert!(
            e.reasons[0]
                .to_string()
                .starts_with("false negatives +6 pp"),
            "{:?}",
            e.reasons
        );
        // The same rates, tightly measured: within 1 pp even at the interval's worse end.
        let same = comparison((400.0, 20000.0), (400.0, 20000.0), Worse::Higher, 1.0);
        assert_eq!(
            evaluate(&[same], &guards(100), None).verdict,
            Verdict::Promote
        );
        // Lower is worse (agreement): a drop beyond the limit aborts.
        let drop = comparison((1800.0, 2000.0), (1500.0, 2000.0), Worse::Lower, 2.0);
        assert_eq!(
            evaluate(&[drop], &guards(100), None).verdict,
            Verdict::Abort
        );
        // An interval across the limit: keep collecting, and how many samples it needs.
        let unsure = comparison((20.0, 1000.0), (30.0, 1000.0), Worse::Higher, 1.0);
        assert!(
            unsure.needed.is_some_and(|n| n.variant > 1000.0),
            "{unsure:?}"
        );
        let e = evaluate(&[unsure], &guards(100), None);
        assert_eq!(e.verdict, Verdict::KeepCollecting, "{:?}", e.reasons);
        assert!(
            e.reasons[0].to_string().contains("could still be worse"),
            "{:?}",
            e.reasons
        );
    }

    #[test]
    fn zero_events_on_both_sides_are_not_a_promotion() {
        // 0 of 600 false negatives each side against a 0.5 pp limit: the interval reaches
        // past +0.64 pp, so the variant could still be worse.
        let zero = comparison((0.0, 600.0), (0.0, 600.0), Worse::Higher, 0.5);
        let (_, high) = zero.interval.expect("interval");
        assert!(high >= 0.64, "{zero:?}");
        let e = evaluate(&[zero], &guards(500), None);
        assert_eq!(e.verdict, Verdict::KeepCollecting, "{:?}", e.reasons);
    }

    #[test]
    fn a_mismatched_split_gets_no_verdict() {
        let worse = comparison((40.0, 2000.0), (160.0, 2000.0), Worse::Higher, 1.0);
        let mismatch = ratio::check(5000.0, 5000.0, 10.0);
        let e = evaluate(std::slice::from_ref(&worse), &guards(100), mismatch);
        assert_eq!(e.verdict, Verdict::SampleRatioMismatch);
        assert!(
            e.reasons[0].to_string().contains("50% of requests"),
            "{:?}",
            e.reasons
        );
        let fine = ratio::check(9000.0, 1000.0, 10.0);
        assert_eq!(
            evaluate(&[worse], &guards(100), fine).verdict,
            Verdict::Abort
        );
    }
}
