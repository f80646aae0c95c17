//! Intervals for the difference of two rates (variant minus control), in proportions.
//!
//! Two intervals, and a verdict reads the wider of them:
//! - **Newcombe's hybrid score interval** (Newcombe 1998, "Interval estimation for the
//!   difference between independent proportions", Statistics in Medicine 17, method 10),
//!   built from each side's Wilson score interval. It does not collapse at zero events:
//!   0 of 600 on both sides gives an upper end of +0.64 pp at 95 %, where Wald's gives +0.
//! - **The always-valid interval of the mixture sequential probability ratio test**
//!   (Johari, Koomen, Pekelis, Walsh 2022, "Always Valid Inference: Continuous Monitoring
//!   of A/B Tests", Operations Research 70(3); the normal mixture of Robbins 1970). Its
//!   coverage holds at every look at once, so `traffic evaluate` may be run every hour
//!   until it decides without raising the rate of wrong verdicts. The variances use
//!   Agresti and Caffo's adjustment (one event and one non-event added to each side,
//!   2000), so that no side's variance is zero. The mixture's scale τ is the measure's
//!   limit: the sequence is tightest where the decision is made.

/// Events among trials on one side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Proportion {
    pub events: f64,
    pub trials: f64,
}

impl Proportion {
    pub fn rate(self) -> Option<f64> {
        (self.trials > 0.0).then(|| self.events / self.trials)
    }

    /// Agresti and Caffo's rate and trials: one event and one non-event added.
    fn adjusted(self) -> (f64, f64) {
        let n = self.trials + 2.0;
        ((self.events + 1.0) / n, n)
    }
}

/// The two-sided standard normal quantile for a confidence level (0.95 → 1.96), by
/// Acklam's rational approximation of the inverse normal CDF (relative error < 1.2e-9).
pub fn z_for(confidence: f64) -> f64 {
    inverse_normal(0.5 + confidence / 2.0)
}

/// The standard normal quantile of `p`.
pub fn inverse_normal(p: f64) -> f64 {
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

/// The complementary error function (Numerical Recipes' Chebyshev fit, fractional error
/// below 1.2e-7 everywhere).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let answer = t * poly.exp();
    if x >= 0.0 { answer } else { 2.0 - answer }
}

/// Wilson's score interval of one rate.
pub fn wilson(side: Proportion, z: f64) -> Option<(f64, f64)> {
    let p = side.rate()?;
    let n = side.trials;
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

/// Newcombe's hybrid score interval of `variant - control`.
pub fn newcombe(control: Proportion, variant: Proportion, z: f64) -> Option<(f64, f64)> {
    let (pc, pv) = (control.rate()?, variant.rate()?);
    let (lc, uc) = wilson(control, z)?;
    let (lv, uv) = wilson(variant, z)?;
    let d = pv - pc;
    Some((
        d - ((pv - lv).powi(2) + (uc - pc).powi(2)).sqrt(),
        d + ((uv - pv).powi(2) + (pc - lc).powi(2)).sqrt(),
    ))
}

/// The always-valid interval of `variant - control` at level `1 - alpha`, with mixture
/// scale `tau` (a difference in proportion), around Agresti and Caffo's difference.
pub fn always_valid(
    control: Proportion,
    variant: Proportion,
    alpha: f64,
    tau: f64,
) -> Option<(f64, f64)> {
    if control.trials <= 0.0 || variant.trials <= 0.0 {
        return None;
    }
    let (pc, nc) = control.adjusted();
    let (pv, nv) = variant.adjusted();
    let v = pc * (1.0 - pc) / nc + pv * (1.0 - pv) / nv;
    let half = mixture_half_width(v, alpha, tau);
    let d = pv - pc;
    Some((d - half, d + half))
}

/// The half-width of the normal-mixture boundary for an estimate of variance `v`:
/// sqrt(v (v + τ²) / τ² · (ln((v + τ²) / v) + 2 ln(1/α))).
pub fn mixture_half_width(v: f64, alpha: f64, tau: f64) -> f64 {
    let t2 = tau * tau;
    (v * (v + t2) / t2 * (((v + t2) / v).ln() + 2.0 * (1.0 / alpha).ln())).sqrt()
}

/// The interval a verdict reads: the always-valid interval, never narrower than
/// Newcombe's (for the first looks at rare events, where the normal mixture is the less
/// safe of the two).
pub fn decision_interval(
    control: Proportion,
    variant: Proportion,
    confidence: f64,
    tau: f64,
) -> Option<(f64, f64)> {
    let (al, ah) = always_valid(control, variant, 1.0 - confidence, tau)?;
    let (nl, nh) = newcombe(control, variant, z_for(confidence))?;
    Some((al.min(nl), ah.max(nh)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(events: f64, trials: f64) -> Proportion {
        Proportion { events, trials }
    }

    #[test]
    fn quantiles_of_the_usual_confidences() {
        for (confidence, z) in [(0.90, 1.644_854), (0.95, 1.959_964), (0.99, 2.575_829)] {
            assert!((z_for(confidence) - z).abs() < 1e-5, "{confidence}");
        }
        // erfc against its known values, and Φ(1.96) = 0.975.
        assert!((erfc(0.0) - 1.0).abs() < 1e-7);
        assert!((erfc(1.0) - 0.157_299_207).abs() < 1e-7);
        assert!((erfc(-1.0) - 1.842_700_793).abs() < 1e-7);
        assert!((1.0 - 0.5 * erfc(1.959_964 / 2f64.sqrt()) - 0.975).abs() < 1e-6);
    }

    #[test]
    fn wilson_and_newcombe_match_the_published_examples() {
        // Newcombe (1998), table II, example (a): 56/70 against 48/80, 95 %:
        // the hybrid score interval of the difference is 0.0524 to 0.3339.
        let (low, high) = newcombe(p(48.0, 80.0), p(56.0, 70.0), z_for(0.95)).expect("rates");
        assert!(
            (low - 0.0524).abs() < 5e-4 && (high - 0.3339).abs() < 5e-4,
            "{low} {high}"
        );
        // Zero events on both sides: the interval still has width (+0.64 pp at 600 each).
        let (low, high) = newcombe(p(0.0, 600.0), p(0.0, 600.0), z_for(0.95)).expect("rates");
        assert!(
            (high - 0.0064).abs() < 1e-4 && (low + 0.0064).abs() < 1e-4,
            "{high}"
        );
        assert_eq!(newcombe(p(0.0, 0.0), p(1.0, 2.0), 1.96), None);
    }

    #[test]
    fn the_always_valid_interval_is_wider_than_one_look_and_narrows_with_samples() {
        let one_look = newcombe(p(100.0, 2000.0), p(110.0, 2000.0), z_for(0.95)).expect("rates");
        let always = always_valid(p(100.0, 2000.0), p(110.0, 2000.0), 0.05, 0.01).expect("rates");
        assert!(always.1 - always.0 > one_look.1 - one_look.0);
        let more = always_valid(p(1000.0, 20000.0), p(1100.0, 20000.0), 0.05, 0.01).expect("rates");
        assert!(more.1 - more.0 < (always.1 - always.0) / 2.0);
        // Zero events: not a point.
        let (low, high) =
            decision_interval(p(0.0, 600.0), p(0.0, 600.0), 0.95, 0.005).expect("rates");
        assert!(high >= 0.0064 && low <= -0.0064, "{low} {high}");
    }
}
