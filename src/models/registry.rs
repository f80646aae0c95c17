//! The S3 model registry, in the environment's models bucket (the storage stack's):
//!
//! - `registry/<model>/artifacts/sha256-<hex>`: the bytes, content-addressed, written once
//!   (If-None-Match), so a key always names the same bytes;
//! - `registry/<model>/versions/<00000001>.json`: one metadata document per version
//!   ([`ModelVersion`]), written once; two registrations racing get different numbers;
//! - `registry/<model>/aliases/<alias>.json`: `{"version": N}`, and
//!   `registry/<model>/approvals/<00000001>.json`: a version's approval; the only documents
//!   that change (the bucket is versioned, so every earlier one is kept);
//! - `registry/<model>/references/sha256-<hex>`: a version's reference distribution (the
//!   training inputs' bins), content-addressed, written once;
//! - `registry/<model>/runs/<run>.json`: what became of a training run (registered,
//!   identical to a version, refused, failed), written once, so it is decided once.
//!
//! Objects are encrypted with the bucket's default (the platform KMS key): writing needs
//! `kms:GenerateDataKey`, reading `kms:Decrypt`, besides the S3 actions.

use std::collections::BTreeMap;

use aws_sdk_s3::primitives::ByteStream;
use serde::{Deserialize, Serialize};

use super::approval::{Approval, CHAMPION, Comparison};
use super::{ModelArtifact, ModelError, ModelRef, ModelVersion, sha256_hex};
use crate::aws::s3::{is_missing, is_precondition_failed, list_keys, put_json};
use crate::aws::{AwsContext, AwsError};
use crate::config::FieldType;

pub struct S3Registry<'a> {
    aws: &'a AwsContext,
    pub bucket: String,
}

/// What `model register` records, besides the bytes.
pub struct NewVersion {
    pub name: String,
    pub bytes: Vec<u8>,
    pub params: BTreeMap<String, String>,
    pub metrics: BTreeMap<String, f64>,
    pub input: BTreeMap<String, FieldType>,
    pub registered_by: String,
    pub registered_at: String,
    /// A training run's: what it was trained from.
    pub lineage: Option<super::Lineage>,
    /// A training run's reference distribution, stored already.
    pub reference: Option<super::Reference>,
}

#[derive(Serialize, Deserialize)]
struct AliasDocument {
    version: u32,
}

/// The content-addressed folders of a model: its versions' bytes, their reference
/// distributions.
const ARTIFACTS: &str = "artifacts";
const REFERENCES: &str = "references";

/// Two registrations racing for one number: the loser takes the next, this many times.
const NUMBER_ATTEMPTS: u32 = 10;

impl<'a> S3Registry<'a> {
    pub fn new(aws: &'a AwsContext, bucket: String) -> Self {
        Self { aws, bucket }
    }

    /// `registry/<model>/<kind>/sha256-<hex>`: content-addressed (`artifacts`, `references`).
    /// Where this registry keeps (or will keep, once adopted) the artifact of `name` whose
    /// bytes hash to `sha`: content-addressed, so known before the bytes are copied.
    pub fn artifact_uri(&self, name: &str, sha: &str) -> String {
        format!(
            "s3://{}/{}",
            self.bucket,
            Self::content_key(name, ARTIFACTS, sha)
        )
    }

    fn content_key(name: &str, kind: &str, sha: &str) -> String {
        format!("registry/{name}/{kind}/sha256-{sha}")
    }

    fn version_key(name: &str, version: u32) -> String {
        format!("registry/{name}/versions/{version:08}.json")
    }

    fn alias_key(name: &str, alias: &str) -> String {
        format!("registry/{name}/aliases/{alias}.json")
    }

    fn approval_key(name: &str, version: u32) -> String {
        format!("registry/{name}/approvals/{version:08}.json")
    }

    fn run_key(name: &str, run: &str) -> String {
        format!("registry/{name}/runs/{run}.json")
    }

    /// A version's approval document; `None` when it has none (pending).
    pub async fn approval(&self, name: &str, version: u32) -> Result<Option<Approval>, ModelError> {
        self.get_json(&Self::approval_key(name, version)).await
    }

    /// Writes a version's approval; the version must exist.
    pub async fn set_approval(
        &self,
        name: &str,
        version: u32,
        approval: &Approval,
    ) -> Result<(), ModelError> {
        self.version(name, version).await?;
        put_json(
            &self.aws.s3,
            &self.bucket,
            &Self::approval_key(name, version),
            approval,
        )
        .await
        .map_err(|e| AwsError::new("PutObject", e).into())
    }

    /// What became of training run `run`, if it was decided.
    pub async fn run_record<T: for<'de> Deserialize<'de>>(
        &self,
        name: &str,
        run: &str,
    ) -> Result<Option<T>, ModelError> {
        self.get_json(&Self::run_key(name, run)).await
    }

    /// The runs of `name` already decided (one listing).
    pub async fn decided_runs(
        &self,
        name: &str,
    ) -> Result<std::collections::BTreeSet<String>, ModelError> {
        let prefix = format!("registry/{name}/runs/");
        Ok(self
            .keys(&prefix)
            .await?
            .iter()
            .filter_map(|k| Some(k.strip_prefix(&prefix)?.strip_suffix(".json")?.to_string()))
            .collect())
    }

    /// Records what became of a run, once: `false` when it was decided already.
    pub async fn record_run<T: Serialize>(
        &self,
        name: &str,
        run: &str,
        record: &T,
    ) -> Result<bool, ModelError> {
        let body = serde_json::to_vec_pretty(record).unwrap_or_default();
        Ok(matches!(
            self.put_once(&Self::run_key(name, run), body).await?,
            Written::Yes(_)
        ))
    }

    /// Where `artifact`'s bytes would be stored in this registry (its content address; the
    /// object version is known once written).
    pub fn address(&self, name: &str, artifact: &ModelArtifact) -> ModelArtifact {
        let key = Self::content_key(name, ARTIFACTS, &artifact.sha256);
        ModelArtifact {
            uri: format!("s3://{}/{key}", self.bucket),
            bucket: self.bucket.clone(),
            key,
            version_id: None,
            ..artifact.clone()
        }
    }

    /// Stores a reference distribution, content-addressed and once.
    pub async fn store_reference(
        &self,
        name: &str,
        bytes: &[u8],
    ) -> Result<super::Reference, ModelError> {
        let stored = self.store_content(name, REFERENCES, bytes).await?;
        Ok(super::Reference {
            uri: stored.uri,
            sha256: stored.sha256,
            version_id: stored.version_id,
        })
    }

    /// Stores the bytes (once per content), then the next version's document, then its
    /// approval (pending, compared with the champion as it was); sets `alias` to it when
    /// given.
    pub async fn register(
        &self,
        new: NewVersion,
        alias: Option<&str>,
    ) -> Result<(ModelVersion, Approval), ModelError> {
        let champion = match self.aliases(&new.name).await?.get(CHAMPION) {
            Some(&n) => Some(self.version(&new.name, n).await?),
            None => None,
        };
        let comparison = Comparison::of(
            &new.metrics,
            champion.as_ref().map(|c| (c.version, &c.metrics)),
        );
        let artifact = self.store_artifact(&new.name, &new.bytes).await?;
        let mut number = self.versions(&new.name).await?.last().copied().unwrap_or(0) + 1;
        let mut version = ModelVersion {
            name: new.name,
            version: number,
            artifact,
            params: new.params,
            metrics: new.metrics,
            input: new.input,
            registered_at: new.registered_at,
            registered_by: new.registered_by,
            lineage: new.lineage,
            reference: new.reference,
        };
        for attempt in 1..=NUMBER_ATTEMPTS {
            version.version = number;
            let key = Self::version_key(&version.name, number);
            match self
                .put_once(
                    &key,
                    serde_json::to_vec_pretty(&version).unwrap_or_default(),
                )
                .await?
            {
                Written::Yes(_) => break,
                Written::Exists if attempt < NUMBER_ATTEMPTS => number += 1,
                Written::Exists => {
                    return Err(ModelError::Corrupt {
                        key,
                        message: format!(
                            "{NUMBER_ATTEMPTS} version numbers taken while registering"
                        ),
                    });
                }
            }
        }
        let approval = Approval::pending(version.registered_by.clone(), comparison);
        self.set_approval(&version.name, version.version, &approval)
            .await?;
        if let Some(alias) = alias {
            self.set_alias(&version.name, alias, version.version)
                .await?;
        }
        Ok((version, approval))
    }

    /// The artifact's object: written with If-None-Match, so existing bytes under the
    /// content's key are never replaced (and are checked to be that content).
    async fn store_artifact(&self, name: &str, bytes: &[u8]) -> Result<ModelArtifact, ModelError> {
        self.store_content(name, ARTIFACTS, bytes).await
    }

    /// `bytes` under `registry/<model>/<kind>/sha256-<hex>`, written once (If-None-Match);
    /// what is there already is checked to be this content.
    async fn store_content(
        &self,
        name: &str,
        kind: &str,
        bytes: &[u8],
    ) -> Result<ModelArtifact, ModelError> {
        let sha256 = sha256_hex(bytes);
        let key = Self::content_key(name, kind, &sha256);
        let version_id = match self.put_once(&key, bytes.to_vec()).await? {
            Written::Yes(version_id) => version_id,
            Written::Exists => {
                let (found, version_id) = self.read_artifact(&key, None).await?;
                if found != sha256 {
                    return Err(ModelError::Corrupt {
                        key,
                        message: format!("it holds bytes hashing to {found}"),
                    });
                }
                version_id
            }
        };
        Ok(ModelArtifact {
            uri: format!("s3://{}/{key}", self.bucket),
            bucket: self.bucket.clone(),
            key,
            version_id,
            sha256,
            size: bytes.len() as u64,
        })
    }

    async fn put_once(&self, key: &str, body: Vec<u8>) -> Result<Written, ModelError> {
        let checksum = {
            use base64::Engine;
            use sha2::Digest;
            base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&body))
        };
        let result = self
            .aws
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .if_none_match("*")
            // S3 checks the bytes it received against this (x-amz-checksum-sha256).
            .checksum_sha256(checksum)
            .body(ByteStream::from(body))
            .customize()
            .config_override(crate::aws::s3_transfer())
            .send()
            .await;
        match result {
            Ok(out) => Ok(Written::Yes(out.version_id().map(str::to_string))),
            Err(e) if is_precondition_failed(&e) => Ok(Written::Exists),
            Err(e) => Err(AwsError::new("PutObject", e).into()),
        }
    }

    /// The version numbers registered for `name`, ascending.
    pub async fn versions(&self, name: &str) -> Result<Vec<u32>, ModelError> {
        let prefix = format!("registry/{name}/versions/");
        let mut numbers: Vec<u32> = self
            .keys(&prefix)
            .await?
            .iter()
            .filter_map(|k| k.strip_prefix(&prefix)?.strip_suffix(".json")?.parse().ok())
            .collect();
        numbers.sort_unstable();
        Ok(numbers)
    }

    /// Every version document of `name`, ascending; one that does not read is listed as
    /// unusable.
    pub async fn all(&self, name: &str) -> Result<super::Listing, ModelError> {
        let mut listing = super::Listing::default();
        for number in self.versions(name).await? {
            match self.version(name, number).await {
                Ok(version) => listing.versions.push(version),
                Err(problem) => listing.unusable.push(super::Unusable {
                    version: number.to_string(),
                    problem,
                }),
            }
        }
        Ok(listing)
    }

    /// Every alias of `name` and the version it points at.
    pub async fn aliases(&self, name: &str) -> Result<BTreeMap<String, u32>, ModelError> {
        let prefix = format!("registry/{name}/aliases/");
        let mut aliases = BTreeMap::new();
        for key in self.keys(&prefix).await? {
            let Some(alias) = key
                .strip_prefix(&prefix)
                .and_then(|k| k.strip_suffix(".json"))
            else {
                continue;
            };
            if let Some(doc) = self.get_json::<AliasDocument>(&key).await? {
                aliases.insert(alias.to_string(), doc.version);
            }
        }
        Ok(aliases)
    }

    /// Points `alias` at `version`, which must exist.
    pub async fn set_alias(&self, name: &str, alias: &str, version: u32) -> Result<(), ModelError> {
        if !crate::config::names::is_alias(alias) {
            return Err(ModelError::BadName(alias.into()));
        }
        self.version(name, version).await?;
        let key = Self::alias_key(name, alias);
        put_json(&self.aws.s3, &self.bucket, &key, &AliasDocument { version })
            .await
            .map_err(|e| AwsError::new("PutObject", e))?;
        Ok(())
    }

    /// The metadata document of one version.
    pub async fn version(&self, name: &str, version: u32) -> Result<ModelVersion, ModelError> {
        self.get_json(&Self::version_key(name, version))
            .await?
            .ok_or_else(|| self.not_found(name, format!("version {version}")))
    }

    /// The version `reference` names, its bytes read and hashed against the registered
    /// SHA-256 (a mismatch is refused).
    pub async fn resolve(
        &self,
        name: &str,
        reference: &ModelRef,
    ) -> Result<ModelVersion, ModelError> {
        let number = match reference {
            ModelRef::Version(n) => *n,
            ModelRef::Alias(alias) => {
                self.get_json::<AliasDocument>(&Self::alias_key(name, alias))
                    .await?
                    .ok_or_else(|| self.not_found(name, format!("alias `{alias}`")))?
                    .version
            }
        };
        let version = self.version(name, number).await?;
        self.verify(&version).await?;
        Ok(version)
    }

    /// Reads the artifact (the registered object version) as a stream, never whole in
    /// memory, and compares its SHA-256.
    pub async fn verify(&self, version: &ModelVersion) -> Result<(), ModelError> {
        let artifact = &version.artifact;
        let (found, ..) = self
            .hash_object(
                &artifact.bucket,
                &artifact.key,
                artifact.version_id.as_deref(),
            )
            .await?;
        self.registered(version, found)
    }

    /// The SHA-256 of an object's bytes, hashed as they arrive, with its size and object
    /// version id.
    pub(super) async fn hash_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<(String, u64, Option<String>), ModelError> {
        use sha2::Digest;
        let Some(out) = self.open(bucket, key, version_id).await? else {
            return Err(ModelError::ArtifactGone {
                uri: format!("s3://{bucket}/{key}"),
                version_id: version_id.map(str::to_string),
            });
        };
        let found_version = out.version_id().map(str::to_string);
        let mut body = out.body;
        let mut hasher = sha2::Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(|e| AwsError::local("GetObject", None, e.to_string()))?
        {
            size += chunk.len() as u64;
            hasher.update(&chunk);
        }
        let hex = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok((hex, size, found_version))
    }

    /// `Ok` when `found` is the SHA-256 `version` was registered with.
    fn registered(&self, version: &ModelVersion, found: String) -> Result<(), ModelError> {
        let artifact = &version.artifact;
        if found == artifact.sha256 {
            return Ok(());
        }
        Err(ModelError::HashMismatch {
            name: version.name.clone(),
            version: version.version,
            uri: artifact.uri.clone(),
            expected: artifact.sha256.clone(),
            found,
        })
    }

    /// The artifact's bytes, once they hash to the registered SHA-256 (a promotion copies
    /// them into another registry).
    pub async fn read_verified(&self, version: &ModelVersion) -> Result<Vec<u8>, ModelError> {
        let artifact = &version.artifact;
        let (bytes, _) = self
            .read_bytes(
                &artifact.bucket,
                &artifact.key,
                artifact.version_id.as_deref(),
            )
            .await?;
        self.registered(version, sha256_hex(&bytes))?;
        Ok(bytes)
    }

    /// Refuses, read-only, when the bucket does not exist.
    pub async fn require(&self, environment: &str) -> Result<(), ModelError> {
        match self.aws.s3.head_bucket().bucket(&self.bucket).send().await {
            Ok(_) => Ok(()),
            Err(e) if is_missing(&e) => Err(ModelError::NoRegistry {
                environment: environment.to_string(),
                bucket: self.bucket.clone(),
            }),
            Err(e) => Err(AwsError::new("HeadBucket", e).into()),
        }
    }

    /// Takes in a version registered in another environment's registry (a promotion): the
    /// same bytes under the same content address, and the same version number, so both
    /// environments name the model alike. A number already taken here by other bytes is
    /// refused.
    pub async fn adopt(
        &self,
        version: &ModelVersion,
        bytes: &[u8],
        approval: Option<&Approval>,
    ) -> Result<ModelVersion, ModelError> {
        let adopted = self.adopt_version(version, bytes).await?;
        // The decision travels with the bytes: approved once, where it was reviewed.
        if let Some(approval) = approval {
            self.set_approval(&adopted.name, adopted.version, approval)
                .await?;
        }
        Ok(adopted)
    }

    async fn adopt_version(
        &self,
        version: &ModelVersion,
        bytes: &[u8],
    ) -> Result<ModelVersion, ModelError> {
        let artifact = self.store_artifact(&version.name, bytes).await?;
        let adopted = ModelVersion {
            artifact,
            ..version.clone()
        };
        let key = Self::version_key(&version.name, version.version);
        let body = serde_json::to_vec_pretty(&adopted).unwrap_or_default();
        if let Written::Exists = self.put_once(&key, body).await? {
            let here = self.version(&version.name, version.version).await?;
            if here.artifact.sha256 != adopted.artifact.sha256 {
                return Err(ModelError::NumberTaken {
                    name: version.name.clone(),
                    version: version.version,
                    bucket: self.bucket.clone(),
                    here: here.artifact.sha256,
                    promoted: adopted.artifact.sha256,
                });
            }
            return Ok(here);
        }
        Ok(adopted)
    }

    async fn read_artifact(
        &self,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<(String, Option<String>), ModelError> {
        let (bytes, read) = self.read_bytes(&self.bucket, key, version_id).await?;
        Ok((sha256_hex(&bytes), read))
    }

    /// An object's bytes, and the object version read.
    pub(super) async fn read_bytes(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<(Vec<u8>, Option<String>), ModelError> {
        self.fetch(bucket, key, version_id)
            .await?
            .ok_or_else(|| ModelError::ArtifactGone {
                uri: format!("s3://{bucket}/{key}"),
                version_id: version_id.map(str::to_string),
            })
    }

    /// An object's bytes and the object version read; `None` when there is none.
    pub(super) async fn fetch(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Option<(Vec<u8>, Option<String>)>, AwsError> {
        let Some(out) = self.open(bucket, key, version_id).await? else {
            return Ok(None);
        };
        let read = out.version_id().map(str::to_string);
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| AwsError::local("GetObject", None, e.to_string()))?
            .into_bytes();
        Ok(Some((bytes.to_vec(), read)))
    }

    /// GetObject of one object (version); `None` when there is none.
    async fn open(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Option<aws_sdk_s3::operation::get_object::GetObjectOutput>, AwsError> {
        match self
            .aws
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_string))
            .send()
            .await
        {
            Ok(out) => Ok(Some(out)),
            Err(e) if is_missing(&e) => Ok(None),
            Err(e) => Err(AwsError::new("GetObject", e)),
        }
    }

    async fn keys(&self, prefix: &str) -> Result<Vec<String>, ModelError> {
        list_keys(&self.aws.s3, &self.bucket, prefix)
            .await
            .map_err(|e| AwsError::new("ListObjectsV2", e).into())
    }

    async fn get_json<T: for<'de> Deserialize<'de>>(
        &self,
        key: &str,
    ) -> Result<Option<T>, ModelError> {
        let Some((bytes, _)) = self.fetch(&self.bucket, key, None).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ModelError::Corrupt {
                key: key.to_string(),
                message: e.to_string(),
            })
    }

    fn not_found(&self, name: &str, reference: String) -> ModelError {
        ModelError::NotFound {
            name: name.to_string(),
            reference,
            registry: format!("s3://{}", self.bucket),
        }
    }
}

enum Written {
    /// Written; the object version, when the bucket is versioned.
    Yes(Option<String>),
    /// Something is already there (If-None-Match).
    Exists,
}
