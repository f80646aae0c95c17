//! The guarded run: the one sequence by which deploy, promote and rollback change an
//! environment. Lock; work while the lock is renewed and Ctrl-C or SIGTERM is listened for;
//! a failure record when the work erred; then release the lock, tell the channels and
//! Sentry at once; report. The sequence exists here and nowhere else.

use std::time::SystemTime;

use super::Session;
use crate::aws::RetryTotals;
use crate::aws::{AwsContext, AwsError};
use crate::config::Config;
use crate::deployment::DeployReport;
use crate::deployment::RecordInput;
use crate::error::{Error, Interruption, Refusal};
use crate::notify::{Delivery, Notice, Provenance};
use crate::release;
use crate::release::record::Operation;
use crate::release::store::{HeldLock, LockError, Snapshot, Store};

/// Who changes what, for the lock, the record and the notice.
pub struct Guard<'a> {
    pub operation: Operation,
    pub config: &'a Config,
    pub provenance: Provenance,
    /// For a promotion, the source environment's record; for a rollback, the target's.
    pub from: Option<String>,
}

impl Guard<'_> {
    /// What this run's deployment record is about.
    pub fn record_input<'r>(&'r self, trace_id: &'r str) -> RecordInput<'r> {
        RecordInput {
            action: self.operation,
            commit: self.provenance.commit.clone(),
            tag: self.provenance.version.clone(),
            who: &self.provenance.who,
            trace_id,
            from: self.from.clone(),
            skipped_verification: self.provenance.skipped_verification.clone(),
        }
    }
}

/// A deploy found to change nothing, with what its record needs.
pub struct Unchanged {
    pub report: DeployReport,
    /// Each stack's template hash (all are unchanged).
    pub hashes: std::collections::BTreeMap<String, String>,
    /// The model each service runs (as recorded).
    pub models: std::collections::BTreeMap<String, crate::models::ModelPin>,
}

/// A finished deploy, promotion, rollback or destroy, with what its presentation needs.
pub struct Deployed {
    pub report: DeployReport,
    /// The release tag (else the commit): the `version` step output.
    pub version: Option<String>,
    /// `notifications.warning_exit`: an undelivered notice exits 4.
    pub warning_exit: bool,
}

/// What a guarded run returns: what to tell the channels, and room for what was told.
pub trait Outcome {
    fn notice(&self, provenance: &Provenance) -> Notice;
    fn told(&mut self, deliveries: Vec<Delivery>, retries: RetryTotals);
    /// The whole run took `ms` so far (from the command's start: checks, the lock's wait,
    /// the work), before its notice is built.
    fn ran(&mut self, _ms: u64) {}
}

impl Outcome for DeployReport {
    fn ran(&mut self, ms: u64) {
        self.duration_ms = ms;
    }

    fn notice(&self, provenance: &Provenance) -> Notice {
        DeployReport::notice(self, provenance)
    }

    fn told(&mut self, deliveries: Vec<Delivery>, retries: RetryTotals) {
        self.notifications = deliveries;
        self.retries = retries;
    }
}

/// Runs `work` under the environment's deploy lock; see the module's documentation.
pub async fn run(
    session: &Session<'_>,
    aws: &AwsContext,
    guard: &Guard<'_>,
    work: impl AsyncFnOnce(&Store<'_>) -> Result<DeployReport, Error>,
) -> Result<Deployed, Error> {
    let report = recorded(session, aws, guard, work).await?;
    Ok(deployed(guard, report))
}

/// A deploy that changed nothing, decided without the lock (`apply::unchanged`): its
/// record and the notices go at once, as no crash between them can leave a change
/// unrecorded. Its record replaces `current.json` only while that is still the record
/// the decision read; otherwise the newer run's record stays current (said, not an error).
pub async fn settled(
    session: &Session<'_>,
    aws: &AwsContext,
    guard: &Guard<'_>,
    unchanged: Unchanged,
    snapshot: &Snapshot,
) -> Result<Deployed, Error> {
    let config = guard.config;
    let store = Store::new(aws, config);
    let started_at = SystemTime::now();
    let mut report = unchanged.report;
    report.operation = guard.operation;
    let mut record = crate::deployment::record_of(
        guard.record_input(&session.trace_id),
        &report,
        &unchanged.hashes,
        &std::collections::BTreeMap::new(),
        &std::collections::BTreeMap::new(),
        &unchanged.models,
        snapshot.current.as_ref(),
    );
    // It happened when the lock was seen free: a run that failed since lists after it.
    record.id = crate::release::record::new_id(snapshot.read_at, &session.trace_id);
    record.at = crate::release::record::stamps(snapshot.read_at).1;
    report.record = Some(record.id.clone());
    report.ran(session.started.elapsed().as_millis() as u64);
    let notice = report.notice(&guard.provenance);
    let (written, deliveries) = tokio::join!(
        store.put_record_if_current(&record, snapshot),
        tell(session, aws, config, &notice, started_at)
    );
    if !written? {
        tracing::warn!(
            "another run recorded a release while this deploy checked that nothing changed: its record stays current (`facturactl status`); this one is in the history"
        );
    }
    report.told(deliveries, aws.retries.totals());
    Ok(deployed(guard, report))
}

/// A finished run's report, with what its presentation needs from the guard.
fn deployed(guard: &Guard<'_>, report: DeployReport) -> Deployed {
    Deployed {
        report,
        version: guard
            .provenance
            .version
            .clone()
            .or_else(|| guard.provenance.commit.clone()),
        warning_exit: guard.config.notifications.warning_exit,
    }
}

/// The guarded sequence for any outcome: lock, work (which writes its own success
/// record), a failure record when it erred, release and tell.
pub async fn recorded<R: Outcome>(
    session: &Session<'_>,
    aws: &AwsContext,
    guard: &Guard<'_>,
    work: impl AsyncFnOnce(&Store<'_>) -> Result<R, Error>,
) -> Result<R, Error> {
    let config = guard.config;
    let store = Store::new(aws, config);
    let lock = take_lock(session, &store, guard).await?;
    let started_at = SystemTime::now();
    let Some(result) = work_renewing(&store, &lock, config, work).await else {
        let released = store.unlock(&lock).await;
        warn_unreleased(&released);
        return Err(interrupted_error(session, guard, &released));
    };
    // Still under the lock: a run that erred is recorded before anyone else may deploy.
    // Refusals (alarm gates, changed artifacts) changed nothing and leave no record.
    if let Err(error) = &result
        && !matches!(error, Error::Refused(_))
    {
        record_failure(session, &store, guard, error).await;
    }
    let elapsed = session.started.elapsed().as_millis() as u64;
    let mut result = result;
    if let Ok(report) = &mut result {
        report.ran(elapsed);
    }
    let notice = match &result {
        Ok(report) => report.notice(&guard.provenance),
        Err(error) => guard.provenance.error_notice(
            guard.operation.as_str(),
            &config.environment.name,
            &error.to_string(),
            elapsed,
        ),
    };
    let deliveries =
        release_and_tell(session, aws, &store, &lock, config, &notice, started_at).await;
    let mut report = result?;
    report.told(deliveries, aws.retries.totals());
    Ok(report)
}

/// Runs `work` under the environment's deploy lock, renewed while it runs, stopped by Ctrl-C
/// or SIGTERM; then releases the lock. No record and no notice: for `destroy`, which
/// removes what a release would record (the records themselves stay).
pub async fn locked<T>(
    session: &Session<'_>,
    aws: &AwsContext,
    guard: &Guard<'_>,
    work: impl AsyncFnOnce() -> Result<T, Error>,
) -> Result<T, Error> {
    let config = guard.config;
    let store = Store::new(aws, config);
    let lock = take_lock(session, &store, guard).await?;
    let outcome = work_renewing(&store, &lock, config, async |_| work().await).await;
    let released = store.unlock(&lock).await;
    warn_unreleased(&released);
    outcome.unwrap_or_else(|| Err(interrupted_error(session, guard, &released)))
}

/// A run stopped by Ctrl-C or SIGTERM: what had started and finished, and the lock.
fn interrupted_error(
    session: &Session<'_>,
    guard: &Guard<'_>,
    released: &Result<bool, AwsError>,
) -> Error {
    Error::Interrupted(Interruption {
        operation: guard.operation,
        environment: guard.config.environment.name.clone(),
        lock_released: matches!(released, Ok(true)),
        tally: session
            .tally
            .lock()
            .map(|t| t.summary())
            .unwrap_or_default(),
    })
}

/// The deploy lock, or a refusal (exit 3) naming who holds it.
async fn take_lock(
    session: &Session<'_>,
    store: &Store<'_>,
    guard: &Guard<'_>,
) -> Result<HeldLock, Error> {
    let config = guard.config;
    release::lock(
        store,
        config,
        &guard.provenance.who,
        &session.trace_id,
        guard.operation,
    )
    .await
    .map_err(|e| lock_error(config, e))
}

/// `work`, with the lock renewed alongside and stopped (not dropped) when it ends, so no
/// renewal can land after the release. None when interrupted.
async fn work_renewing<T>(
    store: &Store<'_>,
    lock: &HeldLock,
    config: &Config,
    work: impl AsyncFnOnce(&Store<'_>) -> T,
) -> Option<T> {
    let (stop_renewing, renewing) = tokio::sync::watch::channel(false);
    let working = async {
        let outcome = tokio::select! {
            result = work(store) => Some(result),
            _ = interrupted() => None,
        };
        let _ = stop_renewing.send(true);
        outcome
    };
    let (outcome, ()) = tokio::join!(working, release::keep_alive(store, lock, config, renewing));
    outcome
}

/// The record of a run that erred, carrying over what runs from the last good record.
async fn record_failure(
    session: &Session<'_>,
    store: &Store<'_>,
    guard: &Guard<'_>,
    error: &Error,
) {
    let record = crate::deployment::error_record(
        guard.record_input(&session.trace_id),
        &guard.config.environment.name,
        &error.to_string(),
        store.current().await.ok().flatten().as_ref(),
    );
    if let Err(e) = store.put_record(&record).await {
        tracing::warn!("the failed deploy's record could not be written: {e}");
    }
}

/// Releases the lock, and tells the channels and Sentry, without one waiting for another.
async fn release_and_tell(
    session: &Session<'_>,
    aws: &AwsContext,
    store: &Store<'_>,
    lock: &HeldLock,
    config: &Config,
    notice: &Notice,
    started_at: SystemTime,
) -> Vec<crate::notify::Delivery> {
    let (released, deliveries) = tokio::join!(
        store.unlock(lock),
        tell(session, aws, config, notice, started_at)
    );
    warn_unreleased(&released);
    deliveries
}

/// Tells the channels and Sentry at once; says which were not reached.
async fn tell(
    session: &Session<'_>,
    aws: &AwsContext,
    config: &Config,
    notice: &Notice,
    started_at: SystemTime,
) -> Vec<crate::notify::Delivery> {
    let (mut deliveries, marked) = tokio::join!(
        crate::notify::send(aws, config, notice),
        crate::notify::sentry::mark(aws, config, notice, started_at)
    );
    deliveries.extend(marked);
    session.warn_undelivered(&deliveries);
    deliveries
}

/// Says when the deploy lock could not be released, or was no longer this run's.
fn warn_unreleased(released: &Result<bool, AwsError>) {
    match released {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            "the deploy lock was no longer this run's (it expired and another run took it over): check `facturactl status` before deploying again"
        ),
        Err(e) => tracing::warn!(
            "the deploy lock was not released ({e}); it expires by itself, or run `facturactl unlock`"
        ),
    }
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM (a cancelled CI job): the run stops, releases
/// the deploy lock and says what may be half-done.
pub(super) async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A lock that could not be taken: held by another run (exit 3, naming it), or an AWS error.
pub(super) fn lock_error(config: &Config, error: LockError) -> Error {
    match error {
        LockError::Held(holder) => Refusal::Lock {
            environment: config.environment.name.clone(),
            holder: Box::new(holder),
        }
        .into(),
        LockError::Aws(e) => e.into(),
    }
}
