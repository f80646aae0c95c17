//! Progress of long operations: stages send events through a sink; the CLI shows them
//! (a live view, a line per event, or GitHub log groups). Nothing here prints.

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

impl Progress {
    /// One line for people and CI logs alike.
    pub fn line(&self) -> String {
        match self {
            Progress::StackStarted { stack, action } => format!("{stack}: {action}"),
            Progress::StackEvent {
                stack,
                resource,
                resource_type,
                status,
                reason,
            } => {
                let reason = reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default();
                format!("{stack}: {resource} {resource_type} {status}{reason}")
            }
            Progress::StackWaiting {
                stack,
                status,
                elapsed_ms,
            } => format!("{stack}: {status}, {:.1}s", *elapsed_ms as f64 / 1000.0),
            Progress::StackFinished {
                stack,
                action,
                result,
                elapsed_ms,
            } => format!(
                "{stack}: {action} {result} in {:.2}s",
                *elapsed_ms as f64 / 1000.0
            ),
            Progress::ServiceStarted { service, artifact } => {
                format!("service {service}: rolling out {artifact}")
            }
            Progress::ServiceEvent { service, message } => format!("service {service}: {message}"),
            Progress::ServiceFinished {
                service,
                result,
                elapsed_ms,
            } => format!(
                "service {service}: {result} in {:.2}s",
                *elapsed_ms as f64 / 1000.0
            ),
        }
    }
}

/// Where stages send progress. Sending never fails a deploy: a closed receiver is ignored.
#[derive(Debug, Clone)]
pub struct ProgressSink {
    sender: Option<tokio::sync::mpsc::UnboundedSender<Progress>>,
    tally: Option<SharedTally>,
}

impl ProgressSink {
    /// Events go to `sender` and are counted in `tally` as they are sent, so an interrupted
    /// run can still say what it did.
    pub fn new(sender: tokio::sync::mpsc::UnboundedSender<Progress>, tally: SharedTally) -> Self {
        Self {
            sender: Some(sender),
            tally: Some(tally),
        }
    }

    /// A sink that drops everything (tests, JSON runs that only want the result).
    pub fn none() -> Self {
        Self {
            sender: None,
            tally: None,
        }
    }

    pub fn send(&self, event: Progress) {
        if let Some(tally) = &self.tally
            && let Ok(mut tally) = tally.lock()
        {
            tally.apply(&event);
        }
        if let Some(sender) = &self.sender {
            let _ = sender.send(event);
        }
    }
}

pub type SharedTally = std::sync::Arc<std::sync::Mutex<Tally>>;

/// How far each stack and service got: what an interrupted run reports.
#[derive(Debug, Default)]
pub struct Tally {
    stacks: indexmap::IndexMap<String, Phase>,
    services: indexmap::IndexMap<String, Phase>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Started(String),
    Finished(String),
}

impl Tally {
    pub fn apply(&mut self, event: &Progress) {
        match event {
            Progress::StackStarted { stack, action } => {
                self.stacks
                    .insert(stack.clone(), Phase::Started((*action).to_string()));
            }
            Progress::StackFinished {
                stack,
                action,
                result,
                ..
            } => {
                self.stacks
                    .insert(stack.clone(), Phase::Finished(format!("{action} {result}")));
            }
            Progress::ServiceStarted { service, artifact } => {
                self.services.insert(
                    service.clone(),
                    Phase::Started(format!("rolling out {artifact}")),
                );
            }
            Progress::ServiceFinished {
                service, result, ..
            } => {
                self.services
                    .insert(service.clone(), Phase::Finished((*result).to_string()));
            }
            Progress::StackEvent { .. }
            | Progress::StackWaiting { .. }
            | Progress::ServiceEvent { .. } => {}
        }
    }

    /// `done: ...`, `in progress: ...` lines; empty when nothing had started.
    pub fn summary(&self) -> String {
        let mut lines = Vec::new();
        for (kind, items) in [("stack", &self.stacks), ("service", &self.services)] {
            let list = |want_finished: bool| -> Vec<String> {
                items
                    .iter()
                    .filter_map(|(name, phase)| match phase {
                        Phase::Finished(what) if want_finished => Some(format!("{name} ({what})")),
                        Phase::Started(what) if !want_finished => Some(format!("{name} ({what})")),
                        _ => None,
                    })
                    .collect()
            };
            let (done, open) = (list(true), list(false));
            if !done.is_empty() {
                lines.push(format!("{kind}s done: {}", done.join(", ")));
            }
            if !open.is_empty() {
                lines.push(format!("{kind}s in progress: {}", open.join(", ")));
            }
        }
        lines.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tally_says_what_finished_and_what_was_in_flight() {
        let mut tally = Tally::default();
        for event in [
            Progress::StackStarted {
                stack: "network".into(),
                action: "create",
            },
            Progress::StackStarted {
                stack: "auth".into(),
                action: "update",
            },
            Progress::StackFinished {
                stack: "network".into(),
                action: "create",
                result: "succeeded",
                elapsed_ms: 10,
            },
            Progress::ServiceStarted {
                service: "validator".into(),
                artifact: "abc".into(),
            },
        ] {
            tally.apply(&event);
        }
        assert_eq!(
            tally.summary(),
            "stacks done: network (create succeeded)\nstacks in progress: auth (update)\nservices in progress: validator (rolling out abc)"
        );
    }
}
