//! `promote --from A --to B`: B gets exactly what A's last deploy recorded (same digests,
//! same code, same commit), after B's release gate passes for that commit.

use std::collections::BTreeMap;

use super::apply::{self, Changes};
use super::guarded::{self, Deployed, Guard};
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
        let aws = session.aws_to_read(&source.config.environment).await?;
        Store::new(&aws, &source.config)
            .records(Some(1))
            .await
            .map_err(|e| unreadable(from, to, e))?
            .pop()
    };
    let (record, commit) = promotable(from, last).map_err(Refusal::NothingToPromote)?;
    refuse_unverified(&request, &target.config, &record)?;
    let record = settle_experiments(from, record, &target.config, request.side)
        .map_err(Refusal::NothingToPromote)?;
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
    steps::preflight(session, &aws, &target.config).await?;
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
    let models = models::promotion::adopt(&aws, &target.config, models).await?;
    let mut changes = Changes {
        loaded: &target,
        rendered: &rendered,
        options: DeployOptions {
            protect_data: production,
            templates: crate::stacks::template::TemplateBucket::of(&target.config),
            ..DeployOptions::default()
        },
        wanted,
        expected,
        resolved: BTreeMap::new(),
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
    guarded::run(session, &aws, &guard, async |store| {
        apply::apply(session, &aws, store, &guard, &changes).await
    })
    .await
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
