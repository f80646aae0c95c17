//! MLflow's model registry, through its REST API (`/api/2.0/mlflow/...`): names, versions
//! and aliases from the registry, parameters and metrics from the version's run, and the
//! input schema from the model's signature (its `MLmodel` file beside the artifact).
//!
//! A version's `source` is the model directory in the artifact store (S3); the artifact a
//! service loads is the one file its `MLmodel` names (`sklearn.pickled_model`,
//! `python_function.model_path` or `python_function.data`). MLflow keeps no hash of it: a
//! version tagged `sha256` is checked against the tag, an untagged one is hashed when
//! resolved, and from then on the deployment record's pin is what later reads are checked
//! against. Registering happens in MLflow (`mlflow.register_model`); facturactl reads,
//! resolves and sets aliases.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::approval::Approval;
use super::mlmodel::{MlmodelProblem, SignatureProblem};
use super::registry::S3Registry;
use super::{ModelArtifact, ModelError, ModelRef, ModelVersion};
use crate::aws::AwsContext;
use crate::config::FieldType;

/// The model version tag that holds facturactl's approval document.
const APPROVAL_TAG: &str = "facturactl.approval";

pub struct MlflowRegistry<'a> {
    aws: &'a AwsContext,
    http: reqwest::Client,
    /// The tracking server, without a trailing `/`.
    pub url: String,
    token: Option<String>,
    /// Whether a token may go over `http://` (the local environment only).
    plain_http: bool,
}

#[derive(Deserialize)]
struct VersionDocument {
    model_version: MlflowVersion,
}

#[derive(Deserialize)]
struct MlflowVersion {
    version: String,
    source: String,
    #[serde(default)]
    run_id: String,
    #[serde(default)]
    creation_timestamp: i64,
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

#[derive(Deserialize)]
struct KeyValue {
    key: String,
    value: serde_json::Value,
}

#[derive(Deserialize)]
struct RunDocument {
    run: Run,
}

#[derive(Deserialize)]
struct Run {
    #[serde(default)]
    data: RunData,
}

#[derive(Deserialize, Default)]
struct RunData {
    #[serde(default)]
    params: Vec<KeyValue>,
    #[serde(default)]
    metrics: Vec<KeyValue>,
}

#[derive(Deserialize)]
struct ModelDocument {
    registered_model: RegisteredModel,
}

#[derive(Deserialize)]
struct RegisteredModel {
    #[serde(default)]
    aliases: Vec<Alias>,
}

#[derive(Deserialize)]
struct Alias {
    alias: String,
    version: String,
}

#[derive(Deserialize)]
struct SearchDocument {
    #[serde(default)]
    model_versions: Vec<MlflowVersion>,
}

#[derive(Deserialize)]
struct DownloadUri {
    artifact_uri: String,
}

/// The parts of an `MLmodel` file read here.
#[derive(Deserialize)]
struct MlModel {
    #[serde(default)]
    flavors: BTreeMap<String, BTreeMap<String, yaml_serde::Value>>,
    signature: Option<Signature>,
}

#[derive(Deserialize)]
struct Signature {
    /// A JSON string: `[{"type": "string", "name": "supplier", "required": true}, ...]`.
    inputs: Option<String>,
}

#[derive(Deserialize)]
struct Column {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: String,
}

/// An error document of MLflow's REST API.
#[derive(Deserialize)]
struct ApiError {
    error_code: String,
    #[serde(default)]
    message: String,
}

/// A tracking server answers a REST call in milliseconds: one that has not answered in
/// 30 s is stuck, and a run must not wait for it forever.
const MLFLOW_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(5))
        .timeout(MLFLOW_TIMEOUT)
        .user_agent(concat!("facturactl/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// What went wrong reaching the server, in words (reqwest's own say "error sending request").
fn transport(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!("no answer within {} s", MLFLOW_TIMEOUT.as_secs())
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        e.to_string()
    }
}

impl<'a> MlflowRegistry<'a> {
    /// `token`: a bearer token for a server behind authentication (`MLFLOW_TRACKING_TOKEN`).
    pub fn new(aws: &'a AwsContext, url: &str, token: Option<String>) -> Self {
        Self {
            aws,
            http: client(),
            url: url.trim_end_matches('/').to_string(),
            token,
            plain_http: true,
        }
    }

    /// Whether a token may be sent over `http://`; refused (before any request) if not.
    pub fn plain_http(self, allowed: bool) -> Self {
        Self {
            plain_http: allowed,
            ..self
        }
    }

    /// The artifact store's bucket, read with the environment's credentials.
    pub fn store(&self, bucket: &str) -> S3Registry<'a> {
        S3Registry::new(self.aws, bucket.to_string())
    }

    fn api(&self, path: &str) -> String {
        format!("{}/api/2.0/mlflow/{path}", self.url)
    }

    fn failed(&self, what: &str, message: impl std::fmt::Display) -> ModelError {
        ModelError::Mlflow {
            url: self.url.clone(),
            message: format!("{what}: {message}"),
        }
    }

    /// One REST call; `Ok(None)` when MLflow answers RESOURCE_DOES_NOT_EXIST.
    async fn call<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<Option<T>, ModelError> {
        let request = match &self.token {
            Some(_) if !self.plain_http && self.url.starts_with("http://") => {
                return Err(ModelError::PlainHttpToken {
                    url: self.url.clone(),
                });
            }
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let response = request
            .send()
            .await
            .map_err(|e| self.failed(what, transport(&e)))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| self.failed(what, transport(&e)))?;
        if status.is_success() {
            return serde_json::from_slice(&body)
                .map(Some)
                .map_err(|e| self.failed(what, format!("an unexpected answer ({e})")));
        }
        match serde_json::from_slice::<ApiError>(&body) {
            Ok(e) if e.error_code == "RESOURCE_DOES_NOT_EXIST" => Ok(None),
            Ok(e) => Err(self.failed(what, format!("{} ({})", e.message, e.error_code))),
            Err(_) => Err(self.failed(what, format!("HTTP {status}"))),
        }
    }

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Option<T>, ModelError> {
        let url = reqwest::Url::parse_with_params(&self.api(path), query)
            .map_err(|e| self.failed(path, e))?;
        self.call(self.http.get(url), path).await
    }

    /// One version's document (`None`: MLflow has no such version).
    async fn version_document(
        &self,
        name: &str,
        version: u32,
    ) -> Result<Option<VersionDocument>, ModelError> {
        self.get(
            "model-versions/get",
            &[("name", name), ("version", &version.to_string())],
        )
        .await
    }

    /// A POST of `body` to `path`; `missing` when MLflow answers RESOURCE_DOES_NOT_EXIST.
    async fn post(
        &self,
        path: &str,
        body: &serde_json::Value,
        missing: impl FnOnce() -> ModelError,
    ) -> Result<(), ModelError> {
        let done: Option<serde_json::Value> = self
            .call(self.http.post(self.api(path)).json(body), path)
            .await?;
        done.map(|_| ()).ok_or_else(missing)
    }

    fn not_found(&self, name: &str, reference: String) -> ModelError {
        ModelError::NotFound {
            name: name.to_string(),
            reference,
            registry: format!("MLflow at {}", self.url),
        }
    }

    /// The version `reference` names, its artifact hashed (against its `sha256` tag when
    /// it has one) and its signature read as the input schema.
    pub async fn resolve(
        &self,
        name: &str,
        reference: &ModelRef,
    ) -> Result<ModelVersion, ModelError> {
        let document: Option<VersionDocument> = match reference {
            ModelRef::Version(n) => self.version_document(name, *n).await?,
            ModelRef::Alias(alias) => {
                self.get(
                    "registered-models/alias",
                    &[("name", name), ("alias", alias)],
                )
                .await?
            }
        };
        let found = document
            .ok_or_else(|| self.not_found(name, reference.to_string()))?
            .model_version;
        self.version(name, found).await
    }

    async fn version(&self, name: &str, found: MlflowVersion) -> Result<ModelVersion, ModelError> {
        let number: u32 = found
            .version
            .parse()
            .map_err(|_| self.failed("model-versions/get", "a version that is not a number"))?;
        let (bucket, prefix) = self.location(name, &found).await?;
        let store = self.store(&bucket);
        let mlmodel_key = format!("{prefix}/MLmodel");
        let mlmodel_uri = format!("s3://{bucket}/{mlmodel_key}");
        let (text, _) = store.read_bytes(&bucket, &mlmodel_key, None).await?;
        let mlmodel: MlModel =
            yaml_serde::from_slice(&text).map_err(|e| ModelError::BadMlmodel {
                uri: mlmodel_uri.clone(),
                problem: MlmodelProblem::Unreadable {
                    reason: e.to_string(),
                },
            })?;
        let input = signature(&mlmodel).map_err(|problem| ModelError::BadMlmodel {
            uri: mlmodel_uri.clone(),
            problem: MlmodelProblem::Signature(problem),
        })?;
        let file = model_file(&mlmodel).ok_or(ModelError::BadMlmodel {
            uri: mlmodel_uri,
            problem: MlmodelProblem::NoModelFile,
        })?;
        let key = format!("{prefix}/{file}");
        let (sha256, size, version_id) = store.hash_object(&bucket, &key, None).await?;
        let version = ModelVersion {
            name: name.to_string(),
            version: number,
            artifact: ModelArtifact {
                uri: format!("s3://{bucket}/{key}"),
                bucket,
                key,
                version_id,
                sha256,
                size,
            },
            params: BTreeMap::new(),
            metrics: BTreeMap::new(),
            input,
            registered_at: crate::logging::rfc3339(
                std::time::UNIX_EPOCH
                    + std::time::Duration::from_millis(found.creation_timestamp.max(0) as u64),
            ),
            registered_by: if found.user_id.is_empty() {
                "mlflow".into()
            } else {
                found.user_id.clone()
            },
            lineage: None,
            reference: None,
        };
        if let Some(tagged) = found.tags.iter().find(|t| t.key == "sha256") {
            let expected = text_of(&tagged.value);
            if expected != version.artifact.sha256 {
                return Err(ModelError::HashMismatch {
                    name: name.to_string(),
                    version: number,
                    uri: version.artifact.uri.clone(),
                    expected,
                    found: version.artifact.sha256,
                });
            }
        }
        self.with_run(version, &found.run_id).await
    }

    /// Where a version's model directory is: its source when that is in S3; else where
    /// the server resolves it (MLflow 3's `log_model(..., registered_model_name=...)`
    /// registers `models:/m-<id>`, whose files are the logged model's artifact location).
    async fn location(
        &self,
        name: &str,
        found: &MlflowVersion,
    ) -> Result<(String, String), ModelError> {
        if let Some(location) = split_s3(&found.source) {
            return Ok(location);
        }
        let answer: Option<DownloadUri> = self
            .get(
                "model-versions/get-download-uri",
                &[("name", name), ("version", &found.version)],
            )
            .await?;
        let uri = answer.map_or_else(|| found.source.clone(), |a| a.artifact_uri);
        split_s3(&uri).ok_or(ModelError::BadMlmodel {
            uri,
            problem: MlmodelProblem::NotInS3,
        })
    }

    /// The version's run's parameters and metrics (latest value of each).
    async fn with_run(
        &self,
        mut version: ModelVersion,
        run_id: &str,
    ) -> Result<ModelVersion, ModelError> {
        if run_id.is_empty() {
            return Ok(version);
        }
        let run: Option<RunDocument> = self.get("runs/get", &[("run_id", run_id)]).await?;
        let data = run.map(|r| r.run.data).unwrap_or_default();
        version.params = data
            .params
            .into_iter()
            .map(|p| (p.key, text_of(&p.value)))
            .collect();
        version.metrics = data
            .metrics
            .into_iter()
            .filter_map(|m| Some((m.key, m.value.as_f64()?)))
            .collect();
        version
            .params
            .insert("mlflow_run_id".into(), run_id.to_string());
        Ok(version)
    }

    /// Every version of `name`, ascending, each resolved (hashed) as a deploy would; one
    /// that cannot be is listed as unusable, with why.
    pub async fn versions(&self, name: &str) -> Result<super::Listing, ModelError> {
        let filter = format!("name='{}'", name.replace('\'', ""));
        let found: Option<SearchDocument> = self
            .get(
                "model-versions/search",
                &[("filter", filter.as_str()), ("max_results", "1000")],
            )
            .await?;
        let mut listing = super::Listing::default();
        for found in found.map(|f| f.model_versions).unwrap_or_default() {
            let number = found.version.clone();
            match self.version(name, found).await {
                Ok(version) => listing.versions.push(version),
                // The server itself failing is not one version's problem.
                Err(e @ ModelError::Mlflow { .. }) => return Err(e),
                Err(problem) => listing.unusable.push(super::Unusable {
                    version: number,
                    problem,
                }),
            }
        }
        listing.versions.sort_by_key(|v| v.version);
        listing
            .unusable
            .sort_by_key(|u| u.version.parse::<u64>().unwrap_or(u64::MAX));
        Ok(listing)
    }

    pub async fn aliases(&self, name: &str) -> Result<BTreeMap<String, u32>, ModelError> {
        let model: Option<ModelDocument> =
            self.get("registered-models/get", &[("name", name)]).await?;
        let model = model.ok_or_else(|| self.not_found(name, "registered model".into()))?;
        Ok(model
            .registered_model
            .aliases
            .into_iter()
            .filter_map(|a| Some((a.alias, a.version.parse().ok()?)))
            .collect())
    }

    /// The version's approval: its `facturactl.approval` tag (a JSON document).
    pub async fn approval(&self, name: &str, version: u32) -> Result<Option<Approval>, ModelError> {
        let found = self
            .version_document(name, version)
            .await?
            .ok_or_else(|| self.not_found(name, format!("version {version}")))?
            .model_version;
        let Some(tag) = found.tags.iter().find(|t| t.key == APPROVAL_TAG) else {
            return Ok(None);
        };
        serde_json::from_str(&text_of(&tag.value))
            .map(Some)
            .map_err(|e| ModelError::Corrupt {
                key: format!("{name} version {version} tag {APPROVAL_TAG}"),
                message: e.to_string(),
            })
    }

    /// Writes the version's approval as its `facturactl.approval` tag.
    pub async fn set_approval(
        &self,
        name: &str,
        version: u32,
        approval: &Approval,
    ) -> Result<(), ModelError> {
        let value = serde_json::to_string(approval).unwrap_or_default();
        let body = serde_json::json!({
            "name": name, "version": version.to_string(), "key": APPROVAL_TAG, "value": value
        });
        self.post("model-versions/set-tag", &body, || {
            self.not_found(name, format!("version {version}"))
        })
        .await
    }

    pub async fn set_alias(&self, name: &str, alias: &str, version: u32) -> Result<(), ModelError> {
        // The version must exist: MLflow answers RESOURCE_DOES_NOT_EXIST otherwise.
        let body =
            serde_json::json!({"name": name, "alias": alias, "version": version.to_string()});
        self.post("registered-models/alias", &body, || {
            self.not_found(name, format!("version {version}"))
        })
        .await
    }
}

/// A JSON value as a parameter's text: a string as it is, anything else as JSON.
pub(super) fn text_of(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `s3://bucket/prefix/` as (bucket, prefix without its trailing `/`).
fn split_s3(uri: &str) -> Option<(String, String)> {
    let rest = uri.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/')?;
    (!bucket.is_empty() && !prefix.is_empty())
        .then(|| (bucket.to_string(), prefix.trim_end_matches('/').to_string()))
}

/// The model signature's inputs as the fields a service sends.
fn signature(mlmodel: &MlModel) -> Result<BTreeMap<String, FieldType>, SignatureProblem> {
    let inputs = mlmodel
        .signature
        .as_ref()
        .and_then(|s| s.inputs.as_deref())
        .ok_or(SignatureProblem::Missing)?;
    let columns: Vec<Column> =
        serde_json::from_str(inputs).map_err(|e| SignatureProblem::NotColumns {
            error: e.to_string(),
        })?;
    columns
        .into_iter()
        .map(|c| {
            let name = c.name.ok_or(SignatureProblem::UnnamedInput)?;
            let kind = match c.kind.as_str() {
                "string" => FieldType::String,
                "double" | "float" => FieldType::Number,
                "long" | "integer" => FieldType::Integer,
                "boolean" => FieldType::Boolean,
                other => {
                    return Err(SignatureProblem::UnknownType {
                        input: name,
                        kind: other.to_string(),
                    });
                }
            };
            Ok((name, kind))
        })
        .collect()
}

fn model_file(mlmodel: &MlModel) -> Option<String> {
    let entry = |flavor: &str, key: &str| {
        mlmodel
            .flavors
            .get(flavor)
            .and_then(|f| f.get(key))
            .and_then(yaml_serde::Value::as_str)
            .map(str::to_string)
    };
    entry("sklearn", "pickled_model")
        .or_else(|| entry("python_function", "model_path"))
        .or_else(|| entry("python_function", "data"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MLMODEL: &str = r#"
artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.sklearn
    model_path: model.pkl
  sklearn:
    pickled_model: model.pkl
signature:
  inputs: '[{"type": "string", "name": "supplier", "required": true}, {"type": "double", "name": "total", "required": true}, {"type": "long", "name": "lines", "required": true}]'
  outputs: '[{"type": "double", "required": true}]'
"#;

    #[test]
    fn the_signature_is_the_input_schema_and_the_flavor_names_the_file() {
        let mlmodel: MlModel = yaml_serde::from_str(MLMODEL).expect("MLmodel");
        let input = signature(&mlmodel).expect("signature");
        assert_eq!(input["supplier"], FieldType::String);
        assert_eq!(input["total"], FieldType::Number);
        assert_eq!(input["lines"], FieldType::Integer);
        assert_eq!(model_file(&mlmodel).as_deref(), Some("model.pkl"));
    }

    #[test]
    fn a_model_without_a_signature_or_with_a_tensor_one_is_refused() {
        let bare: MlModel = yaml_serde::from_str("flavors: {}\n").expect("MLmodel");
        assert!(
            signature(&bare)
                .unwrap_err()
                .to_string()
                .contains("no signature")
        );
        let tensor: MlModel = yaml_serde::from_str(
            "signature:\n  inputs: '[{\"type\": \"tensor\", \"tensor-spec\": {\"dtype\": \"float64\"}}]'\n",
        )
        .expect("MLmodel");
        assert!(
            signature(&tensor)
                .unwrap_err()
                .to_string()
                .contains("unnamed input")
        );
    }

    #[test]
    fn sources_split_into_bucket_and_prefix() {
        assert_eq!(
            split_s3("s3://b/1/abc/artifacts/model/"),
            Some(("b".into(), "1/abc/artifacts/model".into()))
        );
        assert_eq!(split_s3("models:/m-123"), None);
        assert_eq!(split_s3("s3://b"), None);
    }
}
