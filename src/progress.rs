//! Progress of long operations: stages send events, the CLI renders them (one line per
//! event on stderr). The library never prints.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Progress {
    StackStarted {
        stack: String,
        action: &'static str,
    },
    /// A CloudFormation stack event, shown once.
    StackEvent {
        stack: String,
        resource: String,
        resource_type: String,
        status: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    StackWaiting {
        stack: String,
        status: String,
        elapsed_ms: u64,
    },
    StackFinished {
        stack: String,
        action: &'static str,
        result: &'static str,
        elapsed_ms: u64,
    },
    ServiceStarted {
        service: String,
        artifact: String,
    },
    /// A step of a rollout, an ECS service event, a stopped task, an alarm change.
    ServiceEvent {
        service: String,
        message: String,
    },
    ServiceFinished {
        service: String,
        result: &'static str,
        elapsed_ms: u64,
    },
}

/// Where stages send progress. Sending never fails a deploy: a closed receiver is ignored.
#[derive(Debug, Clone)]
pub struct ProgressSink(Option<tokio::sync::mpsc::UnboundedSender<Progress>>);

impl ProgressSink {
    pub fn new(sender: tokio::sync::mpsc::UnboundedSender<Progress>) -> Self {
        Self(Some(sender))
    }

    /// A sink that drops everything (tests, JSON runs that only want the result).
    pub fn none() -> Self {
        Self(None)
    }

    pub fn send(&self, event: Progress) {
        if let Some(sender) = &self.0 {
            let _ = sender.send(event);
        }
    }
}
