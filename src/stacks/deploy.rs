//! Deploying stacks: decide per stack (create, update, skip), apply, wait, report.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::types::{Capability, Parameter, Tag};
use serde::Serialize;

use super::desired::{desired_parameters, desired_tags, differences};
use super::events::ResourceFailure;
use super::live::{self, Condition, LiveStack};
use super::scheduler::{self, Completion};
use super::template::{self, TemplateBucket, request_token};
use crate::aws::AwsContext;
use crate::aws::AwsError;
use crate::graph::StackGraph;
use crate::progress::{Progress, ProgressSink};
use crate::render::{RenderedEnv, RenderedStack};

#[derive(Debug, Clone)]
pub struct DeployOptions {
    pub max_concurrency: usize,
    /// Refuse, rather than wait, when a stack is busy with another operation.
    pub no_wait: bool,
    /// Delete and create again a stack whose first create failed (ROLLBACK_COMPLETE).
    pub recreate_failed: bool,
    /// Only these stacks (and nothing else), when set.
    pub only: Option<BTreeSet<String>>,
    /// Give stacks a policy that denies replacing or deleting databases and buckets
    /// (production).
    pub protect_data: bool,
    /// Let this one update replace or delete protected resources anyway.
    pub allow_data_replacement: bool,
    /// Where templates too large to send inline go.
    pub templates: TemplateBucket,
    /// This run's id, in every ClientRequestToken it sends.
    pub run_id: String,
    /// `deploy --plan FILE`: each stack's saved entry, by its name; its change set is
    /// executed (never a new update), after the plan was checked before any change.
    pub saved: Option<BTreeMap<String, super::saved::SavedStack>>,
}

impl Default for DeployOptions {
    fn default() -> Self {
        Self {
            max_concurrency: 8,
            no_wait: false,
            recreate_failed: false,
            only: None,
            protect_data: false,
            allow_data_replacement: false,
            templates: TemplateBucket::default(),
            run_id: uuid::Uuid::new_v4().simple().to_string(),
            saved: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Recreate,
    Unchanged,
    Delete,
    None,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Recreate => "recreate",
            Self::Unchanged => "unchanged",
            Self::Delete => "delete",
            Self::None => "none",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StackResult {
    Succeeded,
    Skipped,
    Failed,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct StackReport {
    pub stack: String,
    pub stack_name: String,
    pub action: Action,
    pub result: StackResult,
    pub duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Why it failed or was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<ResourceFailure>,
    /// What kind of failure an AWS call met, when one failed the stack (a stack that
    /// failed in CloudFormation has its `failures` instead).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_failure: Option<crate::aws::Failure>,
    /// Its CloudFormation outputs after the run (a stack that succeeded).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, String>,
}

/// The stacks of one deploy or destroy, each with its result, in the order they were given.
#[derive(Debug, Clone, Default)]
pub struct StacksRun {
    pub stacks: Vec<StackReport>,
    pub duration_ms: u64,
    /// Each stack's outputs once the run is over (config stack name to outputs): what the
    /// run deployed, else what is live.
    pub outputs: BTreeMap<String, BTreeMap<String, String>>,
    /// Each stack's outputs before the run (what ran then; a stack that did not exist has
    /// none).
    pub before: BTreeMap<String, BTreeMap<String, String>>,
    /// Stacks of this environment the configuration no longer defines, left as they are.
    pub orphaned: Vec<live::Orphan>,
}

/// What one stack's deploy produced for its dependents.
struct Deployed {
    action: Action,
    status: String,
    outputs: BTreeMap<String, String>,
}

/// A stack deploy that did not succeed, with what the report needs.
pub(super) struct StackError {
    pub(super) action: Action,
    pub(super) message: String,
    pub(super) status: Option<String>,
    pub(super) failures: Vec<ResourceFailure>,
    /// The kind of the failed AWS call, when one failed it.
    pub(super) aws_failure: Option<crate::aws::Failure>,
}

impl StackError {
    pub(super) fn refused(message: String) -> Self {
        Self::failed(Action::None, message)
    }

    fn failed(action: Action, message: String) -> Self {
        Self {
            action,
            message,
            status: None,
            failures: Vec::new(),
            aws_failure: None,
        }
    }
}

impl From<AwsError> for StackError {
    fn from(e: AwsError) -> Self {
        Self {
            aws_failure: Some(e.failure()),
            ..Self::refused(e.to_string())
        }
    }
}

/// Deploys every rendered stack in dependency order, independent branches concurrently.
pub async fn deploy(
    aws: &AwsContext,
    rendered: &RenderedEnv,
    options: &DeployOptions,
    progress: &ProgressSink,
) -> Result<StacksRun, AwsError> {
    let started = Instant::now();
    let live = live::all(&aws.cloudformation).await?;
    let selected: Vec<&RenderedStack> = rendered
        .stacks
        .iter()
        .filter(|s| {
            options
                .only
                .as_ref()
                .is_none_or(|only| only.contains(&s.name))
        })
        .collect();
    let order: Vec<String> = selected.iter().map(|s| s.name.clone()).collect();
    // Stacks outside a partial run count as done: their outputs come from what is live.
    let graph = StackGraph::new(selected.iter().map(|s| {
        let deps: &[String] = &s.depends_on;
        (s.name.as_str(), deps)
    }))
    .restricted_to(&order);
    let before = live::outputs_by_stack(rendered, &live);
    let outputs: Mutex<BTreeMap<String, BTreeMap<String, String>>> = Mutex::new(before.clone());
    let timings: Mutex<BTreeMap<String, (u64, Action)>> = Mutex::new(BTreeMap::new());

    let results = scheduler::run(&graph, &order, options.max_concurrency, |name| {
        let stack = selected.iter().find(|s| s.name == name).copied();
        let (outputs, timings, live) = (&outputs, &timings, &live);
        async move {
            let stack =
                stack.ok_or_else(|| StackError::refused(format!("{name} is not rendered")))?;
            let t0 = Instant::now();
            let result = deploy_one(
                aws,
                stack,
                live.get(&stack.stack_name),
                outputs,
                options,
                progress,
            )
            .await;
            let elapsed = t0.elapsed().as_millis() as u64;
            let action = match &result {
                Ok(d) => d.action,
                Err(e) => e.action,
            };
            timings
                .lock()
                .map(|mut t| t.insert(name.clone(), (elapsed, action)))
                .ok();
            progress.send(Progress::StackFinished {
                stack: name.clone(),
                action: action.as_str(),
                result: if result.is_ok() {
                    "succeeded"
                } else {
                    "failed"
                },
                elapsed_ms: elapsed,
            });
            match result {
                Ok(deployed) => {
                    outputs
                        .lock()
                        .map(|mut o| o.insert(name, deployed.outputs.clone()))
                        .ok();
                    Ok((deployed.status, deployed.action))
                }
                Err(e) => Err(e),
            }
        }
    })
    .await;

    let timings = timings.into_inner().unwrap_or_default();
    let outputs = outputs.into_inner().unwrap_or_default();
    let stacks = results
        .into_iter()
        .map(|(name, completion)| {
            let stack_name = selected
                .iter()
                .find(|s| s.name == name)
                .map(|s| s.stack_name.clone())
                .unwrap_or_default();
            let (duration_ms, _) = timings.get(&name).copied().unwrap_or((0, Action::None));
            let report = stack_report(name, stack_name, duration_ms, completion);
            with_outputs(report, &outputs)
        })
        .collect();
    Ok(StacksRun {
        stacks,
        duration_ms: started.elapsed().as_millis() as u64,
        outputs,
        before,
        orphaned: live::orphans_of(rendered, &live),
    })
}

/// The run `deploy` would report if it changed nothing, decided from `live` alone: every
/// stack (of `only`, when given) stable and as rendered (template hash, parameters from the
/// live outputs, tags, termination protection). None when any stack would change or be
/// made. A run that changes nothing leaves every output as it is, so the live outputs are
/// the parameters `deploy` would compute.
pub fn unchanged(
    rendered: &RenderedEnv,
    live: &BTreeMap<String, LiveStack>,
    only: Option<&BTreeSet<String>>,
) -> Option<StacksRun> {
    let before = live::outputs_by_stack(rendered, live);
    let mut stacks = Vec::new();
    for stack in rendered
        .stacks
        .iter()
        .filter(|s| only.is_none_or(|only| only.contains(&s.name)))
    {
        let current = live.get(&stack.stack_name)?;
        let params = desired_parameters(stack, &before).ok()?;
        let restamped = crate::render::restamp_api(stack, &params);
        if !differences(current, &params, restamped.as_ref().unwrap_or(stack)).is_empty() {
            return None;
        }
        stacks.push(StackReport {
            stack: stack.name.clone(),
            stack_name: stack.stack_name.clone(),
            action: Action::Unchanged,
            result: StackResult::Succeeded,
            duration_ms: 0,
            status: Some(current.status.clone()),
            message: None,
            failures: Vec::new(),
            aws_failure: None,
            outputs: current.outputs.clone(),
        });
    }
    Some(StacksRun {
        stacks,
        duration_ms: 0,
        outputs: before.clone(),
        before,
        orphaned: live::orphans_of(rendered, live),
    })
}

/// A stack that succeeded, with its outputs after the run.
fn with_outputs(
    mut report: StackReport,
    outputs: &BTreeMap<String, BTreeMap<String, String>>,
) -> StackReport {
    if report.result == StackResult::Succeeded {
        report.outputs = outputs.get(&report.stack).cloned().unwrap_or_default();
    }
    report
}

/// One stack's line in the report, from how the scheduler saw it complete.
fn stack_report(
    stack: String,
    stack_name: String,
    duration_ms: u64,
    completion: Completion<(String, Action), StackError>,
) -> StackReport {
    match completion {
        Completion::Done((status, action)) => StackReport {
            stack,
            stack_name,
            action,
            result: StackResult::Succeeded,
            duration_ms,
            status: Some(status),
            message: None,
            failures: Vec::new(),
            aws_failure: None,
            outputs: BTreeMap::new(),
        },
        Completion::Failed(failure) => StackReport {
            stack,
            stack_name,
            action: failure.action,
            result: StackResult::Failed,
            duration_ms,
            status: failure.status,
            message: Some(failure.message),
            failures: failure.failures,
            aws_failure: failure.aws_failure,
            outputs: BTreeMap::new(),
        },
        Completion::Skipped { because } => StackReport {
            stack,
            stack_name,
            action: Action::None,
            result: StackResult::Skipped,
            duration_ms: 0,
            status: None,
            message: Some(format!("not deployed: `{because}` did not succeed")),
            failures: Vec::new(),
            aws_failure: None,
            outputs: BTreeMap::new(),
        },
    }
}

/// Resource types whose replacement or deletion loses data.
const DATA_TYPES: &[&str] = &[
    "AWS::RDS::DBInstance",
    "AWS::RDS::DBCluster",
    "AWS::S3::Bucket",
    "AWS::DynamoDB::Table",
];

/// A stack policy that allows every update except replacing or deleting the stack's data
/// resources; `None` when the stack has none.
fn data_protection_policy(stack: &RenderedStack) -> Option<String> {
    let protected: Vec<String> = DATA_TYPES
        .iter()
        .flat_map(|kind| stack.resources_of_type(kind))
        .map(|(id, _)| format!("LogicalResourceId/{id}"))
        .collect();
    if protected.is_empty() {
        return None;
    }
    Some(
        serde_json::json!({
            "Statement": [
                {"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"},
                {"Effect": "Deny", "Action": ["Update:Replace", "Update:Delete"], "Principal": "*", "Resource": protected}
            ]
        })
        .to_string(),
    )
}

const ALLOW_ALL_POLICY: &str =
    r#"{"Statement":[{"Effect":"Allow","Action":"Update:*","Principal":"*","Resource":"*"}]}"#;

async fn deploy_one(
    aws: &AwsContext,
    stack: &RenderedStack,
    initial: Option<&LiveStack>,
    outputs: &Mutex<BTreeMap<String, BTreeMap<String, String>>>,
    options: &DeployOptions,
    progress: &ProgressSink,
) -> Result<Deployed, StackError> {
    let params = {
        let outputs = outputs.lock().map(|o| o.clone()).unwrap_or_default();
        desired_parameters(stack, &outputs).map_err(|e| StackError::refused(e.to_string()))?
    };
    let rendered = stack;
    let restamped = crate::render::restamp_api(stack, &params);
    let stack = restamped.as_ref().unwrap_or(stack);
    let deadline = Duration::from_secs(u64::from(stack.timeout_minutes) * 60);
    if let Some(saved) = &options.saved {
        let entry = saved.get(&stack.name).ok_or_else(|| {
            StackError::refused(format!("{} is not in the saved plan", stack.name))
        })?;
        if !entry.inputs_after_apply {
            let run = SavedRun {
                entry,
                params: &params,
                deadline,
            };
            return execute_saved(aws, stack, initial, &run, options, progress).await;
        }
        // Its inputs were known only now: the template must be the one reviewed.
        if crate::render::content_hash(&rendered.body) != entry.template_sha256 {
            return Err(StackError::refused(format!(
                "{}'s template is not the one planned: plan again",
                stack.name
            )));
        }
    }
    let (current, recreate) = settle(aws, stack, initial, options, deadline, progress).await?;
    let changes = current
        .as_ref()
        .map(|live| differences(live, &params, stack));
    if let Some(changes) = changes.as_ref().filter(|c| !c.is_empty()) {
        tracing::debug!(stack = %stack.name, changes = %changes.join(", "), "stack differs from its rendering");
    }
    let action = match &current {
        Some(live) if changes.as_ref().is_some_and(Vec::is_empty) => {
            return Ok(Deployed {
                action: Action::Unchanged,
                status: live.status.clone(),
                outputs: live.outputs.clone(),
            });
        }
        Some(_) => Action::Update,
        None if recreate => Action::Recreate,
        None => Action::Create,
    };
    progress.send(Progress::StackStarted {
        stack: stack.name.clone(),
        action: action.as_str(),
    });
    let since = aws_sdk_cloudformation::primitives::DateTime::from(
        std::time::SystemTime::now() - Duration::from_secs(5),
    );
    let sent = match action {
        Action::Update => update(aws, stack, &params, options).await,
        _ => create(aws, stack, &params, options).await,
    };
    match sent {
        Ok(true) => {}
        // Nothing to change after all: the stack is as it should be.
        Ok(false) => {
            if let Some(live) = current {
                sync_termination_protection(aws, stack, Some(&live)).await?;
                return Ok(Deployed {
                    action: Action::Unchanged,
                    status: live.status,
                    outputs: live.outputs,
                });
            }
        }
        Err(error) => return Err(StackError::failed(action, error.to_string())),
    }
    let finished = wait_for_terminal(aws, stack, deadline, progress, Some(since)).await?;
    if live::is_failure(&finished.status) {
        return Err(failed_stack(aws, stack, action, &finished, since).await);
    }
    if action == Action::Update {
        sync_termination_protection(aws, stack, Some(&finished)).await?;
    }
    Ok(Deployed {
        action,
        status: finished.status,
        outputs: finished.outputs,
    })
}

/// One stack of a saved plan, with what the deploy computed for it now.
struct SavedRun<'a> {
    entry: &'a super::saved::SavedStack,
    params: &'a BTreeMap<String, String>,
    deadline: Duration,
}

/// A stack of a saved plan: its change set executed as planned, or nothing when it had
/// none. The whole plan was checked before any change; what is checked here is what the
/// stacks before it could have moved: the outputs it takes, and so its parameters.
async fn execute_saved(
    aws: &AwsContext,
    stack: &RenderedStack,
    initial: Option<&LiveStack>,
    run: &SavedRun<'_>,
    options: &DeployOptions,
    progress: &ProgressSink,
) -> Result<Deployed, StackError> {
    let entry = run.entry;
    if crate::render::content_hash(&stack.body) != entry.template_sha256 {
        return Err(StackError::refused(format!(
            "{}'s template is not the one planned (a model pinned or the configuration changed since): plan again",
            stack.name
        )));
    }
    if super::saved::parameters_hash(run.params) != entry.parameters_sha256 {
        return Err(StackError::refused(format!(
            "the outputs {} takes changed when the stacks before it were applied, so its planned change set is stale: plan again, and apply that plan",
            stack.name
        )));
    }
    let Some(change_set) = &entry.change_set else {
        let live = initial.ok_or_else(|| {
            StackError::refused(format!("{} was planned unchanged and is gone", stack.name))
        })?;
        return Ok(Deployed {
            action: Action::Unchanged,
            status: live.status.clone(),
            outputs: live.outputs.clone(),
        });
    };
    let action = if entry.live.is_some() {
        Action::Update
    } else {
        Action::Create
    };
    progress.send(Progress::StackStarted {
        stack: stack.name.clone(),
        action: action.as_str(),
    });
    let since = aws_sdk_cloudformation::primitives::DateTime::from(
        std::time::SystemTime::now() - Duration::from_secs(5),
    );
    aws.cloudformation
        .execute_change_set()
        .stack_name(&stack.stack_name)
        .change_set_name(change_set)
        .client_request_token(request_token(&options.run_id, "execute", &stack.stack_name))
        .send()
        .await
        .map_err(|e| {
            StackError::failed(action, AwsError::new("ExecuteChangeSet", e).to_string())
        })?;
    let finished = wait_for_terminal(aws, stack, run.deadline, progress, Some(since)).await?;
    if live::is_failure(&finished.status) {
        return Err(failed_stack(aws, stack, action, &finished, since).await);
    }
    // What UpdateStack and CreateStack would have set with the template: a change set
    // takes neither a stack policy nor termination protection.
    if let Some(policy) = options
        .protect_data
        .then(|| data_protection_policy(stack))
        .flatten()
    {
        aws.cloudformation
            .set_stack_policy()
            .stack_name(&stack.stack_name)
            .stack_policy_body(policy)
            .send()
            .await
            .map_err(|e| AwsError::new("SetStackPolicy", e))?;
    }
    sync_termination_protection(aws, stack, Some(&finished)).await?;
    Ok(Deployed {
        action,
        status: finished.status,
        outputs: finished.outputs,
    })
}

/// Brings the stack to a state a deploy may start from, or refuses with the reason:
/// (what is live then, whether a failed first create was deleted to be created again).
async fn settle(
    aws: &AwsContext,
    stack: &RenderedStack,
    initial: Option<&LiveStack>,
    options: &DeployOptions,
    deadline: Duration,
    progress: &ProgressSink,
) -> Result<(Option<LiveStack>, bool), StackError> {
    let mut current = initial.cloned();
    let mut recreate = false;
    while let Some(live) = current.clone() {
        match live.condition() {
            Condition::Stable => break,
            Condition::Gone => {
                current = None;
                break;
            }
            Condition::InProgress if options.no_wait => {
                return Err(StackError::refused(format!(
                    "{} is {} (another deploy or an operator is changing it); wait for it, or run without --no-wait to wait here",
                    stack.stack_name, live.status
                )));
            }
            Condition::InProgress => {
                progress.send(Progress::StackWaiting {
                    stack: stack.name.clone(),
                    status: live.status.clone(),
                    elapsed_ms: 0,
                });
                wait_for_terminal(aws, stack, deadline, progress, None).await?;
                current = live::one(&aws.cloudformation, &stack.stack_name).await?;
            }
            Condition::ReviewOnly => {
                // Created only to hold a change set that nobody executed: nothing deployed.
                delete_and_wait(aws, stack, &options.run_id, deadline, progress).await?;
                current = None;
            }
            Condition::FailedCreate if options.recreate_failed => {
                delete_and_wait(aws, stack, &options.run_id, deadline, progress).await?;
                current = None;
                recreate = true;
            }
            Condition::FailedCreate => {
                return Err(stuck(aws, stack, &live, format!(
                    "{} is {}: its first create failed and nothing usable remains. Run again with --recreate-failed to delete and create it, or delete it yourself",
                    stack.stack_name, live.status
                )).await);
            }
            Condition::RollbackFailed => {
                return Err(stuck(aws, stack, &live, format!(
                    "{name} is UPDATE_ROLLBACK_FAILED: fix the cause below, then run `aws cloudformation continue-update-rollback --stack-name {name}` (add `--resources-to-skip` for resources that cannot roll back) and deploy again",
                    name = stack.stack_name
                )).await);
            }
            Condition::DeleteFailed => {
                return Err(StackError::refused(format!(
                    "{} is DELETE_FAILED: delete it (retaining the resources that block it) before deploying",
                    stack.stack_name
                )));
            }
        }
    }
    Ok((current, recreate))
}

/// A stack that cannot be deployed onto until someone acts, with its recent failures.
async fn stuck(
    aws: &AwsContext,
    stack: &RenderedStack,
    live: &LiveStack,
    message: String,
) -> StackError {
    StackError {
        action: Action::None,
        message,
        status: Some(live.status.clone()),
        failures: recent_failures(aws, &stack.stack_name, None)
            .await
            .unwrap_or_default(),
        aws_failure: None,
    }
}

fn parameters_of(params: &BTreeMap<String, String>) -> Vec<Parameter> {
    params
        .iter()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_key(k)
                .parameter_value(v)
                .build()
        })
        .collect()
}

fn tags_of(stack: &RenderedStack) -> Vec<Tag> {
    desired_tags(stack)
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// UpdateStack; false when CloudFormation finds nothing to change.
async fn update(
    aws: &AwsContext,
    stack: &RenderedStack,
    params: &BTreeMap<String, String>,
    options: &DeployOptions,
) -> Result<bool, AwsError> {
    let policy = options
        .protect_data
        .then(|| data_protection_policy(stack))
        .flatten();
    let during = (options.protect_data && options.allow_data_replacement)
        .then(|| ALLOW_ALL_POLICY.to_string());
    let (body, url) = template::body_or_url(aws, &options.templates, stack).await?;
    let result = aws
        .cloudformation
        .update_stack()
        .stack_name(&stack.stack_name)
        .set_template_body(body)
        .set_template_url(url)
        .client_request_token(request_token(&options.run_id, "update", &stack.stack_name))
        .set_stack_policy_body(policy)
        .set_stack_policy_during_update_body(during)
        .set_parameters(Some(parameters_of(params)))
        .set_tags(Some(tags_of(stack)))
        .capabilities(Capability::CapabilityIam)
        .capabilities(Capability::CapabilityNamedIam)
        .send()
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(e) => {
            let error = AwsError::new("UpdateStack", e);
            // Only values CloudFormation masks (NoEcho) differed. It says so with a plain
            // ValidationError and no code of its own, so its words are the only signal.
            if error.message.contains("No updates are to be performed") {
                Ok(false)
            } else {
                Err(error)
            }
        }
    }
}

async fn create(
    aws: &AwsContext,
    stack: &RenderedStack,
    params: &BTreeMap<String, String>,
    options: &DeployOptions,
) -> Result<bool, AwsError> {
    let (body, url) = template::body_or_url(aws, &options.templates, stack).await?;
    aws.cloudformation
        .create_stack()
        .stack_name(&stack.stack_name)
        .set_template_body(body)
        .set_template_url(url)
        .client_request_token(request_token(&options.run_id, "create", &stack.stack_name))
        .set_stack_policy_body(
            options
                .protect_data
                .then(|| data_protection_policy(stack))
                .flatten(),
        )
        .set_parameters(Some(parameters_of(params)))
        .set_tags(Some(tags_of(stack)))
        .capabilities(Capability::CapabilityIam)
        .capabilities(Capability::CapabilityNamedIam)
        .enable_termination_protection(stack.termination_protection)
        .send()
        .await
        .map(|_| true)
        .map_err(|e| AwsError::new("CreateStack", e))
}

/// A create or update that ended in failure: its status and the failed resources.
async fn failed_stack(
    aws: &AwsContext,
    stack: &RenderedStack,
    action: Action,
    finished: &LiveStack,
    since: aws_sdk_cloudformation::primitives::DateTime,
) -> StackError {
    let failures = recent_failures(aws, &stack.stack_name, Some(since))
        .await
        .unwrap_or_default();
    let first = failures
        .first()
        .map(|f| {
            format!(
                ": {} ({}) {}: {}",
                f.resource, f.resource_type, f.status, f.reason
            )
        })
        .unwrap_or_default();
    StackError {
        action,
        message: format!("{} ended {}{first}", stack.stack_name, finished.status),
        status: Some(finished.status.clone()),
        failures,
        aws_failure: None,
    }
}

/// A stand-in for a stack that no longer exists.
fn gone_stack(stack: &RenderedStack) -> LiveStack {
    LiveStack {
        name: stack.stack_name.clone(),
        status: "UNKNOWN".into(),
        status_reason: None,
        parameters: BTreeMap::new(),
        tags: BTreeMap::new(),
        outputs: BTreeMap::new(),
        termination_protection: false,
        changed_at: None,
    }
}

async fn sync_termination_protection(
    aws: &AwsContext,
    stack: &RenderedStack,
    live: Option<&LiveStack>,
) -> Result<(), StackError> {
    if live.is_some_and(|l| l.termination_protection != stack.termination_protection) {
        aws.cloudformation
            .update_termination_protection()
            .stack_name(&stack.stack_name)
            .enable_termination_protection(stack.termination_protection)
            .send()
            .await
            .map_err(|e| AwsError::new("UpdateTerminationProtection", e))?;
    }
    Ok(())
}

pub(super) async fn delete_and_wait(
    aws: &AwsContext,
    stack: &RenderedStack,
    run_id: &str,
    deadline: Duration,
    progress: &ProgressSink,
) -> Result<(), StackError> {
    aws.cloudformation
        .delete_stack()
        .stack_name(&stack.stack_name)
        .client_request_token(request_token(run_id, "delete", &stack.stack_name))
        .send()
        .await
        .map_err(|e| AwsError::new("DeleteStack", e))?;
    let since = aws_sdk_cloudformation::primitives::DateTime::from(
        std::time::SystemTime::now() - Duration::from_secs(5),
    );
    match wait_for_terminal(aws, stack, deadline, progress, Some(since)).await {
        Ok(live) if live.status != "DELETE_COMPLETE" => Err(StackError::refused(format!(
            "{} could not be deleted: {}",
            stack.stack_name, live.status
        ))),
        // A stack gone while we waited is reported as DELETE_COMPLETE by the wait.
        Ok(_) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Polls the stack until its status is terminal: at once (the emulator and small stacks
/// finish within the call), then with backoff up to 5 s between polls, until `deadline`.
/// New events are passed to `progress` once each.
async fn wait_for_terminal(
    aws: &AwsContext,
    stack: &RenderedStack,
    deadline: Duration,
    progress: &ProgressSink,
    since: Option<aws_sdk_cloudformation::primitives::DateTime>,
) -> Result<LiveStack, StackError> {
    let started = Instant::now();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut delay = Duration::from_millis(200);
    loop {
        // The status and the new events are read at once: one round trip per poll.
        let events = async {
            if since.is_some() {
                report_new_events(aws, stack, since, &mut seen, progress).await;
            }
        };
        let (live, ()) = tokio::join!(live::one(&aws.cloudformation, &stack.stack_name), events);
        let Some(live) = live? else {
            // Deleted while we waited (a delete we started, or someone else's).
            return Ok(LiveStack {
                status: "DELETE_COMPLETE".into(),
                ..gone_stack(stack)
            });
        };
        if live::is_terminal(&live.status) {
            return Ok(live);
        }
        let elapsed = started.elapsed();
        if elapsed >= deadline {
            return Err(StackError {
                action: Action::None,
                message: format!(
                    "{} is still {} after {} minutes (timeout_minutes); it goes on in CloudFormation: look at its events, or raise the timeout",
                    stack.stack_name,
                    live.status,
                    deadline.as_secs() / 60
                ),
                status: Some(live.status),
                failures: Vec::new(),
                aws_failure: None,
            });
        }
        progress.send(Progress::StackWaiting {
            stack: stack.name.clone(),
            status: live.status.clone(),
            elapsed_ms: elapsed.as_millis() as u64,
        });
        tokio::time::sleep(delay.min(deadline - elapsed)).await;
        delay = (delay * 3 / 2).min(Duration::from_secs(5));
    }
}

async fn report_new_events(
    aws: &AwsContext,
    stack: &RenderedStack,
    since: Option<aws_sdk_cloudformation::primitives::DateTime>,
    seen: &mut BTreeSet<String>,
    progress: &ProgressSink,
) {
    let Ok(events) = aws
        .cloudformation
        .describe_stack_events()
        .stack_name(&stack.stack_name)
        .send()
        .await
    else {
        return;
    };
    for event in super::events::new_events(events.stack_events(), since, seen) {
        progress.send(Progress::StackEvent {
            stack: stack.name.clone(),
            resource: event.logical_resource_id().unwrap_or_default().to_string(),
            resource_type: event.resource_type().unwrap_or_default().to_string(),
            status: event
                .resource_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            reason: event.resource_status_reason().map(str::to_string),
        });
    }
}

/// The failed resources of the stack's recent events, oldest first: the first one is
/// usually the cause, the rest its consequences.
pub(super) async fn recent_failures(
    aws: &AwsContext,
    stack_name: &str,
    since: Option<aws_sdk_cloudformation::primitives::DateTime>,
) -> Result<Vec<ResourceFailure>, AwsError> {
    let events = aws
        .cloudformation
        .describe_stack_events()
        .stack_name(stack_name)
        .send()
        .await
        .map_err(|e| AwsError::new("DescribeStackEvents", e))?;
    let failures = super::events::failures(events.stack_events(), since);
    Ok(failures)
}
