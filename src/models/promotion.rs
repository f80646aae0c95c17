//! Models in a promotion: the versions the source runs, read from its registry and checked,
//! then written into the target's registry (same bytes, same number) so the target's
//! services run them from their own account.

use std::collections::BTreeMap;

use super::approval::Approval;
use super::registry::S3Registry;
use super::{ModelError, ModelPin, ModelVersion, Registry};
use crate::aws::AwsContext;
use crate::config::{Config, Tier};

/// A model the target will run: its service, the source's version and its bytes, and the
/// source's approval of it (carried into the target's registry).
pub struct SourceModel {
    pub service: String,
    pub version: ModelVersion,
    pub bytes: Vec<u8>,
    pub approval: Option<Approval>,
}

/// Of `pins` (what the source's record says its services run), those of the target's
/// enabled services that declare a model: what a promotion carries over.
pub fn served_by(target: &Config, pins: BTreeMap<String, ModelPin>) -> BTreeMap<String, ModelPin> {
    pins.into_iter()
        .filter(|(service, _)| {
            target
                .services
                .get(service)
                .is_some_and(|s| s.enabled && s.model.is_some())
        })
        .collect()
}

/// Each of `pins` ([`served_by`] the target) read from the source's registry, its bytes
/// hashed against the pin and the registry, its input compared with the target's
/// declaration and, into production, its approval required. Read-only.
pub async fn read_source(
    source_aws: &AwsContext,
    source: &Config,
    target: &Config,
    pins: &BTreeMap<String, ModelPin>,
) -> Result<Vec<SourceModel>, ModelError> {
    let mut models = Vec::new();
    for (service, pin) in pins {
        // The source's registry, S3 or MLflow: the pinned version as it registered it.
        let registry = Registry::of(source_aws, source, &pin.name);
        let version = registry.version(&pin.name, pin.version).await?;
        if version.artifact.sha256 != pin.sha256 {
            return Err(ModelError::HashMismatch {
                name: pin.name.clone(),
                version: pin.version,
                uri: pin.uri.clone(),
                expected: pin.sha256.clone(),
                found: version.artifact.sha256,
            });
        }
        let bytes = registry.read_verified(&version).await?;
        if let Some(declared) = target.services.get(service).and_then(|s| s.model.as_ref()) {
            super::resolve::check_input(service, declared, &version)?;
        }
        if target.environment.tier == Tier::Production {
            registry.require_approved(&version).await?;
        }
        let approval = registry.approval(&pin.name, pin.version).await?;
        models.push(SourceModel {
            service: service.clone(),
            version,
            bytes,
            approval,
        });
    }
    Ok(models)
}

/// Each source model written into the target's registry; the pins the target will run.
pub async fn adopt(
    aws: &AwsContext,
    target: &Config,
    models: Vec<SourceModel>,
) -> Result<BTreeMap<String, ModelPin>, ModelError> {
    let registry = S3Registry::new(aws, target.models_bucket());
    let mut pins = BTreeMap::new();
    for model in models {
        let adopted = registry
            .adopt(&model.version, &model.bytes, model.approval.as_ref())
            .await?;
        pins.insert(model.service, adopted.pin());
    }
    Ok(pins)
}
