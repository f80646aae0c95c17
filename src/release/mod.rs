//! Releases: what may be deployed where (the gate), what was deployed (records), who may
//! deploy now (the lock). Promote and rollback, the moves between releases, are commands
//! (`commands::promote`, `commands::rollback`) built on these.

pub mod gate;
pub mod promotion;
pub mod record;
pub mod rollback;
pub mod store;
pub mod verification;
pub mod version;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::aws::{AwsContext, AwsError};
use crate::config::Config;
use crate::render::RenderedEnv;
use crate::services::artifact::{Artifact, PackageCode};
use crate::stacks::template::TemplateBucket;
use record::Operation;
use store::{HeldLock, LockError, LockInfo, Store};

/// Takes the environment's deploy lock; `LockError::Held` names who holds it.
pub async fn lock(
    store: &Store<'_>,
    config: &Config,
    owner: &str,
    trace_id: &str,
    action: Operation,
) -> Result<HeldLock, LockError> {
    let ttl = Duration::from_secs(u64::from(config.release.lock_ttl_seconds));
    let wait = Duration::from_secs(u64::from(config.release.lock_wait_seconds));
    match store
        .lock(LockInfo::new(owner, trace_id, action.as_str(), ttl), wait)
        .await
    {
        Ok(held) => {
            if let Some(old) = &held.took_over {
                tracing::warn!(
                    "took over an expired deploy lock: {}; that run ended without releasing it (killed or cut off), so it may have left changes half-applied: this run checks every stack and service and converges them",
                    old.describe()
                );
            }
            Ok(held)
        }
        Err(e) => Err(e),
    }
}

/// Renews the lock every third of its lifetime until `stop` says so. A renewal under way is
/// finished, never cut off: a write still in flight could land after the release and
/// leave the lock behind.
pub async fn keep_alive(
    store: &Store<'_>,
    lock: &HeldLock,
    config: &Config,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let ttl = Duration::from_secs(u64::from(config.release.lock_ttl_seconds));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(ttl / 3) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
        match store.renew(lock, ttl).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!("the deploy lock is no longer ours: another run took it over")
            }
            Err(e) => tracing::warn!("cannot renew the deploy lock: {e}"),
        }
    }
}

/// The template bucket, created first when a template must go by URL (a plan on a fresh
/// account runs before any deploy made the release bucket).
pub async fn template_bucket(
    aws: &AwsContext,
    config: &Config,
    rendered: &RenderedEnv,
) -> Result<TemplateBucket, AwsError> {
    if rendered
        .stacks
        .iter()
        .any(crate::stacks::template::needs_url)
    {
        store::Store::new(aws, config).ensure().await?;
    }
    Ok(TemplateBucket::of(config))
}

/// The newer release the environment runs, if `requested` would be a downgrade from it
/// (semantic versions compared). Reads the current record.
pub async fn downgrade_from(
    aws: &AwsContext,
    config: &Config,
    requested: &str,
) -> Result<Option<String>, AwsError> {
    let current = store::Store::new(aws, config).current().await?;
    Ok(downgrade_of(current.as_ref(), requested))
}

/// The version `current` runs when `requested` would be a downgrade from it.
pub fn downgrade_of(current: Option<&record::Record>, requested: &str) -> Option<String> {
    current
        .and_then(|r| r.tag.clone())
        .filter(|running| version::is_downgrade(running, requested) == Some(true))
}

/// The rendered templates with the model parameters set as a deploy sets them (what
/// [`pin_models`] returns).
pub struct Pinned<'r> {
    pub rendered: std::borrow::Cow<'r, RenderedEnv>,
    /// The record the pins were read from; `None` when no service declares a model (then
    /// nothing was read).
    pub current: Option<Option<record::Record>>,
    /// The model each service runs once deployed.
    pub models: BTreeMap<String, crate::models::ModelPin>,
}

/// The model parameters as a deploy sets them: the models given (`new`), else those the
/// record says run. Without this a plan would show every deployed model going back to the
/// template's empty default. Reads the record only when a service declares a model.
pub async fn pin_models<'r>(
    store: &store::Store<'_>,
    config: &Config,
    rendered: &'r RenderedEnv,
    new: &BTreeMap<String, crate::models::ModelPin>,
) -> Result<Pinned<'r>, AwsError> {
    if !config
        .services
        .values()
        .any(|s| s.enabled && s.model.is_some())
    {
        return Ok(Pinned {
            rendered: std::borrow::Cow::Borrowed(rendered),
            current: None,
            models: BTreeMap::new(),
        });
    }
    let current = store.current().await?;
    Ok(pinned_with(config, rendered, new, current))
}

/// [`pin_models`] from a record already read (`current`: what the environment runs).
pub fn pinned_with<'r>(
    config: &Config,
    rendered: &'r RenderedEnv,
    new: &BTreeMap<String, crate::models::ModelPin>,
    current: Option<record::Record>,
) -> Pinned<'r> {
    if !config
        .services
        .values()
        .any(|s| s.enabled && s.model.is_some())
    {
        return Pinned {
            rendered: std::borrow::Cow::Borrowed(rendered),
            current: Some(current),
            models: BTreeMap::new(),
        };
    }
    let mut pinned = rendered.clone();
    let running = current
        .as_ref()
        .map(record::Record::model_pins)
        .unwrap_or_default();
    let models = crate::models::pin_parameters(&mut pinned, config, new, &running);
    Pinned {
        rendered: std::borrow::Cow::Owned(pinned),
        current: Some(current),
        models,
    }
}

/// Keeps each rolled-out Lambda package in the store (content-addressed), so a promotion
/// can deploy the same bytes; returns service -> `s3://` location.
pub async fn keep_packages(
    store: &Store<'_>,
    artifacts: &BTreeMap<String, Artifact>,
) -> Result<BTreeMap<String, String>, AwsError> {
    let mut kept = BTreeMap::new();
    for (service, artifact) in artifacts {
        if let Artifact::Package {
            code_sha256,
            code,
            source,
        } = artifact
        {
            let uri = match code {
                PackageCode::Zip(bytes) => store.keep_package(service, code_sha256, bytes).await?,
                // Already in S3 under a name the build chose: recorded as is.
                PackageCode::S3 { .. } => source.clone(),
                PackageCode::None => continue,
            };
            kept.insert(service.clone(), uri);
        }
    }
    Ok(kept)
}
