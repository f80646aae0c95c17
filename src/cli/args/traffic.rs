//! `traffic`: its arguments (show, set, promote, abort, evaluate) and its use case.

use clap::{Args, Subcommand};

use super::{Action, Document, Error, Exit, Invocation, Presenter, Session};
use crate::commands;
use crate::commands::traffic::Variant;

/// `--variant`: a Lambda version number (`7`) or an ECS task definition revision (`7`,
/// `family:7`), checked before any AWS call.
fn variant_ref(text: &str) -> Result<String, NotAVariant> {
    let (family, number) = match text.rsplit_once(':') {
        Some((family, number)) => (Some(family), number),
        None => (None, text),
    };
    let family_ok = family.is_none_or(|f| {
        (1..=255).contains(&f.len())
            && f.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    let number_ok = number.parse::<u64>().is_ok_and(|n| n >= 1) && !number.starts_with('+');
    if family_ok && number_ok {
        Ok(text.to_string())
    } else {
        Err(NotAVariant)
    }
}

/// `--watch`: a whole number of seconds, minutes or hours, from 1 s to a day.
fn interval(text: &str) -> Result<std::time::Duration, NotAnInterval> {
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(NotAnInterval),
    };
    let n: u64 = number.parse().map_err(|_| NotAnInterval)?;
    let total = n.checked_mul(seconds).filter(|t| (1..=86_400).contains(t));
    total
        .map(std::time::Duration::from_secs)
        .ok_or(NotAnInterval)
}

/// `--watch` is not an interval.
#[derive(Debug)]
struct NotAnInterval;

impl std::fmt::Display for NotAnInterval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("expected a whole number and a unit, as `30s`, `15m` or `1h` (at most 24h)")
    }
}

impl std::error::Error for NotAnInterval {}

/// `--variant` is neither a version nor a task definition revision.
#[derive(Debug)]
struct NotAVariant;

impl std::fmt::Display for NotAVariant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "expected a version or revision number, as `7`, or `family:7` for an ECS task definition",
        )
    }
}

impl std::error::Error for NotAVariant {}

#[derive(Debug, Args)]
pub struct TrafficArgs {
    #[command(subcommand)]
    command: Option<TrafficCommand>,
    /// The service whose split to show.
    service: Option<String>,
    /// The metrics window, in minutes.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=1440))]
    window_minutes: u32,
    /// Do not ask: `set`, `promote` and `abort` ask in production (on a terminal; refused
    /// without one).
    #[arg(short = 'y', long, global = true)]
    yes: bool,
}

#[derive(Debug, Subcommand)]
pub enum TrafficCommand {
    /// Send a share of the traffic to a variant (the control keeps the rest).
    Set {
        /// The service whose split to change.
        service: String,
        /// The variant: a published Lambda version number, or an ECS task definition
        /// revision (`7` or `family:7`, run as the `<service>-variant` service).
        #[arg(long, value_parser = variant_ref, required_unless_present = "model", conflicts_with = "model")]
        variant: Option<String>,
        /// Or a registered model version or alias (`3`, `candidate`), run on the control's
        /// code: a new Lambda version or ECS revision is made for it (checked as a deploy's
        /// `--model` is: hashed, its input compared, approved in production).
        #[arg(long, value_name = "VERSION|ALIAS")]
        model: Option<String>,
        /// The variant's share, 1 to 99 (0 is `abort`, 100 is `promote`).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=99))]
        percent: u32,
    },
    /// The variant becomes the control, with all the traffic.
    Promote {
        /// The service whose variant to promote.
        service: String,
    },
    /// All traffic back on the control; the variant gets none.
    Abort {
        /// The service whose variant to drop.
        service: String,
    },
    /// Compare the variant with the control against the service's guard rails
    /// ([services.<name>.ab]) and say promote (exit 0), keep collecting (exit 2) or abort
    /// (exit 3), with the reasons.
    Evaluate {
        /// The service whose experiment to evaluate.
        service: String,
        /// Carry the verdict out: promote the variant (or move a ramp to its next step),
        /// or abort it.
        #[arg(long)]
        apply: bool,
        /// With --apply: look again every INTERVAL (`30s`, `15m`, `1h`; at most a day)
        /// until the experiment ends (promoted at its last step, aborted, or a sample ratio
        /// mismatch); Ctrl-C stops the wait.
        #[arg(long, value_name = "INTERVAL", requires = "apply", value_parser = interval)]
        watch: Option<std::time::Duration>,
    },
}

impl TrafficArgs {
    fn request(self) -> commands::traffic::Request {
        use commands::traffic::Change;
        let watch = match &self.command {
            Some(TrafficCommand::Evaluate { watch, .. }) => *watch,
            _ => None,
        };
        let (service, change) = match self.command {
            None => (self.service, None),
            Some(TrafficCommand::Set {
                service,
                variant,
                model,
                percent,
            }) => {
                let variant = match (variant, model) {
                    (Some(version), _) => Variant::Version(version),
                    (None, Some(model)) => Variant::Model(model),
                    // clap requires one of them.
                    (None, None) => Variant::Version(String::new()),
                };
                (Some(service), Some(Change::Set { variant, percent }))
            }
            Some(TrafficCommand::Promote { service }) => (Some(service), Some(Change::Promote)),
            Some(TrafficCommand::Abort { service }) => (Some(service), Some(Change::Abort)),
            Some(TrafficCommand::Evaluate { service, apply, .. }) => {
                (Some(service), Some(Change::Evaluate { apply }))
            }
        };
        commands::traffic::Request {
            service,
            change,
            window_minutes: self.window_minutes,
            watch,
            yes: self.yes,
        }
    }
}

impl Invocation for TrafficArgs {
    fn action(&self) -> Action {
        Action::Document(match self.command {
            None => Document::TrafficShow,
            Some(TrafficCommand::Evaluate { .. }) => Document::TrafficEvaluate,
            Some(_) => Document::TrafficChange,
        })
    }

    async fn run(
        self,
        session: &Session<'_>,
        show: &Presenter<'_>,
    ) -> Result<(String, Exit), Error> {
        Ok(show.present(&commands::traffic::run(session, self.request()).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::interval;
    use std::time::Duration;

    #[test]
    fn watch_intervals_are_seconds_minutes_or_hours_up_to_a_day() {
        assert_eq!(interval("30s").ok(), Some(Duration::from_secs(30)));
        assert_eq!(interval("15m").ok(), Some(Duration::from_secs(900)));
        assert_eq!(interval("24h").ok(), Some(Duration::from_secs(86_400)));
        for bad in [
            "0s",
            "25h",
            "15",
            "m",
            "1.5m",
            "-1m",
            "99999999999999999999h",
            "",
        ] {
            assert!(interval(bad).is_err(), "{bad}");
        }
    }
}
