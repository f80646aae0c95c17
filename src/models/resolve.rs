//! `deploy --model <service>=<version or alias>`: checked against the config offline, then
//! resolved in the registry before anything changes: the bytes hashed, the input schema
//! compared with the service's.

use std::collections::BTreeMap;

use super::{ModelError, ModelRef, ModelVersion, Registry, registry_kind, schema_mismatches};
use crate::aws::AwsContext;
use crate::config::{Config, ModelRegistry, Tier};

/// The `--model` assignments, each naming an enabled service that declares a model, once.
pub fn assignments(
    config: &Config,
    texts: &[String],
) -> Result<BTreeMap<String, ModelRef>, ModelError> {
    let mut refs = BTreeMap::new();
    for text in texts {
        let Some((service, reference)) = text.split_once('=') else {
            return Err(ModelError::BadAssignment(text.clone()));
        };
        let declares = config
            .services
            .get(service)
            .is_some_and(|s| s.enabled && s.model.is_some());
        if !declares {
            return Err(ModelError::NoModel(service.to_string()));
        }
        if refs
            .insert(service.to_string(), ModelRef::parse(reference)?)
            .is_some()
        {
            return Err(ModelError::Twice(service.to_string()));
        }
    }
    Ok(refs)
}

/// Each assignment resolved to a version whose bytes hash to the registered SHA-256 and
/// whose input is the one its service declares (and, in production, that is approved);
/// the first that is not is the error.
pub async fn resolve(
    aws: &AwsContext,
    config: &Config,
    refs: &BTreeMap<String, ModelRef>,
) -> Result<BTreeMap<String, ModelVersion>, ModelError> {
    let mut resolved = BTreeMap::new();
    for (service, reference) in refs {
        let Some(declared) = config.services.get(service).and_then(|s| s.model.as_ref()) else {
            return Err(ModelError::NoModel(service.clone()));
        };
        let registry = Registry::of(aws, config, &declared.name);
        let version = registry.resolve(&declared.name, reference).await?;
        check_input(service, declared, &version)?;
        if config.environment.tier == Tier::Production {
            registry.require_approved(&version).await?;
        }
        resolved.insert(service.clone(), version);
    }
    Ok(resolved)
}

/// Refuses a version whose input schema is not the one `service` declares, naming every
/// field that differs.
pub fn check_input(
    service: &str,
    declared: &crate::config::ServiceModel,
    version: &ModelVersion,
) -> Result<(), ModelError> {
    let fields = schema_mismatches(&declared.input, &version.input);
    if fields.is_empty() {
        return Ok(());
    }
    Err(ModelError::SchemaMismatch {
        service: service.to_string(),
        name: version.name.clone(),
        version: version.version,
        fields,
    })
}

/// Each version from MLflow copied into the environment's own registry (its bytes hashed
/// on the way, as a promotion copies them), so `MODEL_URI` names the models bucket, which
/// the service's role may read, not MLflow's artifact store, which it may not; with its
/// approval. Versions of the S3 registry are returned as they are. `write: false` (a dry
/// run) names where the copy would be, writing nothing.
pub async fn into_registry(
    aws: &AwsContext,
    config: &Config,
    versions: BTreeMap<String, ModelVersion>,
    write: bool,
) -> Result<BTreeMap<String, ModelVersion>, ModelError> {
    let store = super::registry::S3Registry::new(aws, config.models_bucket());
    let mut out = BTreeMap::new();
    for (service, version) in versions {
        if registry_kind(config, &version.name) != ModelRegistry::Mlflow {
            out.insert(service, version);
            continue;
        }
        let adopted = if write {
            let registry = Registry::of(aws, config, &version.name);
            let bytes = registry.read_verified(&version).await?;
            let approval = registry.approval(&version.name, version.version).await?;
            store.adopt(&version, &bytes, approval.as_ref()).await?
        } else {
            ModelVersion {
                artifact: store.address(&version.name, &version.artifact),
                ..version
            }
        };
        out.insert(service, adopted);
    }
    Ok(out)
}
