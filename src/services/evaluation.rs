//! A/B evaluation: each side's rates compared with a two-proportion interval, and a
//! verdict against the service's guard rails (`[services.<name>.ab]`).
//!
//! The test: for a rate p = k/n on each side, the difference d = p_variant - p_control
//! has the standard error sqrt(p_c(1-p_c)/n_c + p_v(1-p_v)/n_v) (unpooled, Wald), and the
//! interval d ± z·SE at the configured confidence. A measure passes when even the
//! interval's worse end stays within the worst change allowed (non-inferiority); it fails
//! when even its better end is beyond it; otherwise more samples are needed. p95 latency
//! has no interval here (a quantile's needs the raw durations): its observed change is held
//! to its limit once both sides have the minimum samples.

use serde::Serialize;

use crate::config::AbGuards;

/// A count of events among trials on one side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Proportion {
    pub events: f64,
    pub trials: f64,
}

impl Proportion {
    pub fn rate(self) -> Option<f64> {
        (self.trials > 0.0).then(|| self.events / self.trials)
    }
}

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
    /// The interval of the difference at the configured confidence (rates only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<(f64, f64)>,
    /// Trials on each side (invocations, or validated predictions).
    pub samples: (f64, f64),
    pub worse: Worse,
    /// The worst change allowed (`[services.<name>.ab]`), when guarded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<f64>,
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
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Evaluation {
    pub verdict: Verdict,
    /// Why: one line per measure that decided it.
    pub reasons: Vec<String>,
    pub confidence: f64,
    pub min_samples: u32,
    /// What `--apply` changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied: Option<String>,
}

/// The two-sided standard normal quantile for a confidence level (0.95 → 1.96), by
/// Acklam's rational approximation of the inverse normal CDF (relative error < 1.2e-9).
pub fn z_for(confidence: f64) -> f64 {
    inverse_normal(0.5 + confidence / 2.0)
}

fn inverse_normal(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    const LOW: f64 = 0.024_25;
    if p < LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - LOW {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// The difference of two rates (variant minus control) and its interval, in percentage
/// points; none while a side has no trials.
pub fn difference(control: Proportion, variant: Proportion, z: f64) -> Option<(f64, (f64, f64))> {
    let (pc, pv) = (control.rate()?, variant.rate()?);
    let se = (pc * (1.0 - pc) / control.trials + pv * (1.0 - pv) / variant.trials).sqrt();
    let d = pv - pc;
    Some((
        round(d * 100.0),
        (round((d - z * se) * 100.0), round((d + z * se) * 100.0)),
    ))
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A rate measure of both sides.
pub fn rate(
    measure: &'static str,
    control: Proportion,
    variant: Proportion,
    worse: Worse,
    limit: Option<f64>,
    z: f64,
) -> Comparison {
    let found = difference(control, variant, z);
    Comparison {
        measure,
        unit: "pp",
        control: control.rate().map(|r| round(r * 100.0)),
        variant: variant.rate().map(|r| round(r * 100.0)),
        difference: found.map(|(d, _)| d),
        interval: found.map(|(_, i)| i),
        samples: (control.trials, variant.trials),
        worse,
        limit,
    }
}

/// What the comparisons say against the guard rails.
pub fn evaluate(comparisons: &[Comparison], guards: &AbGuards) -> Evaluation {
    let min = f64::from(guards.min_samples);
    let mut aborts = Vec::new();
    let mut waits = Vec::new();
    let mut passes = Vec::new();
    for c in comparisons {
        let Some(limit) = c.limit else { continue };
        let (nc, nv) = c.samples;
        if nc < min || nv < min {
            waits.push(format!(
                "{}: {nc} and {nv} samples, {min} needed on each side",
                c.measure
            ));
            continue;
        }
        let Some(difference) = c.difference else {
            waits.push(format!("{}: no data", c.measure));
            continue;
        };
        // The change in the bad direction, and the interval's ends ordered best to worst.
        let sign = if c.worse == Worse::Higher { 1.0 } else { -1.0 };
        let (best, worst) = match c.interval {
            Some((low, high)) if sign > 0.0 => (low, high),
            Some((low, high)) => (-high, -low),
            None => (sign * difference, sign * difference),
        };
        let shown = describe(c, difference);
        if best > limit {
            aborts.push(format!(
                "{shown}: worse than the {limit} {} allowed",
                c.unit
            ));
        } else if worst <= limit {
            passes.push(format!("{shown}: within the {limit} {} allowed", c.unit));
        } else {
            waits.push(format!(
                "{shown}: could still be worse than the {limit} {} allowed",
                c.unit
            ));
        }
    }
    let (verdict, reasons) = if !aborts.is_empty() {
        (Verdict::Abort, aborts)
    } else if !waits.is_empty() {
        (Verdict::KeepCollecting, waits)
    } else if passes.is_empty() {
        (
            Verdict::KeepCollecting,
            vec!["no guarded measure: set limits in [services.<name>.ab]".into()],
        )
    } else {
        (Verdict::Promote, passes)
    };
    Evaluation {
        verdict,
        reasons,
        confidence: guards.confidence,
        min_samples: guards.min_samples,
        applied: None,
    }
}

/// `false negatives +3.1 pp (95% CI 2.0 to 4.2)`.
fn describe(c: &Comparison, difference: f64) -> String {
    let interval = c
        .interval
        .map(|(low, high)| format!(" (interval {low:+} to {high:+})"))
        .unwrap_or_default();
    format!("{} {difference:+} {}{interval}", c.measure, c.unit)
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

    #[test]
    fn quantiles_of_the_usual_confidences() {
        for (confidence, z) in [(0.90, 1.644_854), (0.95, 1.959_964), (0.99, 2.575_829)] {
            assert!((z_for(confidence) - z).abs() < 1e-5, "{confidence}");
        }
    }

    #[test]
    fn the_interval_is_the_unpooled_wald_interval() {
        // 10% of 1000 against 12% of 1000: d = 2 pp, SE = sqrt(.09/1000 + .1056/1000).
        let (d, (low, high)) = difference(
            Proportion {
                events: 100.0,
                trials: 1000.0,
            },
            Proportion {
                events: 120.0,
                trials: 1000.0,
            },
            z_for(0.95),
        )
        .expect("rates");
        assert_eq!(d, 2.0);
        assert_eq!((low, high), (-0.74, 4.74));
        assert!(
            difference(
                Proportion {
                    events: 0.0,
                    trials: 0.0
                },
                Proportion {
                    events: 1.0,
                    trials: 2.0
                },
                1.96
            )
            .is_none()
        );
    }

    fn comparison(
        control: (f64, f64),
        variant: (f64, f64),
        worse: Worse,
        limit: f64,
    ) -> Comparison {
        rate(
            "false negatives",
            Proportion {
                events: control.0,
                trials: control.1,
            },
            Proportion {
                events: variant.0,
                trials: variant.1,
            },
            worse,
            Some(limit),
            z_for(0.95),
        )
    }

    #[test]
    fn each_verdict_and_its_reason() {
        // Few samples: keep collecting.
        let few = comparison((5.0, 50.0), (6.0, 50.0), Worse::Higher, 1.0);
        let e = evaluate(&[few], &guards(100));
        assert_eq!(e.verdict, Verdict::KeepCollecting);
        assert!(e.reasons[0].contains("100 needed"), "{:?}", e.reasons);
        // Clearly worse: 2% against 8% of 2000 each.
        let worse = comparison((40.0, 2000.0), (160.0, 2000.0), Worse::Higher, 1.0);
        let e = evaluate(&[worse], &guards(100));
        assert_eq!(e.verdict, Verdict::Abort, "{:?}", e.reasons);
        assert!(
            e.reasons[0].starts_with("false negatives +6 pp"),
            "{:?}",
            e.reasons
        );
        // The same rates, tightly measured: within 1 pp even at the interval's worse end.
        let same = comparison((400.0, 20000.0), (400.0, 20000.0), Worse::Higher, 1.0);
        assert_eq!(evaluate(&[same], &guards(100)).verdict, Verdict::Promote);
        // Lower is worse (agreement): a drop beyond the limit aborts.
        let drop = comparison((1800.0, 2000.0), (1500.0, 2000.0), Worse::Lower, 2.0);
        assert_eq!(evaluate(&[drop], &guards(100)).verdict, Verdict::Abort);
        // An interval across the limit: keep collecting.
        let unsure = comparison((20.0, 1000.0), (30.0, 1000.0), Worse::Higher, 1.0);
        let e = evaluate(&[unsure], &guards(100));
        assert_eq!(e.verdict, Verdict::KeepCollecting, "{:?}", e.reasons);
        assert!(
            e.reasons[0].contains("could still be worse"),
            "{:?}",
            e.reasons
        );
    }
}
