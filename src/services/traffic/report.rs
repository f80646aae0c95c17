//! What a traffic command reports, whichever platform carries the split: each side's
//! figures, the measures compared under the service's guard rails, and why a command
//! cannot do what it was asked.

use serde::Serialize;

use crate::aws::AwsError;
use crate::config::{AbGuards, Config};
use crate::services::evaluation::{
    self, Comparison, Evaluation, Proportion, SampleRatio, Worse, ratio,
};

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Side {
    pub version: String,
    pub percent: f64,
    pub invocations: f64,
    pub errors: f64,
    /// Errors over invocations, in percent; none without invocations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p95_ms: Option<f64>,
    /// What the service reports of its predictions (its metrics namespace, dimensions
    /// `Service` and `Version`): all zero when it reports none.
    pub predictions: PredictionCounts,
    /// The SHA-256 of the model this version runs (its MODEL_SHA256), for a service that
    /// declares a model: an A/B of two models shows which is which.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_sha256: Option<String>,
}

/// Sums over the window of the metrics a scoring service emits per version.
#[derive(Debug, Clone, Copy, Default, Serialize, schemars::JsonSchema)]
pub struct PredictionCounts {
    /// `Predictions`: every prediction made.
    pub predictions: f64,
    /// `Validated`: predictions whose outcome a person or a later check validated.
    pub validated: f64,
    /// `Agreements`: validated predictions that matched the outcome.
    pub agreements: f64,
    /// `FalsePositives`: validated predictions that flagged a good invoice.
    pub false_positives: f64,
    /// `FalseNegatives`: validated predictions that missed a bad invoice.
    pub false_negatives: f64,
    /// `AlertsRaised`: predictions that raised an alert.
    pub alerts: f64,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TrafficReport {
    pub service: String,
    pub function: String,
    pub window_minutes: u32,
    /// When the running split was set, as recorded: the window starts no earlier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    pub control: Side,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<Side>,
    /// What was changed, for set, promote and abort.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed: Option<String>,
    /// Each measure of both sides and the difference, with its interval (with a variant).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub comparisons: Vec<Comparison>,
    /// The requests each side received against the split's weights (with a variant).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_ratio: Option<SampleRatio>,
    /// `traffic evaluate`: the verdict against the guard rails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<Evaluation>,
    /// How each channel was told of a change.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<crate::notify::Delivery>,
    /// `notifications.warning_exit`: a change whose notice was not delivered exits 4.
    #[serde(skip)]
    pub warning_exit: bool,
}

/// Why a traffic command cannot do what it was asked. Each is a usage error (exit 1),
/// except a failed AWS call and a variant that cannot serve (refused, exit 3).
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrafficError {
    /// Not a service with a split: a Lambda service, or an ECS service with a `path`.
    NotSplittable {
        service: String,
        environment: String,
        splittable: Vec<String>,
    },
    NotASplit(u32),
    AlreadyControl(String),
    NoSuchVersion {
        variant: String,
        function: String,
        error: AwsError,
    },
    NoVariant {
        service: String,
        control: String,
    },
    /// No successful release of the environment is recorded: a traffic change is recorded
    /// on top of the release it changes.
    NotRecorded {
        environment: String,
    },
    /// `set --model`: the variant running that model could not be made.
    Variant {
        service: String,
        failure: VariantFailure,
    },
    Aws(AwsError),
}

/// The model a variant runs: what its MODEL_URI and MODEL_SHA256 say.
#[derive(Debug, Clone)]
pub struct ModelVariables {
    pub uri: String,
    pub sha256: String,
    /// As people name it: `fraud-scoring v3 (9c1e5f0a7b3d)`.
    pub label: String,
}

/// Why no variant runs a model on the control's code.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VariantFailure {
    /// `$LATEST` is not the control's code: a version published from it would not be.
    CodeMoved {
        function: String,
        latest: String,
        control: String,
    },
    /// No container of the control's revision takes a model (none has MODEL_SHA256).
    NoModelVariable { task_definition: String },
    /// The function's configuration update did not settle (the function's words).
    Update { reason: String },
    /// RegisterTaskDefinition answered no revision.
    NoRevision,
    /// The variant's targets failed their health checks: each target and why.
    Unhealthy {
        service: String,
        reasons: Vec<String>,
    },
    /// The variant did not become ready within the rollout deadline.
    NotReady {
        service: String,
        seconds: u64,
        last: String,
    },
    /// The variant was published, but `$LATEST` kept its model variables (it is not what
    /// the stack describes until they are put back).
    NotRestored {
        function: String,
        version: String,
        reason: String,
    },
}

impl std::fmt::Display for VariantFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::CodeMoved {
                function,
                latest,
                control,
            } => write!(
                f,
                "$LATEST of {function} holds code {latest}, not the control's {control}"
            ),
            Self::NoModelVariable { task_definition } => {
                write!(f, "no container of {task_definition} has MODEL_SHA256")
            }
            Self::Update { reason } => write!(f, "the configuration update failed: {reason}"),
            Self::NoRevision => f.write_str("RegisterTaskDefinition answered no revision"),
            Self::Unhealthy { service, reasons } => write!(
                f,
                "{service}'s targets failed their health checks ({}); it was scaled back to zero and the split is unchanged",
                reasons.join("; ")
            ),
            Self::NotReady {
                service,
                seconds,
                last,
            } => write!(
                f,
                "{service} was not ready after {seconds} s ({last}); it was scaled back to zero and the split is unchanged"
            ),
            Self::NotRestored {
                function,
                version,
                reason,
            } => write!(
                f,
                "version {version} was published, but $LATEST of {function} still has the variant's model variables: {reason}"
            ),
        }
    }
}

impl From<AwsError> for TrafficError {
    fn from(e: AwsError) -> Self {
        Self::Aws(e)
    }
}

impl TrafficError {
    /// Refusals (exit 3): a variant that cannot serve is not given traffic.
    pub fn refused(&self) -> bool {
        matches!(
            self,
            Self::Variant {
                failure: VariantFailure::Unhealthy { .. } | VariantFailure::NotReady { .. },
                ..
            }
        )
    }

    pub fn message(&self) -> String {
        match self {
            Self::NotSplittable {
                service,
                environment,
                ..
            } => format!(
                "`{service}` is neither an enabled Lambda service of `{environment}` nor an ECS service with a path"
            ),
            Self::NotASplit(percent) => format!("a variant share of {percent}% is not a split"),
            Self::AlreadyControl(variant) => format!("version {variant} is already the control"),
            Self::NoSuchVersion {
                variant,
                function,
                error,
            } => format!("version {variant} of {function}: {}", error.message),
            Self::NoVariant { service, control } => {
                format!("{service} has no variant to promote: all traffic is on version {control}")
            }
            Self::NotRecorded { environment } => {
                format!("`{environment}` has no successful release recorded")
            }
            Self::Variant { service, failure } => {
                format!("no variant of {service} runs the model: {failure}")
            }
            Self::Aws(e) => e.to_string(),
        }
    }

    pub fn help(&self) -> String {
        match self {
            Self::NotSplittable { splittable, .. } => format!(
                "A/B splits run on Lambda aliases and on the weighted target groups of ECS services with `path`; services: {}",
                splittable.join(", ")
            ),
            Self::NotASplit(_) => {
                "give 1 to 99; `traffic promote` moves all traffic, `traffic abort` none".into()
            }
            Self::AlreadyControl(_) => "name another published version as the variant".into(),
            Self::NoSuchVersion { .. } => {
                "name a published version (a deploy prints the version it published)".into()
            }
            Self::NoVariant { .. } => "start an experiment with `facturactl traffic set`".into(),
            Self::NotRecorded { environment } => format!(
                "deploy it first (`facturactl deploy --env {environment}`): a split is recorded on top of the release it changes"
            ),
            Self::Variant {
                failure: VariantFailure::NotRestored { .. },
                ..
            } => "the split was not changed; `facturactl deploy` puts the stack's variables back on $LATEST".into(),
            Self::Variant {
                failure: VariantFailure::Unhealthy { .. } | VariantFailure::NotReady { .. },
                ..
            } => "read the variant's task logs and stopped tasks (`aws ecs describe-services`); fix the revision, then set the split again".into(),
            Self::Variant { .. } => {
                "deploy the service first (the variant runs the control's code), then try again".into()
            }
            Self::Aws(_) => String::new(),
        }
    }
}

impl TrafficReport {
    /// Both sides and, with a variant, each measure compared under the service's guard
    /// rails.
    pub(super) fn of(
        config: &Config,
        service: &str,
        function: String,
        window_minutes: u32,
        (control, variant): (Side, Option<Side>),
    ) -> Self {
        let guards = guards_of(config, service);
        let comparisons = variant
            .as_ref()
            .map(|v| compare(&control, v, &guards, window_minutes))
            .unwrap_or_default();
        let sample_ratio = variant
            .as_ref()
            .and_then(|v| ratio::check(control.invocations, v.invocations, v.percent));
        Self {
            service: service.to_string(),
            function,
            window_minutes,
            control,
            variant,
            changed: None,
            comparisons,
            since: None,
            sample_ratio,
            evaluation: None,
            notifications: Vec::new(),
            warning_exit: false,
        }
    }
}

/// The service's guard rails, or the defaults.
pub fn guards_of(config: &Config, service: &str) -> AbGuards {
    config
        .services
        .get(service)
        .and_then(|s| s.ab.clone())
        .unwrap_or_default()
}

/// A prediction measure: events over trials, which way is worse, and its limit.
struct RateMeasure {
    measure: &'static str,
    events: fn(&PredictionCounts) -> f64,
    trials: fn(&PredictionCounts) -> f64,
    worse: Worse,
    limit: Option<f64>,
}

impl RateMeasure {
    /// A rate among validated predictions.
    fn of_validated(
        measure: &'static str,
        events: fn(&PredictionCounts) -> f64,
        worse: Worse,
        limit: Option<f64>,
    ) -> Self {
        Self {
            measure,
            events,
            trials: |p| p.validated,
            worse,
            limit,
        }
    }
}

/// Each measure of the two sides, with its limit.
fn compare(
    control: &Side,
    variant: &Side,
    guards: &AbGuards,
    window_minutes: u32,
) -> Vec<Comparison> {
    let over = |side: &Side,
                events: fn(&PredictionCounts) -> f64,
                trials: fn(&PredictionCounts) -> f64| {
        Proportion {
            events: events(&side.predictions),
            trials: trials(&side.predictions),
        }
    };
    let errors = |side: &Side| Proportion {
        events: side.errors,
        trials: side.invocations,
    };
    let mut comparisons = vec![evaluation::rate(
        "error rate",
        (errors(control), errors(variant)),
        Worse::Higher,
        guards.max_error_rate_increase,
        guards,
        window_minutes,
    )];
    comparisons.push(Comparison {
        measure: "p95 latency",
        unit: "ms",
        control: control.p95_ms,
        variant: variant.p95_ms,
        difference: control
            .p95_ms
            .zip(variant.p95_ms)
            .map(|(c, v)| ((v - c) * 10.0).round() / 10.0),
        interval: None,
        samples: (control.invocations, variant.invocations),
        worse: Worse::Higher,
        limit: guards.max_p95_increase_ms,
        judged: false,
        needed: None,
    });
    let measures = [
        RateMeasure::of_validated(
            "agreement",
            |p| p.agreements,
            Worse::Lower,
            guards.max_agreement_drop,
        ),
        RateMeasure::of_validated(
            "false positives",
            |p| p.false_positives,
            Worse::Higher,
            guards.max_false_positive_increase,
        ),
        RateMeasure::of_validated(
            "false negatives",
            |p| p.false_negatives,
            Worse::Higher,
            guards.max_false_negative_increase,
        ),
        RateMeasure {
            measure: "alert rate",
            events: |p| p.alerts,
            trials: |p| p.predictions,
            worse: Worse::Higher,
            limit: guards.max_alert_rate_increase,
        },
    ];
    for RateMeasure {
        measure,
        events,
        trials,
        worse,
        limit,
    } in measures
    {
        let (c, v) = (over(control, events, trials), over(variant, events, trials));
        // A measure the service does not report is left out, unless it is guarded.
        if c.trials == 0.0 && v.trials == 0.0 && limit.is_none() {
            continue;
        }
        comparisons.push(evaluation::rate(
            measure,
            (c, v),
            worse,
            limit,
            guards,
            window_minutes,
        ));
    }
    comparisons
}
