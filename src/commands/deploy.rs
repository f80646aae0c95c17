//! `deploy`: the release gate, then under the lock: artifacts resolved and alarm gates
//! checked, stacks in dependency order, alarms, service rollouts, the record; then the
//! notifications. `--dry-run` shows the plan and stops.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::guarded::{self, Deployed, Guard};
use super::{Session, steps};
use crate::aws::AwsContext;
use crate::config::{LoadedConfig, Tier};
use crate::deployment::DeployReport;
use crate::error::{Error, Refusal, Usage};
use crate::models::ModelPin;
use crate::release::record::Operation;
use crate::release::record::Record;
use crate::release::store::Store;
use crate::render::RenderedEnv;
use crate::services::Placement;
use crate::services::artifact::{self, Artifact, ArtifactRef};
use crate::stacks::deploy::{Action, DeployOptions, StackResult, StacksRun};
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
}

pub enum Outcome {
    /// `--dry-run`: what would change.
    Planned(Plan),
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
    // The release gate comes first: a refused release touches nothing.
    let accepted = steps::gate(session, &loaded, request.tag.clone(), None)?;
    let aws = session.aws(&loaded.config.environment).await?;
    if request.dry_run {
        let refs = &model_refs;
        let versions = crate::models::resolve::resolve(&aws, &loaded.config, refs).await?;
        let pins = versions.iter().map(|(s, v)| (s.clone(), v.pin())).collect();
        let store = Store::new(&aws, &loaded.config);
        let rendered = steps::pin_models(&store, &loaded.config, &rendered, &pins)
            .await?
            .rendered;
        let only = steps::only(&request.stacks);
        let templates = steps::prepare_templates(&aws, &loaded.config, &rendered).await?;
        let plan =
            crate::stacks::plan::plan(&aws, &rendered, only.as_ref(), false, &templates).await?;
        return Ok(Outcome::Planned(plan));
    }
    // Read-only, before the lock: what AWS would refuse mid-deploy is refused now.
    super::preflight::gate(session, &aws, &loaded.config).await?;
    let requested = accepted.tag.as_deref();
    steps::refuse_downgrade(&aws, &loaded.config, requested, request.allow_downgrade).await?;
    let production = loaded.config.environment.tier == Tier::Production;
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
            templates: steps::template_bucket(&loaded.config),
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
        apply(session, &aws, store, &guard, &changes).await
    })
    .await?;
    Ok(Outcome::Deployed(Box::new(deployed)))
}

/// What a deploy or a promotion applies under the lock.
pub(super) struct Changes<'a> {
    pub loaded: &'a LoadedConfig,
    pub rendered: &'a RenderedEnv,
    pub options: DeployOptions,
    /// The artifacts to roll out, as named (resolved under the lock).
    pub wanted: BTreeMap<String, ArtifactRef>,
    /// Identities (digest, CodeSha256) the resolved artifacts must have (promote).
    pub expected: BTreeMap<String, String>,
    /// `wanted`, resolved before the lock (`resolve_before_lock`).
    pub resolved: BTreeMap<String, Artifact>,
    /// The models given this run, resolved and checked; the other services with a model
    /// keep the one their record names.
    pub models: BTreeMap<String, ModelPin>,
    pub skip_wait: bool,
}

impl Changes<'_> {
    /// Resolves the wanted artifacts (tags to digests, packages to hashes) and checks the
    /// alarm gates, read-only and before the lock: a mistyped tag or path writes no lock,
    /// no record and no notification.
    pub(super) async fn resolve_before_lock(&mut self, aws: &AwsContext) -> Result<(), Error> {
        self.resolved = prepare_rollouts(aws, self).await?;
        Ok(())
    }
}

/// Under the lock (artifacts already resolved and alarm gates checked): stacks, alarms,
/// services, and the record.
pub(super) async fn apply(
    session: &Session<'_>,
    aws: &AwsContext,
    store: &Store<'_>,
    guard: &Guard<'_>,
    changes: &Changes<'_>,
) -> Result<DeployReport, Error> {
    let resolved = &changes.resolved;
    let config = &changes.loaded.config;
    // The model parameters come from the record, so it is read first where there are any.
    // The model parameters come from the record, read first where a service has a model.
    let pinned = steps::pin_models(store, config, changes.rendered, &changes.models).await?;
    let (report, current) = session
        .with_progress(async |progress| {
            stacks_alarms_services(session, aws, store, changes, &pinned, progress).await
        })
        .await?;
    let mut report = report;
    report.operation = guard.operation;
    let partial = changes.options.only.is_some();
    if report.failed() || partial {
        report.alarms_note = Some(if partial {
            "alarms not applied: a partial deploy (--stack); run `facturactl alarms apply`".into()
        } else {
            "alarms not applied: a stack failed".into()
        });
    }
    let packages = crate::release::keep_packages(store, resolved).await?;
    let hashes = changes
        .rendered
        .stacks
        .iter()
        .map(|s| (s.name.clone(), s.hash.clone()))
        .collect();
    let record = crate::deployment::record_of(
        guard.record_input(&session.trace_id),
        &report,
        &hashes,
        resolved,
        &packages,
        &pinned.models,
        current.as_ref(),
    );
    store.put_record(&record).await?;
    report.record = Some(record.id);
    Ok(report)
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
    let lambdas_without_code: Vec<&String> = versions
        .keys()
        .filter(|s| !wanted.contains_key(*s))
        .filter(|s| config.services.get(*s).is_some_and(|c| c.lambda.is_some()))
        .collect();
    if !lambdas_without_code.is_empty() {
        let current = Store::new(aws, config).current().await?;
        for service in lambdas_without_code {
            let entry = current.as_ref().and_then(|r| r.services.get(service));
            let (Some(package), Some(sha)) = (
                entry.and_then(|e| e.package.as_deref()),
                entry.and_then(|e| e.code_sha256.as_deref()),
            ) else {
                return Err(crate::models::ModelError::NoCode(service.clone()).into());
            };
            let source = artifact::parse_package(package, Path::new(""))?;
            wanted.insert(service.clone(), ArtifactRef::Package(source));
            expected.insert(service.clone(), sha.to_string());
        }
    }
    Ok(versions
        .into_iter()
        .map(|(service, version)| (service, version.pin()))
        .collect())
}

/// The stacks; then, after a complete and successful deploy, the alarms (they notify the
/// alerts stack's topics and watch what the other stacks created); then the services (none
/// rolls out past a failed stack). Also the current record (what the new one carries over).
async fn stacks_alarms_services(
    session: &Session<'_>,
    aws: &AwsContext,
    store: &Store<'_>,
    changes: &Changes<'_>,
    pinned: &steps::Pinned<'_>,
    progress: &crate::progress::ProgressSink,
) -> Result<(DeployReport, Option<Record>), Error> {
    let config = &changes.loaded.config;
    let resolved = &changes.resolved;
    let partial = changes.options.only.is_some();
    // The alarms and the current record are read while the stacks deploy (round trips saved).
    let read_current = async {
        match &pinned.current {
            Some(current) => Ok(current.clone()),
            None => store.current().await,
        }
    };
    let (run, live_alarms, current) = tokio::join!(
        crate::stacks::deploy::deploy(aws, &pinned.rendered, &changes.options, progress),
        crate::alarms::apply::live_alarms(aws, config),
        read_current
    );
    let (run, current) = (run?, current?);
    let placements = moved_bases(config, &run, resolved, current.as_ref());
    let mut report = DeployReport::new(Operation::Deploy, &config.environment.name, run);
    if !report.failed() && !partial {
        let live = live_alarms?;
        let alarms = &pinned.rendered.alarms;
        report.alarms =
            Some(crate::alarms::apply::sync_with(aws, config, alarms, &live, true).await?);
    }
    let nothing_to_roll_out = resolved.is_empty() && placements.is_empty();
    if !report.failed() && !nothing_to_roll_out {
        let rollout = crate::services::RolloutOptions {
            skip_wait: changes.skip_wait,
            trace_id: session.trace_id.clone(),
            models: pinned
                .models
                .iter()
                .map(|(service, pin)| (service.clone(), pin.sha256.clone()))
                .collect(),
            ..Default::default()
        };
        report.services = crate::services::roll_out_all(
            aws,
            config,
            &pinned.rendered.alarms,
            resolved,
            &placements,
            &rollout,
            progress,
        )
        .await;
    }
    Ok((report, current))
}

/// The ECS services this deploy must look at, with where they run: those given an image;
/// those whose stack's base task definition is not the one the record says their revision
/// was made from (a changed cpu, memory, environment or role, or an earlier rollout that
/// did not finish); and those never rolled out whose stack changed in this run (they may
/// need their first revision, or are still awaiting an image). The others are left unread,
/// so a deploy that changes nothing makes no ECS request.
fn moved_bases(
    config: &crate::config::Config,
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

/// Resolves the artifacts (tags to digests, packages to hashes), checks a promotion's
/// identities, and refuses (exit 3) when a service set to `when_alarm_firing = "block"`
/// has an alarm firing. Nothing has changed yet.
async fn prepare_rollouts(
    aws: &AwsContext,
    changes: &Changes<'_>,
) -> Result<BTreeMap<String, Artifact>, Error> {
    if changes.wanted.is_empty() {
        return Ok(BTreeMap::new());
    }
    let config = &changes.loaded.config;
    let resolved = artifact::resolve(aws, config, &changes.wanted).await?;
    for (service, expected) in &changes.expected {
        let found = resolved.get(service).map(|a| a.identity());
        if found != Some(expected.as_str()) {
            return Err(Refusal::ArtifactMismatch {
                service: service.clone(),
                found: found.map(str::to_string),
                expected: expected.clone(),
            }
            .into());
        }
    }
    let alarms = crate::services::blocked_by_alarms(
        aws,
        config,
        &changes.rendered.alarms,
        resolved.keys().map(String::as_str),
    )
    .await?;
    if !alarms.is_empty() {
        return Err(Refusal::AlarmsFiring { alarms }.into());
    }
    Ok(resolved)
}
