//! Tearing down a non-production environment: dependents first, independent stacks at once.

use std::time::{Duration, Instant};

use super::deploy::{Action, StackError, StackReport, StackResult, StacksRun, delete_and_wait};
use super::live;
use super::scheduler::{self, Completion};
use crate::aws::AwsContext;
use crate::aws::AwsError;
use crate::graph::StackGraph;
use crate::progress::{Progress, ProgressSink};
use crate::render::{RenderedEnv, RenderedStack};

/// Deletes every rendered stack that exists, in reverse dependency order. Stacks with
/// termination protection are refused, and so are their dependencies (deleting a stack that
/// others still import from would fail anyway).
pub async fn destroy(
    aws: &AwsContext,
    rendered: &RenderedEnv,
    max_concurrency: usize,
    progress: &ProgressSink,
) -> Result<StacksRun, AwsError> {
    let started = Instant::now();
    let run_id = uuid::Uuid::new_v4().simple().to_string();
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

    let run_id = run_id.as_str();
    let results = scheduler::run(&reverse, &names, max_concurrency, |name| {
        let stack = rendered.stacks.iter().find(|s| s.name == name);
        let live = stack.and_then(|s| live.get(&s.stack_name));
        async move {
            let Some(stack) = stack else {
                return Err(StackError::refused(format!("{name} is not rendered")));
            };
            destroy_one(aws, run_id, stack, live, progress).await
        }
    })
    .await;
    let stacks = results
        .into_iter()
        .map(|(name, completion)| {
            let stack_name = rendered
                .stacks
                .iter()
                .find(|s| s.name == name)
                .map(|s| s.stack_name.clone())
                .unwrap_or_default();
            stack_report(name, stack_name, completion)
        })
        .collect();
    Ok(StacksRun {
        stacks,
        duration_ms: started.elapsed().as_millis() as u64,
        ..StacksRun::default()
    })
}

/// Deletes one stack (its buckets emptied first): (final status, milliseconds taken).
async fn destroy_one(
    aws: &AwsContext,
    run_id: &str,
    stack: &RenderedStack,
    live: Option<&live::LiveStack>,
    progress: &ProgressSink,
) -> Result<(String, u64), StackError> {
    let Some(live) = live else {
        return Ok(("absent".to_string(), 0));
    };
    if live.termination_protection {
        return Err(StackError::refused(format!(
            "{} has termination protection: turn it off (`aws cloudformation update-termination-protection --no-enable-termination-protection --stack-name {}`) if it really must go",
            stack.stack_name, stack.stack_name
        )));
    }
    let t0 = Instant::now();
    progress.send(Progress::StackStarted {
        stack: stack.name.clone(),
        action: "delete",
    });
    let deadline = Duration::from_secs(u64::from(stack.timeout_minutes) * 60);
    // CloudFormation cannot delete a bucket that holds objects: empty ours first.
    if let Err(e) = empty_buckets(aws, stack).await {
        return Err(StackError {
            aws_failure: Some(e.failure()),
            ..StackError::refused(format!(
                "{}: could not empty its buckets: {e}",
                stack.stack_name
            ))
        });
    }
    let result = delete_and_wait(aws, stack, run_id, deadline, progress).await;
    let elapsed = t0.elapsed().as_millis() as u64;
    progress.send(Progress::StackFinished {
        stack: stack.name.clone(),
        action: "delete",
        result: if result.is_ok() {
            "succeeded"
        } else {
            "failed"
        },
        elapsed_ms: elapsed,
    });
    result.map(|()| ("DELETE_COMPLETE".to_string(), elapsed))
}

/// One stack's line in the destroy report.
fn stack_report(
    stack: String,
    stack_name: String,
    completion: Completion<(String, u64), StackError>,
) -> StackReport {
    let aws_failure = match &completion {
        Completion::Failed(e) => e.aws_failure,
        _ => None,
    };
    let (action, result, status, duration_ms, message) = match completion {
        Completion::Done((status, ms)) if status == "absent" => {
            (Action::None, StackResult::Succeeded, None, ms, None)
        }
        Completion::Done((status, ms)) => (
            Action::Delete,
            StackResult::Succeeded,
            Some(status),
            ms,
            None,
        ),
        Completion::Failed(e) => (
            Action::Delete,
            StackResult::Failed,
            None,
            0,
            Some(e.message),
        ),
        Completion::Skipped { because } => (
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
        stack,
        stack_name,
        action,
        result,
        duration_ms,
        status,
        message,
        failures: Vec::new(),
        aws_failure,
        outputs: Default::default(),
    }
}

/// Deletes every object version and delete marker of the stack's buckets that its delete
/// would remove (buckets with `DeletionPolicy: Retain` stay, and so do their objects).
async fn empty_buckets(aws: &AwsContext, stack: &RenderedStack) -> Result<usize, AwsError> {
    let logical: Vec<&str> = stack
        .resources_of_type("AWS::S3::Bucket")
        .filter(|(_, r)| {
            !r.get("DeletionPolicy")
                .and_then(|p| p.as_str())
                .is_some_and(|p| p.starts_with("Retain"))
        })
        .map(|(id, _)| id)
        .collect();
    if logical.is_empty() {
        return Ok(0);
    }
    let resources = aws
        .cloudformation
        .describe_stack_resources()
        .stack_name(&stack.stack_name)
        .send()
        .await
        .map_err(|e| AwsError::new("DescribeStackResources", e))?;
    let buckets: Vec<String> = resources
        .stack_resources()
        .iter()
        .filter(|r| {
            r.logical_resource_id()
                .is_some_and(|id| logical.contains(&id))
        })
        .filter_map(|r| r.physical_resource_id().map(str::to_string))
        .collect();
    let mut deleted = 0;
    for bucket in buckets {
        deleted += empty_bucket(aws, &bucket).await?;
    }
    Ok(deleted)
}

async fn empty_bucket(aws: &AwsContext, bucket: &str) -> Result<usize, AwsError> {
    use aws_sdk_s3::types::{Delete, ObjectIdentifier};
    let mut deleted = 0;
    loop {
        let listing = match aws
            .s3
            .list_object_versions()
            .bucket(bucket)
            .max_keys(1000)
            .send()
            .await
        {
            Ok(listing) => listing,
            // Already gone: nothing to empty.
            Err(e)
                if e.as_service_error()
                    .and_then(|s| aws_sdk_s3::error::ProvideErrorMetadata::code(s))
                    == Some("NoSuchBucket") =>
            {
                return Ok(deleted);
            }
            Err(e) => return Err(AwsError::new("ListObjectVersions", e)),
        };
        let objects: Vec<ObjectIdentifier> = listing
            .versions()
            .iter()
            .map(|v| (v.key(), v.version_id()))
            .chain(
                listing
                    .delete_markers()
                    .iter()
                    .map(|m| (m.key(), m.version_id())),
            )
            .filter_map(|(key, version)| {
                ObjectIdentifier::builder()
                    .key(key?)
                    .set_version_id(version.map(str::to_string))
                    .build()
                    .ok()
            })
            .collect();
        if objects.is_empty() {
            return Ok(deleted);
        }
        deleted += objects.len();
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| AwsError::local("DeleteObjects", None, e.to_string()))?;
        aws.s3
            .delete_objects()
            .bucket(bucket)
            .delete(delete)
            .send()
            .await
            .map_err(|e| AwsError::new("DeleteObjects", e))?;
    }
}
