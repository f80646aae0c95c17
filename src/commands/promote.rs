//! `promote --from A --to B`: B gets exactly what A's last deploy recorded (same digests,
//! same code, same commit), after B's release gate passes for that commit.

use std::collections::BTreeMap;
use std::path::Path;

use super::deploy::{self, Changes};
use super::guarded::{self, Deployed, Guard};
use super::{Session, steps};
use crate::config::{Config, RuntimeKind, Tier};
use crate::error::{Error, NothingToPromote, Refusal, Unconfirmed, Usage};
use crate::models::registry::S3Registry;
use crate::models::{ModelError, ModelPin, ModelVersion, Registry};
use crate::release::record::Operation;
use crate::release::record::Record;
use crate::release::store::Store;

use crate::services::artifact::{self, ArtifactRef};
use crate::stacks::deploy::DeployOptions;

pub struct Request {
    pub from: String,
    pub to: String,
    pub yes: bool,
    pub tag: Option<String>,
    pub skip_wait: bool,
    /// Promote even a release older than what the target runs.
    pub allow_downgrade: bool,
}

pub async fn run(session: &Session<'_>, request: Request) -> Result<Deployed, Error> {
    let (from, to) = (&request.from, &request.to);
    if from == to {
        return Err(Usage::PromoteToItself {
            environment: from.clone(),
        }
        .into());
    }
    let source = session.load(from)?;
    let target = session.load(to)?;
    let rendered = steps::render_checked(&target)?;
    steps::refuse_on_policy(&target, &rendered)?;
    let last = {
        let aws = session.aws_to_read(&source.config.environment).await;
        Store::new(&aws, &source.config)
            .records(Some(1))
            .await
            .map_err(|e| unreadable(from, to, e))?
            .pop()
    };
    let (record, commit) = promotable(from, last)?;
    // The target's gate, for the commit the source runs: its release tag must point there.
    let accepted = steps::gate(session, &target, request.tag.clone(), Some(commit.clone()))?;
    let Artifacts {
        mut wanted,
        expected,
    } = artifacts_of(from, &record, &target.config)?;
    artifact::check(&target.config, &wanted)?;
    into_target_registry(&source.config, &target.config, &mut wanted);
    refuse_unpullable(&target.config, &wanted)?;
    // The target's account is checked before anything else reaches it.
    let aws = session.aws(&target.config.environment).await?;
    super::preflight::gate(session, &aws, &target.config).await?;
    let requested = record.tag.as_deref();
    steps::refuse_downgrade(&aws, &target.config, requested, request.allow_downgrade).await?;
    refuse_missing(&aws, &target.config, &wanted).await?;
    let models = source_models(session, &source.config, &target.config, &record).await?;
    if !models.is_empty() {
        S3Registry::new(&aws, target.config.models_bucket())
            .require(&target.config.environment.name)
            .await?;
    }
    session
        .console
        .note(&summary(from, to, &record, &commit, &wanted));
    let production = target.config.environment.tier == Tier::Production;
    if !request.yes {
        if !session.console.confirm("Go on?") {
            return Err(Refusal::NotConfirmed(Unconfirmed::Promote { to: to.clone() }).into());
        }
        steps::confirm_destructive(session, &aws, &target, &rendered, &[]).await?;
    }
    // Confirmed: the models the source runs are copied into the target's registry (same
    // bytes, same address, same number) before the lock, like images replicated before.
    let models = adopt_models(&aws, &target.config, models).await?;
    let mut changes = Changes {
        loaded: &target,
        rendered: &rendered,
        options: DeployOptions {
            protect_data: production,
            templates: steps::template_bucket(&target.config),
            ..DeployOptions::default()
        },
        wanted,
        expected,
        resolved: BTreeMap::new(),
        models,
        skip_wait: request.skip_wait,
    };
    changes.resolve_before_lock(&aws).await?;
    let guard = Guard {
        operation: Operation::Promote,
        config: &target.config,
        provenance: steps::provenance(session, &target, Some(&accepted)),
        from: Some(format!("{from}/{}", record.id)),
    };
    guarded::run(session, &aws, &guard, async |store| {
        deploy::apply(session, &aws, store, &guard, &changes).await
    })
    .await
}

/// The models the source's record says its services run, for the target's services that
/// declare one: each version read from the source's registry, its bytes hashed against the
/// record and the registry, its input compared with the target's declaration. Read-only.
async fn source_models(
    session: &Session<'_>,
    source: &Config,
    target: &Config,
    record: &Record,
) -> Result<Vec<(String, ModelVersion, Vec<u8>)>, Error> {
    let pinned: Vec<(&String, &ModelPin)> = record
        .services
        .iter()
        .filter_map(|(service, entry)| Some((service, entry.model.as_ref()?)))
        .filter(|(service, _)| {
            target
                .services
                .get(*service)
                .is_some_and(|s| s.enabled && s.model.is_some())
        })
        .collect();
    if pinned.is_empty() {
        return Ok(Vec::new());
    }
    let source_aws = session.aws_to_read(&source.environment).await;
    let mut models = Vec::new();
    for (service, pin) in pinned {
        // The source's registry, S3 or MLflow: the pinned version as it registered it.
        let registry = Registry::of(&source_aws, source, &pin.name);
        let version = registry.version(&pin.name, pin.version).await?;
        if version.artifact.sha256 != pin.sha256 {
            return Err(ModelError::HashMismatch {
                name: pin.name.clone(),
                version: pin.version,
                uri: pin.uri.clone(),
                expected: pin.sha256.clone(),
                found: version.artifact.sha256,
            }
            .into());
        }
        let bytes = registry.read_verified(&version).await?;
        if let Some(declared) = target.services.get(service).and_then(|s| s.model.as_ref()) {
            crate::models::resolve::check_input(service, declared, &version)?;
        }
        models.push((service.clone(), version, bytes));
    }
    Ok(models)
}

/// Each source model written into the target's registry; the pins the target will run.
async fn adopt_models(
    aws: &crate::aws::AwsContext,
    target: &Config,
    models: Vec<(String, ModelVersion, Vec<u8>)>,
) -> Result<BTreeMap<String, ModelPin>, Error> {
    let registry = S3Registry::new(aws, target.models_bucket());
    let mut pins = BTreeMap::new();
    for (service, version, bytes) in models {
        let adopted = registry.adopt(&version, &bytes).await?;
        pins.insert(service, adopted.pin());
    }
    Ok(pins)
}

/// A read of the source refused by AWS: the grant the target reads through is missing.
fn unreadable(from: &str, to: &str, error: crate::aws::AwsError) -> Error {
    if error.failure() == crate::aws::Failure::AccessDenied {
        return Refusal::SourceNotReadable {
            from: from.into(),
            to: to.into(),
            denied: error.message,
        }
        .into();
    }
    error.into()
}

/// The source's last record, if it may be promoted: it succeeded and names its commit.
pub fn promotable(from: &str, last: Option<Record>) -> Result<(Record, String), Refusal> {
    let refuse = |why| Refusal::NothingToPromote(why);
    let Some(record) = last else {
        return Err(refuse(NothingToPromote::NoRecord { from: from.into() }));
    };
    if !record.succeeded() {
        return Err(refuse(NothingToPromote::Failed {
            from: from.into(),
            record: record.id.clone(),
            at: record.at.clone(),
        }));
    }
    let Some(commit) = record.commit.clone() else {
        return Err(refuse(NothingToPromote::NoCommit {
            from: from.into(),
            record: record.id.clone(),
        }));
    };
    Ok((record, commit))
}

/// What a promotion rolls out.
#[derive(Debug, Default, PartialEq)]
pub struct Artifacts {
    /// What each service of the target gets: the artifact the source runs.
    pub wanted: BTreeMap<String, ArtifactRef>,
    /// The identity (digest, CodeSha256) each must resolve to.
    pub expected: BTreeMap<String, String>,
}

/// The artifacts of the source's record, for the services the target runs.
pub fn artifacts_of(from: &str, record: &Record, target: &Config) -> Result<Artifacts, Error> {
    let mut wanted = BTreeMap::new();
    let mut expected = BTreeMap::new();
    for (service, entry) in &record.services {
        if !target.services.get(service).is_some_and(|s| s.enabled) {
            continue;
        }
        let (reference, identity) = match (entry.runtime, &entry.image, &entry.package) {
            (RuntimeKind::Ecs, Some(image), _) => (
                ArtifactRef::Image(artifact::parse_image(image)?),
                entry.digest.clone(),
            ),
            (RuntimeKind::Lambda, _, Some(package)) => (
                ArtifactRef::Package(artifact::parse_package(package, Path::new(""))?),
                entry.code_sha256.clone(),
            ),
            (RuntimeKind::Lambda, Some(image), None) => {
                (ArtifactRef::Image(artifact::parse_image(image)?), None)
            }
            _ => {
                return Err(Refusal::NothingToPromote(NothingToPromote::NoArtifact {
                    from: from.into(),
                    service: service.clone(),
                })
                .into());
            }
        };
        wanted.insert(service.clone(), reference);
        if let Some(identity) = identity {
            expected.insert(service.clone(), identity);
        }
    }
    Ok(Artifacts { wanted, expected })
}

/// The registry an environment's tasks pull from: its own account's ECR in its region.
pub fn own_registry(config: &Config) -> String {
    format!(
        "{}.dkr.ecr.{}.amazonaws.com",
        config.environment.account_id, config.environment.region
    )
}

/// With the source's registry replicating into the target's (the target's registry stack
/// names the source's account as `SourceAccountId`), each image of the source's registry
/// runs from the target's own: same repository, same digest.
pub fn into_target_registry(
    source: &Config,
    target: &Config,
    wanted: &mut BTreeMap<String, ArtifactRef>,
) {
    let replicated = target
        .stacks
        .get("registry")
        .filter(|s| s.enabled)
        .and_then(|s| s.parameters.get("SourceAccountId"))
        .is_some_and(|p| p.0 == source.environment.account_id);
    if !replicated {
        return;
    }
    let (from, to) = (own_registry(source), own_registry(target));
    for reference in wanted.values_mut() {
        if let ArtifactRef::Image(image) = reference
            && image.registry.as_deref() == Some(from.as_str())
        {
            image.registry = Some(to.clone());
        }
    }
}

/// Refuses, before the lock, images the target's registry does not hold (replication not
/// finished, or not configured): each is looked up by digest, read-only.
async fn refuse_missing(
    aws: &crate::aws::AwsContext,
    target: &Config,
    wanted: &BTreeMap<String, ArtifactRef>,
) -> Result<(), Error> {
    let lookups = wanted.iter().filter_map(|(service, reference)| {
        let ArtifactRef::Image(_) = reference else {
            return None;
        };
        let one = BTreeMap::from([(service.clone(), reference.clone())]);
        Some(async move {
            let found = artifact::resolve(aws, target, &one).await;
            found.err().map(|e| (service.clone(), e.message))
        })
    });
    let images: Vec<(String, String)> = futures_util::future::join_all(lookups)
        .await
        .into_iter()
        .flatten()
        .collect();
    if images.is_empty() {
        return Ok(());
    }
    Err(Refusal::ImagesMissing {
        environment: target.environment.name.clone(),
        registry: own_registry(target),
        images,
    }
    .into())
}

/// Refuses (before any change) images the target's tasks could not pull: an image in
/// another account's registry is denied to the target's execution role.
pub fn refuse_unpullable(
    target: &Config,
    wanted: &BTreeMap<String, ArtifactRef>,
) -> Result<(), Refusal> {
    let registry = own_registry(target);
    let images: Vec<(String, String)> = wanted
        .iter()
        .filter_map(|(service, reference)| match reference {
            ArtifactRef::Image(image) => image
                .registry
                .as_ref()
                .filter(|r| **r != registry)
                .map(|r| (service.clone(), r.clone())),
            ArtifactRef::Package(_) => None,
        })
        .collect();
    if images.is_empty() {
        Ok(())
    } else {
        Err(Refusal::ImagesNotPullable {
            environment: target.environment.name.clone(),
            registry,
            images,
        })
    }
}

/// `Promote `staging` (<record>, commit <sha>) to `production`:` and a line per service.
fn summary(
    from: &str,
    to: &str,
    record: &Record,
    commit: &str,
    wanted: &BTreeMap<String, ArtifactRef>,
) -> String {
    let mut text = format!(
        "Promote `{from}` ({}, commit {}) to `{to}`:",
        record.id,
        &commit[..commit.len().min(12)]
    );
    for (service, reference) in wanted {
        let entry = &record.services[service];
        let what = match reference {
            ArtifactRef::Image(_) => entry.image.clone(),
            ArtifactRef::Package(_) => entry.code_sha256.clone(),
        };
        text.push_str(&format!("\n  {service}: {}", what.unwrap_or_default()));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RuntimeKind;
    use crate::notify::Verdict;
    use crate::release::record::ServiceRecord;

    fn staging() -> Config {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        crate::config::load(root, "staging", &crate::policy::rule_ids())
            .expect("the repository's staging config loads")
            .config
    }

    fn ecs(image: &str, digest: Option<&str>) -> ServiceRecord {
        ServiceRecord {
            runtime: RuntimeKind::Ecs,
            image: Some(image.into()),
            digest: digest.map(Into::into),
            task_definition: None,
            base_task_definition: None,
            version: None,
            code_sha256: None,
            package: None,
            model: None,
        }
    }

    fn lambda(package: Option<&str>, sha: &str) -> ServiceRecord {
        ServiceRecord {
            runtime: RuntimeKind::Lambda,
            image: None,
            digest: None,
            task_definition: None,
            base_task_definition: None,
            version: Some("3".into()),
            code_sha256: Some(sha.into()),
            package: package.map(Into::into),
            model: None,
        }
    }

    fn record(result: Verdict, commit: Option<&str>) -> Record {
        Record {
            id: "20261201T100000Z-abc".into(),
            action: Operation::Deploy,
            environment: "staging".into(),
            commit: commit.map(Into::into),
            tag: None,
            who: "ci".into(),
            at: "2026-12-01T10:00:00Z".into(),
            trace_id: "abc".into(),
            result,
            stacks: BTreeMap::new(),
            services: BTreeMap::new(),
            from: None,
            error: None,
        }
    }

    const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    #[test]
    fn only_a_successful_record_with_a_commit_is_promoted() {
        let refused = |last| match promotable("staging", last) {
            Err(Refusal::NothingToPromote(why)) => why,
            other => panic!("expected a refusal, got {other:?}"),
        };
        assert!(matches!(refused(None), NothingToPromote::NoRecord { .. }));
        assert!(matches!(
            refused(Some(record(Verdict::Failed, Some("c0ffee")))),
            NothingToPromote::Failed { .. }
        ));
        assert!(matches!(
            refused(Some(record(Verdict::Succeeded, None))),
            NothingToPromote::NoCommit { .. }
        ));
        let (found, commit) =
            promotable("staging", Some(record(Verdict::Succeeded, Some("c0ffee")))).unwrap();
        assert_eq!(
            (found.id.as_str(), commit.as_str()),
            ("20261201T100000Z-abc", "c0ffee")
        );
    }

    #[test]
    fn each_service_gets_what_the_source_runs_and_the_identity_it_must_have() {
        let mut source = record(Verdict::Succeeded, Some("c0ffee"));
        let image =
            format!("210987654321.dkr.ecr.eu-west-1.amazonaws.com/facturascan/ocr@{DIGEST}");
        source
            .services
            .insert("ocr".into(), ecs(&image, Some(DIGEST)));
        source.services.insert(
            "parser".into(),
            lambda(Some("s3://bucket/packages/parser.zip"), "c29tZWhhc2g="),
        );
        // Not a service of the target: left out, not refused.
        source
            .services
            .insert("retired".into(), ecs(&image, Some(DIGEST)));
        let artifacts = artifacts_of("staging", &source, &staging()).unwrap();
        assert_eq!(
            artifacts.wanted.keys().collect::<Vec<_>>(),
            ["ocr", "parser"]
        );
        assert_eq!(artifacts.expected["ocr"], DIGEST);
        assert_eq!(artifacts.expected["parser"], "c29tZWhhc2g=");
    }

    #[test]
    fn images_in_another_accounts_registry_are_refused_before_any_change() {
        let target = staging();
        let own = format!("{}/facturascan/ocr@{DIGEST}", own_registry(&target));
        let foreign =
            format!("111122223333.dkr.ecr.eu-west-1.amazonaws.com/facturascan/ocr@{DIGEST}");
        let wanted = |image: &str| -> BTreeMap<String, ArtifactRef> {
            [(
                "ocr".to_string(),
                ArtifactRef::Image(artifact::parse_image(image).unwrap()),
            )]
            .into()
        };
        assert!(refuse_unpullable(&target, &wanted(&own)).is_ok());
        match refuse_unpullable(&target, &wanted(&foreign)) {
            Err(Refusal::ImagesNotPullable { images, .. }) => assert_eq!(
                images,
                [(
                    "ocr".to_string(),
                    "111122223333.dkr.ecr.eu-west-1.amazonaws.com".to_string()
                )]
            ),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn production() -> Config {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        crate::config::load(root, "production", &crate::policy::rule_ids())
            .expect("the repository's production config loads")
            .config
    }

    #[test]
    fn a_replicated_image_runs_from_the_targets_own_registry_with_the_same_digest() {
        let (source, mut target) = (staging(), production());
        let staged = format!("{}/facturascan/ocr@{DIGEST}", own_registry(&source));
        let image = ArtifactRef::Image(artifact::parse_image(&staged).unwrap());
        let mut wanted: BTreeMap<String, ArtifactRef> = [("ocr".to_string(), image)].into();
        into_target_registry(&source, &target, &mut wanted);
        let ArtifactRef::Image(moved) = &wanted["ocr"] else {
            panic!("an image")
        };
        assert_eq!(
            moved.registry.as_deref(),
            Some(own_registry(&target).as_str())
        );
        assert_eq!(moved.digest.as_deref(), Some(DIGEST));
        assert!(refuse_unpullable(&target, &wanted).is_ok());

        // Without replication from staging, the image stays where it is, and is refused.
        let image = ArtifactRef::Image(artifact::parse_image(&staged).unwrap());
        let mut wanted: BTreeMap<String, ArtifactRef> = [("ocr".to_string(), image)].into();
        if let Some(registry) = target.stacks.get_mut("registry") {
            registry.parameters.shift_remove("SourceAccountId");
        }
        into_target_registry(&source, &target, &mut wanted);
        assert!(refuse_unpullable(&target, &wanted).is_err());
    }

    #[test]
    fn a_lambda_recorded_without_its_package_cannot_be_promoted() {
        let mut source = record(Verdict::Succeeded, Some("c0ffee"));
        source
            .services
            .insert("parser".into(), lambda(None, "c29tZWhhc2g="));
        match artifacts_of("staging", &source, &staging()) {
            Err(Error::Refused(Refusal::NothingToPromote(NothingToPromote::NoArtifact {
                service,
                ..
            }))) => assert_eq!(service, "parser"),
            other => panic!("expected NoArtifact, got {other:?}"),
        }
    }
}
