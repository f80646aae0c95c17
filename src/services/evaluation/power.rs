//! How many samples a guarded measure needs before the verdict can say promote.
//!
//! For the decision the verdict makes (the worse end of the decision interval within the
//! limit): with the variant truly as good as the control (difference 0) at the control's
//! rate, the variant's samples n at the observed split such that the worse end falls
//! within the limit with probability `power`: z_power · sd(n) + h(n) ≤ limit, where sd is
//! the estimate's standard deviation and h the always-valid half-width
//! (`interval::mixture_half_width`). Found by doubling, then bisection.

use serde::Serialize;

use super::interval::{inverse_normal, mixture_half_width};

/// The samples a measure needs on each side, and the time to them at the current rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Needed {
    pub control: f64,
    pub variant: f64,
    /// Minutes until the variant has them at its rate over the window; none without
    /// samples yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minutes_left: Option<f64>,
}

/// What the calculation takes.
#[derive(Debug, Clone, Copy)]
pub struct Design {
    /// The control's rate (0 to 1); Agresti and Caffo's when known, so never 0.
    pub rate: f64,
    /// The limit, as a difference of proportions.
    pub limit: f64,
    /// The variant's share of trials (0 to 1).
    pub share: f64,
    pub confidence: f64,
    pub power: f64,
}

/// The variant's and the control's samples; none for a limit of 0 (never reachable) or a
/// split without a variant.
pub fn needed(design: Design) -> Option<(f64, f64)> {
    let Design {
        rate,
        limit,
        share,
        confidence,
        power,
    } = design;
    if limit <= 0.0 || !(share > 0.0 && share < 1.0) {
        return None;
    }
    let alpha = 1.0 - confidence;
    let z_power = inverse_normal(power);
    let ratio = (1.0 - share) / share;
    let reaches = |nv: f64| {
        let v = rate * (1.0 - rate) * (1.0 / nv + 1.0 / (nv * ratio));
        z_power * v.sqrt() + mixture_half_width(v, alpha, limit) <= limit
    };
    let mut high = 16.0;
    while !reaches(high) {
        high *= 2.0;
        if high > 1e12 {
            return None;
        }
    }
    let mut low = high / 2.0;
    while high - low > 1.0 {
        let mid = (low + high) / 2.0;
        if reaches(mid) { high = mid } else { low = mid }
    }
    let variant = high.ceil();
    Some((variant, (variant * ratio).ceil()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn design(rate: f64, limit: f64, share: f64) -> Design {
        Design {
            rate,
            limit,
            share,
            confidence: 0.95,
            power: 0.8,
        }
    }

    #[test]
    fn rarer_events_and_tighter_limits_need_fewer_and_more_samples() {
        let (v, c) = needed(design(0.05, 0.01, 0.1)).expect("reachable");
        assert!((c / v - 9.0).abs() < 0.01, "{v} {c}");
        let (tighter, _) = needed(design(0.05, 0.005, 0.1)).expect("reachable");
        assert!(tighter > 3.0 * v, "{tighter} {v}");
        let (rarer, _) = needed(design(0.01, 0.01, 0.1)).expect("reachable");
        assert!(rarer < v, "{rarer} {v}");
        // An even split needs fewer requests in all, if more on the variant.
        let (even_v, even_c) = needed(design(0.05, 0.01, 0.5)).expect("reachable");
        assert!(even_v + even_c < v + c && even_v > v, "{even_v} {v}");
        assert_eq!(needed(design(0.05, 0.0, 0.1)), None);
        assert_eq!(needed(design(0.05, 0.01, 1.0)), None);
    }
}
