//! What CloudFormation says a stack is now, read in one call for the whole environment.

use std::collections::BTreeMap;

use aws_sdk_cloudformation::types::{Stack, StackStatus};

use crate::aws::AwsError;

/// The stack tag holding the content hash of the template that was last deployed.
pub const HASH_TAG: &str = "facturactl:template-hash";

/// A deployed stack, as far as a deploy decision needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveStack {
    pub name: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub parameters: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub outputs: BTreeMap<String, String>,
    pub termination_protection: bool,
    /// When its last operation began (LastUpdatedTime, else CreationTime), epoch seconds
    /// with fractions as CloudFormation gives them.
    pub changed_at: Option<String>,
}

/// What a stack's status means for the next deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// Created or updated, or rolled back an update to the last good state: deployable.
    Stable,
    /// Another operation is running on it.
    InProgress,
    /// A create failed and was rolled back: nothing usable remains; it must be deleted.
    FailedCreate,
    /// An update's rollback failed: only `continue-update-rollback` can recover it.
    RollbackFailed,
    /// A stack that exists only to hold a change set that was never executed.
    ReviewOnly,
    /// Deleted, or failed to delete.
    Gone,
    DeleteFailed,
}

impl Condition {
    pub fn of(status: &str) -> Self {
        match status {
            "REVIEW_IN_PROGRESS" => Self::ReviewOnly,
            "ROLLBACK_COMPLETE" | "ROLLBACK_FAILED" | "CREATE_FAILED" => Self::FailedCreate,
            "UPDATE_ROLLBACK_FAILED" => Self::RollbackFailed,
            "DELETE_COMPLETE" => Self::Gone,
            "DELETE_FAILED" => Self::DeleteFailed,
            s if s.ends_with("_IN_PROGRESS") => Self::InProgress,
            _ => Self::Stable,
        }
    }
}

/// Whether a status ends an operation, and how.
pub fn is_terminal(status: &str) -> bool {
    !status.ends_with("_IN_PROGRESS")
}

/// Terminal statuses that mean the operation we started did not do what we asked.
pub fn is_failure(status: &str) -> bool {
    status.ends_with("_FAILED") || status.contains("ROLLBACK")
}

impl LiveStack {
    fn from_sdk(stack: &Stack) -> Self {
        Self {
            name: stack.stack_name().unwrap_or_default().to_string(),
            status: stack
                .stack_status()
                .map(StackStatus::as_str)
                .unwrap_or("UNKNOWN")
                .to_string(),
            status_reason: stack.stack_status_reason().map(str::to_string),
            parameters: stack
                .parameters()
                .iter()
                .filter_map(|p| {
                    Some((
                        p.parameter_key()?.to_string(),
                        p.resolved_value()
                            .or(p.parameter_value())
                            .unwrap_or_default()
                            .to_string(),
                    ))
                })
                .collect(),
            tags: stack
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                .collect(),
            outputs: stack
                .outputs()
                .iter()
                .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
                .collect(),
            termination_protection: stack.enable_termination_protection().unwrap_or(false),
            changed_at: stack
                .last_updated_time()
                .or(stack.creation_time())
                .map(|t| format!("{}.{:09}", t.secs(), t.subsec_nanos())),
        }
    }

    /// What identifies the stack as it is now (status, last operation, parameters, tags,
    /// outputs): any operation on it since changes this (a saved plan's check).
    pub fn fingerprint(&self) -> String {
        let state = serde_json::json!({
            "status": self.status,
            "changed_at": self.changed_at,
            "parameters": self.parameters,
            "tags": self.tags,
            "outputs": self.outputs,
        });
        crate::render::content_hash(&state.to_string())
    }

    pub fn condition(&self) -> Condition {
        Condition::of(&self.status)
    }
}

/// Every live stack of the account and region, by name: one paginated read for a whole
/// environment, however many stacks it has.
pub async fn all(
    cfn: &aws_sdk_cloudformation::Client,
) -> Result<BTreeMap<String, LiveStack>, AwsError> {
    let mut stacks = BTreeMap::new();
    let mut pages = cfn.describe_stacks().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::new("DescribeStacks", e))?;
        for stack in page.stacks() {
            let live = LiveStack::from_sdk(stack);
            if live.condition() != Condition::Gone {
                stacks.insert(live.name.clone(), live);
            }
        }
    }
    Ok(stacks)
}

/// A stack of this project and environment (by facturactl's tags) that the configuration
/// no longer defines or enables: a deploy leaves it as it is; `destroy --stack` removes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Orphan {
    /// Its name in the configuration when it was deployed (the `facturactl:stack` tag).
    pub stack: String,
    pub stack_name: String,
    pub status: String,
}

/// Each rendered stack's live outputs, by its name in the configuration (stacks not
/// deployed are left out).
pub fn outputs_by_stack(
    rendered: &crate::render::RenderedEnv,
    live: &BTreeMap<String, LiveStack>,
) -> BTreeMap<String, BTreeMap<String, String>> {
    rendered
        .stacks
        .iter()
        .filter_map(|s| {
            live.get(&s.stack_name)
                .map(|l| (s.name.clone(), l.outputs.clone()))
        })
        .collect()
}

/// The live stacks of the rendered environment's project and environment that it does
/// not define.
pub fn orphans_of(
    rendered: &crate::render::RenderedEnv,
    live: &BTreeMap<String, LiveStack>,
) -> Vec<Orphan> {
    let Some(project) = rendered
        .stacks
        .first()
        .and_then(|s| s.tags.get("facturactl:project"))
    else {
        return Vec::new();
    };
    let defined: Vec<&str> = rendered
        .stacks
        .iter()
        .map(|s| s.stack_name.as_str())
        .collect();
    orphans(live, project, &rendered.environment, &defined)
}

/// The live stacks tagged with `project` and `environment` whose names are not among
/// `defined` (the rendered stacks' CloudFormation names).
pub fn orphans(
    live: &BTreeMap<String, LiveStack>,
    project: &str,
    environment: &str,
    defined: &[&str],
) -> Vec<Orphan> {
    live.values()
        .filter(|l| {
            l.tags.get("facturactl:project").map(String::as_str) == Some(project)
                && l.tags.get("facturactl:environment").map(String::as_str) == Some(environment)
                && !defined.contains(&l.name.as_str())
        })
        .map(|l| Orphan {
            stack: l
                .tags
                .get("facturactl:stack")
                .cloned()
                .unwrap_or_else(|| l.name.clone()),
            stack_name: l.name.clone(),
            status: l.status.clone(),
        })
        .collect()
}

/// One stack by name; `None` when it does not exist.
pub async fn one(
    cfn: &aws_sdk_cloudformation::Client,
    name: &str,
) -> Result<Option<LiveStack>, AwsError> {
    match cfn.describe_stacks().stack_name(name).send().await {
        Ok(out) => Ok(out
            .stacks()
            .first()
            .map(LiveStack::from_sdk)
            .filter(|s| s.condition() != Condition::Gone)),
        // CloudFormation answers a missing stack with a generic ValidationError; its code is
        // all the API offers to tell "missing" from "invalid".
        Err(e) if is_missing_stack(&e) => Ok(None),
        Err(e) => Err(AwsError::new("DescribeStacks", e)),
    }
}

fn is_missing_stack<E: aws_sdk_cloudformation::error::ProvideErrorMetadata>(e: &E) -> bool {
    e.code() == Some("ValidationError") && e.message().is_some_and(|m| m.contains("does not exist"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_conditions() {
        assert_eq!(Condition::of("CREATE_COMPLETE"), Condition::Stable);
        assert_eq!(Condition::of("UPDATE_ROLLBACK_COMPLETE"), Condition::Stable);
        assert_eq!(Condition::of("UPDATE_IN_PROGRESS"), Condition::InProgress);
        assert_eq!(
            Condition::of("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"),
            Condition::InProgress
        );
        assert_eq!(Condition::of("ROLLBACK_COMPLETE"), Condition::FailedCreate);
        assert_eq!(
            Condition::of("UPDATE_ROLLBACK_FAILED"),
            Condition::RollbackFailed
        );
        assert_eq!(Condition::of("REVIEW_IN_PROGRESS"), Condition::ReviewOnly);
        assert!(is_failure("UPDATE_ROLLBACK_COMPLETE"));
        assert!(is_failure("CREATE_FAILED"));
        assert!(!is_failure("UPDATE_COMPLETE"));
    }
}
