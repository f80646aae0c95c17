//! `[models.<name>]`: retraining schedules, jobs and drift triggers, checked offline so a
//! schedule EventBridge Scheduler would refuse, or an alarm CloudWatch would, never reaches
//! a stack update.

use super::super::model::{Config, DriftMeasure, DriftTrigger, ModelRegistry, Retraining};
use super::super::source::{PathSegment, path};
use super::{ModelInvalid, ServiceInvalid, Setting, Validator, is_repository, with_key};

impl Validator<'_> {
    pub(super) fn mlflow(&mut self, c: &Config) {
        if let Some(mlflow) = &c.mlflow {
            let uri = &mlflow.tracking_uri;
            if !(uri.starts_with("https://") || uri.starts_with("http://")) {
                self.report(
                    &path(["mlflow", "tracking_uri"]),
                    Setting::TrackingUri { uri: uri.clone() },
                );
            }
        }
        for (name, svc) in &c.services {
            let Some(model) = &svc.model else { continue };
            if model.registry == ModelRegistry::Mlflow && c.mlflow.is_none() {
                self.report(
                    &path(["services", name, "model", "registry"]),
                    ServiceInvalid::MlflowMissing {
                        service: name.clone(),
                    },
                );
            }
        }
    }

    pub(super) fn models(&mut self, c: &Config) {
        for (name, settings) in &c.models {
            let base = path(["models", name]);
            let servers = c.model_servers(name).count();
            if servers != 1 {
                self.report_key(
                    &base,
                    ModelInvalid::ModelServers {
                        model: name.clone(),
                        servers,
                    },
                );
            }
            if let Some(retraining) = &settings.retraining {
                self.retraining(c, with_key(base, "retraining"), retraining);
            }
        }
    }

    fn retraining(&mut self, c: &Config, base: Vec<PathSegment>, r: &Retraining) {
        if let Err(problem) = schedule_expression(&r.schedule) {
            self.report(
                &with_key(base.clone(), "schedule"),
                ModelInvalid::Schedule {
                    schedule: r.schedule.clone(),
                    problem,
                },
            );
        }
        if !is_time_zone(&r.timezone) {
            self.report(
                &with_key(base.clone(), "timezone"),
                ModelInvalid::TimeZone {
                    zone: r.timezone.clone(),
                    closest: closest_time_zone(&r.timezone),
                },
            );
        }
        let prefix = &r.data.prefix;
        if prefix.starts_with('/') || !prefix.ends_with('/') || prefix.len() > 512 {
            self.report(
                &with_key(with_key(base.clone(), "data"), "prefix"),
                ModelInvalid::DataPrefix {
                    prefix: prefix.clone(),
                },
            );
        }
        let job = with_key(base.clone(), "job");
        if !is_repository(&r.job.repository) {
            self.report(
                &with_key(job.clone(), "repository"),
                ModelInvalid::TrainingRepository {
                    name: r.job.repository.clone(),
                },
            );
        }
        if !is_image(&r.job.image) {
            self.report(
                &with_key(job.clone(), "image"),
                ModelInvalid::TrainingImage {
                    image: r.job.image.clone(),
                },
            );
        }
        self.fargate_size(&job, r.job.cpu, r.job.memory);
        self.bounded(
            with_key(job, "timeout_minutes"),
            r.job.timeout_minutes,
            crate::config::model::TRAINING_TIMEOUT_MINUTES,
            "timeout_minutes",
        );
        if let Some(ended) = &r.on_end {
            let at = with_key(base.clone(), "on_end");
            if !is_github_repository(&ended.repository) {
                self.report(
                    &with_key(at.clone(), "repository"),
                    ModelInvalid::GithubRepository {
                        name: ended.repository.clone(),
                    },
                );
            }
            if !is_secret_name(&ended.token_secret) {
                self.report(
                    &with_key(at, "token_secret"),
                    ModelInvalid::TokenSecret {
                        name: ended.token_secret.clone(),
                    },
                );
            }
        }
        if let Some(drift) = &r.drift {
            self.drift(c, with_key(base, "drift"), drift);
        }
    }

    fn drift(&mut self, c: &Config, base: Vec<PathSegment>, drift: &DriftTrigger) {
        let valid = match drift.measure {
            DriftMeasure::Agreement => drift.threshold > 0.0 && drift.threshold <= 100.0,
            DriftMeasure::PopulationStability => {
                drift.threshold > 0.0 && drift.threshold.is_finite()
            }
        };
        for (i, channel) in drift.channels.iter().enumerate() {
            if !c.channels.contains(channel) {
                self.report(
                    &super::with_index(with_key(base.clone(), "channels"), i),
                    ModelInvalid::DriftChannel {
                        channel: channel.clone(),
                    },
                );
            }
        }
        if !valid {
            self.report(
                &with_key(base.clone(), "threshold"),
                ModelInvalid::DriftThreshold {
                    threshold: drift.threshold,
                    measure: drift.measure,
                },
            );
        }
        // Model measures are emitted once per prediction batch: a period under a minute
        // would leave most datapoints missing.
        if drift.period_seconds == 0
            || !drift.period_seconds.is_multiple_of(60)
            || drift.period_seconds > 86_400
        {
            self.report(
                &with_key(base.clone(), "period_seconds"),
                ModelInvalid::DriftPeriod {
                    seconds: drift.period_seconds,
                },
            );
        }
        // CloudWatch: evaluation periods times the period at most one day for periods
        // under an hour, seven days otherwise (PutMetricAlarm).
        let limit = if drift.period_seconds >= 3600 {
            7 * 86_400
        } else {
            86_400
        };
        if u64::from(drift.period_seconds) * u64::from(drift.evaluation_periods) > limit
            || drift.evaluation_periods == 0
        {
            self.report(
                &with_key(base, "evaluation_periods"),
                ModelInvalid::DriftEvaluation {
                    periods: drift.evaluation_periods,
                    period_seconds: drift.period_seconds,
                },
            );
        }
    }
}

/// Why a text is not a schedule EventBridge Scheduler takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ScheduleProblem {
    RateShape,
    NotWholeNumber {
        value: String,
    },
    ZeroRate,
    /// `rate(1 days)`: Scheduler wants the singular.
    OneWantsSingular {
        unit: String,
    },
    /// `rate(2 day)`: Scheduler wants the plural.
    ManyWantPlural {
        value: u32,
        unit: String,
    },
    UnknownUnit {
        unit: String,
    },
    NeitherCronNorRate,
    CronFieldCount {
        found: usize,
    },
    NotACronField {
        field: String,
    },
    DayFields,
}

impl std::fmt::Display for ScheduleProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::RateShape => f.write_str("a rate is a number and a unit"),
            Self::NotWholeNumber { value } => write!(f, "`{value}` is not a whole number"),
            Self::ZeroRate => f.write_str("a rate of 0"),
            Self::OneWantsSingular { unit } => {
                write!(f, "Scheduler wants `rate(1 {})`", &unit[..unit.len() - 1])
            }
            Self::ManyWantPlural { value, unit } => {
                write!(f, "Scheduler wants `rate({value} {unit}s)`")
            }
            Self::UnknownUnit { unit } => write!(f, "`{unit}` is not minutes, hours or days"),
            Self::NeitherCronNorRate => f.write_str("it is neither `cron(...)` nor `rate(...)`"),
            Self::CronFieldCount { found } => write!(f, "{found} fields where cron takes 6"),
            Self::NotACronField { field } => write!(f, "`{field}` is not a cron field"),
            Self::DayFields => {
                f.write_str("exactly one of day-of-month and day-of-week must be `?`")
            }
        }
    }
}

/// An EventBridge Scheduler recurring expression (one-time `at(...)` is not a schedule for
/// retraining).
pub(crate) fn schedule_expression(text: &str) -> Result<(), ScheduleProblem> {
    if let Some(inner) = text.strip_prefix("rate(").and_then(|t| t.strip_suffix(')')) {
        let (value, unit) = inner.split_once(' ').ok_or(ScheduleProblem::RateShape)?;
        let value: u32 = value.parse().map_err(|_| ScheduleProblem::NotWholeNumber {
            value: value.to_string(),
        })?;
        let singular = matches!(unit, "minute" | "hour" | "day");
        let plural = matches!(unit, "minutes" | "hours" | "days");
        let unit = unit.to_string();
        return match (value, singular, plural) {
            (0, ..) => Err(ScheduleProblem::ZeroRate),
            (1, true, _) => Ok(()),
            (1, _, true) => Err(ScheduleProblem::OneWantsSingular { unit }),
            (_, _, true) => Ok(()),
            (_, true, _) => Err(ScheduleProblem::ManyWantPlural { value, unit }),
            _ => Err(ScheduleProblem::UnknownUnit { unit }),
        };
    }
    let inner = text
        .strip_prefix("cron(")
        .and_then(|t| t.strip_suffix(')'))
        .ok_or(ScheduleProblem::NeitherCronNorRate)?;
    let fields: Vec<&str> = inner.split_whitespace().collect();
    if fields.len() != 6 {
        return Err(ScheduleProblem::CronFieldCount {
            found: fields.len(),
        });
    }
    let allowed = |f: &str| {
        f.chars()
            .all(|c| c.is_ascii_alphanumeric() || ",-*/?LW#".contains(c))
    };
    if let Some(bad) = fields.iter().find(|f| !allowed(f)) {
        return Err(ScheduleProblem::NotACronField {
            field: bad.to_string(),
        });
    }
    if (fields[2] == "?") == (fields[4] == "?") {
        return Err(ScheduleProblem::DayFields);
    }
    Ok(())
}

/// The IANA time zone names EventBridge Scheduler takes (tzdata 2025b, the names Python's
/// `zoneinfo.available_timezones()` lists), one a line, sorted.
const TIME_ZONES: &str = include_str!("../timezones.txt");

fn is_time_zone(text: &str) -> bool {
    TIME_ZONES.lines().any(|zone| zone == text)
}

/// The zone a mistyped name most likely meant.
fn closest_time_zone(text: &str) -> Option<&'static str> {
    TIME_ZONES
        .lines()
        .map(|zone| (super::super::regions::edit_distance(text, zone), zone))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, zone)| zone)
}

fn is_image(text: &str) -> bool {
    match text.strip_prefix("sha256:") {
        Some(hex) => hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()),
        None => {
            (1..=128).contains(&text.len())
                && text.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                && text
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        }
    }
}

/// `owner/name`: GitHub's characters, one `/`.
fn is_github_repository(text: &str) -> bool {
    let part = |p: &str| {
        (1..=100).contains(&p.len())
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    };
    text.split_once('/')
        .is_some_and(|(owner, name)| part(owner) && part(name))
}

/// A Secrets Manager secret name (CreateSecret's `Name`).
fn is_secret_name(text: &str) -> bool {
    (1..=512).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::schedule_expression;

    #[test]
    fn schedules_scheduler_takes_and_refuses() {
        for ok in [
            "cron(0 3 ? * MON *)",
            "cron(15 */6 * * ? *)",
            "rate(1 day)",
            "rate(7 days)",
        ] {
            assert_eq!(schedule_expression(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("cron(0 3 * * MON *)", "exactly one"),
            ("cron(0 3 * * ?)", "5 fields"),
            ("rate(1 days)", "rate(1 day)"),
            ("rate(2 day)", "rate(2 days)"),
            ("rate(0 hours)", "a rate of 0"),
            ("at(2026-01-01T00:00:00)", "neither"),
            ("cron(0 3 ? * MON; *)", "not a cron field"),
        ] {
            let err = schedule_expression(bad).expect_err(bad).to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn time_zones_are_iana_names() {
        use super::{closest_time_zone, is_time_zone};
        for zone in [
            "UTC",
            "Europe/Madrid",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+3",
        ] {
            assert!(is_time_zone(zone), "{zone}");
        }
        for bad in [
            "Europe/Madird",
            "Mars/Olympus",
            "europe/madrid",
            "",
            "Madrid",
        ] {
            assert!(!is_time_zone(bad), "{bad}");
        }
        assert_eq!(closest_time_zone("Europe/Madird"), Some("Europe/Madrid"));
        assert_eq!(closest_time_zone("Mars/Olympus_Mons"), None);
    }
}
