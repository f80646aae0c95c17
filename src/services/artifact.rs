//! What a deploy ships per service: a container image or a Lambda package, named on the
//! command line (`--image`, `--package`) or in an artifacts file written by the build job.
//!
//! Names are resolved before anything changes: image tags become digests (ECR), packages
//! are read and hashed the way Lambda hashes them (base64 SHA-256), so the same bytes can be
//! recorded, compared with what runs, and promoted later.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::aws::AwsContext;
use crate::config::{Config, Runtime};

/// An artifact as named, not yet resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactRef {
    Image(ImageRef),
    Package(PackageSource),
}

/// `[registry/]repository(:tag|@sha256:digest)`, or a bare tag or digest for the service's
/// configured repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// `<account>.dkr.ecr.<region>.amazonaws.com`, when given.
    pub registry: Option<String>,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackageSource {
    File(PathBuf),
    S3 {
        bucket: String,
        key: String,
        version: Option<String>,
    },
}

/// A resolved artifact: exactly what will run.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Artifact {
    Image {
        /// `registry/repository@sha256:...`: what the task definition or function gets.
        uri: String,
        digest: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        tag: Option<String>,
    },
    Package {
        /// Where it came from, as named.
        source: String,
        /// base64(SHA-256) of the zip: Lambda's CodeSha256.
        code_sha256: String,
        #[serde(skip)]
        code: PackageCode,
    },
}

/// How the package reaches Lambda.
#[derive(Debug, Clone, Default)]
pub enum PackageCode {
    #[default]
    None,
    Zip(Vec<u8>),
    S3 {
        bucket: String,
        key: String,
        version: Option<String>,
    },
}

impl Artifact {
    /// The identity shown in reports and compared with what runs.
    pub fn identity(&self) -> &str {
        match self {
            Self::Image { digest, .. } => digest,
            Self::Package { code_sha256, .. } => code_sha256,
        }
    }
}

/// A problem with the artifacts as given; nothing has been changed. The words are in
/// `Display` (what is wrong) and `help` (what to do).
#[derive(Debug, Clone, thiserror::Error, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ArtifactError {
    #[error("`{text}` is not `service=artifact`")]
    NotAnAssignment { text: String },
    #[error("`{text}` is not an image reference")]
    NotAnImage { text: String },
    #[error("`{text}` is not an S3 location")]
    NotAnS3Location { text: String },
    #[error("cannot read the artifacts file {}: {problem}", path.display())]
    UnreadableFile { path: PathBuf, problem: FileProblem },
    #[error("{}:{line}:{column}: the artifacts file is invalid: {error}", path.display())]
    InvalidFile {
        path: PathBuf,
        line: usize,
        column: usize,
        error: String,
    },
    #[error("{}: service `{service}` needs exactly one of `image` and `package`", path.display())]
    OneOfImageAndPackage { path: PathBuf, service: String },
    #[error("`{service}` is not an enabled service of `{environment}`")]
    UnknownService {
        service: String,
        environment: String,
        enabled: Vec<String>,
    },
    #[error("`{service}` runs on ECS: it takes an image, not a package")]
    PackageForEcs { service: String },
    #[error("`{service}` is a Lambda function: its image needs a repository")]
    LambdaImageWithoutRepository { service: String },
    #[error("`{service}`: {registry} is not an ECR registry")]
    NotEcr { service: String, registry: String },
    #[error("`{service}`: `{repository}` is not an ECR repository name")]
    NotARepositoryName { service: String, repository: String },
    #[error("`{service}`: `{tag}` is not an image tag")]
    NotATag { service: String, tag: String },
    #[error("`{service}`: cannot read the package {}: {error}", path.display())]
    UnreadablePackage {
        service: String,
        path: PathBuf,
        error: String,
    },
    #[error("`{service}`: the package {} is not a file (a directory?)", path.display())]
    PackageNotAFile { service: String, path: PathBuf },
    #[error(
        "`{service}`: the package {} is larger than the {limit} bytes Lambda takes in a direct upload",
        path.display()
    )]
    PackageTooLarge {
        service: String,
        path: PathBuf,
        limit: u64,
    },
    #[error("`{service}`: the package {} {}", path.display(), problem.message())]
    BadPackage {
        service: String,
        path: PathBuf,
        problem: super::package::Problem,
    },
    /// DescribeImages refused (what AWS said).
    #[error("`{service}`: image {repository}:{named} not found ({said})")]
    ImageLookupFailed {
        service: String,
        repository: String,
        named: String,
        said: String,
    },
    #[error("`{service}`: image {repository}:{named} not found")]
    ImageNotFound {
        service: String,
        repository: String,
        named: String,
    },
    #[error("cannot read the package {}: {error}", path.display())]
    UnreadableLocalPackage { path: PathBuf, error: String },
    #[error("{} is not a zip file", path.display())]
    NotAZip { path: PathBuf },
    /// GetObject refused (what AWS said).
    #[error("cannot read {location}: {said}")]
    UnreadableS3Package { location: String, said: String },
    /// The object's body broke off.
    #[error("cannot read {location}: {error}")]
    S3PackageCutOff { location: String, error: String },
    #[error("the package {location} {}", problem.message())]
    BadS3Package {
        location: String,
        problem: super::package::Problem,
    },
}

/// Why an artifacts file could not be read.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileProblem {
    Io(String),
    NotRegular,
    TooLarge { limit: u64 },
}

impl std::fmt::Display for FileProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Io(error) => f.write_str(error),
            Self::NotRegular => f.write_str("not a regular file"),
            Self::TooLarge { limit } => write!(f, "larger than {limit} bytes"),
        }
    }
}

impl ArtifactError {
    /// What to do about it.
    pub fn help(&self) -> String {
        match self {
            Self::NotAnAssignment { .. } => "write it as `--image ocr=v1.4.2` or `--package parser=dist/parser.zip`".into(),
            Self::NotAnImage { .. } => "use a tag (`v1.4.2`), a digest (`sha256:<64 hex>`), or `repository:tag` / `repository@sha256:...`, optionally after an ECR registry".into(),
            Self::NotAnS3Location { .. } => "write `s3://bucket/key.zip` (optionally `?versionId=...`)".into(),
            Self::UnreadableFile { .. } => "pass the file the build job wrote (--artifacts artifacts.json)".into(),
            Self::InvalidFile { .. } => "expected {\"services\": {\"<service>\": {\"image\": \"...\"} or {\"package\": \"...\"}}}".into(),
            Self::OneOfImageAndPackage { .. } => "an ECS service takes an image; a Lambda service a package or an image".into(),
            Self::UnknownService { enabled, .. } => format!("services: {}", enabled.join(", ")),
            Self::PackageForEcs { .. } => "pass --image instead".into(),
            Self::LambdaImageWithoutRepository { .. } => "write the full reference, as `facturascan/scoring@sha256:...`".into(),
            Self::NotEcr { .. } => "push the image to the environment's ECR repository; deploys take ECR images only, so digests can be verified".into(),
            Self::NotARepositoryName { .. } => "ECR repository names are 2 to 256 lowercase letters, digits and `._-/`, as `facturascan/ocr`".into(),
            Self::NotATag { .. } => "a tag is 1 to 128 letters, digits, `_`, `.` and `-`, not starting with `.` or `-`".into(),
            Self::UnreadablePackage { .. } | Self::UnreadableLocalPackage { .. } => "build the zip first, or fix the path".into(),
            Self::PackageNotAFile { .. } => "name the .zip the build wrote".into(),
            Self::PackageTooLarge { .. } => "upload it to S3 and deploy it as `s3://bucket/key.zip`, or make it smaller (layers, fewer dependencies)".into(),
            Self::BadPackage { .. } => "a Lambda package is a .zip of the handler and its dependencies (`zip -r package.zip .`)".into(),
            Self::ImageLookupFailed { .. } => "push it first, or check the tag; a digest must exist in the repository".into(),
            Self::ImageNotFound { .. } => "push it first, or check the tag".into(),
            Self::NotAZip { .. } | Self::BadS3Package { .. } => "a Lambda package is a .zip of the handler and its dependencies".into(),
            Self::UnreadableS3Package { .. } => "check the bucket, the key and the deploy role's s3:GetObject permission".into(),
            Self::S3PackageCutOff { .. } => "retry the deploy".into(),
        }
    }
}

/// `service=ref` from `--image` or `--package`.
pub fn parse_assignment(text: &str) -> Result<(String, String), ArtifactError> {
    match text.split_once('=') {
        Some((service, value)) if !service.is_empty() && !value.is_empty() => {
            Ok((service.to_string(), value.to_string()))
        }
        _ => Err(ArtifactError::NotAnAssignment {
            text: text.to_string(),
        }),
    }
}

pub fn parse_image(text: &str) -> Result<ImageRef, ArtifactError> {
    let bad = || ArtifactError::NotAnImage {
        text: text.to_string(),
    };
    let (name, digest) = match text.split_once('@') {
        Some((name, digest)) => (name, Some(digest.to_string())),
        None if text.starts_with("sha256:") => ("", Some(text.to_string())),
        None => (text, None),
    };
    if let Some(d) = &digest {
        let hex = d.strip_prefix("sha256:").ok_or_else(bad)?;
        if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(bad());
        }
    }
    // A tag follows the last `:` after the last `/` (a registry may carry a port).
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (path, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (
            &name[..last_slash + i],
            Some(name[last_slash + i + 1..].to_string()),
        ),
        None => (name, None),
    };
    let (registry, repository) = match path.split_once('/') {
        Some((first, rest)) if first.contains('.') || first.contains(':') => {
            (Some(first.to_string()), rest.to_string())
        }
        _ => (None, path.to_string()),
    };
    // A bare word is a tag of the configured repository.
    let (repository, tag) = match (repository.as_str(), tag, &digest) {
        (word, None, None) if !word.contains('/') && registry.is_none() => {
            (String::new(), Some(word.to_string()))
        }
        (_, tag, _) => (repository, tag),
    };
    if tag.as_deref().is_some_and(|t| t.is_empty()) || (tag.is_none() && digest.is_none()) {
        return Err(bad());
    }
    Ok(ImageRef {
        registry,
        repository,
        tag,
        digest,
    })
}

pub fn parse_package(text: &str, base: &Path) -> Result<PackageSource, ArtifactError> {
    if let Some(rest) = text.strip_prefix("s3://") {
        let (location, version) = match rest.split_once("?versionId=") {
            Some((l, v)) => (l, Some(v.to_string())),
            None => (rest, None),
        };
        return match location.split_once('/') {
            Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => Ok(PackageSource::S3 {
                bucket: bucket.to_string(),
                key: key.to_string(),
                version,
            }),
            _ => Err(ArtifactError::NotAnS3Location {
                text: text.to_string(),
            }),
        };
    }
    Ok(PackageSource::File(base.join(text)))
}

/// The artifacts file a build job writes:
/// `{"services": {"ocr": {"image": "..."}, "parser": {"package": "dist/parser.zip"}}}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ArtifactsFile {
    #[serde(deserialize_with = "unique_services")]
    services: BTreeMap<String, FileEntry>,
}

/// The services of an artifacts file, each once: JSON lets a key repeat and serde keeps the
/// last, so a build job that wrote a service twice would deploy one of the two silently.
fn unique_services<'de, D>(deserializer: D) -> Result<BTreeMap<String, FileEntry>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct Unique;
    impl<'de> serde::de::Visitor<'de> for Unique {
        type Value = BTreeMap<String, FileEntry>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a map of service name to its artifact")
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            // Refused at the key, so the error's line is the second naming's.
            while let Some(key) = map.next_key::<String>()? {
                if out.contains_key(&key) {
                    return Err(serde::de::Error::custom(format!(
                        "service `{key}` is named twice"
                    )));
                }
                let value = map.next_value::<FileEntry>()?;
                out.insert(key, value);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_map(Unique)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    package: Option<String>,
}

/// Reads an artifacts file; package paths are relative to the file.
pub fn read_file(path: &Path) -> Result<BTreeMap<String, ArtifactRef>, ArtifactError> {
    let bytes = crate::files::read_bounded(path, 1 << 20).map_err(|e| {
        let problem = match e {
            crate::files::ReadError::Io(e) => FileProblem::Io(e.to_string()),
            crate::files::ReadError::NotRegular => FileProblem::NotRegular,
            crate::files::ReadError::TooLarge { limit } => FileProblem::TooLarge {
                limit: limit as u64,
            },
        };
        ArtifactError::UnreadableFile {
            path: path.to_path_buf(),
            problem,
        }
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let file: ArtifactsFile =
        serde_json::from_str(&text).map_err(|e| ArtifactError::InvalidFile {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            error: e.to_string(),
        })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut out = BTreeMap::new();
    for (service, entry) in file.services {
        let artifact = match (entry.image, entry.package) {
            (Some(image), None) => ArtifactRef::Image(parse_image(&image)?),
            (None, Some(package)) => ArtifactRef::Package(parse_package(&package, base)?),
            _ => {
                return Err(ArtifactError::OneOfImageAndPackage {
                    path: path.to_path_buf(),
                    service,
                });
            }
        };
        out.insert(service, artifact);
    }
    Ok(out)
}

/// Checks every named artifact against the config: the service exists, is enabled, and
/// takes that kind of artifact. Before any AWS call.
pub fn check(
    config: &Config,
    artifacts: &BTreeMap<String, ArtifactRef>,
) -> Result<(), ArtifactError> {
    for (name, artifact) in artifacts {
        let Some(service) = config.services.get(name).filter(|s| s.enabled) else {
            return Err(ArtifactError::UnknownService {
                service: name.clone(),
                environment: config.environment.name.clone(),
                enabled: config
                    .services
                    .iter()
                    .filter(|(_, s)| s.enabled)
                    .map(|(n, _)| n.clone())
                    .collect(),
            });
        };
        if let (Some(Runtime::Ecs(_)), ArtifactRef::Package(_)) = (service.runtime(), artifact) {
            return Err(ArtifactError::PackageForEcs {
                service: name.clone(),
            });
        }
        if let (Some(Runtime::Lambda(_)), ArtifactRef::Image(image)) = (service.runtime(), artifact)
            && image.repository.is_empty()
        {
            return Err(ArtifactError::LambdaImageWithoutRepository {
                service: name.clone(),
            });
        }
        match artifact {
            ArtifactRef::Image(image) => check_image(config, name, image)?,
            ArtifactRef::Package(PackageSource::File(path)) => check_package(name, path)?,
            ArtifactRef::Package(PackageSource::S3 { .. }) => {}
        }
    }
    Ok(())
}

/// What ECR would refuse, found offline: another registry, a repository name ECR does not
/// allow (uppercase, say), a tag Docker does not allow.
fn check_image(config: &Config, service: &str, image: &ImageRef) -> Result<(), ArtifactError> {
    let (registry, repository) = image_location(config, service, image);
    if !is_ecr_registry(&registry) {
        return Err(ArtifactError::NotEcr {
            service: service.to_string(),
            registry,
        });
    }
    if !is_repository_name(&repository) {
        return Err(ArtifactError::NotARepositoryName {
            service: service.to_string(),
            repository,
        });
    }
    if let Some(tag) = &image.tag
        && !is_tag(tag)
    {
        return Err(ArtifactError::NotATag {
            service: service.to_string(),
            tag: tag.clone(),
        });
    }
    Ok(())
}

/// `<account>.dkr.ecr.<region>.amazonaws.com` (or `.amazonaws.com.cn`).
fn is_ecr_registry(registry: &str) -> bool {
    let parts: Vec<&str> = registry.split('.').collect();
    parts.len() >= 6
        && parts[0].len() == 12
        && parts[0].bytes().all(|b| b.is_ascii_digit())
        && parts[1] == "dkr"
        && parts[2] == "ecr"
        && parts[4] == "amazonaws"
}

/// ECR's pattern: `(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*`, 2 to
/// 256 characters.
fn is_repository_name(name: &str) -> bool {
    let component = |c: &str| {
        !c.is_empty()
            && c.split(['.', '_', '-']).all(|run| {
                !run.is_empty()
                    && run
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            })
    };
    (2..=256).contains(&name.len()) && name.split('/').all(component)
}

/// Docker's tag grammar: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn is_tag(tag: &str) -> bool {
    (1..=128).contains(&tag.len())
        && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// A package Lambda would refuse, found offline: missing, not a file, empty, not a zip, or
/// over Lambda's size limits.
fn check_package(service: &str, path: &Path) -> Result<(), ArtifactError> {
    use super::package;
    use crate::files::ReadError;
    let (service, path) = (service.to_string(), path.to_path_buf());
    let bytes = crate::files::read_bounded(&path, package::MAX_ZIPPED_BYTES as usize).map_err(
        |e| match e {
            ReadError::Io(e) => ArtifactError::UnreadablePackage {
                service: service.clone(),
                path: path.clone(),
                error: e.to_string(),
            },
            ReadError::NotRegular => ArtifactError::PackageNotAFile {
                service: service.clone(),
                path: path.clone(),
            },
            ReadError::TooLarge { .. } => ArtifactError::PackageTooLarge {
                service: service.clone(),
                path: path.clone(),
                limit: package::MAX_ZIPPED_BYTES,
            },
        },
    )?;
    package::inspect(&bytes)
        .map(|_| ())
        .map_err(|problem| ArtifactError::BadPackage {
            service,
            path,
            problem,
        })
}

/// The registry and repository an image reference points at, with the service's
/// configured repository and the environment's registry filled in.
fn image_location(config: &Config, service: &str, image: &ImageRef) -> (String, String) {
    let configured = config
        .services
        .get(service)
        .and_then(|s| s.ecs.as_ref())
        .map(|e| e.repository.clone())
        .unwrap_or_default();
    let repository = if image.repository.is_empty() {
        configured
    } else {
        image.repository.clone()
    };
    // A configured repository may be a full URI: its registry part is not the name.
    let (registry_in_repo, repository) = match repository.split_once(".amazonaws.com/") {
        Some((registry, name)) => (Some(format!("{registry}.amazonaws.com")), name.to_string()),
        None => (None, repository),
    };
    let env = &config.environment;
    let registry = image
        .registry
        .clone()
        .or(registry_in_repo)
        .unwrap_or_else(|| format!("{}.dkr.ecr.{}.amazonaws.com", env.account_id, env.region));
    (registry, repository)
}

/// Resolves every artifact: images to digests (one DescribeImages per repository), packages
/// to their bytes (or S3 location) and CodeSha256.
pub async fn resolve(
    aws: &AwsContext,
    config: &Config,
    artifacts: &BTreeMap<String, ArtifactRef>,
) -> Result<BTreeMap<String, Artifact>, ArtifactError> {
    let jobs = artifacts.iter().map(|(name, artifact)| async move {
        let resolved = match artifact {
            ArtifactRef::Image(image) => resolve_image(aws, config, name, image).await?,
            ArtifactRef::Package(source) => resolve_package(aws, source).await?,
        };
        Ok::<_, ArtifactError>((name.clone(), resolved))
    });
    futures_util::future::try_join_all(jobs)
        .await
        .map(|pairs| pairs.into_iter().collect())
}

async fn resolve_image(
    aws: &AwsContext,
    config: &Config,
    service: &str,
    image: &ImageRef,
) -> Result<Artifact, ArtifactError> {
    // `check` has refused what ECR would: the location is an ECR repository.
    let (registry, repository) = image_location(config, service, image);
    let registry_id = registry.split('.').next().unwrap_or_default().to_string();
    let id = aws_sdk_ecr::types::ImageIdentifier::builder()
        .set_image_tag(image.tag.clone().filter(|_| image.digest.is_none()))
        .set_image_digest(image.digest.clone())
        .build();
    let named = image
        .digest
        .clone()
        .or_else(|| image.tag.clone())
        .unwrap_or_default();
    let found = aws
        .ecr
        .describe_images()
        .registry_id(&registry_id)
        .repository_name(&repository)
        .image_ids(id)
        .send()
        .await
        .map_err(|e| ArtifactError::ImageLookupFailed {
            service: service.to_string(),
            repository: repository.clone(),
            named: named.clone(),
            said: crate::aws::AwsError::new("DescribeImages", e).message,
        })?;
    let digest = found
        .image_details()
        .first()
        .and_then(|d| d.image_digest())
        .map(str::to_string)
        .ok_or_else(|| ArtifactError::ImageNotFound {
            service: service.to_string(),
            repository: repository.clone(),
            named: named.clone(),
        })?;
    Ok(Artifact::Image {
        uri: format!("{registry}/{repository}@{digest}"),
        digest,
        tag: image.tag.clone(),
    })
}

/// Lambda's CodeSha256 of a zip.
pub fn code_sha256(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

async fn resolve_package(
    aws: &AwsContext,
    source: &PackageSource,
) -> Result<Artifact, ArtifactError> {
    match source {
        PackageSource::File(path) => {
            let bytes = std::fs::read(path).map_err(|e| ArtifactError::UnreadableLocalPackage {
                path: path.clone(),
                error: e.to_string(),
            })?;
            if !bytes.starts_with(b"PK") {
                return Err(ArtifactError::NotAZip { path: path.clone() });
            }
            Ok(Artifact::Package {
                source: path.display().to_string(),
                code_sha256: code_sha256(&bytes),
                code: PackageCode::Zip(bytes),
            })
        }
        PackageSource::S3 {
            bucket,
            key,
            version,
        } => {
            let named = format!("s3://{bucket}/{key}");
            let object = aws
                .s3
                .get_object()
                .bucket(bucket)
                .key(key)
                .set_version_id(version.clone())
                .send()
                .await
                .map_err(|e| ArtifactError::UnreadableS3Package {
                    location: named.clone(),
                    said: crate::aws::AwsError::new("GetObject", e).message,
                })?;
            let bytes = object
                .body
                .collect()
                .await
                .map_err(|e| ArtifactError::S3PackageCutOff {
                    location: named.clone(),
                    error: e.to_string(),
                })?
                .into_bytes();
            // Lambda would refuse it mid-rollout: refused here, before any stack moves.
            super::package::inspect_from_s3(&bytes).map_err(|problem| {
                ArtifactError::BadS3Package {
                    location: named.clone(),
                    problem,
                }
            })?;
            Ok(Artifact::Package {
                source: named,
                code_sha256: code_sha256(&bytes),
                code: PackageCode::S3 {
                    bucket: bucket.clone(),
                    key: key.clone(),
                    version: version.clone(),
                },
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn image_references_parse() {
        let tag = parse_image("v1.4.2").unwrap();
        assert_eq!(
            (tag.repository.as_str(), tag.tag.as_deref()),
            ("", Some("v1.4.2"))
        );
        let digest = parse_image(D).unwrap();
        assert_eq!(digest.digest.as_deref(), Some(D));
        let full = parse_image(&format!(
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/facturascan/ocr@{D}"
        ))
        .unwrap();
        assert_eq!(
            full.registry.as_deref(),
            Some("123456789012.dkr.ecr.eu-west-1.amazonaws.com")
        );
        assert_eq!(full.repository, "facturascan/ocr");
        let repo_tag = parse_image("facturascan/ocr:v2").unwrap();
        assert_eq!(
            (repo_tag.repository.as_str(), repo_tag.tag.as_deref()),
            ("facturascan/ocr", Some("v2"))
        );
        let port = parse_image("localhost:5000/ocr:v2").unwrap();
        assert_eq!(
            (port.registry.as_deref(), port.repository.as_str()),
            (Some("localhost:5000"), "ocr")
        );
    }

    #[test]
    fn bad_image_references_are_refused() {
        for bad in ["sha256:abc", "ocr@sha256:zz", "facturascan/ocr", "ocr:", ""] {
            assert!(parse_image(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn packages_are_files_or_s3_objects() {
        assert_eq!(
            parse_package("s3://b/k/p.zip?versionId=3", Path::new(".")).unwrap(),
            PackageSource::S3 {
                bucket: "b".into(),
                key: "k/p.zip".into(),
                version: Some("3".into())
            }
        );
        assert_eq!(
            parse_package("dist/p.zip", Path::new("/a")).unwrap(),
            PackageSource::File(PathBuf::from("/a/dist/p.zip"))
        );
        assert!(parse_package("s3://bucket", Path::new(".")).is_err());
    }

    #[test]
    fn code_sha256_is_lambdas() {
        // base64(sha256("")), as `openssl dgst -sha256 -binary | base64` prints it.
        assert_eq!(
            code_sha256(b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn ecr_names_are_checked_as_ecr_checks_them() {
        for good in ["facturascan/ocr", "ocr", "a/b-c/d_e.f", "ab"] {
            assert!(is_repository_name(good), "{good}");
        }
        for bad in [
            "Facturascan/ocr",
            "ocr/",
            "/ocr",
            "a--b/",
            "a",
            "o__",
            "ocr//x",
            "ocr:x",
        ] {
            assert!(!is_repository_name(bad), "{bad}");
        }
        assert!(is_ecr_registry(
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
        ));
        assert!(is_ecr_registry(
            "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn"
        ));
        for bad in [
            "docker.io",
            "localhost:5000",
            "12345.dkr.ecr.eu-west-1.amazonaws.com",
            "ghcr.io",
        ] {
            assert!(!is_ecr_registry(bad), "{bad}");
        }
        assert!(is_tag("v1.4.2") && is_tag("_x") && !is_tag(".x") && !is_tag("-x"));
        assert!(!is_tag(&"a".repeat(129)));
    }

    #[test]
    fn packages_lambda_would_refuse_are_refused_offline() {
        let dir = std::env::temp_dir().join(format!("facturactl-pkg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cases: [(&str, &[u8], &str); 3] = [
            ("empty.zip", b"", "is empty"),
            ("text.zip", b"hello", "is not a zip file"),
            ("fake.zip", b"PK\x03\x04 not really", "is not a zip file"),
        ];
        for (name, bytes, says) in cases {
            std::fs::write(dir.join(name), bytes).unwrap();
            let error = check_package("parser", &dir.join(name)).unwrap_err();
            assert!(error.to_string().contains(says), "{name}: {error}");
        }
        let error = check_package("parser", &dir).unwrap_err();
        assert!(error.to_string().contains("is not a file"), "{error}");
        let error = check_package("parser", &dir.join("missing.zip")).unwrap_err();
        assert!(
            error.to_string().contains("cannot read the package"),
            "{error}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_artifacts_file_naming_a_service_twice_is_refused_at_its_line() {
        let dir = std::env::temp_dir().join(format!("facturactl-art-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("artifacts.json");
        std::fs::write(
            &file,
            "{\"services\": {\n  \"ocr\": {\"image\": \"v1\"},\n  \"ocr\": {\"image\": \"v2\"}\n}}\n",
        )
        .unwrap();
        let error = read_file(&file).unwrap_err();
        assert!(
            error.to_string().contains("service `ocr` is named twice"),
            "{error}"
        );
        assert!(error.to_string().contains("artifacts.json:3:"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
