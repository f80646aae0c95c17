//! What the tool reads out of CloudFormation's answers itself: new stack events (each shown
//! once, oldest first), the failed resources among them, and the resource changes of a
//! change set. Pure functions over the SDK's types, so they are tested and fuzzed alone.

use std::collections::BTreeSet;

use aws_sdk_cloudformation::primitives::DateTime;
use aws_sdk_cloudformation::types::{Change, StackEvent};

use serde::Serialize;

/// A resource that failed, from the stack's events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ResourceFailure {
    pub resource: String,
    pub resource_type: String,
    pub status: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ResourceChange {
    /// Add, Modify, Remove (as CloudFormation says).
    pub action: String,
    pub logical_id: String,
    pub resource_type: String,
    /// True, False or Conditional, for modifications.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
}

/// Whether an event happened at or after `since` (every event when there is no `since`).
fn after(event: &StackEvent, since: Option<DateTime>) -> bool {
    since.is_none_or(|s| event.timestamp().is_some_and(|t| t.secs() >= s.secs()))
}

/// The events not yet in `seen`, oldest first (the API answers newest first); their ids are
/// added to `seen`. Events without an id cannot be told apart and are never shown.
pub fn new_events<'a>(
    events: &'a [StackEvent],
    since: Option<DateTime>,
    seen: &mut BTreeSet<String>,
) -> Vec<&'a StackEvent> {
    let mut fresh = Vec::new();
    for event in events.iter().rev().filter(|e| after(e, since)) {
        if let Some(id) = event.event_id()
            && seen.insert(id.to_string())
        {
            fresh.push(event);
        }
    }
    fresh
}

/// The failed resources among the events, oldest first: the first is usually the cause,
/// the rest its consequences. The stack's own `*_FAILED` event repeats them and is left out.
pub fn failures(events: &[StackEvent], since: Option<DateTime>) -> Vec<ResourceFailure> {
    events
        .iter()
        .rev()
        .filter(|e| after(e, since))
        .filter(|e| {
            e.resource_status()
                .is_some_and(|s| s.as_str().ends_with("_FAILED"))
                && e.resource_type() != Some("AWS::CloudFormation::Stack")
        })
        .map(|e| ResourceFailure {
            resource: e.logical_resource_id().unwrap_or_default().to_string(),
            resource_type: e.resource_type().unwrap_or_default().to_string(),
            status: e
                .resource_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            reason: e
                .resource_status_reason()
                .unwrap_or("no reason given")
                .to_string(),
        })
        .collect()
}

/// The resource changes of a change set, in CloudFormation's order.
pub fn resource_changes(changes: &[Change]) -> Vec<ResourceChange> {
    changes
        .iter()
        .filter_map(|c| c.resource_change())
        .map(|r| ResourceChange {
            action: r
                .action()
                .map(|a| a.as_str().to_string())
                .unwrap_or_default(),
            logical_id: r.logical_resource_id().unwrap_or_default().to_string(),
            resource_type: r.resource_type().unwrap_or_default().to_string(),
            replacement: r.replacement().map(|x| x.as_str().to_string()),
        })
        .collect()
}

/// The replacements and deletions among a stack's resource changes, as the confirmation
/// lists them: `replace api/Table (AWS::DynamoDB::Table)`.
pub fn destructive(stack: &str, resources: &[ResourceChange]) -> Vec<String> {
    resources
        .iter()
        .filter(|r| {
            r.action == "Remove" || matches!(r.replacement.as_deref(), Some("True" | "Conditional"))
        })
        .map(|r| {
            let what = if r.action == "Remove" {
                "delete"
            } else {
                "replace"
            };
            format!("{what} {stack}/{} ({})", r.logical_id, r.resource_type)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::types::ResourceStatus;

    fn event(id: &str, secs: i64, resource: &str, status: &str) -> StackEvent {
        StackEvent::builder()
            .event_id(id)
            .stack_name("s")
            .stack_id("s")
            .timestamp(DateTime::from_secs(secs))
            .logical_resource_id(resource)
            .resource_type(if resource == "s" {
                "AWS::CloudFormation::Stack"
            } else {
                "AWS::S3::Bucket"
            })
            .resource_status(ResourceStatus::from(status))
            .build()
    }

    #[test]
    fn events_are_shown_once_oldest_first_and_only_since_the_start() {
        // Newest first, as DescribeStackEvents answers.
        let events = vec![
            event("3", 30, "b", "CREATE_FAILED"),
            event("2", 20, "a", "CREATE_COMPLETE"),
            event("1", 5, "s", "UPDATE_COMPLETE"),
        ];
        let mut seen = BTreeSet::new();
        let fresh = new_events(&events, Some(DateTime::from_secs(10)), &mut seen);
        let ids: Vec<_> = fresh.iter().filter_map(|e| e.event_id()).collect();
        assert_eq!(ids, ["2", "3"]);
        assert!(new_events(&events, Some(DateTime::from_secs(10)), &mut seen).is_empty());
        let failed = failures(&events, None);
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].resource, "b");
    }
}
