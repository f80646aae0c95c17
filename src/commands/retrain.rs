//! `retrain MODEL`: one run of the model's training job, started by hand and followed to
//! its end; its output is registered as a new version (never deployed: that takes a
//! deploy). `--register RUN` registers what an ended run wrote (a scheduled or
//! drift-started run, or one this command stopped following); `--register-pending`, every
//! ended run not yet a version.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::Session;
use crate::error::Error;
use crate::models::ModelVersion;
use crate::models::approval::Approval;
use crate::models::retraining::{Registered, Registrar, already_decided, checked, follow, run_id};
use crate::models::training::{self, RunOutcome, TaskState, TrainingError};

pub enum Request {
    /// One run: started and followed, or (`register`) one that ended, registered.
    Run {
        model: String,
        /// Point this alias at the new version.
        alias: Option<String>,
        /// Register an ended run's output instead of starting one.
        register: Option<String>,
    },
    /// Every ended run of the model not yet a version, registered.
    Pending {
        model: String,
        /// Point this alias at the newest version registered.
        alias: Option<String>,
    },
}

/// What `retrain` did, as its request asked.
pub enum Retrained {
    /// Boxed: a run's outcome holds a whole version document.
    Run(Box<Outcome>),
    Pending(PendingOutcome),
}

pub async fn run(session: &Session<'_>, request: Request) -> Result<Retrained, Error> {
    Ok(match request {
        Request::Run {
            model,
            alias,
            register,
        } => Retrained::Run(Box::new(
            run_one(session, &model, alias.as_deref(), register).await?,
        )),
        Request::Pending { model, alias } => {
            Retrained::Pending(register_pending(session, &model, alias).await?)
        }
    })
}

pub struct Outcome {
    pub environment: String,
    pub model: String,
    /// The service that serves the model (a deploy names it).
    pub service: String,
    pub run: String,
    /// The task this command started and followed (none with `--register`).
    pub task: Option<String>,
    pub duration_ms: Option<u64>,
    /// `s3://<models bucket>/training/<model>/<run>/`.
    pub output: String,
    pub version: ModelVersion,
    /// The new version's approval (pending) and comparison; `None` when the run's bytes
    /// were an existing version's, which `version` is then.
    pub approval: Option<Approval>,
    pub aliases: BTreeMap<String, u32>,
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
    /// Its bytes were this version's already: no new version.
    Identical(Box<ModelVersion>),
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

/// `--register-pending`: registers every ended run of the model that is not a version yet
/// (a scheduled or drift-started run, or one `retrain` stopped following), so an
/// unattended job can turn scheduled training into versions.
async fn register_pending(
    session: &Session<'_>,
    model: &str,
    alias: Option<String>,
) -> Result<PendingOutcome, Error> {
    let loaded = session.load_env()?;
    let config = &loaded.config;
    checked(config, model, alias.as_deref())?;

    let aws = session.aws(&config.environment).await?;
    let registrar = Registrar::new(&aws, config, model, session.who()).await?;
    let folders = training::run_folders(&aws, &registrar.registry.bucket, model).await?;
    let decided = registrar.registry.decided_runs(model).await?;
    // Versions registered before outcomes were recorded name their run.
    let registered: Vec<String> = registrar
        .registry
        .all(model)
        .await?
        .all_or_first_problem()?
        .into_iter()
        .filter_map(|v| v.params.get("training_run").cloned())
        .collect();
    let known = |run: &str| decided.contains(run) || registered.iter().any(|r| r == run);
    // Read before the first write: a failed read after it would hide what was registered.
    let mut aliases = registrar.registry.aliases(model).await?;
    let stopped = training::stopped_runs(&aws, &registrar.job).await?;
    let mut runs = Vec::new();
    // One run's refusal or failure does not hold back the others: each is reported.
    for run in folders.ended.iter().filter(|r| !known(r)) {
        let result = match registrar.register(run, None, None).await {
            Ok(Registered::New(version, _)) => RunResult::Registered(version),
            Ok(Registered::Identical(version)) => RunResult::Identical(version),
            Err(e) => RunResult::from(Error::from(e)),
        };
        runs.push(PendingRun {
            output: registrar.output_uri(run),
            run: run.clone(),
            result,
        });
    }
    // Unattended runs whose task ended without output (ECS is asked: a run that died
    // before writing has no folder at all); `retrain` reported the runs it followed.
    let mut died = Vec::new();
    for task in stopped {
        let TaskState::Stopped { exit_code, reason } = task.state else {
            continue;
        };
        if task.started_by.as_deref() == Some(training::STARTED_BY)
            || known(&task.id)
            || folders.ended.contains(&task.id)
        {
            continue;
        }
        let reason = format!(
            "task stopped ({reason}), exit code {}, without writing model.json; its log group is {}",
            exit_code.map_or("none".to_string(), |c| c.to_string()),
            registrar.job.logs
        );
        registrar
            .record(
                &task.id,
                RunOutcome::Failed {
                    reason: reason.clone(),
                },
            )
            .await?;
        died.push(task.id.clone());
        runs.push(PendingRun {
            output: registrar.output_uri(&task.id),
            run: task.id,
            result: RunResult::Failed(reason),
        });
    }
    let unfinished = folders
        .unfinished
        .into_iter()
        .filter(|r| !known(r) && !died.contains(r))
        .collect();
    let newest = runs.iter().rev().find_map(|r| match &r.result {
        RunResult::Registered(v) | RunResult::Identical(v) => Some(v.version),
        _ => None,
    });
    let alias = match (alias, newest) {
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
        unfinished,
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

/// One run: started and followed to its end, or (`register`) one that ended; registered.
async fn run_one(
    session: &Session<'_>,
    model: &str,
    alias: Option<&str>,
    register: Option<String>,
) -> Result<Outcome, Error> {
    let loaded = session.load_env()?;
    let config = &loaded.config;
    // Everything the config and the arguments decide is checked before the first AWS call.
    if let Some(run) = &register
        && !training::is_run_id(run)
    {
        return Err(TrainingError::BadRun(run.clone()).into());
    }
    let retraining = checked(config, model, alias)?;

    let aws = session.aws(&config.environment).await?;
    let registrar = Registrar::new(&aws, config, model, session.who()).await?;
    let (run, task, duration_ms) = match register {
        Some(run) => {
            already_decided(&registrar.registry, model, &run).await?;
            (run, None, None)
        }
        None => {
            let job = &registrar.job;
            let run = run_id();
            let started = Instant::now();
            let task = training::start(&aws, job, &run).await?;
            let limit = Duration::from_secs(u64::from(retraining.job.timeout_minutes) * 60);
            session
                .with_progress(async |sink| follow(&aws, job, &run, &task, limit, sink).await)
                .await?;
            let elapsed = started.elapsed().as_millis() as u64;
            (run, Some(task), Some(elapsed))
        }
    };
    let (version, approval) = match registrar.register(&run, task.as_deref(), alias).await? {
        Registered::New(version, approval) => (*version, Some(approval)),
        Registered::Identical(version) => (*version, None),
    };
    Ok(Outcome {
        environment: config.environment.name.clone(),
        model: model.to_string(),
        service: registrar.service.clone(),
        output: registrar.output_uri(&run),
        run,
        task,
        duration_ms,
        aliases: registrar.registry.aliases(model).await?,
        version,
        approval,
    })
}
