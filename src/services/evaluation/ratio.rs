//! The sample-ratio-mismatch check: do the sides receive the share of requests the split
//! gives them? When they do not (a cache in front of one side, a client that retries on
//! one, a variant that crashes before it counts), the two sides no longer serve comparable
//! populations and no difference between them can be trusted.
//!
//! Pearson's chi-square goodness-of-fit test of the observed requests against the
//! configured weights, one degree of freedom, refused below p = 0.001: the threshold of
//! Fabijan et al. 2019, "Diagnosing Sample Ratio Mismatch in Online Controlled
//! Experiments" (KDD), and of Kohavi, Tang and Xu 2020, "Trustworthy Online Controlled
//! Experiments", chapter 21.

use serde::Serialize;

use super::interval::erfc;

/// Below this p-value the split is not what it says.
pub const THRESHOLD: f64 = 0.001;

/// The observed split against the configured one.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
pub struct SampleRatio {
    /// The variant's share of requests, as configured, in percent.
    pub expected_percent: f64,
    /// The variant's share of the requests counted, in percent.
    pub observed_percent: f64,
    /// The chi-square test's p-value.
    pub p_value: f64,
}

impl SampleRatio {
    pub fn mismatched(&self) -> bool {
        self.p_value < THRESHOLD
    }
}

/// `= 0.042`, or `< 0.0001` for the vanishing ones.
pub fn p_text(p: f64) -> String {
    if p < 1e-4 {
        "< 0.0001".to_string()
    } else {
        format!("= {p:.4}")
    }
}

/// The test of `control` and `variant` requests against `variant_percent` of them on the
/// variant; none without requests or without a split.
pub fn check(control: f64, variant: f64, variant_percent: f64) -> Option<SampleRatio> {
    let total = control + variant;
    let share = variant_percent / 100.0;
    if total <= 0.0 || !(share > 0.0 && share < 1.0) {
        return None;
    }
    let (ev, ec) = (total * share, total * (1.0 - share));
    let chi2 = (variant - ev).powi(2) / ev + (control - ec).powi(2) / ec;
    // The chi-square survival function of one degree of freedom.
    // (The approximation's error may put it a hair above 1 at chi-square 0.)
    let p_value = erfc((chi2 / 2.0).sqrt()).min(1.0);
    Some(SampleRatio {
        expected_percent: variant_percent,
        observed_percent: (variant / total * 10_000.0).round() / 100.0,
        p_value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_split_that_is_not_what_it_says_is_a_mismatch() {
        // 10 % configured, 50 % observed.
        let found = check(5000.0, 5000.0, 10.0).expect("requests");
        assert!(found.mismatched(), "{found:?}");
        assert_eq!(found.observed_percent, 50.0);
        // 10 % configured, 10.2 % of 10,000 observed: within chance.
        assert!(!check(8980.0, 1020.0, 10.0).expect("requests").mismatched());
        // Chi-square of 10.83 is p = 0.001 (the table value).
        let (c, v) = (5000.0 - 164.5, 5000.0 + 164.5);
        let p = check(c, v, 50.0).expect("requests").p_value;
        assert!((p - 0.001).abs() < 2e-5, "{p}");
        assert_eq!(check(0.0, 0.0, 10.0), None);
        assert_eq!(check(10.0, 0.0, 0.0), None);
    }
}
