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
    let revision = steps::Revision::start(session, &loaded, Some(&accepted));
    let config = &loaded.config;
    let (aws, snapshot) = steps::aws_and_snapshot(session, config).await?;
    if request.dry_run {
        let plan = planned(&aws, &loaded, &rendered, &model_refs, &request.stacks).await?;
        return Ok(Outcome::Planned(Box::new(plan)));
    }
    let known = snapshot.as_ref().map(|s| s.current.as_ref());
    // Read-only, before the lock: what AWS would refuse mid-deploy is refused now; and,
    // at once, whether there is anything to change at all.
    let quiet = snapshot
        .as_ref()
        .filter(|s| s.lock_free)
        .and_then(|s| s.current.as_ref());
    let plain = wanted.is_empty() && model_refs.is_empty() && saved.is_none();
    let (checked, unchanged) =
        tokio::join!(steps::preflight(session, &aws, config, known), async {
            match quiet.filter(|_| plain && request.stacks.is_empty()) {
                Some(current) => apply::unchanged(&aws, &loaded, &rendered, current).await,
                None => Ok(None),
            }
        });
    checked?;
    let requested = accepted.tag.as_deref();
    let allow_downgrade = request.allow_downgrade;
    steps::refuse_downgrade(&aws, config, requested, allow_downgrade, known).await?;
    let guard = Guard {
        operation: Operation::Deploy,
        config,
        provenance: revision.provenance(session).await,
        from: None,
    };
    // Nothing to change: no lock, and the run is recorded and told at once. A read that
    // failed only costs the shortcut: the locked run reads again and reports.
    if let (Ok(Some(unchanged)), Some(snapshot)) = (unchanged, &snapshot) {
        let deployed = guarded::settled(session, &aws, &guard, unchanged, snapshot).await?;
        return Ok(Outcome::Deployed(Box::new(deployed)));
    }
    let production = loaded.config.environment.tier == Tier::Production;
    // A saved plan's change sets already say what they replace or delete: that is what
    // is confirmed (no fresh plan).
    match &saved {
        Some(saved) => {
            let models = BTreeMap::new();
            let destructive = steps::check_plan(&aws, config, &rendered, &models, saved).await?;
            if !request.yes {
                steps::confirm_changes(session, production, destructive)?;
            }
        }
        None if !request.yes => {
            steps::confirm_destructive(session, &aws, &loaded, &rendered, &request.stacks).await?;
        }
        None => {}
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
    let deployed = guarded::run(session, &aws, &guard, async |store| {
        apply::apply(session, &aws, store, &guard, &changes).await
    })
    .await?;
    Ok(Outcome::Deployed(Box::new(deployed)))
}

/// `--dry-run`: the plan, with the models given pinned as the deploy would pin them.
async fn planned(
    aws: &AwsContext,
    loaded: &LoadedConfig,
    rendered: &crate::render::RenderedEnv,
    refs: &BTreeMap<String, crate::models::ModelRef>,
    stacks: &[String],
) -> Result<Plan, Error> {
    let config = &loaded.config;
    let versions = crate::models::resolve::resolve(aws, config, refs).await?;
    let versions = crate::models::resolve::into_registry(aws, config, versions, false).await?;
    let pins = versions.iter().map(|(s, v)| (s.clone(), v.pin())).collect();
    let only = steps::only(stacks);
    let options = crate::stacks::plan::PlanOptions {
        only: only.as_ref(),
        ..Default::default()
    };
    steps::plan_pinned(aws, config, rendered, &pins, options).await
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
