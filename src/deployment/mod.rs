//! A deployment: the result of one whole deploy, promotion, rollback or destroy (stacks,
//! alarms, services, the record written, the notifications sent), and the notice it makes.
//!
//! It lives apart from `stacks` because it gathers the results of every stage; `stacks`,
//! `alarms`, `services` and `notify` know nothing of it.

use serde::Serialize;

use crate::alarms::apply::{AlarmAction, AlarmsReport};
use crate::aws::RetryTotals;
use crate::notify::{Delivery, Notice, Provenance, Verdict};
use crate::services::{ServiceReport, ServiceResult};
use crate::stacks::deploy::{Action, StackReport, StackResult, StacksRun};

mod record;
pub mod rollouts;
mod split;

use crate::release::record::Operation;
pub use record::{RecordInput, error_record, record_of, rollback_record, traffic_record};
pub use split::Sides;

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct DeployReport {
    pub operation: Operation,
    pub environment: String,
    pub stacks: Vec<StackReport>,
    pub duration_ms: u64,
    /// The alarms applied after the stacks (deploy only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alarms: Option<AlarmsReport>,
    /// Why alarms were not applied, when they were not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alarms_note: Option<String>,
    /// The services rolled out after the stacks (deploy with artifacts only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceReport>,
    /// Stacks of this environment the configuration no longer defines: left as they are
    /// (`destroy --stack` removes one).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub orphaned: Vec<crate::stacks::live::Orphan>,
    /// The deployment record written for this deploy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// The deploy notifications sent afterwards, one per channel.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<Delivery>,
    /// What the SDK's retries (throttling, 5xx, resets) cost this run.
    pub retries: RetryTotals,
}

impl DeployReport {
    /// A report of stack results; alarms, services, record and notifications are added by
    /// the steps that produce them.
    pub fn new(operation: Operation, environment: &str, run: StacksRun) -> Self {
        Self {
            operation,
            environment: environment.to_string(),
            stacks: run.stacks,
            duration_ms: run.duration_ms,
            alarms: None,
            alarms_note: None,
            services: Vec::new(),
            orphaned: run.orphaned,
            record: None,
            notifications: Vec::new(),
            retries: RetryTotals::default(),
        }
    }

    pub fn failed(&self) -> bool {
        self.stacks
            .iter()
            .any(|s| s.result != StackResult::Succeeded)
            || self
                .services
                .iter()
                .any(|s| s.result == ServiceResult::Failed)
    }

    pub fn verdict(&self) -> Verdict {
        if self.failed() {
            Verdict::Failed
        } else {
            Verdict::Succeeded
        }
    }

    pub fn changed(&self) -> Vec<&str> {
        self.stacks
            .iter()
            .filter(|s| !matches!(s.action, Action::Unchanged | Action::None))
            .map(|s| s.stack.as_str())
            .collect()
    }

    /// The notice of this deployment: changed stacks, alarms and services, the first failure.
    pub fn notice(&self, origin: &Provenance) -> Notice {
        let mut notice = origin.notice(
            self.operation.as_str(),
            &self.environment,
            self.verdict(),
            self.duration_ms,
        );
        notice.changes.extend(self.change_lines());
        notice.failure = self.first_failure();
        notice
    }

    fn change_lines(&self) -> Vec<String> {
        let mut changes = Vec::new();
        for s in &self.stacks {
            let result = match s.result {
                StackResult::Succeeded => "",
                StackResult::Skipped => " (skipped)",
                StackResult::Failed => " (FAILED)",
            };
            if !matches!(s.action, Action::Unchanged | Action::None) || !result.is_empty() {
                changes.push(format!("stack {}: {}{result}", s.stack, s.action.as_str()));
            }
        }
        if let Some(alarms) = &self.alarms {
            changes.extend(
                alarms
                    .changes
                    .iter()
                    .filter(|c| c.action != AlarmAction::Unchanged)
                    .map(|c| format!("alarm {}: {}", c.name, c.action.as_str())),
            );
        }
        for s in &self.services {
            let what = match (&s.result, &s.rollout) {
                (ServiceResult::Unchanged | ServiceResult::AwaitingImage, _) => continue,
                (ServiceResult::Failed, _) => "FAILED".to_string(),
                (_, Some(o)) => format!("{} -> {}", o.old, o.new.as_deref().unwrap_or("?")),
                (_, None) => "rolled out".to_string(),
            };
            changes.push(format!("service {}: {what}", s.service));
        }
        changes
    }

    /// The first failed stack resource (else the first failed service), with its reason.
    fn first_failure(&self) -> Option<String> {
        let failed_service = self
            .services
            .iter()
            .find(|s| s.result == ServiceResult::Failed)
            .map(|s| {
                format!(
                    "service {}: {}",
                    s.service,
                    s.message.as_deref().unwrap_or("failed")
                )
            });
        self.stacks
            .iter()
            .find(|s| s.result == StackResult::Failed)
            .map(|s| match s.failures.first() {
                Some(f) => format!(
                    "{}/{} ({}) {}: {}",
                    s.stack, f.resource, f.resource_type, f.status, f.reason
                ),
                None => format!("{}: {}", s.stack, s.message.as_deref().unwrap_or("failed")),
            })
            .or(failed_service)
    }
}
