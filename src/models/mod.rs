//! Models as artifacts. A registered model version is one immutable object (its S3
//! location, object version id and SHA-256) with the parameters and metrics it was trained
//! with and the input schema it expects. A deploy names a version or an alias; it is
//! resolved before anything changes, its bytes are hashed against the registered SHA-256,
//! and its schema is compared with the one the service declares.

pub mod approval;
pub mod mlflow;
pub mod mlmodel;
pub mod promotion;
pub mod registration;
pub mod registry;
pub mod resolve;
pub mod retraining;
pub mod training;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::aws::{AwsContext, AwsError};
use crate::config::names::{is_alias, model_parameter_names, version_digits};
use crate::config::{Config, FieldType, ModelRegistry};

/// One registered version of a model: the metadata document the registry keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ModelVersion {
    pub name: String,
    pub version: u32,
    pub artifact: ModelArtifact,
    /// Training parameters, as given at registration.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Evaluation metrics, as given at registration.
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    /// The input fields and their types (the model's signature).
    pub input: BTreeMap<String, FieldType>,
    /// RFC 3339, UTC.
    pub registered_at: String,
    pub registered_by: String,
    /// What it was trained from, for a version a training run registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage: Option<Lineage>,
    /// The training inputs' distribution, which the population-stability measure compares
    /// the served inputs with (written by the training job).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Reference>,
}

/// A training run's lineage: the image by digest (a tag can move) and every data object it
/// read, by ETag and object version (a prefix can change).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Lineage {
    pub run: String,
    /// `repository:tag`, as the job declares it.
    pub image: String,
    /// `sha256:<hex>`: what ran.
    pub image_digest: String,
    /// `s3://bucket/prefix/` the job was given.
    pub data_uri: String,
    pub data: Vec<DataObject>,
}

/// One object a training run read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DataObject {
    pub key: String,
    pub etag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
}

/// A stored reference distribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Reference {
    /// `s3://bucket/registry/<model>/references/sha256-<hex>`.
    pub uri: String,
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
}

/// Where a model version's bytes are, exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ModelArtifact {
    /// `s3://bucket/key`: content-addressed, so the key names the bytes.
    pub uri: String,
    pub bucket: String,
    pub key: String,
    /// The S3 object version, when the bucket is versioned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    pub size: u64,
}

/// What a service runs, as deployment records keep it: one registered version, by reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ModelPin {
    pub name: String,
    pub version: u32,
    /// `s3://bucket/key` (content-addressed).
    pub uri: String,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
}

impl ModelVersion {
    pub fn pin(&self) -> ModelPin {
        ModelPin {
            name: self.name.clone(),
            version: self.version,
            uri: self.artifact.uri.clone(),
            sha256: self.artifact.sha256.clone(),
            version_id: self.artifact.version_id.clone(),
        }
    }
}

impl std::fmt::Display for ModelPin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} v{} ({})",
            self.name,
            self.version,
            self.sha256.get(..12).unwrap_or(&self.sha256)
        )
    }
}

/// Sets the model parameters of every enabled service that declares a model, in the
/// rendered stacks: the newly resolved pin, else the one `running` (the record) says, else empty
/// (no model yet). A deploy without `--model` so keeps what runs: the template's empty
/// default never replaces a deployed model. Returns the pins in effect.
pub fn pin_parameters(
    rendered: &mut crate::render::RenderedEnv,
    config: &crate::config::Config,
    new: &BTreeMap<String, ModelPin>,
    running: &BTreeMap<String, ModelPin>,
) -> BTreeMap<String, ModelPin> {
    let mut in_effect = BTreeMap::new();
    for (service, svc) in config.services.iter().filter(|(_, s)| s.enabled) {
        if svc.model.is_none() {
            continue;
        }
        let pin = new.get(service).or_else(|| running.get(service)).cloned();
        let (uri, sha) = model_parameter_names(service);
        if let Some(stack) = rendered.stacks.iter_mut().find(|s| s.name == svc.stack) {
            let (uri_value, sha_value) = pin
                .as_ref()
                .map(|p| (p.uri.clone(), p.sha256.clone()))
                .unwrap_or_default();
            stack.parameters.insert(uri, uri_value);
            stack.parameters.insert(sha, sha_value);
        }
        if let Some(pin) = pin {
            in_effect.insert(service.clone(), pin);
        }
    }
    in_effect
}

/// A version as named on the command line: a number, or an alias such as `champion`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelRef {
    Version(u32),
    Alias(String),
}

impl ModelRef {
    pub fn parse(text: &str) -> Result<Self, ModelError> {
        if let Some(bare) = version_digits(text) {
            return bare
                .parse()
                .ok()
                .filter(|&n| n > 0)
                .map(Self::Version)
                .ok_or_else(|| ModelError::BadReference(text.into()));
        }
        if is_alias(text) {
            Ok(Self::Alias(text.into()))
        } else {
            Err(ModelError::BadReference(text.into()))
        }
    }
}

impl std::fmt::Display for ModelRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Version(n) => write!(f, "version {n}"),
            Self::Alias(a) => write!(f, "alias `{a}`"),
        }
    }
}

/// How a registered input schema differs from the one a service declares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum FieldMismatch {
    /// The service sends it; the model does not take it.
    NotInModel { field: String },
    /// The model takes it; the service does not send it.
    NotSent { field: String },
    /// Both have it, with different types.
    Type {
        field: String,
        declared: FieldType,
        model: FieldType,
    },
}

impl std::fmt::Display for FieldMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotInModel { field } => write!(f, "`{field}` is declared but not in the model"),
            Self::NotSent { field } => write!(f, "`{field}` is in the model but not declared"),
            Self::Type {
                field,
                declared,
                model,
            } => write!(
                f,
                "`{field}` is {} in the model, {} as declared",
                model.as_str(),
                declared.as_str()
            ),
        }
    }
}

/// Every difference between the declared input and the model's, in field order.
pub fn schema_mismatches(
    declared: &BTreeMap<String, FieldType>,
    model: &BTreeMap<String, FieldType>,
) -> Vec<FieldMismatch> {
    let mut fields: Vec<&String> = declared.keys().chain(model.keys()).collect();
    fields.sort();
    fields.dedup();
    fields
        .into_iter()
        .filter_map(|field| match (declared.get(field), model.get(field)) {
            (Some(_), None) => Some(FieldMismatch::NotInModel {
                field: field.clone(),
            }),
            (None, Some(_)) => Some(FieldMismatch::NotSent {
                field: field.clone(),
            }),
            (Some(&d), Some(&m)) if d != m => Some(FieldMismatch::Type {
                field: field.clone(),
                declared: d,
                model: m,
            }),
            _ => None,
        })
        .collect()
}

/// A model's versions as a listing finds them.
#[derive(Debug, Default)]
pub struct Listing {
    /// Resolved (hashed, schema read), ascending.
    pub versions: Vec<ModelVersion>,
    pub unusable: Vec<Unusable>,
}

/// The SHA-256 of the object an `s3://bucket/key` MODEL_URI names now (its current
/// version: what a service loading it gets); none for a URI outside S3.
pub async fn hash_current(aws: &AwsContext, uri: &str) -> Result<Option<String>, ModelError> {
    let Some((bucket, key)) = uri.strip_prefix("s3://").and_then(|r| r.split_once('/')) else {
        return Ok(None);
    };
    let registry = registry::S3Registry::new(aws, bucket.to_string());
    let (sha256, _, _) = registry.hash_object(bucket, key, None).await?;
    Ok(Some(sha256))
}

impl Listing {
    /// Every version, or the first one's problem: for decisions that must see them all
    /// (whether a training run was registered already).
    pub fn all_or_first_problem(self) -> Result<Vec<ModelVersion>, ModelError> {
        match self.unusable.into_iter().next() {
            Some(unusable) => Err(unusable.problem),
            None => Ok(self.versions),
        }
    }
}

/// A version that cannot serve a service, and why.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct Unusable {
    pub version: String,
    /// Why, as a person reads it.
    #[serde(serialize_with = "as_text")]
    #[schemars(with = "String")]
    pub problem: ModelError,
}

fn as_text<S: serde::Serializer>(error: &ModelError, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(error)
}

/// Why a model could not be registered or resolved.
#[derive(Debug, thiserror::Error, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelError {
    #[error("{0}")]
    Aws(#[from] AwsError),
    #[error("`{0}` is neither a version number nor an alias")]
    BadReference(String),
    #[error("`{0}` is not a model name or alias")]
    BadName(String),
    #[error("model `{name}` has no {reference} in {registry}")]
    NotFound {
        name: String,
        reference: String,
        /// `s3://<bucket>` or `MLflow at <url>`.
        registry: String,
    },
    /// A token would cross the network in clear text (exit 3).
    #[error(
        "MLflow at {url}: a tracking token is not sent over plain http outside the local environment"
    )]
    PlainHttpToken { url: String },
    /// The MLflow tracking server failed or answered something else than its API.
    #[error("MLflow at {url}: {message}")]
    Mlflow { url: String, message: String },
    /// An MLflow version whose `MLmodel` cannot serve a service.
    #[error("{uri}: {problem}")]
    BadMlmodel {
        uri: String,
        problem: mlmodel::MlmodelProblem,
    },
    /// Registering is MLflow's own (`mlflow.register_model`).
    #[error("model `{0}` is registered in MLflow, not by facturactl")]
    RegisterInMlflow(String),
    #[error("cannot read {path}: {message}")]
    File { path: String, message: String },
    #[error("`{0}` is not `key=value`")]
    BadPair(String),
    #[error("`{0}` is given twice")]
    DuplicateKey(String),
    #[error("metric `{key}`: `{value}` is not a number")]
    BadMetric { key: String, value: String },
    #[error("the registry document {key} cannot be read: {message}")]
    Corrupt { key: String, message: String },
    /// The bytes in S3 are not the ones registered (exit 3).
    #[error(
        "model `{name}` version {version}: {uri} hashes to {found}, but was registered as {expected}"
    )]
    HashMismatch {
        name: String,
        version: u32,
        uri: String,
        expected: String,
        found: String,
    },
    /// The model's input is not what the service sends (exit 3).
    #[error("model `{name}` version {version} does not take what service `{service}` sends: {}", join(.fields))]
    SchemaMismatch {
        service: String,
        name: String,
        version: u32,
        fields: Vec<FieldMismatch>,
    },
    /// Production runs approved versions only (exit 3).
    #[error("model `{name}` version {version} is {}, not approved: production runs approved versions only", .state.as_str())]
    NotApproved {
        name: String,
        version: u32,
        state: approval::ApprovalState,
    },
    #[error("a rejection needs a reason")]
    NoReason,
    #[error("service `{0}` declares no model ([services.{0}.model]), or is not enabled")]
    NoModel(String),
    #[error("`{0}` is not `<service>=<version or alias>`")]
    BadAssignment(String),
    #[error("service `{0}` is given two models")]
    Twice(String),
    /// A Lambda service's model changes, and no code was ever deployed to run it with.
    #[error("service `{0}` has no code deployed to run a model with")]
    NoCode(String),
    /// A registered version's object is not in S3 any more.
    #[error("the artifact {uri} (object version {}) is gone", .version_id.as_deref().unwrap_or("-"))]
    ArtifactGone {
        uri: String,
        version_id: Option<String>,
    },
    /// The environment's models bucket is not there: its storage stack was never deployed.
    #[error("`{environment}` has no model registry yet: bucket {bucket} does not exist")]
    NoRegistry { environment: String, bucket: String },
    /// A promotion found the version number used for other bytes in the target (exit 3).
    #[error(
        "model `{name}` version {version} in s3://{bucket} is {here}, not the promoted {promoted}"
    )]
    NumberTaken {
        name: String,
        version: u32,
        bucket: String,
        here: String,
        promoted: String,
    },
}

pub(crate) fn join(fields: &[FieldMismatch]) -> String {
    fields
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl ModelError {
    /// Refusals (exit 3): the artifact or its schema is not what may run.
    pub fn refused(&self) -> bool {
        matches!(
            self,
            Self::HashMismatch { .. }
                | Self::SchemaMismatch { .. }
                | Self::NumberTaken { .. }
                | Self::NotApproved { .. }
                | Self::PlainHttpToken { .. }
        )
    }

    pub fn help(&self) -> String {
        match self {
            Self::Aws(_) => "check the credentials and that the environment's storage stack is deployed (it creates the models bucket)".into(),
            Self::BadReference(_) => "name a version as `3` (or `v3`) or an alias as `champion`".into(),
            Self::BadName(_) => "use lowercase letters, digits, `-` and `_`, starting with a letter; not `latest` and not `v<number>`, which name versions".into(),
            Self::NotFound { name, .. } => format!("`facturactl model list {name}` shows its versions and aliases"),
            Self::Mlflow { .. } => "check that the tracking server is up at [mlflow] tracking_uri (and MLFLOW_TRACKING_TOKEN if it wants one)".into(),
            Self::PlainHttpToken { .. } => "serve the tracking server over https (`[mlflow] tracking_uri = \"https://...\"`)".into(),
            Self::BadMlmodel { problem, .. } => problem.help().into(),
            Self::RegisterInMlflow(_) => "register it from the training code (mlflow.register_model), then `facturactl model alias` or `deploy --model`".into(),
            Self::File { .. } => "check the path".into(),
            Self::BadPair(_) => "write each as `key=value`, as `--metric auc=0.91`".into(),
            Self::DuplicateKey(_) => "give each key once: the second would silently replace the first".into(),
            Self::BadMetric { .. } => "metrics are numbers, as `--metric auc=0.91`".into(),
            Self::Corrupt { .. } => "the registry's documents are written by `facturactl model register`; restore the document from an earlier S3 object version".into(),
            Self::HashMismatch { .. } => "the object was overwritten or damaged: register the model again, or restore the object version that was registered".into(),
            Self::SchemaMismatch { service, .. } => format!("deploy a version trained on the fields services.{service}.model.input lists, or change that list with the service's code"),
            Self::NoModel(service) => format!("add [services.{service}.model] with the model's name and input (and enable the service), or name another service"),
            Self::BadAssignment(_) => "write `--model scoring=3` or `--model scoring=champion`".into(),
            Self::Twice(_) => "name each service once".into(),
            Self::ArtifactGone { .. } => "restore the object version from the bucket's history, or register the model again".into(),
            Self::NoRegistry { environment, .. } => format!("deploy `{environment}`'s stacks first (its storage stack creates the bucket): `facturactl deploy --env {environment}`"),
            Self::NumberTaken { .. } => "each registry numbers its own registrations: promote from the environment that registered the version, or deploy the model registered here".into(),
            Self::NotApproved { name, version, .. } => format!("review its comparison with the champion (`facturactl model show {name} {version}`), then `facturactl model approve {name} {version}` in the environment it was registered in (a promotion carries the approval)"),
            Self::NoReason => "say why with `--reason \"...\"`: the next reviewer reads it".into(),
            Self::NoCode(service) => format!("deploy its code with the model: `--package {service}=<zip>`"),
        }
    }
}

/// Which registry `model` is in, as the service that serves it declares (S3 when none does).
pub fn registry_kind(config: &Config, model: &str) -> ModelRegistry {
    config
        .model_servers(model)
        .find_map(|(_, svc)| svc.model.as_ref().map(|m| m.registry))
        .unwrap_or_default()
}

/// The registry a model lives in: the environment's S3 registry, or MLflow when the
/// service that serves it says `registry = "mlflow"`.
pub enum Registry<'a> {
    S3(registry::S3Registry<'a>),
    Mlflow(mlflow::MlflowRegistry<'a>),
}

impl<'a> Registry<'a> {
    /// The registry of `model`, as its serving service declares it (S3 when none does).
    pub fn of(aws: &'a AwsContext, config: &Config, model: &str) -> Self {
        match (registry_kind(config, model), &config.mlflow) {
            (ModelRegistry::Mlflow, Some(mlflow)) => Self::Mlflow(
                mlflow::MlflowRegistry::new(
                    aws,
                    &mlflow.tracking_uri,
                    std::env::var("MLFLOW_TRACKING_TOKEN")
                        .ok()
                        .filter(|t| !t.is_empty()),
                )
                // A token over plain HTTP is readable by anyone on the path: only the
                // local environment may send one.
                .plain_http(config.environment.tier == crate::config::Tier::Local),
            ),
            _ => Self::S3(registry::S3Registry::new(aws, config.models_bucket())),
        }
    }

    /// Where it is, for reports: `s3://<bucket>` or the tracking server's URL.
    pub fn location(&self) -> String {
        match self {
            Self::S3(r) => format!("s3://{}", r.bucket),
            Self::Mlflow(r) => r.url.clone(),
        }
    }

    /// The version `reference` names, its bytes hashed and checked.
    pub async fn resolve(
        &self,
        name: &str,
        reference: &ModelRef,
    ) -> Result<ModelVersion, ModelError> {
        match self {
            Self::S3(r) => r.resolve(name, reference).await,
            Self::Mlflow(r) => r.resolve(name, reference).await,
        }
    }

    /// One version as registered (an MLflow version is read, and hashed, as on resolve).
    pub async fn version(&self, name: &str, number: u32) -> Result<ModelVersion, ModelError> {
        match self {
            Self::S3(r) => r.version(name, number).await,
            Self::Mlflow(r) => r.resolve(name, &ModelRef::Version(number)).await,
        }
    }

    /// The artifact's bytes, once they hash to the version's SHA-256 (wherever it is
    /// stored: the models bucket, or MLflow's artifact store).
    pub async fn read_verified(&self, version: &ModelVersion) -> Result<Vec<u8>, ModelError> {
        match self {
            Self::S3(r) => r.read_verified(version).await,
            Self::Mlflow(r) => {
                r.store(&version.artifact.bucket)
                    .read_verified(version)
                    .await
            }
        }
    }

    /// Every version, ascending: those that resolve, and each one that does not with why
    /// (one bad version never hides the others).
    pub async fn versions(&self, name: &str) -> Result<Listing, ModelError> {
        match self {
            Self::S3(r) => r.all(name).await,
            Self::Mlflow(r) => r.versions(name).await,
        }
    }

    pub async fn aliases(&self, name: &str) -> Result<BTreeMap<String, u32>, ModelError> {
        match self {
            Self::S3(r) => r.aliases(name).await,
            Self::Mlflow(r) => r.aliases(name).await,
        }
    }

    /// A version's approval; `None` when it has none (pending).
    pub async fn approval(
        &self,
        name: &str,
        version: u32,
    ) -> Result<Option<approval::Approval>, ModelError> {
        match self {
            Self::S3(r) => r.approval(name, version).await,
            Self::Mlflow(r) => r.approval(name, version).await,
        }
    }

    /// Records a decision on a version; returns that version.
    pub async fn set_approval(
        &self,
        name: &str,
        version: u32,
        approval: &approval::Approval,
    ) -> Result<(), ModelError> {
        match self {
            Self::S3(r) => r.set_approval(name, version, approval).await,
            Self::Mlflow(r) => r.set_approval(name, version, approval).await,
        }
    }

    /// Refuses a version that is not approved (production runs approved versions only).
    pub async fn require_approved(&self, version: &ModelVersion) -> Result<(), ModelError> {
        let approval = self.approval(&version.name, version.version).await?;
        match approval::state_of(approval.as_ref()) {
            approval::ApprovalState::Approved => Ok(()),
            state => Err(ModelError::NotApproved {
                name: version.name.clone(),
                version: version.version,
                state,
            }),
        }
    }

    /// Points `alias` at `version`; returns that version.
    pub async fn set_alias(
        &self,
        name: &str,
        alias: &str,
        version: u32,
    ) -> Result<ModelVersion, ModelError> {
        match self {
            Self::S3(r) => {
                r.set_alias(name, alias, version).await?;
                r.version(name, version).await
            }
            Self::Mlflow(r) => {
                r.set_alias(name, alias, version).await?;
                r.resolve(name, &ModelRef::Version(version)).await
            }
        }
    }
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(fields: &[(&str, FieldType)]) -> BTreeMap<String, FieldType> {
        fields.iter().map(|(k, t)| (k.to_string(), *t)).collect()
    }

    #[test]
    fn references_are_versions_or_aliases() {
        assert_eq!(ModelRef::parse("3").unwrap(), ModelRef::Version(3));
        assert_eq!(ModelRef::parse("v12").unwrap(), ModelRef::Version(12));
        assert_eq!(
            ModelRef::parse("champion").unwrap(),
            ModelRef::Alias("champion".into())
        );
        for bad in ["0", "", "Champion", "latest/1", "v0", "99999999999"] {
            assert!(ModelRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_schema_difference_is_named() {
        use FieldType::*;
        let declared = schema(&[("supplier", String), ("total", Number), ("vat", String)]);
        let model = schema(&[
            ("supplier", String),
            ("total", Integer),
            ("country", String),
        ]);
        let found: Vec<std::string::String> = schema_mismatches(&declared, &model)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            found,
            [
                "`country` is in the model but not declared",
                "`total` is integer in the model, number as declared",
                "`vat` is declared but not in the model",
            ]
        );
        assert!(schema_mismatches(&declared, &declared).is_empty());
    }

    #[test]
    fn hashes_are_hex_sha256() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
