//! Promotion: what of a source environment's last release may go to a target, and from
//! which registry the target's tasks pull it. Read-only rules; `commands::promote` runs
//! them in order and then deploys.

use std::collections::BTreeMap;
use std::path::Path;

use super::record::Record;
use crate::aws::AwsContext;
use crate::config::{Config, RuntimeKind};
use crate::services::artifact::{self, ArtifactError, ArtifactRef};

/// Why a promotion cannot go on, found before any change.
#[derive(Debug)]
pub enum PromotionError {
    /// The source has nothing that may be promoted.
    Nothing(NothingToPromote),
    /// A recorded artifact does not parse.
    Artifact(ArtifactError),
    /// Images the target's tasks cannot pull: in another account's registry.
    ImagesNotPullable {
        environment: String,
        registry: String,
        images: Vec<ForeignImage>,
    },
    /// Images the target's registry does not hold (yet).
    ImagesMissing {
        environment: String,
        registry: String,
        images: Vec<MissingImage>,
    },
}

/// A service's image in another account's registry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ForeignImage {
    pub service: String,
    pub registry: String,
}

/// A service's image the target's registry does not hold, and what the lookup said.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MissingImage {
    pub service: String,
    pub why: String,
}

impl From<ArtifactError> for PromotionError {
    fn from(e: ArtifactError) -> Self {
        Self::Artifact(e)
    }
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NothingToPromote {
    NoRecord {
        from: String,
    },
    Failed {
        from: String,
        record: String,
        at: String,
    },
    NoCommit {
        from: String,
        record: String,
    },
    NoArtifact {
        from: String,
        service: String,
    },
    /// A/B experiments run in the source: which side goes was not said.
    Experiments {
        from: String,
        /// `service (variant at P%)`, one per experiment.
        running: Vec<String>,
    },
}

impl NothingToPromote {
    pub fn message(&self) -> String {
        match self {
            Self::NoRecord { from } => format!("`{from}` has no deployment record to promote"),
            Self::Failed { from, record, at } => format!(
                "`{from}`'s last deploy ({record}, {at}) failed: nothing is promoted from a failed release"
            ),
            Self::NoCommit { from, record } => {
                format!("`{from}`'s last deploy ({record}) recorded no commit")
            }
            Self::NoArtifact { from, service } => format!(
                "`{from}` records no artifact location for `{service}`: it cannot be promoted"
            ),
            Self::Experiments { from, running } => format!(
                "A/B experiments run in `{from}`: {}; which side is promoted was not said",
                running.join(", ")
            ),
        }
    }

    pub fn help(&self) -> String {
        match self {
            Self::NoRecord { .. } => "deploy it first".into(),
            Self::Failed { from, .. } => format!("fix and deploy `{from}` again, then promote"),
            Self::NoCommit { .. } => "deploy it from a git checkout".into(),
            Self::NoArtifact { from, service } => format!(
                "deploy `{service}` to `{from}` again with this version of facturactl, then promote"
            ),
            Self::Experiments { .. } => "end them first (`facturactl traffic evaluate --apply`, `traffic promote` or `traffic abort`), or pass `--side control` or `--side variant`".into(),
        }
    }
}

/// The source's last record, if it may be promoted: it succeeded and names its commit.
pub fn promotable(from: &str, last: Option<Record>) -> Result<(Record, String), NothingToPromote> {
    let Some(record) = last else {
        return Err(NothingToPromote::NoRecord { from: from.into() });
    };
    if !record.succeeded() {
        return Err(NothingToPromote::Failed {
            from: from.into(),
            record: record.id.clone(),
            at: record.at.clone(),
        });
    }
    let Some(commit) = record.commit.clone() else {
        return Err(NothingToPromote::NoCommit {
            from: from.into(),
            record: record.id.clone(),
        });
    };
    Ok((record, commit))
}

/// Which side of a running A/B split a promotion takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Side {
    Control,
    Variant,
}

/// The source's record as a promotion takes it: each service the target runs at the side
/// `side` names while an experiment runs, refused when one runs and no side was named.
pub fn settle_experiments(
    from: &str,
    mut record: Record,
    target: &Config,
    side: Option<Side>,
) -> Result<Record, NothingToPromote> {
    let running: Vec<String> = record
        .services
        .iter()
        .filter(|(service, _)| target.services.get(*service).is_some_and(|s| s.enabled))
        .filter_map(|(service, entry)| {
            let split = entry.split.as_ref()?;
            Some(format!("{service} (variant at {}%)", split.percent))
        })
        .collect();
    if running.is_empty() {
        return Ok(record);
    }
    let Some(side) = side else {
        return Err(NothingToPromote::Experiments {
            from: from.into(),
            running,
        });
    };
    for entry in record.services.values_mut() {
        let Some(split) = entry.split.take() else {
            continue;
        };
        if side == Side::Variant {
            *entry = *split.variant;
        }
    }
    Ok(record)
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
pub fn artifacts_of(
    from: &str,
    record: &Record,
    target: &Config,
) -> Result<Artifacts, PromotionError> {
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
                return Err(PromotionError::Nothing(NothingToPromote::NoArtifact {
                    from: from.into(),
                    service: service.clone(),
                }));
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
fn own_registry(config: &Config) -> String {
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
pub async fn refuse_missing(
    aws: &AwsContext,
    target: &Config,
    wanted: &BTreeMap<String, ArtifactRef>,
) -> Result<BTreeMap<String, artifact::Artifact>, PromotionError> {
    let lookups = wanted.iter().filter_map(|(service, reference)| {
        let ArtifactRef::Image(_) = reference else {
            return None;
        };
        let one = BTreeMap::from([(service.clone(), reference.clone())]);
        Some(async move {
            artifact::resolve(aws, target, &one)
                .await
                .map_err(|e| MissingImage {
                    service: service.clone(),
                    why: e.to_string(),
                })
        })
    });
    let mut found = BTreeMap::new();
    let mut images = Vec::new();
    for lookup in futures_util::future::join_all(lookups).await {
        match lookup {
            Ok(resolved) => found.extend(resolved),
            Err(missing) => images.push(missing),
        }
    }
    if images.is_empty() {
        // Resolved once: the promotion rolls out these, without asking ECR again.
        return Ok(found);
    }
    Err(PromotionError::ImagesMissing {
        environment: target.environment.name.clone(),
        registry: own_registry(target),
        images,
    })
}

/// Refuses (before any change) images the target's tasks could not pull: an image in
/// another account's registry is denied to the target's execution role.
pub fn refuse_unpullable(
    target: &Config,
    wanted: &BTreeMap<String, ArtifactRef>,
) -> Result<(), PromotionError> {
    let registry = own_registry(target);
    let images: Vec<ForeignImage> =
        wanted
            .iter()
            .filter_map(|(service, reference)| match reference {
                ArtifactRef::Image(image) => image
                    .registry
                    .as_ref()
                    .filter(|r| **r != registry)
                    .map(|r| ForeignImage {
                        service: service.clone(),
                        registry: r.clone(),
                    }),
                ArtifactRef::Package(_) => None,
            })
            .collect();
    if images.is_empty() {
        Ok(())
    } else {
        Err(PromotionError::ImagesNotPullable {
            environment: target.environment.name.clone(),
            registry,
            images,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RuntimeKind;
    use crate::notify::Verdict;
    use crate::release::record::{Operation, ServiceRecord};
    use std::path::Path;

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
            split: None,
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
            split: None,
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
            traffic: None,
            verification: None,
            skipped_verification: None,
        }
    }

    #[test]
    fn a_running_experiment_is_promoted_only_by_the_side_named() {
        let mut source = record(Verdict::Succeeded, Some("c0ffee"));
        let mut control = lambda(Some("s3://b/packages/scoring-3.zip"), "code-3");
        let mut variant = lambda(Some("s3://b/packages/scoring-4.zip"), "code-4");
        variant.version = Some("4".into());
        control.split = Some(crate::release::record::SplitRecord::starting(
            10,
            variant.clone(),
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_764_583_200),
        ));
        source.services.insert("scoring".into(), control.clone());
        source
            .services
            .insert("parser".into(), lambda(Some("s3://b/p.zip"), "p"));
        let target = staging();
        match settle_experiments("staging", source.clone(), &target, None) {
            Err(NothingToPromote::Experiments { running, .. }) => {
                assert_eq!(running, vec!["scoring (variant at 10%)".to_string()]);
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        let taken = |side| {
            settle_experiments("staging", source.clone(), &target, Some(side))
                .expect("a side was named")
                .services["scoring"]
                .clone()
        };
        assert_eq!(taken(Side::Variant), variant);
        let kept = taken(Side::Control);
        assert_eq!(kept.version.as_deref(), Some("3"));
        assert_eq!(kept.split, None);
        // Without an experiment, nothing to say.
        let mut plain = source.clone();
        plain.services.get_mut("scoring").expect("scoring").split = None;
        assert_eq!(
            settle_experiments("staging", plain.clone(), &target, None).expect("no experiment"),
            plain
        );
    }

    const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    #[test]
    fn only_a_successful_record_with_a_commit_is_promoted() {
        let refused = |last| match promotable("staging", last) {
            Err(why) => why,
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
            Err(PromotionError::ImagesNotPullable { images, .. }) => assert_eq!(
                images,
                [ForeignImage {
                    service: "ocr".to_string(),
                    registry: "111122223333.dkr.ecr.eu-west-1.amazonaws.com".to_string()
                }]
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
            Err(PromotionError::Nothing(NothingToPromote::NoArtifact { service, .. })) => {
                assert_eq!(service, "parser")
            }
            other => panic!("expected NoArtifact, got {other:?}"),
        }
    }
}
