//! What a deploy rolls out beyond the artifacts it was given: ECS services whose base task
//! definition moved, and Lambda services that take a new model with their recorded code.

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::Config;
use crate::models::ModelError;
use crate::release::record::Record;
use crate::services::Placement;
use crate::services::artifact::{self, Artifact, ArtifactError, ArtifactRef, PackageSource};
use crate::stacks::deploy::{Action, StackResult, StacksRun};

/// Why a Lambda service's recorded code cannot carry its new model.
#[derive(Debug)]
pub enum RecordedCodeError {
    /// The record names no package (and hash) for it.
    Missing(ModelError),
    /// The recorded package location does not parse.
    Unparsable(ArtifactError),
}

/// The ECS services this deploy must look at, with where they run: those given an image;
/// those whose stack's base task definition is not the one the record says their revision
/// was made from (a changed cpu, memory, environment or role, or an earlier rollout that
/// did not finish); and those never rolled out whose stack changed in this run (they may
/// need their first revision, or are still awaiting an image). The others are left unread,
/// so a deploy that changes nothing makes no ECS request.
pub fn moved_bases(
    config: &Config,
    run: &StacksRun,
    resolved: &BTreeMap<String, Artifact>,
    current: Option<&Record>,
) -> BTreeMap<String, Placement> {
    let deployed: BTreeMap<&str, bool> = run
        .stacks
        .iter()
        .filter(|s| s.result == StackResult::Succeeded)
        .map(|s| {
            (
                s.stack.as_str(),
                !matches!(s.action, Action::None | Action::Unchanged),
            )
        })
        .collect();
    crate::services::placements(config, &run.outputs)
        .into_iter()
        .filter(|(name, placement)| {
            let stack = config.services.get(name).map(|s| s.stack.as_str());
            let Some(changed) = stack.and_then(|s| deployed.get(s)) else {
                return resolved.contains_key(name);
            };
            let recorded = current.and_then(|r| r.services.get(name));
            resolved.contains_key(name)
                || match recorded.map(|s| s.base_task_definition.as_deref()) {
                    Some(base) => base != Some(placement.base_task_definition.as_str()),
                    None => *changed,
                }
        })
        .map(|(name, mut placement)| {
            placement.recorded_image = current
                .and_then(|r| r.services.get(&name))
                .and_then(|s| s.image.clone());
            (name, placement)
        })
        .collect()
}

/// The Lambda services among `services` (each given a model) that were given no code.
pub fn lambdas_without_code<'s>(
    config: &Config,
    services: impl Iterator<Item = &'s String>,
    wanted: &BTreeMap<String, ArtifactRef>,
) -> Vec<String> {
    services
        .filter(|s| !wanted.contains_key(*s))
        .filter(|s| config.services.get(*s).is_some_and(|c| c.lambda.is_some()))
        .cloned()
        .collect()
}

/// The package and CodeSha256 the record says each service runs: rolled out again, the
/// same code takes the new model. A service without both cannot.
pub fn recorded_code(
    services: &[String],
    current: Option<&Record>,
) -> Result<BTreeMap<String, (PackageSource, String)>, RecordedCodeError> {
    let mut code = BTreeMap::new();
    for service in services {
        let entry = current.and_then(|r| r.services.get(service));
        let (Some(package), Some(sha)) = (
            entry.and_then(|e| e.package.as_deref()),
            entry.and_then(|e| e.code_sha256.as_deref()),
        ) else {
            return Err(RecordedCodeError::Missing(ModelError::NoCode(
                service.clone(),
            )));
        };
        let source = artifact::parse_package(package, Path::new(""))
            .map_err(RecordedCodeError::Unparsable)?;
        code.insert(service.clone(), (source, sha.to_string()));
    }
    Ok(code)
}
