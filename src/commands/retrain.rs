//! `retrain MODEL`: one run of the model's training job, started by hand and followed to
//! its end; its output is registered as a new version (never deployed: that takes a
//! deploy). `--register RUN` registers what an ended run wrote (a scheduled or
//! drift-started run, or one this command stopped following).

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use super::Session;
use crate::config::ModelRegistry;
use crate::error::Error;
use crate::models::registry::{NewVersion, S3Registry};
use crate::models::training::{self, FailedRun, Job, TaskState, TrainingError};
use crate::models::{ModelError, ModelVersion, is_alias, registry_kind, schema_mismatches};
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
    for name in [Some(&request.model), request.alias.as_ref()]
        .into_iter()
        .flatten()
    {
        if !is_alias(name) {
            return Err(ModelError::BadName(name.clone()).into());
        }
    }
    if let Some(run) = &request.register
        && !is_run_id(run)
    {
        return Err(TrainingError::BadRun(run.clone()).into());
    }
    let model = request.model.as_str();
    let (retraining, service, svc) = training::declared(config, model)?;
    // An MLflow model's versions are registered in MLflow (its job logs them there).
    if registry_kind(config, model) == ModelRegistry::Mlflow {
        return Err(ModelError::RegisterInMlflow(model.to_string()).into());
    }
    let declared = &svc.model.as_ref().expect("a serving service").input;

    let aws = session.aws(&config.environment).await?;
    let registry = S3Registry::new(&aws, config.models_bucket());
    let (run, task, duration_ms) = match request.register {
        Some(run) => {
            already_registered(&registry, model, &run).await?;
            (run, None, None)
        }
        None => {
            let job = training::job(&aws, config, model, &svc.stack).await?;
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
    let output = training::output(&aws, &registry.bucket, model, &run).await?;
    let fields = schema_mismatches(declared, &output.input);
    if !fields.is_empty() {
        return Err(TrainingError::SchemaMismatch {
            model: model.to_string(),
            service: service.to_string(),
            run,
            fields,
        }
        .into());
    }
    let mut params = output.params;
    params.insert("training_run".into(), run.clone());
    params.insert(
        "training_image".into(),
        format!("{}:{}", retraining.job.repository, retraining.job.image),
    );
    let version = registry
        .register(
            NewVersion {
                name: model.to_string(),
                bytes: output.bytes,
                params,
                metrics: output.metrics,
                input: output.input,
                registered_by: format!("{} (retrain)", session.who()),
                registered_at: crate::logging::rfc3339(SystemTime::now()),
            },
            request.alias.as_deref(),
        )
        .await?;
    Ok(Outcome {
        environment: config.environment.name.clone(),
        model: model.to_string(),
        output: format!(
            "s3://{}/{}",
            registry.bucket,
            training::output_prefix(model, &run)
        ),
        run,
        task,
        duration_ms,
        aliases: registry.aliases(model).await?,
        version,
    })
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

/// A run id as a key part: letters, digits, `-` and `_` (ours, or an ECS task id).
fn is_run_id(text: &str) -> bool {
    (1..=128).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_key_parts_that_sort_by_time() {
        let id = run_id();
        assert!(is_run_id(&id), "{id}");
        assert!(id.starts_with("20") && id.contains('T'), "{id}");
        assert_ne!(run_id(), run_id());
        assert!(!is_run_id("../other"));
        assert!(!is_run_id(""));
    }
}
