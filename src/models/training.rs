//! Retraining runs: one ECS Fargate task of a model's training job (rendered by
//! `templates/partials/retraining.tera` into the serving service's stack), followed to its
//! end, and its output read back for registration.
//!
//! The job's contract (README, "Retraining"; `scripts/training_job.py` is its reference):
//! the run writes `model` (the artifact) and then `model.json` (`parameters`, `metrics`,
//! `input`) under the models bucket's `training/<model>/<run>/`, and exits 0.

use std::collections::BTreeMap;

use aws_sdk_ecs::types::{ContainerOverride, KeyValuePair, LaunchType, TaskOverride};
use serde::Deserialize;

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
        "training run {run} of `{model}` still runs after {minutes} minutes (task {task}); nothing was registered"
    )]
    StillRunning {
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
    /// The run's output is a version already (exit 3).
    #[error("training run {run} is registered already, as version {version}")]
    Registered { run: String, version: u32 },
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
        matches!(self, Self::SchemaMismatch { .. } | Self::Registered { .. })
    }

    pub fn help(&self) -> String {
        match self {
            Self::BadRun(_) => "a run id is the folder under training/<model>/ in the models bucket: letters, digits, `-` and `_`".into(),
            Self::SchemaMismatch { service, .. } => format!(
                "nothing was registered: train on the fields services.{service}.model.input lists, or change that list with the service's code"
            ),
            Self::Registered { version, .. } => format!("it is version {version}: `facturactl model show <model> {version}`"),
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
            Self::StillRunning { model, run, .. } => format!(
                "the task goes on; once it ends, `facturactl retrain {model} --register {run}` registers its output"
            ),
            Self::NoOutput { .. } | Self::BadOutput { .. } => {
                "the job writes `model`, then `model.json` with parameters, metrics and input (README, \"Retraining\")".into()
            }
        }
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
        .started_by("facturactl")
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
    let out = aws
        .ecs
        .describe_tasks()
        .cluster(&job.cluster)
        .tasks(task)
        .send()
        .await
        .map_err(|e| AwsError::new("DescribeTasks", e))?;
    let Some(found) = out.tasks().first() else {
        // ECS forgets stopped tasks after about an hour.
        return Ok(TaskState::Stopped {
            exit_code: None,
            reason: "the task is no longer known to ECS".into(),
        });
    };
    let last = found.last_status().unwrap_or("PENDING");
    if last != "STOPPED" {
        return Ok(TaskState::Active(last.to_string()));
    }
    let container = found
        .containers()
        .iter()
        .find(|c| c.name() == Some(CONTAINER))
        .or_else(|| found.containers().first());
    let mut reason = found.stopped_reason().unwrap_or("stopped").to_string();
    if let Some(why) = container.and_then(|c| c.reason()).filter(|r| !r.is_empty()) {
        reason = format!("{reason}: {why}");
    }
    Ok(TaskState::Stopped {
        exit_code: container.and_then(|c| c.exit_code()),
        reason,
    })
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
    let bytes = read("model").await?;
    Ok(RunOutput {
        bytes,
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
