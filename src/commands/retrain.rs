//! `retrain MODEL`: one run of the model's training job, started by hand and followed to
//! its end; its output is registered as a new version (never deployed: that takes a
//! deploy). `--register RUN` registers what an ended run wrote (a scheduled or
//! drift-started run, or one this command stopped following).

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use super::Session;
use crate::aws::AwsContext;
use crate::config::names::is_alias;
use crate::config::{Config, FieldType, ModelRegistry, Retraining};
use crate::error::Error;
use crate::models::registry::{NewVersion, S3Registry};
use crate::models::training::{self, FailedRun, Job, TaskState, TrainingError};
use crate::models::{ModelError, ModelVersion, registry_kind, schema_mismatches};
use crate::progress::{Progress, ProgressSink};

pub struct Request {
    pub model: String,
    /// Point this alias at the new version.
    pub alias: Option<String>,
    /// Register an ended run's output instead of starting one.
    pub register: Option<String>,
}

pub struct Outcome {
    pub environment: String,
    pub model: String,
    pub run: String,
    /// The task this command started and followed (none with `--register`).
    pub task: Option<String>,
    pub duration_ms: Option<u64>,
    /// `s3://<models bucket>/training/<model>/<run>/`.
    pub output: String,
    pub version: ModelVersion,
    pub aliases: BTreeMap<String, u32>,
}

/// `retrain MODEL --register-pending`: registers every ended run of the model that is not
/// a version yet (a scheduled or drift-started run, or one `retrain` stopped following),
/// so an unattended job can turn scheduled training into versions.
pub struct PendingRequest {
    pub model: String,
    /// Point this alias at the newest version registered.
    pub alias: Option<String>,
}

pub struct PendingOutcome {
    pub environment: String,
    pub model: String,
    /// Each ended run that was not a version yet, oldest first, and what became of it.
    pub runs: Vec<PendingRun>,
    /// Runs that have not written `model.json`: still running, or stopped before the end.
    pub unfinished: Vec<String>,
    /// The alias asked for, and whether it was moved.
    pub alias: Option<AliasMove>,
    pub aliases: BTreeMap<String, u32>,
}

pub struct PendingRun {
    pub run: String,
    /// `s3://<models bucket>/training/<model>/<run>/`.
    pub output: String,
    pub result: RunResult,
}

pub enum RunResult {
    /// Boxed: a version document is ten times the size of the other results.
    Registered(Box<ModelVersion>),
    /// Output that must not become a version (its input is not the service's): exit 3.
    Refused(String),
    /// The output could not be read or registered: exit 1.
    Failed(String),
}

pub struct AliasMove {
    pub alias: String,
    /// The version it points at now, or why it was not moved.
    pub result: Result<u32, String>,
}

pub async fn register_pending(
    session: &Session<'_>,
    request: PendingRequest,
) -> Result<PendingOutcome, Error> {
    let loaded = session.load_env()?;
    let config = &loaded.config;
    let model = request.model.as_str();
    checked(config, model, request.alias.as_deref())?;

    let aws = session.aws(&config.environment).await?;
    let registrar = Registrar::new(session, &aws, config, model)?;
    let folders = training::run_folders(&aws, &registrar.registry.bucket, model).await?;
    let registered: Vec<String> = registrar
        .registry
        .all(model)
        .await?
        .into_iter()
        .filter_map(|v| v.params.get("training_run").cloned())
        .collect();
    // Read before the first write: a failed read after it would hide what was registered.
    let mut aliases = registrar.registry.aliases(model).await?;
    let mut runs = Vec::new();
    // One run's refusal or failure does not hold back the others: each is reported.
    for run in folders.ended {
        if registered.contains(&run) {
            continue;
        }
        let result = match registrar.register(&run, None).await {
            Ok(version) => RunResult::Registered(Box::new(version)),
            Err(e) => RunResult::from(e),
        };
        runs.push(PendingRun {
            output: registrar.output_uri(&run),
            run,
            result,
        });
    }
    let newest = runs.iter().rev().find_map(|r| match &r.result {
        RunResult::Registered(v) => Some(v.version),
        _ => None,
    });
    let alias = match (request.alias, newest) {
        (Some(alias), Some(version)) => {
            let result = registrar
                .registry
                .set_alias(model, &alias, version)
                .await
                .map(|()| version)
                .map_err(|e| e.to_string());
            if result.is_ok() {
                aliases.insert(alias.clone(), version);
            }
            Some(AliasMove { alias, result })
        }
        _ => None,
    };
    Ok(PendingOutcome {
        environment: config.environment.name.clone(),
        model: model.to_string(),
        runs,
        unfinished: folders.unfinished,
        alias,
        aliases,
    })
}

impl From<Error> for RunResult {
    /// A run's error as one line: what happened, then what to do.
    fn from(e: Error) -> Self {
        match e {
            Error::Training(t) if t.refused() => Self::Refused(format!("{t}; {}", t.help())),
            Error::Training(t) => Self::Failed(format!("{t}; {}", t.help())),
            Error::Model(m) => Self::Failed(format!("{m}; {}", m.help())),
            Error::Aws(a) => Self::Failed(a.to_string()),
            other => Self::Failed(other.to_string()),
        }
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

pub async fn run(session: &Session<'_>, request: Request) -> Result<Outcome, Error> {
    let loaded = session.load_env()?;
    let config = &loaded.config;
    // Everything the config and the arguments decide is checked before the first AWS call.
    if let Some(run) = &request.register
        && !training::is_run_id(run)
    {
        return Err(TrainingError::BadRun(run.clone()).into());
    }
    let model = request.model.as_str();
    let retraining = checked(config, model, request.alias.as_deref())?;

    let aws = session.aws(&config.environment).await?;
    let registrar = Registrar::new(session, &aws, config, model)?;
    let (run, task, duration_ms) = match request.register {
        Some(run) => {
            already_registered(&registrar.registry, model, &run).await?;
            (run, None, None)
        }
        None => {
            let job = training::job(&aws, config, model, &registrar.stack).await?;
            let run = run_id();
            let started = Instant::now();
            let task = training::start(&aws, &job, &run).await?;
            let limit = Duration::from_secs(u64::from(retraining.job.timeout_minutes) * 60);
            session
                .with_progress(async |sink| follow(&aws, &job, &run, &task, limit, sink).await)
                .await?;
            let elapsed = started.elapsed().as_millis() as u64;
            (run, Some(task), Some(elapsed))
        }
    };
    let version = registrar.register(&run, request.alias.as_deref()).await?;
    Ok(Outcome {
        environment: config.environment.name.clone(),
        model: model.to_string(),
        output: registrar.output_uri(&run),
        run,
        task,
        duration_ms,
        aliases: registrar.registry.aliases(model).await?,
        version,
    })
}

/// The checks the config and the arguments decide, before any AWS call: the names, the
/// model's retraining and serving service, and a registry facturactl writes.
fn checked<'a>(
    config: &'a Config,
    model: &'a str,
    alias: Option<&str>,
) -> Result<&'a Retraining, Error> {
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

/// Turns an ended run's output into a registered version of one model.
struct Registrar<'a> {
    aws: &'a AwsContext,
    registry: S3Registry<'a>,
    model: String,
    /// The service that serves the model, whose input the run's must be.
    service: String,
    /// That service's stack (it holds the training job).
    stack: String,
    declared: BTreeMap<String, FieldType>,
    image: String,
    who: String,
}

impl<'a> Registrar<'a> {
    /// For a model [`checked`] accepted.
    fn new(
        session: &Session<'_>,
        aws: &'a AwsContext,
        config: &Config,
        model: &str,
    ) -> Result<Self, Error> {
        let (retraining, service, svc) = training::declared(config, model)?;
        Ok(Self {
            aws,
            registry: S3Registry::new(aws, config.models_bucket()),
            model: model.to_string(),
            service: service.to_string(),
            stack: svc.stack.clone(),
            declared: svc
                .model
                .as_ref()
                .map(|m| m.input.clone())
                .unwrap_or_default(),
            image: format!("{}:{}", retraining.job.repository, retraining.job.image),
            who: session.who(),
        })
    }

    /// `s3://<models bucket>/training/<model>/<run>/`.
    fn output_uri(&self, run: &str) -> String {
        format!(
            "s3://{}/{}",
            self.registry.bucket,
            training::output_prefix(&self.model, run)
        )
    }

    /// Reads the run's output, refuses an input that is not the service's (nothing
    /// registered), and registers the next version with the run and image as parameters.
    async fn register(&self, run: &str, alias: Option<&str>) -> Result<ModelVersion, Error> {
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
        };
        Ok(self.registry.register(version, alias).await?)
    }
}

/// Polls the task until it stops, saying each status change; fails unless it exited 0.
async fn follow(
    aws: &crate::aws::AwsContext,
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
                    return Err(TrainingError::StillRunning {
                        model: job.model.clone(),
                        run: run.to_string(),
                        task: task.to_string(),
                        minutes: (limit.as_secs() / 60) as u32,
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

/// Registering one run twice would make two versions of the same training.
async fn already_registered(
    registry: &S3Registry<'_>,
    model: &str,
    run: &str,
) -> Result<(), Error> {
    let registered = registry.all(model).await?;
    match registered
        .iter()
        .find(|v| v.params.get("training_run").map(String::as_str) == Some(run))
    {
        Some(version) => Err(TrainingError::Registered {
            run: run.to_string(),
            version: version.version,
        }
        .into()),
        None => Ok(()),
    }
}

/// `20261202T221500Z-3f9a1c`: sorts by start time, unique without coordination.
fn run_id() -> String {
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
