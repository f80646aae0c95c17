//! The verdict's error rates by simulation: experiments whose variant is exactly at the
//! limit (a promotion would be wrong) evaluated every hour for a day. The verdict's rate
//! of wrong promotions must stay at or under 1 - confidence over all 24 looks; the
//! one-look Wald interval the verdict used before is shown to exceed it, so the simulation
//! can tell them apart.

use super::interval::{Proportion, z_for};
use super::{Verdict, Worse, evaluate, rate};
use crate::config::AbGuards;

/// SplitMix64: small, seeded, and good enough for Bernoulli draws.
struct Random(u64);

impl Random {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Events among `n` trials at rate `p`, by geometric gaps (fast for rare events).
    fn binomial(&mut self, n: u64, p: f64) -> u64 {
        let log_q = (1.0 - p).ln();
        let (mut events, mut at) = (0, 0u64);
        loop {
            let gap = ((1.0 - self.next()).ln() / log_q).floor() as u64;
            at += gap + 1;
            if at > n {
                return events;
            }
            events += 1;
        }
    }
}

/// One scenario: rates, the limit, and the validated predictions per hour on each side.
struct Scenario {
    control_rate: f64,
    limit_pp: f64,
    per_hour: (u64, u64),
}

/// The share of `runs` experiments promoted at any of `looks` hourly looks, by the
/// verdict (`wald = false`) or by the one-look Wald interval.
fn promoted_share(s: &Scenario, runs: u32, looks: u32, wald: bool, seed: u64) -> f64 {
    let guards = AbGuards {
        min_samples: 100,
        ..AbGuards::default()
    };
    let variant_rate = s.control_rate + s.limit_pp / 100.0;
    let mut random = Random(seed);
    let mut promoted = 0;
    for _ in 0..runs {
        let (mut kc, mut nc, mut kv, mut nv) = (0, 0, 0, 0);
        for _ in 0..looks {
            kc += random.binomial(s.per_hour.0, s.control_rate);
            kv += random.binomial(s.per_hour.1, variant_rate);
            nc += s.per_hour.0;
            nv += s.per_hour.1;
            let control = Proportion {
                events: kc as f64,
                trials: nc as f64,
            };
            let variant = Proportion {
                events: kv as f64,
                trials: nv as f64,
            };
            let says_promote = if wald {
                wald_worst(control, variant, guards.confidence) <= s.limit_pp
            } else {
                let c = rate(
                    "false negatives",
                    (control, variant),
                    Worse::Higher,
                    Some(s.limit_pp),
                    &guards,
                    60,
                );
                evaluate(&[c], &guards, None).verdict == Verdict::Promote
            };
            if says_promote && nc >= 100 && nv >= 100 {
                promoted += 1;
                break;
            }
        }
    }
    f64::from(promoted) / f64::from(runs)
}

/// The worse end of the unpooled Wald interval, in pp.
fn wald_worst(control: Proportion, variant: Proportion, confidence: f64) -> f64 {
    let (pc, pv) = (
        control.events / control.trials,
        variant.events / variant.trials,
    );
    let se = (pc * (1.0 - pc) / control.trials + pv * (1.0 - pv) / variant.trials).sqrt();
    (pv - pc + z_for(confidence) * se) * 100.0
}

const RUNS: u32 = 1000;
const LOOKS: u32 = 24;

#[test]
fn wrong_promotions_stay_at_the_nominal_rate_over_24_hourly_looks() {
    // A 10 % variant of a fraud model: 5 % false negatives, 1 pp allowed; and a rare event
    // (0.5 %, 0.5 pp allowed) at the same volume.
    let scenarios = [
        Scenario {
            control_rate: 0.05,
            limit_pp: 1.0,
            per_hour: (900, 100),
        },
        Scenario {
            control_rate: 0.005,
            limit_pp: 0.5,
            per_hour: (900, 100),
        },
    ];
    for (i, s) in scenarios.iter().enumerate() {
        let seed = 7 + i as u64;
        let verdict = promoted_share(s, RUNS, LOOKS, false, seed);
        eprintln!("scenario {i}: verdict {verdict}");
        assert!(
            verdict <= 0.05,
            "scenario {i}: {:.1}% wrong promotions",
            verdict * 100.0
        );
        // The one-look interval, looked at every hour, promotes more often than allowed.
        let peeking = promoted_share(s, RUNS, LOOKS, true, seed);
        eprintln!("scenario {i}: wald {peeking}");
        assert!(
            peeking > 0.05,
            "scenario {i}: Wald promoted {:.1}%",
            peeking * 100.0
        );
    }
}

#[test]
fn a_variant_as_good_as_the_control_is_promoted_once_it_has_the_samples_needed() {
    let guards = AbGuards::default();
    let (control, limit) = (0.05, 1.0);
    let probe = rate(
        "false negatives",
        (
            Proportion {
                events: 50.0,
                trials: 1000.0,
            },
            Proportion {
                events: 5.0,
                trials: 111.0,
            },
        ),
        Worse::Higher,
        Some(limit),
        &guards,
        60,
    );
    let needed = probe.needed.expect("samples needed");
    let (nc, nv) = (needed.control as u64, needed.variant as u64);
    let mut random = Random(11);
    let mut promoted = 0;
    for _ in 0..RUNS {
        let c = Proportion {
            events: random.binomial(nc, control) as f64,
            trials: nc as f64,
        };
        let v = Proportion {
            events: random.binomial(nv, control) as f64,
            trials: nv as f64,
        };
        let compared = rate(
            "false negatives",
            (c, v),
            Worse::Higher,
            Some(limit),
            &guards,
            60,
        );
        if evaluate(&[compared], &guards, None).verdict == Verdict::Promote {
            promoted += 1;
        }
    }
    let share = f64::from(promoted) / f64::from(RUNS);
    eprintln!("power: {share} at {nv}");
    // The calculation is for the decision the verdict makes: about `power` (0.8).
    assert!(
        (0.72..=0.9).contains(&share),
        "{share} promoted at {nv} samples"
    );
}
