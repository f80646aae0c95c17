//! Retraining runs: one ECS Fargate task of a model's training job (rendered by
//! `templates/partials/retraining.tera` into the serving service's stack), followed to its
//! end, and its output read back for registration.
//!
//! The job's contract (README, "Retraining"; `training/fraud-scoring/train.py` is its reference):
//! the run writes `model` (the artifact) and then `model.json` (`parameters`, `metrics`,
//! `input`) under the models bucket's `training/<model>/<run>/`, and exits 0.

use std::collections::BTreeMap;

use aws_sdk_ecs::types::{ContainerOverride, KeyValuePair, LaunchType, TaskOverride};
use serde::{Deserialize, Serialize};

use crate::aws::{AwsContext, AwsError};
use crate::config::{Config, FieldType, Retraining};
use crate::stacks::live;

/// The container name in the training task definition.
const CONTAINER: &str = "training";

/// Where and how a model's training task runs, read from its deployed stack.
#[derive(Debug, Clone)]
pub struct Job {
    pub model: String,
    pub cluster: String,
    /// The task definition ARN (the stack's latest revision).
    pub task_definition: String,
    /// The run's log group.
    pub logs: String,
    subnets: Vec<String>,
    security_groups: Vec<String>,
}

/// A run's task as ECS last described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskState {
    /// `PROVISIONING`, `PENDING`, `RUNNING`, ... (ECS's lastStatus).
    Active(String),
    Stopped {
        exit_code: Option<i32>,
        /// ECS's stoppedReason, and the container's reason when it gave one.
        reason: String,
    },
}

/// What a finished run wrote.
#[derive(Debug, Clone)]
pub struct RunOutput {
    pub bytes: Vec<u8>,
    /// `reference.json`: the training inputs' distribution, when the job wrote one.
    pub reference: Option<Vec<u8>>,
    /// Every data object the run read.
    pub data: Vec<super::DataObject>,
    /// The image digest the job saw (ECS's answer is preferred).
    pub image_digest: Option<String>,
    pub params: BTreeMap<String, String>,
    pub metrics: BTreeMap<String, f64>,
    pub input: BTreeMap<String, FieldType>,
}

/// A run whose container did not exit 0.
#[derive(Debug, serde::Serialize)]
pub struct FailedRun {
    pub model: String,
    pub run: String,
    pub task: String,
    pub exit_code: Option<i32>,
    /// ECS's stoppedReason, with the container's reason.
    pub reason: String,
    /// Its log group.
    pub logs: String,
}

#[derive(Debug, thiserror::Error, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrainingError {
    #[error("{0}")]
    Aws(#[from] AwsError),
    #[error("model `{0}` has no [models.{0}.retraining]")]
    NotDeclared(String),
    #[error("model `{model}` is served by no enabled service in `{environment}`")]
    NotServed { model: String, environment: String },
    #[error("the training job of `{model}` is not deployed: {what}")]
    NotDeployed {
        model: String,
        stack: String,
        what: String,
    },
    #[error("ECS did not start the training task: {0}")]
    NotStarted(StartFailure),
    #[error("training run {} of `{}` failed: task {} stopped ({}), exit code {}", .0.run, .0.model, .0.task, .0.reason, .0.exit_code.map_or("none".to_string(), |c| c.to_string()))]
    Failed(Box<FailedRun>),
    #[error(
        "training run {run} of `{model}` ran past its {minutes} minutes (timeout_minutes) and was stopped (task {task}); nothing was registered"
    )]
    TimedOut {
        model: String,
        run: String,
        task: String,
        minutes: u32,
    },
    #[error("`{0}` is not a run id")]
    BadRun(String),
    /// The run's model does not take what the service sends (exit 3).
    #[error("training run {run} of `{model}` does not take what service `{service}` sends: {}", super::join(.fields))]
    SchemaMismatch {
        model: String,
        service: String,
        run: String,
        fields: Vec<super::FieldMismatch>,
    },
    /// The run was decided already (exit 3): it is reported once.
    #[error("training run {run} was decided already: {outcome}")]
    Decided {
        model: String,
        run: String,
        outcome: RunOutcome,
    },
    /// The run's output is a version already (exit 3).
    #[error("training run {run} is registered already, as version {version}")]
    Registered {
        model: String,
        run: String,
        version: u32,
    },
    /// The run's lineage is not known (exit 3): what it trained from cannot be said.
    #[error("training run {run} of `{model}` cannot be registered: {missing}")]
    NoLineage {
        model: String,
        run: String,
        missing: LineageGap,
    },
    /// The model's drift measure needs a reference distribution the run did not write
    /// (exit 3).
    #[error(
        "training run {run} of `{model}` wrote no reference.json, which the population-stability measure needs"
    )]
    NoReference { model: String, run: String },
    #[error("training run {run} wrote no {key}")]
    NoOutput { run: String, key: String },
    #[error("training run {run}'s {key} is not the job's output document: {message}")]
    BadOutput {
        run: String,
        key: String,
        message: String,
    },
}

impl TrainingError {
    /// Refusals (exit 3): output that must not become a version.
    pub fn refused(&self) -> bool {
        matches!(
            self,
            Self::SchemaMismatch { .. }
                | Self::Registered { .. }
                | Self::Decided { .. }
                | Self::NoLineage { .. }
                | Self::NoReference { .. }
        )
    }

    pub fn help(&self) -> String {
        match self {
            Self::BadRun(_) => "a run id is a run's folder under training/ in the models bucket (as `retrain` or `--register-pending` prints it): letters, digits, `-` and `_`".into(),
            Self::SchemaMismatch { service, .. } => format!(
                "nothing was registered: train on the fields services.{service}.model.input lists, or change that list with the service's code"
            ),
            Self::Registered { model, version, .. } => format!("it is version {version}: `facturactl model show {model} {version}`"),
            Self::Decided { model, .. } => format!("a run is decided once; `facturactl model list {model}` shows the versions"),
            Self::Aws(_) => "check the credentials and that the environment is deployed".into(),
            Self::NotDeclared(model) => format!(
                "declare [models.{model}.retraining] (schedule, data, job) and deploy, then retrain"
            ),
            Self::NotServed { model, .. } => format!(
                "enable the service whose [services.<name>.model] is `{model}`: the training job lives in its stack"
            ),
            Self::NotDeployed { stack, .. } => {
                format!("deploy the environment first: the job is part of stack `{stack}`")
            }
            Self::NotStarted(_) => {
                "check the cluster's capacity and the job's subnets and security group".into()
            }
            Self::Failed(failed) => format!(
                "read the run's output in the {} log group; nothing was registered",
                failed.logs
            ),
            Self::TimedOut { model, .. } => format!(
                "read the run's log group for where it hung; raise [models.{model}.retraining.job] timeout_minutes if the data needs longer"
            ),
            Self::NoLineage { missing: LineageGap::Data, .. } => "the job lists every object it read in model.json's `lineage.data` (key, etag, version_id): README, \"Retraining\"".into(),
            Self::NoLineage { missing: LineageGap::ImageDigest, .. } => "ECS no longer knows the run's task and the job wrote no `lineage.image_digest`: have the job read it from the task metadata endpoint (ECS_CONTAINER_METADATA_URI_V4)".into(),
            Self::NoReference { .. } => "the job writes reference.json (each input field's bins and proportions) beside model.json: README, \"Retraining\"".into(),
            Self::NoOutput { .. } | Self::BadOutput { .. } => {
                "the job writes `model`, then `model.json` with parameters, metrics and input (README, \"Retraining\")".into()
            }
        }
    }
}

/// What became of a training run, as `registry/<model>/runs/<run>.json` keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run: String,
    #[serde(flatten)]
    pub outcome: RunOutcome,
    pub by: String,
    /// RFC 3339, UTC.
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RunOutcome {
    Registered {
        version: u32,
    },
    /// Its bytes were those of this version already.
    Identical {
        version: u32,
    },
    /// Its output must not become a version.
    Refused {
        reason: String,
    },
    /// It ended without usable output (its task failed, or what it wrote does not read).
    Failed {
        reason: String,
    },
}

impl std::fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Registered { version } => write!(f, "registered as version {version}"),
            Self::Identical { version } => write!(f, "identical to version {version}"),
            Self::Refused { reason } => write!(f, "refused: {reason}"),
            Self::Failed { reason } => write!(f, "failed: {reason}"),
        }
    }
}

/// What a run's lineage lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineageGap {
    /// model.json lists no data objects.
    Data,
    /// Neither ECS nor the job says which image ran.
    ImageDigest,
}

impl std::fmt::Display for LineageGap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Data => "its model.json has no `lineage` listing the data objects it read",
            Self::ImageDigest => "the digest of the image that ran is not known",
        })
    }
}

/// The retraining a model declares, and the service (and its stack) that serves it.
pub fn declared<'a>(
    config: &'a Config,
    model: &'a str,
) -> Result<(&'a Retraining, &'a str, &'a crate::config::Service), TrainingError> {
    let retraining = config
        .models
        .get(model)
        .and_then(|m| m.retraining.as_ref())
        .ok_or_else(|| TrainingError::NotDeclared(model.to_string()))?;
    let (service, svc) = config
        .model_servers(model)
        .find(|(_, svc)| svc.enabled)
        .ok_or_else(|| TrainingError::NotServed {
            model: model.to_string(),
            environment: config.environment.name.clone(),
        })?;
    Ok((retraining, service.as_str(), svc))
}

/// The deployed job: the task definition from the stack's outputs, the network from the
/// parameters the stack was given.
pub async fn job(
    aws: &AwsContext,
    config: &Config,
    model: &str,
    stack: &str,
) -> Result<Job, TrainingError> {
    let stack_name = config.stack_name(stack);
    let missing = |what: String| TrainingError::NotDeployed {
        model: model.to_string(),
        stack: stack.to_string(),
        what,
    };
    let live = live::one(&aws.cloudformation, &stack_name)
        .await?
        .ok_or_else(|| missing(format!("stack {stack_name} does not exist")))?;
    let output = format!(
        "{}TrainingTaskDefinition",
        crate::config::names::logical_id(model)
    );
    let task_definition = live
        .outputs
        .get(&output)
        .cloned()
        .ok_or_else(|| missing(format!("stack {stack_name} has no output {output}")))?;
    let list = |key: &str| list_parameter(live.parameters.get(key).map_or("", String::as_str));
    Ok(Job {
        model: model.to_string(),
        cluster: live
            .parameters
            .get("ClusterName")
            .cloned()
            .unwrap_or_else(|| config.cluster_name()),
        task_definition,
        logs: format!(
            "/facturascan/{}/ecs/{model}-training",
            config.environment.name
        ),
        subnets: list("PrivateSubnetIds"),
        security_groups: list("ServiceSecurityGroupId"),
    })
}

/// A `List<...>` parameter's value: `a,b` from CloudFormation (moto answers `['a', 'b']`).
fn list_parameter(value: &str) -> Vec<String> {
    value
        .trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .map(|item| {
            item.trim()
                .trim_matches(|c| c == '\'' || c == '"')
                .to_string()
        })
        .filter(|item| !item.is_empty())
        .collect()
}

/// Why RunTask started no training task.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StartFailure {
    /// The job's subnets or security groups do not make a network configuration.
    Network {
        reason: String,
    },
    /// RunTask's `failures`: ECS's reason (as `RESOURCE:MEMORY`) and its detail.
    Refused {
        reason: Option<String>,
        detail: Option<String>,
    },
    NoTask,
}

impl std::fmt::Display for StartFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Network { reason } => write!(f, "{reason}"),
            Self::Refused { reason, detail } => write!(
                f,
                "{} ({})",
                reason.as_deref().unwrap_or("no reason given"),
                detail.as_deref().unwrap_or("-")
            ),
            Self::NoTask => f.write_str("RunTask returned no task"),
        }
    }
}

/// Starts one run; returns its task ARN. `run` names the output folder (RUN_ID).
pub async fn start(aws: &AwsContext, job: &Job, run: &str) -> Result<String, TrainingError> {
    let network = crate::services::ecs::private_network(&job.subnets, &job.security_groups)
        .map_err(|e| {
            TrainingError::NotStarted(StartFailure::Network {
                reason: e.to_string(),
            })
        })?;
    let overrides = TaskOverride::builder()
        .container_overrides(
            ContainerOverride::builder()
                .name(CONTAINER)
                .environment(KeyValuePair::builder().name("RUN_ID").value(run).build())
                .build(),
        )
        .build();
    let out = aws
        .ecs
        .run_task()
        .cluster(&job.cluster)
        .task_definition(&job.task_definition)
        .launch_type(LaunchType::Fargate)
        .count(1)
        .started_by(STARTED_BY)
        .network_configuration(network)
        .overrides(overrides)
        .send()
        .await
        .map_err(|e| AwsError::new("RunTask", e))?;
    if let Some(failure) = out.failures().first() {
        return Err(TrainingError::NotStarted(StartFailure::Refused {
            reason: failure.reason().map(str::to_string),
            detail: failure.detail().map(str::to_string),
        }));
    }
    out.tasks()
        .first()
        .and_then(|t| t.task_arn())
        .map(str::to_string)
        .ok_or(TrainingError::NotStarted(StartFailure::NoTask))
}

/// The run's task as ECS describes it now.
pub async fn state(aws: &AwsContext, job: &Job, task: &str) -> Result<TaskState, TrainingError> {
    let Some(found) = describe(aws, job, &[task.to_string()])
        .await?
        .into_iter()
        .next()
    else {
        // ECS forgets stopped tasks after about an hour.
        return Ok(TaskState::Stopped {
            exit_code: None,
            reason: "the task is no longer known to ECS".into(),
        });
    };
    Ok(task_state(&found))
}

/// Stops a run's task (a hung run: nothing else ever would), saying why in ECS's
/// stoppedReason.
pub async fn stop(
    aws: &AwsContext,
    job: &Job,
    task: &str,
    reason: &str,
) -> Result<(), TrainingError> {
    aws.ecs
        .stop_task()
        .cluster(&job.cluster)
        .task(task)
        .reason(reason)
        .send()
        .await
        .map_err(|e| TrainingError::Aws(AwsError::new("StopTask", e)))?;
    Ok(())
}

/// The digest of the image the run's task ran (`sha256:...`), while ECS knows the task.
pub async fn image_digest(
    aws: &AwsContext,
    job: &Job,
    task: &str,
) -> Result<Option<String>, TrainingError> {
    let found = describe(aws, job, &[task.to_string()]).await?;
    Ok(found.first().and_then(|t| {
        container(t)
            .and_then(|c| c.image_digest())
            .map(str::to_string)
    }))
}

/// A stopped task of the training job.
#[derive(Debug, Clone)]
pub struct StoppedTask {
    /// The task id: an unattended run's id.
    pub id: String,
    /// `facturactl` for a run `retrain` started (and followed, so reported).
    pub started_by: Option<String>,
    pub state: TaskState,
}

/// Who `retrain` says started its tasks (RunTask's `startedBy`).
pub const STARTED_BY: &str = "facturactl";

/// The job's stopped tasks ECS still knows (about an hour after they stop), by task id:
/// each one's end, so a run that died before writing anything is seen.
pub async fn stopped_runs(aws: &AwsContext, job: &Job) -> Result<Vec<StoppedTask>, TrainingError> {
    let family = job
        .task_definition
        .rsplit('/')
        .next()
        .and_then(|f| f.split(':').next())
        .unwrap_or_default();
    let mut arns = Vec::new();
    let mut token = None;
    loop {
        let page = aws
            .ecs
            .list_tasks()
            .cluster(&job.cluster)
            .family(family)
            .desired_status(aws_sdk_ecs::types::DesiredStatus::Stopped)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| AwsError::new("ListTasks", e))?;
        arns.extend(page.task_arns().iter().cloned());
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let mut runs = Vec::new();
    // DescribeTasks takes up to 100 tasks a call.
    for chunk in arns.chunks(100) {
        for task in describe(aws, job, chunk).await? {
            let id = task.task_arn().and_then(|a| a.rsplit('/').next());
            if let Some(id) = id.map(str::to_string) {
                runs.push(StoppedTask {
                    id,
                    started_by: task.started_by().map(str::to_string),
                    state: task_state(&task),
                });
            }
        }
    }
    Ok(runs)
}

async fn describe(
    aws: &AwsContext,
    job: &Job,
    tasks: &[String],
) -> Result<Vec<aws_sdk_ecs::types::Task>, TrainingError> {
    let out = aws
        .ecs
        .describe_tasks()
        .cluster(&job.cluster)
        .set_tasks(Some(tasks.to_vec()))
        .send()
        .await
        .map_err(|e| AwsError::new("DescribeTasks", e))?;
    Ok(out.tasks.unwrap_or_default())
}

fn container(task: &aws_sdk_ecs::types::Task) -> Option<&aws_sdk_ecs::types::Container> {
    task.containers()
        .iter()
        .find(|c| c.name() == Some(CONTAINER))
        .or_else(|| task.containers().first())
}

fn task_state(task: &aws_sdk_ecs::types::Task) -> TaskState {
    let last = task.last_status().unwrap_or("PENDING");
    if last != "STOPPED" {
        return TaskState::Active(last.to_string());
    }
    let container = container(task);
    let mut reason = task.stopped_reason().unwrap_or("stopped").to_string();
    if let Some(why) = container.and_then(|c| c.reason()).filter(|r| !r.is_empty()) {
        reason = format!("{reason}: {why}");
    }
    TaskState::Stopped {
        exit_code: container.and_then(|c| c.exit_code()),
        reason,
    }
}

/// The prefix a run writes under, in the models bucket.
pub fn output_prefix(model: &str, run: &str) -> String {
    format!("training/{model}/{run}/")
}

/// A run id as a key part: letters, digits, `-` and `_` (ours, or an ECS task id).
pub fn is_run_id(text: &str) -> bool {
    (1..=128).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The run folders under `training/<model>/`, by whether their run finished writing.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RunFolders {
    /// Runs with `model.json` (written last), oldest first.
    pub ended: Vec<String>,
    /// Runs without it: still running, or stopped before the end of their output.
    pub unfinished: Vec<String>,
}

/// Lists the runs of `model` whose output is in the bucket: one listing, whatever started
/// them (`retrain`, the schedule, the drift rule).
pub async fn run_folders(
    aws: &AwsContext,
    bucket: &str,
    model: &str,
) -> Result<RunFolders, TrainingError> {
    let prefix = format!("training/{model}/");
    let objects = crate::aws::s3::list_objects(&aws.s3, bucket, &prefix)
        .await
        .map_err(|e| AwsError::new("ListObjectsV2", e))?;
    let under = objects
        .into_iter()
        .filter_map(|(key, modified)| Some((key.strip_prefix(&prefix)?.to_string(), modified)))
        .collect();
    Ok(sort_runs(under))
}

/// `(key under training/<model>/, last modified)` into ended and unfinished runs; ended
/// ones ordered by when their `model.json` was written, so versions follow the runs.
fn sort_runs(objects: Vec<(String, i64)>) -> RunFolders {
    let mut ended: BTreeMap<String, i64> = BTreeMap::new();
    let mut seen: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    for (key, modified) in objects {
        let Some((run, name)) = key.split_once('/') else {
            continue;
        };
        if !is_run_id(run) {
            continue;
        }
        seen.insert(run.to_string());
        if name == "model.json" {
            ended.insert(run.to_string(), modified);
        }
    }
    let unfinished = seen
        .into_iter()
        .filter(|run| !ended.contains_key(run))
        .collect();
    let mut ended: Vec<(String, i64)> = ended.into_iter().collect();
    ended.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    RunFolders {
        ended: ended.into_iter().map(|(run, _)| run).collect(),
        unfinished,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutputDocument {
    #[serde(default)]
    parameters: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    metrics: BTreeMap<String, f64>,
    input: BTreeMap<String, FieldType>,
    /// What the run read (required) and, when the job could see it, its image's digest.
    lineage: Option<OutputLineage>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutputLineage {
    #[serde(default)]
    image_digest: Option<String>,
    data: Vec<super::DataObject>,
}

/// Reads what a finished run wrote: `model.json` first (written last, so its presence
/// means the run finished writing), then the artifact.
pub async fn output(
    aws: &AwsContext,
    bucket: &str,
    model: &str,
    run: &str,
) -> Result<RunOutput, TrainingError> {
    let prefix = output_prefix(model, run);
    let store = super::registry::S3Registry::new(aws, bucket.to_string());
    let read = async |name: &str| -> Result<Vec<u8>, TrainingError> {
        let key = format!("{prefix}{name}");
        match store.fetch(bucket, &key, None).await? {
            Some((bytes, _)) => Ok(bytes),
            None => Err(TrainingError::NoOutput {
                run: run.to_string(),
                key: format!("s3://{bucket}/{key}"),
            }),
        }
    };
    let document = read("model.json").await?;
    let parsed: OutputDocument =
        serde_json::from_slice(&document).map_err(|e| TrainingError::BadOutput {
            run: run.to_string(),
            key: format!("s3://{bucket}/{prefix}model.json"),
            message: e.to_string(),
        })?;
    let lineage = parsed.lineage.ok_or_else(|| TrainingError::NoLineage {
        model: model.to_string(),
        run: run.to_string(),
        missing: LineageGap::Data,
    })?;
    let bytes = read("model").await?;
    let reference = match read("reference.json").await {
        Ok(bytes) => Some(bytes),
        Err(TrainingError::NoOutput { .. }) => None,
        Err(e) => return Err(e),
    };
    Ok(RunOutput {
        bytes,
        reference,
        data: lineage.data,
        image_digest: lineage.image_digest,
        params: parsed
            .parameters
            .into_iter()
            .map(|(k, v)| (k, super::mlflow::text_of(&v)))
            .collect(),
        metrics: parsed.metrics,
        input: parsed.input,
    })
}

#[cfg(test)]
mod tests {
    use super::{RunFolders, is_run_id, list_parameter, sort_runs};

    #[test]
    fn ended_runs_are_those_with_model_json_oldest_first() {
        let objects = vec![
            ("b7e1/model".to_string(), 5),
            ("b7e1/model.json".to_string(), 6),
            ("a91c/model".to_string(), 20),
            ("a91c/model.json".to_string(), 21),
            ("c000/model".to_string(), 30),
            ("stray.txt".to_string(), 1),
            ("../x/model.json".to_string(), 1),
        ];
        assert_eq!(
            sort_runs(objects),
            RunFolders {
                ended: vec!["b7e1".into(), "a91c".into()],
                unfinished: vec!["c000".into()],
            }
        );
    }

    #[test]
    fn run_ids_are_key_parts() {
        assert!(is_run_id("20261202T221500Z-3f9a1c"));
        assert!(is_run_id("0123456789abcdef0123456789abcdef"));
        assert!(!is_run_id("../other"));
        assert!(!is_run_id(""));
    }

    #[test]
    fn list_parameters_as_cloudformation_and_moto_answer_them() {
        let both = vec!["subnet-1".to_string(), "subnet-2".to_string()];
        assert_eq!(list_parameter("subnet-1,subnet-2"), both);
        assert_eq!(list_parameter("['subnet-1', 'subnet-2']"), both);
        assert!(list_parameter("").is_empty());
    }
}
