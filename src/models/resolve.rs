//! `deploy --model <service>=<version or alias>`: checked against the config offline, then
//! resolved in the registry before anything changes: the bytes hashed, the input schema
//! compared with the service's.

use std::collections::BTreeMap;

use super::{ModelError, ModelRef, ModelVersion, Registry, schema_mismatches};
use crate::aws::AwsContext;
use crate::config::{Config, Tier};

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
