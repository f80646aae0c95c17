//! Tearing down a non-production environment: dependents first, independent stacks at once.

use std::time::{Duration, Instant};

use super::deploy::{Action, DeployReport, StackReport, StackResult, delete_and_wait};
use super::live;
use super::scheduler::{self, Outcome};
use crate::aws::AwsContext;
use crate::error::AwsError;
use crate::graph::StackGraph;
use crate::progress::{Progress, ProgressSink};
use crate::render::RenderedEnv;

/// Deletes every rendered stack that exists, in reverse dependency order. Stacks with
/// termination protection are refused, and so are their dependencies (deleting a stack that
/// others still import from would fail anyway).
pub async fn destroy(
    aws: &AwsContext,
    rendered: &RenderedEnv,
    max_concurrency: usize,
    progress: &ProgressSink,
) -> Result<DeployReport, AwsError> {
    let started = Instant::now();
    let live = live::all(&aws.cloudformation).await?;
    // Reverse the edges: a stack may go once everything that depends on it is gone.
    let names: Vec<String> = rendered
        .stacks
        .iter()
        .rev()
        .map(|s| s.name.clone())
        .collect();
    let dependents: Vec<(String, Vec<String>)> = names
        .iter()
        .map(|n| {
            let direct = rendered
                .stacks
                .iter()
                .filter(|s| s.depends_on.contains(n))
                .map(|s| s.name.clone())
                .collect();
            (n.clone(), direct)
        })
        .collect();
    let reverse = StackGraph::new(dependents.iter().map(|(n, d)| (n.as_str(), d.as_slice())));

    let results = scheduler::run(&reverse, &names, max_concurrency, |name| {
        let stack = rendered.stacks.iter().find(|s| s.name == name);
        let live = stack.and_then(|s| live.get(&s.stack_name));
        async move {
            let Some(stack) = stack else {
                return Err(format!("{name} is not rendered"));
            };
            let Some(live) = live else {
                return Ok(("absent".to_string(), 0));
            };
            if live.termination_protection {
                return Err(format!(
                    "{} has termination protection: turn it off (`aws cloudformation update-termination-protection --no-enable-termination-protection --stack-name {}`) if it really must go",
                    stack.stack_name, stack.stack_name
                ));
            }
            let t0 = Instant::now();
            progress.send(Progress::StackStarted {
                stack: name.clone(),
                action: "delete",
            });
            let deadline = Duration::from_secs(u64::from(stack.timeout_minutes) * 60);
            let result = delete_and_wait(aws, stack, deadline, progress).await;
            let elapsed = t0.elapsed().as_millis() as u64;
            progress.send(Progress::StackFinished {
                stack: name.clone(),
                action: "delete",
                result: if result.is_ok() { "succeeded" } else { "failed" },
                elapsed_ms: elapsed,
            });
            result
                .map(|()| ("DELETE_COMPLETE".to_string(), elapsed))
                .map_err(|e| e.message)
        }
    })
    .await;

    let stacks = results
        .into_iter()
        .map(|(name, outcome)| {
            let stack_name = rendered
                .stacks
                .iter()
                .find(|s| s.name == name)
                .map(|s| s.stack_name.clone())
                .unwrap_or_default();
            let (action, result, status, duration_ms, message) = match outcome {
                Outcome::Done((status, ms)) if status == "absent" => {
                    (Action::None, StackResult::Succeeded, None, ms, None)
                }
                Outcome::Done((status, ms)) => (
                    Action::Delete,
                    StackResult::Succeeded,
                    Some(status),
                    ms,
                    None,
                ),
                Outcome::Failed(message) => {
                    (Action::Delete, StackResult::Failed, None, 0, Some(message))
                }
                Outcome::Skipped { because } => (
                    Action::None,
                    StackResult::Skipped,
                    None,
                    0,
                    Some(format!(
                        "kept: `{because}`, which depends on it, was not deleted"
                    )),
                ),
            };
            StackReport {
                stack: name,
                stack_name,
                action,
                result,
                duration_ms,
                status,
                message,
                failures: Vec::new(),
            }
        })
        .collect();
    Ok(DeployReport {
        operation: "destroy",
        environment: rendered.environment.clone(),
        stacks,
        duration_ms: started.elapsed().as_millis() as u64,
    })
}
