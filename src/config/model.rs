//! The typed configuration: `deploy.toml` with one environment overlay merged in.
//!
//! Every struct denies unknown keys, so a typo is an error with a location rather than a
//! setting silently ignored. Range and cross-reference checks live in `validate.rs`.

use std::collections::BTreeMap;
use std::fmt;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::secret::SecretRef;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub project: Project,
    /// Where this environment lives. Usually set by the overlay.
    pub environment: Environment,
    /// CloudFormation stacks, deployed in dependency order.
    #[serde(default)]
    pub stacks: IndexMap<String, Stack>,
    /// Services rolled out after their stacks: ECS Fargate or Lambda.
    #[serde(default)]
    pub services: IndexMap<String, Service>,
    /// Settings of the alarms defined under `templates/alarms/`, by alarm key.
    #[serde(default)]
    pub alarms: IndexMap<String, AlarmSettings>,
    /// Where alarms and deploy notifications go.
    #[serde(default)]
    pub channels: Channels,
    /// Messages the tool sends itself: deploys, promotions, rollbacks, pipeline stages.
    #[serde(default)]
    pub notifications: Notifications,
    #[serde(default)]
    pub release: ReleasePolicy,
    #[serde(default)]
    pub policy: PolicySettings,
    /// Sentry releases and deploy markers, so exceptions are grouped by release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentry: Option<SentrySettings>,
    /// Registered models' lifecycle, by model name: retraining.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub models: IndexMap<String, ModelSettings>,
    /// The MLflow tracking server of services whose model has `registry = "mlflow"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mlflow: Option<MlflowSettings>,
    /// What `facturactl verify` checks before a release may be promoted.
    #[serde(default)]
    pub verify: super::verify::VerifySettings,
    /// Derived, never written: the environment promoted from this one, when it is another
    /// account (see `environment.promoted_to`).
    #[serde(skip)]
    #[schemars(skip)]
    pub promotion: Option<PromotionTarget>,
}

/// `[mlflow]`: where the MLflow model registry answers (its REST API). A server behind
/// authentication takes the bearer token in `MLFLOW_TRACKING_TOKEN`, as MLflow's own
/// client does.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MlflowSettings {
    /// As `https://mlflow.internal.facturascan.com`.
    pub tracking_uri: String,
}

/// `[models.<name>]`: what happens to a model between deploys.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelSettings {
    /// Retraining on the batch data: on a schedule, when its drift alarm fires, and by hand
    /// (`facturactl retrain`). Rendered into the stack of the service that serves the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retraining: Option<Retraining>,
}

/// `[models.<name>.retraining]`. Each run is one ECS Fargate task of `job` over `data`; it
/// writes the new artifact and its metadata under the models bucket's
/// `training/<model>/<run>/`, and `facturactl retrain` registers them as a new version
/// (never deployed without a deploy).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retraining {
    /// An EventBridge Scheduler expression: `cron(0 3 ? * MON *)` (six fields) or
    /// `rate(7 days)`.
    pub schedule: String,
    /// The IANA time zone the cron expression is read in.
    #[serde(default = "utc")]
    pub timezone: String,
    /// The batch data a run trains on.
    pub data: TrainingData,
    /// The container that trains.
    pub job: TrainingJob,
    /// The alarm on a model measure that starts a run when it fires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<DriftTrigger>,
    /// Registers a run when it ends: an EventBridge rule on the job's stopped tasks calls
    /// GitHub's `repository_dispatch`, which starts the generated training workflow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_end: Option<RunEnded>,
}

/// Where a run's end is announced: the repository whose training workflow registers it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunEnded {
    /// `owner/name` on GitHub.
    pub repository: String,
    /// The Secrets Manager secret (name) holding a GitHub token that may create
    /// repository dispatch events (a fine-grained token with Contents: read and write on
    /// that repository only). CloudFormation reads it when the stack is deployed and
    /// EventBridge keeps it in the connection; rotating it takes a deploy.
    pub token_secret: String,
}

fn utc() -> String {
    "UTC".into()
}

/// Where the batch data lives: a prefix in one of the storage stack's buckets.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainingData {
    pub bucket: DataBucket,
    /// The key prefix of the batch data, as `validated/` (ends in `/`).
    pub prefix: String,
}

/// The storage stack's buckets a job may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DataBucket {
    Raw,
    Processed,
}

impl DataBucket {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::Processed => "processed",
        }
    }
}

/// The training container: an image in the environment's ECR, run as one Fargate task.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainingJob {
    /// The ECR repository, as `facturascan/fraud-training`.
    pub repository: String,
    /// The image: a tag, or a digest (`sha256:...`) to pin it.
    pub image: String,
    /// Fargate CPU units (1024 = 1 vCPU).
    pub cpu: u32,
    /// Fargate memory, MiB (valid with `cpu`, as for services).
    pub memory: u32,
    /// How long a run may take: past it, a scheduled or drift-started run is stopped by
    /// its runner (the state's timeout) and one `retrain` follows is stopped by facturactl;
    /// nothing is registered from either.
    #[serde(default = "default_training_minutes")]
    #[schemars(range(min = TRAINING_TIMEOUT_MINUTES.min, max = TRAINING_TIMEOUT_MINUTES.max))]
    pub timeout_minutes: u32,
}

fn default_training_minutes() -> u32 {
    120
}

/// The drift trigger: a CloudWatch alarm on one of the serving service's model measures
/// (namespace `FacturaScan360/<env>`, dimension `Service`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DriftTrigger {
    pub measure: DriftMeasure,
    /// The threshold: percent for `agreement` (fires below it), the index for
    /// `population-stability` (fires above it, 0.2 is the usual "significant shift").
    pub threshold: f64,
    #[serde(default = "default_drift_period")]
    pub period_seconds: u32,
    /// Periods the measure must be beyond the threshold before the alarm fires.
    #[serde(default = "default_drift_periods")]
    pub evaluation_periods: u32,
    /// Who hears that drift started a retraining run (none: the run is the action).
    #[serde(default)]
    pub channels: Vec<String>,
}

fn default_drift_period() -> u32 {
    3600
}
fn default_drift_periods() -> u32 {
    3
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DriftMeasure {
    /// Agreements over Validated, in percent: fires when it falls below the threshold.
    Agreement,
    /// The `PopulationStability` metric the service emits (PSI of its inputs against the
    /// training data): fires when it rises above the threshold.
    PopulationStability,
}

impl DriftMeasure {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agreement => "agreement",
            Self::PopulationStability => "population-stability",
        }
    }
}

/// Where deploys are marked in Sentry: each successful deploy, promotion or rollback
/// creates the release `<project>@<tag or commit>` (if new) and a deploy of it to the
/// environment.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SentrySettings {
    /// The Sentry server, as `https://sentry.io`.
    pub url: String,
    /// The organization slug.
    pub organization: String,
    /// The Sentry projects the release belongs to.
    pub projects: Vec<String>,
    /// An auth token with `project:releases`, as a secret reference.
    pub token: SecretRef,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// Lowercase letters, digits and dashes; the prefix of every stack and resource name.
    pub name: String,
    /// Directory of the Tera templates, relative to `deploy.toml`.
    #[serde(default = "default_templates")]
    pub templates: String,
    /// Tags put on every stack (and so on every resource CloudFormation tags).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

fn default_templates() -> String {
    "templates".into()
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// The environment's name: the overlay's file name, never written in a file.
    #[serde(skip_deserializing)]
    pub name: String,
    pub tier: Tier,
    /// The 12-digit AWS account this environment must run in.
    pub account_id: String,
    pub region: String,
    /// An AWS endpoint override, for the local emulator only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    /// A named AWS profile; CI uses its OIDC role instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default)]
    pub retry: RetrySettings,
    /// The environment promoted from this one (`promote --from <this> --to <it>`), which
    /// lives in another account: its account is granted read access to this environment's
    /// release store, models and key, and this registry replicates to it the repositories
    /// it declares. Its account, region and repositories are read from its own file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promoted_to: Option<String>,
}

/// What an environment knows of the one promoted from it (`environment.promoted_to`),
/// read from that environment's own file when this one is loaded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromotionTarget {
    pub environment: String,
    pub account_id: String,
    pub region: String,
    /// The ECR repositories its registry declares: the only ones replicated to it.
    pub repositories: Vec<String>,
}

/// What kind of environment this is: decides policy enforcement and deletion protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Local,
    Staging,
    Production,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetrySettings {
    #[serde(default)]
    pub mode: RetryMode,
    /// Total attempts per AWS call, first one included (1 to 20).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// The most the first retry waits, in milliseconds (later ones double, with full
    /// jitter, up to `max_backoff_ms`). The SDK's default, 1000, makes a deploy under
    /// throttling crawl: a throttled call is usually fine again within a fraction of a
    /// second.
    #[serde(default = "default_initial_backoff_ms")]
    #[schemars(range(min = INITIAL_BACKOFF_MS.min, max = INITIAL_BACKOFF_MS.max))]
    pub initial_backoff_ms: u64,
    /// The longest wait between two attempts, in milliseconds.
    #[serde(default = "default_max_backoff_ms")]
    #[schemars(range(min = MAX_BACKOFF_MS.min, max = MAX_BACKOFF_MS.max))]
    pub max_backoff_ms: u64,
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self {
            mode: RetryMode::default(),
            max_attempts: default_max_attempts(),
            initial_backoff_ms: default_initial_backoff_ms(),
            max_backoff_ms: default_max_backoff_ms(),
        }
    }
}

fn default_initial_backoff_ms() -> u64 {
    100
}

fn default_max_backoff_ms() -> u64 {
    5000
}

fn default_max_attempts() -> u32 {
    5
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RetryMode {
    #[default]
    Standard,
    Adaptive,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stack {
    /// Template file under `templates/stacks/`.
    pub template: String,
    /// Stacks that must be deployed first, besides those its inputs come from (an input
    /// is a dependency by itself).
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// A disabled stack is neither rendered nor deployed.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// CloudFormation parameter values (strings, numbers, booleans or lists of strings).
    #[serde(default)]
    pub parameters: IndexMap<String, ParamValue>,
    /// Parameters fed from another stack's outputs: `VpcId = "network.VpcId"`.
    #[serde(default)]
    pub inputs: IndexMap<String, OutputRef>,
    #[serde(default)]
    pub termination_protection: bool,
    /// Day 0: `facturactl bootstrap` deploys it before any image or package exists (the
    /// registry the image jobs push to). A bootstrap stack depends only on bootstrap stacks.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bootstrap: bool,
    /// How long one create or update may take before it is reported as stuck.
    #[serde(default = "default_stack_timeout")]
    #[schemars(range(min = STACK_TIMEOUT_MINUTES.min, max = STACK_TIMEOUT_MINUTES.max))]
    pub timeout_minutes: u32,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

impl Stack {
    /// The stacks deployed before this one: `depends_on`, then each input's stack.
    pub fn dependencies(&self) -> Vec<String> {
        let mut all = self.depends_on.clone();
        for input in self.inputs.values() {
            if !all.contains(&input.stack) {
                all.push(input.stack.clone());
            }
        }
        all
    }
}

pub(crate) fn yes() -> bool {
    true
}

fn default_stack_timeout() -> u32 {
    30
}

/// A CloudFormation parameter value. CloudFormation takes strings; numbers, booleans and lists
/// (as `CommaDelimitedList`) are accepted here for readability and converted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(transparent)]
#[schemars(with = "ParamValueSchema")]
pub struct ParamValue(pub String);

#[allow(dead_code)]
#[derive(JsonSchema)]
#[serde(untagged)]
enum ParamValueSchema {
    Text(String),
    Number(f64),
    Flag(bool),
    List(Vec<String>),
}

impl<'de> Deserialize<'de> for ParamValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = ParamValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number, boolean or list of strings")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ParamValue, E> {
                Ok(ParamValue(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ParamValue, E> {
                Ok(ParamValue(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ParamValue, E> {
                Ok(ParamValue(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<ParamValue, E> {
                Ok(ParamValue(v.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<ParamValue, E> {
                Ok(ParamValue(v.to_string()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<ParamValue, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<String>()? {
                    items.push(item);
                }
                Ok(ParamValue(items.join(",")))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// `stack.Output`: one stack's output feeding another stack's parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "String", into = "String")]
#[schemars(with = "String")]
pub struct OutputRef {
    pub stack: String,
    pub output: String,
}

/// A text that is not `<stack>.<OutputName>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAnOutputRef {
    pub text: String,
}

impl std::fmt::Display for NotAnOutputRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` is not an output reference: write `<stack>.<OutputName>`, as `network.VpcId`",
            self.text
        )
    }
}

impl TryFrom<String> for OutputRef {
    type Error = NotAnOutputRef;
    fn try_from(text: String) -> Result<Self, NotAnOutputRef> {
        match text.split_once('.') {
            Some((stack, output))
                if !stack.is_empty()
                    && !output.is_empty()
                    && output.chars().all(|c| c.is_ascii_alphanumeric()) =>
            {
                Ok(Self {
                    stack: stack.to_string(),
                    output: output.to_string(),
                })
            }
            _ => Err(NotAnOutputRef { text }),
        }
    }
}

impl From<OutputRef> for String {
    fn from(r: OutputRef) -> Self {
        format!("{}.{}", r.stack, r.output)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// The stack that creates the service's infrastructure.
    pub stack: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Set for an ECS Fargate service (exactly one of `ecs` and `lambda`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecs: Option<EcsService>,
    /// Set for a Lambda function (exactly one of `ecs` and `lambda`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda: Option<LambdaService>,
    /// The model the service serves, from a registry, by reference (`deploy --model`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ServiceModel>,
    /// The guard rails of its A/B experiments (`traffic evaluate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ab: Option<AbGuards>,
}

/// `[services.<name>.ab]`: when `traffic evaluate` promotes a variant, keeps collecting,
/// or aborts. Limits are the worst change (variant minus control) accepted, in percentage
/// points for rates and milliseconds for latency; a measure without a limit is shown but
/// decides nothing.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AbGuards {
    /// Samples each side needs before a measure counts: invocations for the error rate
    /// and latency, validated predictions for the prediction measures.
    #[serde(default = "default_min_samples")]
    pub min_samples: u32,
    /// The confidence of the decision intervals (always valid, so that `evaluate` may be
    /// run at every hour of the experiment), as 0.95.
    #[serde(default = "default_confidence")]
    pub confidence: f64,
    /// The chance that a variant as good as the control is promoted once it has the
    /// samples `traffic` says a limit needs, as 0.8.
    #[serde(default = "default_power")]
    pub power: f64,
    /// Error rate (Lambda Errors over Invocations).
    #[serde(default = "default_error_rate_limit")]
    pub max_error_rate_increase: Option<f64>,
    /// p95 duration, in milliseconds: shown beside its change, not judged (CloudWatch's
    /// percentiles come without the durations an interval of a quantile needs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_p95_increase_ms: Option<f64>,
    /// Agreement with validated outcomes (Agreements over Validated): the drop accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_agreement_drop: Option<f64>,
    /// False positives over validated predictions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_false_positive_increase: Option<f64>,
    /// False negatives over validated predictions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_false_negative_increase: Option<f64>,
    /// Alerts raised over predictions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_alert_rate_increase: Option<f64>,
    /// A progressive ramp, as `[10, 50, 100]`: the variant's shares, ascending, ending at
    /// 100. `traffic evaluate --apply` moves to the next step when a step's evaluation says
    /// promote (each step judged on what it served), and aborts on abort. Empty: a promote
    /// verdict moves all traffic at once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<u32>,
}

impl Default for AbGuards {
    fn default() -> Self {
        Self {
            min_samples: default_min_samples(),
            confidence: default_confidence(),
            power: default_power(),
            max_error_rate_increase: default_error_rate_limit(),
            max_p95_increase_ms: None,
            max_agreement_drop: None,
            max_false_positive_increase: None,
            max_false_negative_increase: None,
            max_alert_rate_increase: None,
            steps: Vec::new(),
        }
    }
}

fn default_min_samples() -> u32 {
    500
}
fn default_confidence() -> f64 {
    0.95
}
fn default_power() -> f64 {
    0.8
}
fn default_error_rate_limit() -> Option<f64> {
    Some(1.0)
}

/// `[services.<name>.model]`: which registered model a service serves and the input it
/// expects. A deploy resolves `--model <service>=<version or alias>` to one immutable
/// artifact and refuses it when its input schema differs from `input`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceModel {
    /// The model's name in the registry, as `fraud-scoring`.
    pub name: String,
    /// Where versions are registered: `s3` (the environment's models bucket).
    #[serde(default)]
    pub registry: ModelRegistry,
    /// The fields the service sends to `/predict`, with their types.
    pub input: BTreeMap<String, FieldType>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModelRegistry {
    /// Content-addressed artifacts and one metadata document per version in the
    /// environment's models bucket (`facturactl model register`).
    #[default]
    S3,
    /// MLflow's model registry at `[mlflow] tracking_uri`: versions, aliases, the run's
    /// parameters and metrics, the signature as the input schema.
    Mlflow,
}

/// The type of one input field of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    String,
    Number,
    Integer,
    Boolean,
}

impl FieldType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Number => "number",
            Self::Integer => "integer",
            Self::Boolean => "boolean",
        }
    }
}

/// Which runtime a service has, without its settings: in reports and records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    Ecs,
    Lambda,
}

impl RuntimeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ecs => "ecs",
            Self::Lambda => "lambda",
        }
    }
}

/// A service's runtime, once validation has checked that exactly one is set.
#[derive(Debug, Clone, Copy)]
pub enum Runtime<'a> {
    Ecs(&'a EcsService),
    Lambda(&'a LambdaService),
}

impl Runtime<'_> {
    pub fn kind(&self) -> RuntimeKind {
        match self {
            Self::Ecs(_) => RuntimeKind::Ecs,
            Self::Lambda(_) => RuntimeKind::Lambda,
        }
    }
}

impl Service {
    /// The runtime; `None` only for a config that has not passed validation.
    pub fn runtime(&self) -> Option<Runtime<'_>> {
        match (&self.ecs, &self.lambda) {
            (Some(e), None) => Some(Runtime::Ecs(e)),
            (None, Some(l)) => Some(Runtime::Lambda(l)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EcsService {
    /// The ECR repository name (or full image repository URI).
    pub repository: String,
    /// The image deployed when no artifact is given: a tag or `sha256:` digest.
    #[serde(default = "default_image_tag")]
    pub image: String,
    /// Fargate CPU units: 256, 512, 1024, 2048, 4096, 8192 or 16384.
    pub cpu: u32,
    /// Memory in MiB, valid for the CPU size.
    pub memory: u32,
    pub desired_count: u32,
    /// The container port, for services behind the load balancer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_port: Option<u16>,
    /// The path pattern the internal load balancer routes to this service of the ML stack,
    /// as `/predict*`: a listener rule facturactl owns, weighing the control's and the
    /// variant's target groups (`traffic`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default)]
    pub health: EcsHealth,
    #[serde(default)]
    pub rollout: EcsRollout,
    /// Plain environment variables of the container.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// Secrets injected by ECS from SSM or Secrets Manager.
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretRef>,
}

fn default_image_tag() -> String {
    "bootstrap".into()
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EcsHealth {
    /// HTTP path the load balancer checks.
    #[serde(default = "default_health_path")]
    pub path: String,
    #[serde(default = "default_grace")]
    #[schemars(range(min = GRACE_PERIOD_SECONDS.min, max = GRACE_PERIOD_SECONDS.max))]
    pub grace_period_seconds: u32,
}

impl Default for EcsHealth {
    fn default() -> Self {
        Self {
            path: default_health_path(),
            grace_period_seconds: default_grace(),
        }
    }
}

fn default_health_path() -> String {
    "/health".into()
}

fn default_grace() -> u32 {
    60
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EcsRollout {
    #[serde(default = "default_min_healthy")]
    pub min_healthy_percent: u32,
    #[serde(default = "default_max_percent")]
    pub max_percent: u32,
    /// How long a rollout may take before it is reported as failed.
    #[serde(default = "default_rollout_deadline")]
    #[schemars(range(min = ROLLOUT_DEADLINE_SECONDS.min, max = ROLLOUT_DEADLINE_SECONDS.max))]
    pub deadline_seconds: u32,
}

impl Default for EcsRollout {
    fn default() -> Self {
        Self {
            min_healthy_percent: default_min_healthy(),
            max_percent: default_max_percent(),
            deadline_seconds: default_rollout_deadline(),
        }
    }
}

fn default_min_healthy() -> u32 {
    100
}
fn default_max_percent() -> u32 {
    200
}
fn default_rollout_deadline() -> u32 {
    900
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LambdaService {
    pub runtime: String,
    pub handler: String,
    pub memory_mb: u32,
    #[schemars(range(min = LAMBDA_TIMEOUT_SECONDS.min, max = LAMBDA_TIMEOUT_SECONDS.max))]
    pub timeout_seconds: u32,
    /// Where the code package comes from when no artifact is given: `s3://bucket/key` or a
    /// local zip path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default)]
    pub rollout: LambdaRollout,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// Reserved concurrency; unset means the account's pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserved_concurrency: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LambdaRollout {
    #[serde(default)]
    pub strategy: Strategy,
    /// Traffic share per step for `canary` (the one step) and `linear` (each step), or the
    /// variant's share for `ab`; 1 to 99.
    #[serde(default = "default_step_percent")]
    pub step_percent: u32,
    /// Time each step is watched before moving on.
    #[serde(default = "default_step_interval")]
    #[schemars(range(min = STEP_INTERVAL_SECONDS.min, max = STEP_INTERVAL_SECONDS.max))]
    pub step_interval_seconds: u32,
    /// What to do when one of the service's alarms already fires before the deploy.
    #[serde(default)]
    pub when_alarm_firing: WhenAlarmFiring,
}

impl Default for LambdaRollout {
    fn default() -> Self {
        Self {
            strategy: Strategy::default(),
            step_percent: default_step_percent(),
            step_interval_seconds: default_step_interval(),
            when_alarm_firing: WhenAlarmFiring::default(),
        }
    }
}

fn default_step_percent() -> u32 {
    10
}
fn default_step_interval() -> u32 {
    300
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    #[default]
    AllAtOnce,
    Canary,
    Linear,
    /// An A/B split: the new version becomes the variant with `step_percent` of the traffic
    /// and stays there; `facturactl traffic promote` or `abort` ends the experiment.
    Ab,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum WhenAlarmFiring {
    /// Refuse to start: someone should look first.
    #[default]
    Block,
    /// Go ahead: the deploy may be the fix.
    Proceed,
}

/// Per-environment settings of one alarm defined in `templates/alarms/`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlarmSettings {
    pub threshold: f64,
    /// What the threshold measures; `percent` thresholds must lie in 0..=100.
    pub unit: ThresholdUnit,
    /// Channel names (keys of `channels.email` or `channels.slack`).
    pub channels: Vec<String>,
    #[serde(default)]
    pub severity: AlarmSeverity,
    /// Seconds per datapoint: 10, 30, or a multiple of 60.
    #[serde(default = "default_period")]
    pub period_seconds: u32,
    #[serde(default = "default_evaluation_periods")]
    pub evaluation_periods: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datapoints_to_alarm: Option<u32>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn default_period() -> u32 {
    60
}
fn default_evaluation_periods() -> u32 {
    3
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ThresholdUnit {
    Percent,
    Milliseconds,
    Seconds,
    Count,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "Severity")]
pub enum AlarmSeverity {
    #[default]
    Critical,
    Warning,
}

/// Notification channels by kind, then by name. Names are unique across kinds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Channels {
    #[serde(default)]
    pub email: IndexMap<String, EmailChannel>,
    #[serde(default)]
    pub slack: IndexMap<String, SlackChannel>,
}

impl Channels {
    pub fn contains(&self, name: &str) -> bool {
        self.email.contains_key(name) || self.slack.contains_key(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.email
            .keys()
            .chain(self.slack.keys())
            .map(String::as_str)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailChannel {
    /// Subscribed to the channel's SNS topic (each confirms once by email).
    pub addresses: Vec<String>,
    /// A verified SES sender: deploy notifications then go through SES as formatted mail
    /// rather than through the SNS topic. Alarms always use the topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ses_from: Option<String>,
}

/// A Slack channel, reached through exactly one of an incoming webhook (posted by the
/// forwarder Lambda and by the tool) or AWS Chatbot.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlackChannel {
    /// The Slack channel, as `#dev-monitoring`.
    pub channel: String,
    /// The incoming webhook URL, as a secret reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<SecretRef>,
    /// Deliver through AWS Chatbot instead of a webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chatbot: Option<ChatbotTarget>,
}

/// How a Slack channel is reached, once validation has checked that exactly one is set.
#[derive(Debug, Clone, Copy)]
pub enum SlackRoute<'a> {
    Webhook(&'a SecretRef),
    Chatbot(&'a ChatbotTarget),
}

impl SlackChannel {
    /// The route; `None` only for a config that has not passed validation.
    pub fn route(&self) -> Option<SlackRoute<'_>> {
        match (&self.webhook, &self.chatbot) {
            (Some(w), None) => Some(SlackRoute::Webhook(w)),
            (None, Some(c)) => Some(SlackRoute::Chatbot(c)),
            _ => None,
        }
    }
}

/// The Slack workspace and channel an AWS Chatbot configuration posts to (the workspace is
/// authorised once in the Chatbot console).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatbotTarget {
    /// The Slack workspace (team) id, as `T0123ABCD`.
    pub workspace_id: String,
    /// The Slack channel id, as `C0123ABCD`.
    pub channel_id: String,
}

/// Deploy notifications: who hears about deploys, and how hard the tool tries.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Notifications {
    /// Channels told about every deploy, promotion, rollback and notified pipeline stage.
    #[serde(default)]
    pub channels: Vec<String>,
    /// `always`, or `failure` for failures only.
    #[serde(default)]
    pub on: NotifyOn,
    /// Seconds one attempt to send may take (1 to 60).
    #[serde(default = "default_notify_timeout")]
    #[schemars(range(min = NOTIFY_TIMEOUT_SECONDS.min, max = NOTIFY_TIMEOUT_SECONDS.max))]
    pub timeout_seconds: u32,
    /// Attempts per message, the first included (1 to 10). 429 and 5xx answers and network
    /// errors are retried with backoff; Slack's Retry-After is honoured.
    #[serde(default = "default_notify_attempts")]
    pub attempts: u32,
    /// Exit 4 instead of 0 when the deploy succeeded but a notification could not be sent.
    /// Off by default: a notification never turns a good deploy into a failure.
    #[serde(default)]
    pub warning_exit: bool,
    /// Whether alarms act on state changes (notify their channels). Off keeps them wired
    /// but silent, as a local environment may want.
    #[serde(default = "yes")]
    pub alarm_actions: bool,
}

impl Default for Notifications {
    fn default() -> Self {
        Self {
            channels: Vec::new(),
            on: NotifyOn::default(),
            timeout_seconds: default_notify_timeout(),
            attempts: default_notify_attempts(),
            warning_exit: false,
            alarm_actions: true,
        }
    }
}

fn default_notify_timeout() -> u32 {
    10
}
fn default_notify_attempts() -> u32 {
    3
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NotifyOn {
    #[default]
    Always,
    Failure,
}

/// What may be deployed where (enforced by the release gate).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleasePolicy {
    /// The branch releases come from.
    #[serde(default = "default_branch")]
    pub protected_branch: String,
    /// Tags production accepts (a regular expression).
    #[serde(default = "default_tag_pattern")]
    pub tag_pattern: String,
    /// Release candidate tags staging accepts besides commits on the protected branch.
    #[serde(default = "default_rc_pattern")]
    pub rc_tag_pattern: String,
    #[serde(default)]
    pub require_signed_tags: bool,
    /// What this environment accepts; by default `none` locally, `branch` in staging, `tag`
    /// in production.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<Gate>,
    /// How long a deploy lock holds without being renewed (a killed deploy's lock expires),
    /// 3 to 86,400 (renewed every third of it; see `LOCK_TTL_SECONDS`).
    #[serde(default = "default_lock_ttl")]
    #[schemars(range(min = LOCK_TTL_SECONDS.min, max = LOCK_TTL_SECONDS.max))]
    pub lock_ttl_seconds: u32,
    /// How long a deploy waits for another one's lock before refusing (0: refuse at once),
    /// at most 3,600.
    #[serde(default)]
    #[schemars(range(min = LOCK_WAIT_SECONDS.min, max = LOCK_WAIT_SECONDS.max))]
    pub lock_wait_seconds: u32,
    /// The S3 bucket of deployment records, deploy locks and promoted packages (versioned;
    /// created by the first deploy). Default `<project>-<env>-releases-<account>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records_bucket: Option<String>,
}

impl Default for ReleasePolicy {
    fn default() -> Self {
        Self {
            protected_branch: default_branch(),
            tag_pattern: default_tag_pattern(),
            rc_tag_pattern: default_rc_pattern(),
            require_signed_tags: false,
            gate: None,
            lock_ttl_seconds: default_lock_ttl(),
            lock_wait_seconds: 0,
            records_bucket: None,
        }
    }
}

fn default_lock_ttl() -> u32 {
    900
}

/// What an environment accepts for deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Gate {
    /// Anything (the local emulator).
    None,
    /// A clean checkout of a commit on the protected branch, or a release candidate tag.
    Branch,
    /// A clean checkout of an annotated release tag on the protected branch.
    Tag,
}

fn default_branch() -> String {
    "main".into()
}
fn default_tag_pattern() -> String {
    r"^v\d+\.\d+\.\d+$".into()
}
fn default_rc_pattern() -> String {
    r"^v\d+\.\d+\.\d+-rc\.\d+$".into()
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicySettings {
    /// `enforce` blocks on findings, `warn` reports them. Default: enforce in production.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<PolicyMode>,
    /// Accepted exceptions, each with its reason.
    #[serde(default)]
    pub exceptions: Vec<PolicyException>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PolicyMode {
    Enforce,
    Warn,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyException {
    /// The rule id, as `S3_PUBLIC_ACCESS`.
    pub rule: String,
    /// `stack/LogicalId`, or `stack/*` for a whole stack.
    pub resource: String,
    pub reason: String,
}

impl Config {
    /// Stacks that are rendered and deployed, in declaration order.
    pub fn enabled_stacks(&self) -> impl Iterator<Item = (&String, &Stack)> {
        self.stacks.iter().filter(|(_, s)| s.enabled)
    }

    pub fn gate(&self) -> Gate {
        self.release.gate.unwrap_or(match self.environment.tier {
            Tier::Local => Gate::None,
            Tier::Staging => Gate::Branch,
            Tier::Production => Gate::Tag,
        })
    }

    pub fn policy_mode(&self) -> PolicyMode {
        self.policy.mode.unwrap_or(match self.environment.tier {
            Tier::Production => PolicyMode::Enforce,
            Tier::Local | Tier::Staging => PolicyMode::Warn,
        })
    }
}

/// The inclusive bounds of a duration setting: written once, enforced by `validate` and
/// published in the JSON schema (`minimum`, `maximum`), so the documentation cannot drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub min: u32,
    pub max: u32,
}

pub const TRAINING_TIMEOUT_MINUTES: Bounds = Bounds {
    min: 1,
    max: 24 * 60,
};
pub const INITIAL_BACKOFF_MS: Bounds = Bounds {
    min: 1,
    max: 20_000,
};
pub const MAX_BACKOFF_MS: Bounds = Bounds {
    min: 1,
    max: 60_000,
};
pub const STACK_TIMEOUT_MINUTES: Bounds = Bounds { min: 1, max: 720 };
pub const GRACE_PERIOD_SECONDS: Bounds = Bounds { min: 0, max: 7200 };
pub const ROLLOUT_DEADLINE_SECONDS: Bounds = Bounds { min: 10, max: 7200 };
/// Lambda's own limit is 900 s.
pub const LAMBDA_TIMEOUT_SECONDS: Bounds = Bounds { min: 1, max: 900 };
pub const STEP_INTERVAL_SECONDS: Bounds = Bounds { min: 1, max: 3600 };
pub const NOTIFY_TIMEOUT_SECONDS: Bounds = Bounds { min: 1, max: 60 };
/// A lock renewed every third of its life, its expiry written in whole seconds and judged
/// by the clock of the run that would take it over: below 3 s rounding and clock skew
/// between runners make a live lock look expired (and at 0 two runs both win while the
/// renewal spins); over a day a killed run's lock blocks the environment for longer than
/// anyone waits. The default, 900 s, tolerates minutes of skew; the tests use 3 s.
pub const LOCK_TTL_SECONDS: Bounds = Bounds {
    min: 3,
    max: 86_400,
};
/// A CI job waiting for another one's lock: an hour at most.
pub const LOCK_WAIT_SECONDS: Bounds = Bounds { min: 0, max: 3600 };
