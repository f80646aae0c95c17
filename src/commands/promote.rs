//! `promote --from A --to B`: B gets exactly what A's last deploy recorded (same digests,
//! same code, same commit), after B's release gate passes for that commit.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::apply::{self, Changes};
use super::deploy::Outcome;
use super::guarded::{self, Guard};
use super::{Session, steps};
use crate::config::{Config, Tier};
use crate::error::{Error, Refusal, Unconfirmed, Usage};
use crate::models::{self, registry::S3Registry};
use crate::release::promotion::{
    Artifacts, Side, artifacts_of, into_target_registry, promotable, refuse_missing,
    refuse_unpullable, settle_experiments,
};
use crate::release::record::{Operation, Record};
use crate::release::store::Store;
use crate::release::verification;
use crate::services::artifact::{self, ArtifactRef};
use crate::stacks::deploy::DeployOptions;
use crate::stacks::plan::{Plan, PlanOptions, PlannedRelease};
use crate::stacks::saved::{Moved, PlannedPromotion, SavedPlan};

pub struct Request {
    pub from: String,
    pub to: String,
    pub yes: bool,
    pub tag: Option<String>,
    pub skip_wait: bool,
    /// Promote even a release older than what the target runs.
    pub allow_downgrade: bool,
    /// Which side of a running A/B split goes, when one runs in the source.
    pub side: Option<Side>,
    /// `--skip-verification --reason R`: promote without a passing verification, for R.
    pub skip_verification: Option<String>,
    /// Show what the promotion would apply (stacks, changes, artifacts) and stop.
    pub dry_run: bool,
    /// With `dry_run`: keep the change sets and write the plan here.
    pub save: Option<PathBuf>,
    /// Execute exactly the plan `--dry-run --save` wrote.
    pub plan: Option<PathBuf>,
}

pub async fn run(session: &Session<'_>, request: Request) -> Result<Outcome, Error> {
    let (from, to) = (&request.from, &request.to);
    if from == to {
        return Err(Usage::PromoteToItself {
            environment: from.clone(),
        }
        .into());
    }
    let saved = request
        .plan
        .as_deref()
        .map(|p| steps::read_plan(p, true))
        .transpose()?;
    let source = session.load(from)?;
    let target = session.load(to)?;
    let rendered = steps::render_checked(&target)?;
    steps::refuse_on_policy(&target, &rendered)?;
    let (record, commit) =
        source_release(session, &request, &source, &target, saved.as_ref()).await?;
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
    // With it, the target's current record (read once, for the preflight and downgrade).
    let config = &target.config;
    let (aws, snapshot) = steps::aws_and_snapshot(session, config).await?;
    let known = snapshot.as_ref().map(|s| s.current.as_ref());
    steps::preflight(session, &aws, config, known).await?;
    let requested = record.tag.as_deref();
    let allow_downgrade = request.allow_downgrade;
    steps::refuse_downgrade(&aws, config, requested, allow_downgrade, known).await?;
    // Independent reads, at once: the target's images and the source's models.
    let (found, models) = tokio::join!(
        refuse_missing(&aws, &target.config, &wanted),
        source_models(session, &source.config, &target.config, &record)
    );
    let (found, models) = (found?, models?);
    if !models.is_empty() {
        S3Registry::new(&aws, target.config.models_bucket())
            .require(&target.config.environment.name)
            .await?;
    }
    session
        .console
        .note(&summary(from, to, &record, &commit, &wanted));
    if request.dry_run {
        let release = PlannedRelease {
            from: from.clone(),
            record: record.id.clone(),
            commit,
            artifacts: identities(&record, &wanted),
            pending_models: Vec::new(),
        };
        let save = request.save.as_deref();
        let plan = plan(&aws, &target, &rendered, release, models, save).await?;
        return Ok(Outcome::Planned(Box::new(plan)));
    }
    let production = target.config.environment.tier == Tier::Production;
    if !request.yes {
        if !session.console.confirm("Go on?") {
            return Err(Refusal::NotConfirmed(Unconfirmed::Promote { to: to.clone() }).into());
        }
        steps::confirm_destructive(session, &aws, &target, &rendered, &[]).await?;
    }
    // Confirmed: the models the source runs are copied into the target's registry (same
    // bytes, same address, same number) before the lock, like images replicated before.
    let models = models::promotion::adopt(&aws, &target.config, models).await?;
    if let Some(saved) = &saved {
        // Replacements were confirmed above, on a fresh plan, before the models moved.
        steps::check_plan(&aws, &target.config, &rendered, &models, saved).await?;
    }
    let mut changes = Changes {
        loaded: &target,
        rendered: &rendered,
        options: DeployOptions {
            protect_data: production,
            templates: crate::stacks::template::TemplateBucket::of(&target.config),
            saved: saved.as_ref().map(SavedPlan::by_stack),
            ..DeployOptions::default()
        },
        wanted,
        expected,
        resolved: found,
        models,
        skip_wait: request.skip_wait,
    };
    changes.resolve_before_lock(&aws).await?;
    let mut provenance = steps::provenance(session, &target, Some(&accepted));
    provenance.skipped_verification = request.skip_verification.clone();
    let guard = Guard {
        operation: Operation::Promote,
        config: &target.config,
        provenance,
        from: Some(format!("{from}/{}", record.id)),
    };
    let deployed = guarded::run(session, &aws, &guard, async |store| {
        apply::apply(session, &aws, store, &guard, &changes).await
    })
    .await?;
    Ok(Outcome::Deployed(Box::new(deployed)))
}

/// The source's last release, which the target may take: recorded as succeeded, verified
/// (or skipped with a reason), the one a saved plan promotes, with its A/B side settled.
async fn source_release(
    session: &Session<'_>,
    request: &Request,
    source: &crate::config::LoadedConfig,
    target: &crate::config::LoadedConfig,
    saved: Option<&SavedPlan>,
) -> Result<(Record, String), Error> {
    let (from, to) = (&request.from, &request.to);
    let last = {
        let aws = session.aws_to_read(&source.config.environment).await?;
        Store::new(&aws, &source.config)
            .records(Some(1))
            .await
            .map_err(|e| unreadable(from, to, e))?
            .pop()
    };
    let (record, commit) = promotable(from, last).map_err(Refusal::NothingToPromote)?;
    if let Some(saved) = saved {
        refuse_other_release(saved, from, &record)?;
    }
    refuse_unverified(request, &target.config, &record)?;
    let record = settle_experiments(from, record, &target.config, request.side)
        .map_err(Refusal::NothingToPromote)?;
    Ok((record, commit))
}

/// A promotion's plan: the target's stacks planned with the models it would carry (from
/// the target's registry, or where the promotion's copy will be: the registry is
/// content-addressed, so a model's parameters are known before its copy), its release and
/// artifacts; kept and saved with `save`.
async fn plan(
    aws: &crate::aws::AwsContext,
    target: &crate::config::LoadedConfig,
    rendered: &crate::render::RenderedEnv,
    mut release: PlannedRelease,
    models: Vec<models::promotion::SourceModel>,
    save: Option<&std::path::Path>,
) -> Result<Plan, Error> {
    let config = &target.config;
    let registry = S3Registry::new(aws, config.models_bucket());
    // Each model's copy in the target, looked up at once.
    let here = futures_util::future::join_all(
        models
            .iter()
            .map(|m| registry.version(&m.version.name, m.version.version)),
    )
    .await;
    let mut pins = BTreeMap::new();
    for (model, here) in models.into_iter().zip(here) {
        let (name, number) = (&model.version.name, model.version.version);
        let sha = &model.version.artifact.sha256;
        let pin = match here {
            Ok(here) if here.artifact.sha256 == *sha => here.pin(),
            // A read that failed is reported, never taken for a version not copied yet.
            Err(e) if !matches!(e, models::ModelError::NotFound { .. }) => return Err(e.into()),
            // Content-addressed: where the promotion's copy will be is known now.
            _ => {
                release
                    .pending_models
                    .push(format!("{name} v{number} ({})", model.service));
                crate::models::ModelPin {
                    name: name.clone(),
                    version: number,
                    uri: registry.artifact_uri(name, sha),
                    sha256: sha.clone(),
                    version_id: None,
                }
            }
        };
        pins.insert(model.service, pin);
    }
    let options = PlanOptions {
        keep: save.is_some(),
        ..PlanOptions::default()
    };
    let mut plan = steps::plan_pinned(aws, config, rendered, &pins, options).await?;
    let promotion = PlannedPromotion {
        from: release.from.clone(),
        record: release.record.clone(),
    };
    plan.promotion = Some(release);
    let Some(path) = save else {
        return Ok(plan);
    };
    steps::save_plan(aws, config, &plan, path, Some(promotion)).await?;
    plan.saved_to = Some(path.display().to_string());
    Ok(plan)
}

/// A promotion's plan was made for one release of the source: another one is refused.
fn refuse_other_release(saved: &SavedPlan, from: &str, record: &Record) -> Result<(), Error> {
    let planned = saved.promotion.as_ref();
    if planned.is_some_and(|p| p.from == from && p.record == record.id) {
        return Ok(());
    }
    Err(Refusal::PlanMoved {
        environment: saved.environment.clone(),
        moved: Moved::Source {
            from: from.to_string(),
            planned: planned.map_or_else(String::new, |p| format!("{} of `{}`", p.record, p.from)),
            now: record.id.clone(),
        },
    }
    .into())
}

/// Each promoted service's artifact: its image digest or its package's CodeSha256.
fn identities(record: &Record, wanted: &BTreeMap<String, ArtifactRef>) -> BTreeMap<String, String> {
    wanted
        .iter()
        .map(|(service, reference)| {
            let entry = &record.services[service];
            let what = match reference {
                ArtifactRef::Image(_) => entry.image.clone(),
                ArtifactRef::Package(_) => entry.code_sha256.clone(),
            };
            (service.clone(), what.unwrap_or_default())
        })
        .collect()
}

/// The source's release must carry a passing verification of what it runs, recent enough
/// for the target (`[verify] max_age_hours`), unless skipped with a reason.
fn refuse_unverified(request: &Request, target: &Config, record: &Record) -> Result<(), Error> {
    let max_age = target.verify.max_age_hours;
    match verification::promotable(record, max_age, std::time::SystemTime::now()) {
        Ok(()) => Ok(()),
        Err(why) if request.skip_verification.is_some() => {
            tracing::warn!(
                "promoting {} unverified ({why}): {}",
                record.id,
                request.skip_verification.as_deref().unwrap_or_default()
            );
            Ok(())
        }
        Err(why) => Err(Refusal::Unverified {
            from: request.from.clone(),
            to: request.to.clone(),
            record: record.id.clone(),
            why,
        }
        .into()),
    }
}

/// The models the source runs, read from its registry with the source's read access.
async fn source_models(
    session: &Session<'_>,
    source: &Config,
    target: &Config,
    record: &Record,
) -> Result<Vec<models::promotion::SourceModel>, Error> {
    let pins = models::promotion::served_by(target, record.model_pins());
    if pins.is_empty() {
        return Ok(Vec::new());
    }
    let source_aws = session.aws_to_read(&source.environment).await?;
    Ok(models::promotion::read_source(&source_aws, source, target, &pins).await?)
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
    for (service, what) in identities(record, wanted) {
        text.push_str(&format!("\n  {service}: {what}"));
    }
    text
}
