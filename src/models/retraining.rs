//! A retraining run, by hand: the checks before it, following its task to the end, and
//! registering what it wrote as the next version of its model (never deploying it).

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use super::approval::Approval;
use super::registry::{NewVersion, S3Registry};
use super::training::LineageGap;
use super::training::{self, FailedRun, Job, RunOutcome, RunRecord, TaskState, TrainingError};
use super::{Lineage, ModelError, ModelVersion, registry_kind, schema_mismatches};
use crate::aws::AwsContext;
use crate::config::names::is_alias;
use crate::config::{Config, DriftMeasure, FieldType, ModelRegistry, Retraining};
use crate::progress::{Progress, ProgressSink};

/// Why a run could not be checked or registered: its training, or the model registry.
#[derive(Debug)]
pub enum RetrainError {
    Training(TrainingError),
    Model(ModelError),
}

impl From<TrainingError> for RetrainError {
    fn from(e: TrainingError) -> Self {
        Self::Training(e)
    }
}

impl From<ModelError> for RetrainError {
    fn from(e: ModelError) -> Self {
        Self::Model(e)
    }
}

/// The first look at a new task, then slower: most runs take minutes, the emulator's
/// less than one.
const POLL: [Duration; 5] = [
    Duration::from_millis(250),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(5),
    Duration::from_secs(15),
];

/// The checks the config and the arguments decide, before any AWS call: the names, the
/// model's retraining and serving service, and a registry facturactl writes.
pub fn checked<'a>(
    config: &'a Config,
    model: &'a str,
    alias: Option<&str>,
) -> Result<&'a Retraining, RetrainError> {
    for name in std::iter::once(model).chain(alias) {
        if !is_alias(name) {
            return Err(ModelError::BadName(name.to_string()).into());
        }
    }
    let (retraining, _, _) = training::declared(config, model)?;
    // An MLflow model's versions are registered in MLflow (its job logs them there).
    if registry_kind(config, model) == ModelRegistry::Mlflow {
        return Err(ModelError::RegisterInMlflow(model.to_string()).into());
    }
    Ok(retraining)
}

/// Turns an ended run's output into a registered version of one model, and records what
/// became of the run (once).
pub struct Registrar<'a> {
    aws: &'a AwsContext,
    pub registry: S3Registry<'a>,
    model: String,
    /// The service that serves the model, whose input the run's must be.
    pub service: String,
    /// The deployed training job (its cluster knows the runs' tasks).
    pub job: Job,
    declared: BTreeMap<String, FieldType>,
    image: String,
    data_uri: String,
    /// The drift measure compares served inputs with the training distribution.
    needs_reference: bool,
    who: String,
}

/// What a run's output became.
pub enum Registered {
    /// A new version, pending approval.
    New(Box<ModelVersion>, Approval),
    /// Bytes some version has already: that version, and no new one.
    Identical(Box<ModelVersion>),
}

impl<'a> Registrar<'a> {
    /// For a model [`checked`] accepted: reads its deployed job.
    /// `who` is named in each version it registers.
    pub async fn new(
        aws: &'a AwsContext,
        config: &Config,
        model: &str,
        who: String,
    ) -> Result<Self, TrainingError> {
        let (retraining, service, svc) = training::declared(config, model)?;
        let job = training::job(aws, config, model, &svc.stack).await?;
        let data = &retraining.data;
        Ok(Self {
            aws,
            registry: S3Registry::new(aws, config.models_bucket()),
            model: model.to_string(),
            service: service.to_string(),
            job,
            declared: svc
                .model
                .as_ref()
                .map(|m| m.input.clone())
                .unwrap_or_default(),
            image: format!("{}:{}", retraining.job.repository, retraining.job.image),
            data_uri: format!(
                "s3://{}/{}",
                config.bucket(data.bucket.as_str()),
                data.prefix
            ),
            needs_reference: retraining
                .drift
                .as_ref()
                .is_some_and(|d| d.measure == DriftMeasure::PopulationStability),
            who,
        })
    }

    /// `s3://<models bucket>/training/<model>/<run>/`.
    pub fn output_uri(&self, run: &str) -> String {
        format!(
            "s3://{}/{}",
            self.registry.bucket,
            training::output_prefix(&self.model, run)
        )
    }

    /// Registers the run's output (or finds the version with its bytes), then records what
    /// became of the run; a refusal or output that does not read is recorded too, so the
    /// run is decided once. `task`: the run's ECS task (its id is the run id for an
    /// unattended run).
    pub async fn register(
        &self,
        run: &str,
        task: Option<&str>,
        alias: Option<&str>,
    ) -> Result<Registered, RetrainError> {
        let result = self.decide(run, task.unwrap_or(run), alias).await;
        let outcome = match &result {
            Ok(Registered::New(v, _)) => RunOutcome::Registered { version: v.version },
            Ok(Registered::Identical(v)) => RunOutcome::Identical { version: v.version },
            Err(RetrainError::Training(e @ TrainingError::BadOutput { .. })) => {
                RunOutcome::Failed {
                    reason: e.to_string(),
                }
            }
            Err(RetrainError::Training(e))
                if e.refused()
                    && !matches!(
                        e,
                        TrainingError::Registered { .. } | TrainingError::Decided { .. }
                    ) =>
            {
                RunOutcome::Refused {
                    reason: e.to_string(),
                }
            }
            // Not the run's doing (AWS, the registry): it is tried again next time.
            Err(_) => return result,
        };
        self.record(run, outcome).await?;
        result
    }

    /// Writes what became of `run`, once.
    pub async fn record(&self, run: &str, outcome: RunOutcome) -> Result<(), ModelError> {
        let record = RunRecord {
            run: run.to_string(),
            outcome,
            by: self.who.clone(),
            at: crate::logging::rfc3339(SystemTime::now()),
        };
        self.registry
            .record_run(&self.model, run, &record)
            .await
            .map(|_| ())
    }

    async fn decide(
        &self,
        run: &str,
        task: &str,
        alias: Option<&str>,
    ) -> Result<Registered, RetrainError> {
        let model = self.model.as_str();
        let output = training::output(self.aws, &self.registry.bucket, model, run).await?;
        let fields = schema_mismatches(&self.declared, &output.input);
        if !fields.is_empty() {
            return Err(TrainingError::SchemaMismatch {
                model: model.to_string(),
                service: self.service.clone(),
                run: run.to_string(),
                fields,
            }
            .into());
        }
        if self.needs_reference && output.reference.is_none() {
            return Err(TrainingError::NoReference {
                model: model.to_string(),
                run: run.to_string(),
            }
            .into());
        }
        // What ECS says ran is preferred to what the job says it was.
        let digest = match training::image_digest(self.aws, &self.job, task).await? {
            Some(digest) => digest,
            None => output
                .image_digest
                .clone()
                .ok_or(TrainingError::NoLineage {
                    model: model.to_string(),
                    run: run.to_string(),
                    missing: LineageGap::ImageDigest,
                })?,
        };
        let listing = self.registry.all(model).await?.all_or_first_problem()?;
        let sha = super::sha256_hex(&output.bytes);
        if let Some(same) = listing.iter().find(|v| v.artifact.sha256 == sha) {
            if let Some(alias) = alias {
                self.registry.set_alias(model, alias, same.version).await?;
            }
            return Ok(Registered::Identical(Box::new(same.clone())));
        }
        let reference = match &output.reference {
            Some(bytes) => Some(self.registry.store_reference(model, bytes).await?),
            None => None,
        };
        let mut params = output.params;
        params.insert("training_run".into(), run.to_string());
        params.insert("training_image".into(), self.image.clone());
        let version = NewVersion {
            name: model.to_string(),
            bytes: output.bytes,
            params,
            metrics: output.metrics,
            input: output.input,
            registered_by: format!("{} (retrain)", self.who),
            registered_at: crate::logging::rfc3339(SystemTime::now()),
            lineage: Some(Lineage {
                run: run.to_string(),
                image: self.image.clone(),
                image_digest: digest,
                data_uri: self.data_uri.clone(),
                data: output.data,
            }),
            reference,
        };
        let (version, approval) = self.registry.register(version, alias).await?;
        Ok(Registered::New(Box::new(version), approval))
    }
}

/// Polls the task until it stops, saying each status change; fails unless it exited 0.
pub async fn follow(
    aws: &AwsContext,
    job: &Job,
    run: &str,
    task: &str,
    limit: Duration,
    sink: &ProgressSink,
) -> Result<(), TrainingError> {
    let started = Instant::now();
    let say = |message: String| {
        sink.send(Progress::ServiceEvent {
            service: format!("{} training", job.model),
            message,
        })
    };
    say(format!("run {run}: task {task} started"));
    let mut last = String::new();
    let mut polls = 0;
    loop {
        tokio::time::sleep(POLL[polls.min(POLL.len() - 1)]).await;
        polls += 1;
        match training::state(aws, job, task).await? {
            TaskState::Active(status) => {
                if status != last {
                    say(format!("run {run}: {status}"));
                    last = status;
                }
                if started.elapsed() >= limit {
                    // A hung run holds its Fargate capacity forever: stopped, as the
                    // scheduled runs' state machine stops them.
                    let minutes = (limit.as_secs() / 60) as u32;
                    let reason = format!("facturactl: ran past timeout_minutes ({minutes})");
                    training::stop(aws, job, task, &reason).await?;
                    say(format!("run {run}: stopped after {minutes} minutes"));
                    return Err(TrainingError::TimedOut {
                        model: job.model.clone(),
                        run: run.to_string(),
                        task: task.to_string(),
                        minutes,
                    });
                }
            }
            TaskState::Stopped {
                exit_code: Some(0), ..
            } => {
                say(format!("run {run}: finished (exit code 0)"));
                return Ok(());
            }
            TaskState::Stopped { exit_code, reason } => {
                return Err(TrainingError::Failed(Box::new(FailedRun {
                    model: job.model.clone(),
                    run: run.to_string(),
                    task: task.to_string(),
                    exit_code,
                    reason,
                    logs: job.logs.clone(),
                })));
            }
        }
    }
}

/// A run is decided once: one with a recorded outcome, or that some version came from
/// (registered before outcomes were recorded), is refused.
pub async fn already_decided(
    registry: &S3Registry<'_>,
    model: &str,
    run: &str,
) -> Result<(), RetrainError> {
    if let Some(record) = registry.run_record::<RunRecord>(model, run).await? {
        return Err(TrainingError::Decided {
            model: model.to_string(),
            run: run.to_string(),
            outcome: record.outcome,
        }
        .into());
    }
    let registered = registry.all(model).await?.all_or_first_problem()?;
    match registered
        .iter()
        .find(|v| v.params.get("training_run").map(String::as_str) == Some(run))
    {
        Some(version) => Err(TrainingError::Registered {
            model: model.to_string(),
            run: run.to_string(),
            version: version.version,
        }
        .into()),
        None => Ok(()),
    }
}

/// `20261202T221500Z-3f9a1c`: sorts by start time, unique without coordination.
pub fn run_id() -> String {
    let stamp: String = crate::logging::rfc3339(SystemTime::now())
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{stamp}-{}", &random[..6])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_key_parts_that_sort_by_time() {
        let id = run_id();
        assert!(training::is_run_id(&id), "{id}");
        assert!(id.starts_with("20") && id.contains('T'), "{id}");
        assert_ne!(run_id(), run_id());
    }
}
