//! `deploy`: the release gate, then under the lock: artifacts resolved and alarm gates
//! checked, stacks in dependency order, alarms, service rollouts, the record; then the
//! notifications. `--dry-run` shows the plan and stops.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::apply::{self, Changes};
use super::guarded::{self, Deployed, Guard};
use super::{Session, steps};
use crate::aws::AwsContext;
use crate::config::{LoadedConfig, Tier};
use crate::deployment::rollouts;
use crate::error::{Error, Usage};
use crate::models::ModelPin;
use crate::release::record::Operation;
use crate::release::store::Store;
use crate::services::artifact::{self, ArtifactRef};
use crate::stacks::deploy::DeployOptions;
use crate::stacks::plan::Plan;

pub struct Request {
    pub stacks: Vec<String>,
    pub max_concurrency: usize,
    pub no_wait: bool,
    pub recreate_failed: bool,
    pub dry_run: bool,
    pub yes: bool,
    pub allow_data_replacement: bool,
    /// `service=image`, repeatable.
    pub images: Vec<String>,
    /// `service=zip`, repeatable.
    pub packages: Vec<String>,
    pub artifacts: Option<PathBuf>,
    pub skip_wait: bool,
    pub tag: Option<String>,
    /// Deploy even a release older than what the environment runs.
    pub allow_downgrade: bool,
    /// `service=version|alias`, repeatable: the model a service serves.
    pub models: Vec<String>,
    /// `--plan FILE`: execute the change sets `plan --save` kept, nothing else.
    pub plan: Option<PathBuf>,
}

pub enum Outcome {
    /// `--dry-run`: what would change.
    Planned(Box<Plan>),
    Deployed(Box<Deployed>),
}

pub async fn run(session: &Session<'_>, request: Request) -> Result<Outcome, Error> {
    let (loaded, rendered) = steps::load_checked(session, session.env()?)?;
    steps::check_stack_names(&rendered, &request.stacks)?;
    let wanted = artifact_refs(
        &loaded,
        &request.images,
        &request.packages,
        request.artifacts.as_deref(),
    )?;
    let model_refs = crate::models::resolve::assignments(&loaded.config, &request.models)?;
    let saved = request
        .plan
        .as_deref()
        .map(|p| steps::read_plan(p, false))
        .transpose()?;
    // The release gate comes first: a refused release touches nothing.
    let accepted = steps::gate(session, &loaded, request.tag.clone(), None)?;
    let aws = session.aws(&loaded.config.environment).await?;
    if request.dry_run {
        let refs = &model_refs;
        let versions = crate::models::resolve::resolve(&aws, &loaded.config, refs).await?;
        let versions =
            crate::models::resolve::into_registry(&aws, &loaded.config, versions, false).await?;
        let pins = versions.iter().map(|(s, v)| (s.clone(), v.pin())).collect();
        let store = Store::new(&aws, &loaded.config);
        let rendered = crate::release::pin_models(&store, &loaded.config, &rendered, &pins)
            .await?
            .rendered;
        let only = steps::only(&request.stacks);
        let templates = crate::release::template_bucket(&aws, &loaded.config, &rendered).await?;
        let options = crate::stacks::plan::PlanOptions {
            only: only.as_ref(),
            ..Default::default()
        };
        let plan = crate::stacks::plan::plan(&aws, &rendered, options, &templates).await?;
        return Ok(Outcome::Planned(Box::new(plan)));
    }
    // Read-only, before the lock: what AWS would refuse mid-deploy is refused now.
    steps::preflight(session, &aws, &loaded.config).await?;
    let requested = accepted.tag.as_deref();
    steps::refuse_downgrade(&aws, &loaded.config, requested, request.allow_downgrade).await?;
    let production = loaded.config.environment.tier == Tier::Production;
    if let Some(saved) = &saved {
        steps::check_plan(&aws, &loaded.config, &rendered, &BTreeMap::new(), saved).await?;
    }
    if !request.yes {
        steps::confirm_destructive(session, &aws, &loaded, &rendered, &request.stacks).await?;
    }
    let mut wanted = wanted;
    let mut expected = BTreeMap::new();
    let models = resolve_models(&aws, &loaded, &model_refs, &mut wanted, &mut expected).await?;
    let mut changes = Changes {
        loaded: &loaded,
        rendered: &rendered,
        options: DeployOptions {
            max_concurrency: request.max_concurrency,
            no_wait: request.no_wait,
            recreate_failed: request.recreate_failed,
            only: steps::only(&request.stacks),
            protect_data: production,
            allow_data_replacement: request.allow_data_replacement,
            templates: crate::stacks::template::TemplateBucket::of(&loaded.config),
            saved: saved
                .as_ref()
                .map(crate::stacks::saved::SavedPlan::by_stack),
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
        operation: Operation::Deploy,
        config: &loaded.config,
        provenance: steps::provenance(session, &loaded, Some(&accepted)),
        from: None,
    };
    let deployed = guarded::run(session, &aws, &guard, async |store| {
        apply::apply(session, &aws, store, &guard, &changes).await
    })
    .await?;
    Ok(Outcome::Deployed(Box::new(deployed)))
}

/// The `--model` assignments resolved (bytes hashed, schemas compared) before anything
/// changes. A Lambda service whose model changes needs a new version even without new
/// code: its recorded package is rolled out again (the same code, checked by its hash),
/// and the new version takes the model from the stack's parameters.
async fn resolve_models(
    aws: &AwsContext,
    loaded: &LoadedConfig,
    refs: &BTreeMap<String, crate::models::ModelRef>,
    wanted: &mut BTreeMap<String, ArtifactRef>,
    expected: &mut BTreeMap<String, String>,
) -> Result<BTreeMap<String, ModelPin>, Error> {
    if refs.is_empty() {
        return Ok(BTreeMap::new());
    }
    let config = &loaded.config;
    let versions = crate::models::resolve::resolve(aws, config, refs).await?;
    // Copied before the lock: registry writes are content-addressed and write-once.
    let versions = crate::models::resolve::into_registry(aws, config, versions, true).await?;
    let without_code = rollouts::lambdas_without_code(config, versions.keys(), wanted);
    if !without_code.is_empty() {
        let current = Store::new(aws, config).current().await?;
        for (service, (package, sha)) in rollouts::recorded_code(&without_code, current.as_ref())? {
            wanted.insert(service.clone(), ArtifactRef::Package(package));
            expected.insert(service, sha);
        }
    }
    Ok(versions
        .into_iter()
        .map(|(service, version)| (service, version.pin()))
        .collect())
}

/// The artifacts named by `--image`, `--package` and `--artifacts`, checked against the
/// config (no AWS call yet). A service named twice is an error.
pub(super) fn artifact_refs(
    loaded: &LoadedConfig,
    images: &[String],
    packages: &[String],
    file: Option<&Path>,
) -> Result<BTreeMap<String, ArtifactRef>, Error> {
    let mut refs = match file {
        Some(path) => artifact::read_file(path)?,
        None => BTreeMap::new(),
    };
    let named = images
        .iter()
        .map(|text| {
            let (service, image) = artifact::parse_assignment(text)?;
            Ok((service, ArtifactRef::Image(artifact::parse_image(&image)?)))
        })
        .chain(packages.iter().map(|text| {
            let (service, package) = artifact::parse_assignment(text)?;
            let source = artifact::parse_package(&package, Path::new(""))?;
            Ok((service, ArtifactRef::Package(source)))
        }));
    for entry in named {
        let (service, reference) = entry.map_err(Error::Artifact)?;
        if refs.contains_key(&service) {
            return Err(Usage::TwoArtifacts { service }.into());
        }
        refs.insert(service, reference);
    }
    artifact::check(&loaded.config, &refs)?;
    Ok(refs)
}
