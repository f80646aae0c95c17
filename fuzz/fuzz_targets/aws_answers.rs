//! The parts of CloudFormation's answers the tool reads itself: stack events (shown once,
//! oldest first; failures picked out), change sets, and deployed templates (diffed against
//! the rendered one). Arbitrary answers must never crash them, and their promises hold.
#![no_main]

use std::collections::BTreeSet;

use arbitrary::Arbitrary;
use aws_sdk_cloudformation::primitives::DateTime;
use aws_sdk_cloudformation::types::{
    Change, ChangeAction, Replacement, ResourceChange, ResourceStatus, StackEvent,
};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Event {
    id: Option<String>,
    secs: i64,
    resource: Option<String>,
    resource_type: Option<String>,
    status: Option<String>,
    reason: Option<String>,
}

#[derive(Arbitrary, Debug)]
struct ChangeInput {
    action: Option<String>,
    logical_id: Option<String>,
    resource_type: Option<String>,
    replacement: Option<String>,
    with_resource: bool,
}

#[derive(Arbitrary, Debug)]
struct Answers {
    events: Vec<Event>,
    since: Option<i64>,
    second_poll: Vec<Event>,
    changes: Vec<ChangeInput>,
    deployed_template: String,
    rendered_template: String,
}

fn event(e: &Event) -> StackEvent {
    let mut b = StackEvent::builder()
        .stack_id("arn:aws:cloudformation:eu-west-1:123456789012:stack/s/1")
        .stack_name("s")
        .set_event_id(e.id.clone())
        .timestamp(DateTime::from_secs(e.secs))
        .set_logical_resource_id(e.resource.clone())
        .set_resource_type(e.resource_type.clone())
        .set_resource_status_reason(e.reason.clone());
    if let Some(status) = &e.status {
        b = b.resource_status(ResourceStatus::from(status.as_str()));
    }
    b.build()
}

fn change(c: &ChangeInput) -> Change {
    let resource = ResourceChange::builder()
        .set_action(c.action.as_deref().map(ChangeAction::from))
        .set_logical_resource_id(c.logical_id.clone())
        .set_resource_type(c.resource_type.clone())
        .set_replacement(c.replacement.as_deref().map(Replacement::from))
        .build();
    let b = Change::builder();
    if c.with_resource {
        b.resource_change(resource).build()
    } else {
        b.build()
    }
}

fuzz_target!(|a: Answers| {
    use facturactl::stacks::events;
    let since = a.since.map(DateTime::from_secs);
    let first: Vec<StackEvent> = a.events.iter().map(event).collect();
    let second: Vec<StackEvent> = a.second_poll.iter().map(event).collect();

    // Each event id is shown at most once across polls, and only events since the start.
    let mut seen = BTreeSet::new();
    let mut shown = Vec::new();
    for poll in [&first, &second] {
        for e in events::new_events(poll, since, &mut seen) {
            let id = e.event_id().expect("only events with an id are shown");
            assert!(!shown.contains(&id.to_string()), "event {id} shown twice");
            if let (Some(s), Some(t)) = (since, e.timestamp()) {
                assert!(t.secs() >= s.secs(), "an event from before the start");
            }
            shown.push(id.to_string());
        }
    }

    // Failures are failed resources, never the stack's own summary event.
    for f in events::failures(&first, since) {
        assert!(f.status.ends_with("_FAILED"), "{f:?}");
        assert_ne!(f.resource_type, "AWS::CloudFormation::Stack");
        assert!(!f.reason.is_empty());
    }

    let changes: Vec<Change> = a.changes.iter().map(change).collect();
    let read = events::resource_changes(&changes);
    assert_eq!(
        read.len(),
        a.changes.iter().filter(|c| c.with_resource).count()
    );

    // The deployed template is whatever GetTemplate answered: any text diffs.
    let _ = facturactl::stacks::plan::diff(&a.deployed_template, &a.rendered_template);
    let same = facturactl::stacks::plan::diff(&a.deployed_template, &a.deployed_template);
    assert!(
        !same
            .lines()
            .any(|l| l.starts_with('+') && !l.starts_with("+++")),
        "a template differs from itself: {same}"
    );
});
