//! `deploy`, `promote`, `rollback` and `destroy`: a table of stacks, what failed and why,
//! alarms, services, notifications, retries, and a verdict.

use std::fmt::Write as _;

use serde::Serialize;

use super::{Cell, Column, Report, Table, exit_result, notifications_text, retries_text, seconds};
use crate::commands::deploy::Outcome;
use crate::commands::guarded::Deployed;
use crate::deployment::DeployReport;
use crate::exit::Exit;
use crate::services::ServiceReport;
use crate::stacks::deploy::{Action, StackResult};

impl Serialize for Deployed {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.report.serialize(s)
    }
}

super::schema_as!(Deployed => DeployReport);

impl Report for Deployed {
    fn text(&self) -> String {
        let report = &self.report;
        let mut out = stacks_table(report).text();
        out.push_str(&failures(report, false));
        if let Some(alarms) = &report.alarms {
            out.push('\n');
            out.push_str(&super::alarms::changes_text(alarms));
        }
        if let Some(table) = services_table(&report.services) {
            out.push('\n');
            out.push_str(&table.text());
        }
        out.push_str(&service_messages(&report.services));
        let orphans = super::plan::orphans_text(&report.environment, &report.orphaned, false);
        if !orphans.is_empty() {
            let _ = write!(out, "\n{orphans}");
        }
        if let Some(note) = &report.alarms_note {
            let _ = writeln!(out, "\n{note}");
        }
        out.push_str(&notifications_text(&report.notifications));
        out.push_str(&retries_text(&report.retries));
        let verdict = if report.failed() { "failed" } else { "done" };
        let _ = writeln!(
            out,
            "\n{} {verdict}: `{}`, {} stacks ({} changed) in {}",
            report.operation,
            report.environment,
            report.stacks.len(),
            report.changed().len(),
            seconds(report.duration_ms)
        );
        out
    }

    fn markdown(&self) -> String {
        let report = &self.report;
        let mut out = format!(
            "### {} of `{}`: {}\n\n",
            report.operation,
            report.environment,
            report.verdict().word()
        );
        out.push_str(&stacks_table(report).markdown());
        out.push_str(&failures(report, true));
        if let Some(table) = services_table(&report.services) {
            out.push('\n');
            out.push_str(&table.markdown());
        }
        out.push_str(&service_messages(&report.services));
        let orphans = super::plan::orphans_text(&report.environment, &report.orphaned, true);
        if !orphans.is_empty() {
            let _ = write!(out, "\n{orphans}");
        }
        out.push_str(&notifications_text(&report.notifications));
        out.push_str(&retries_text(&report.retries));
        out
    }

    fn annotations(&self) -> Vec<super::Annotation> {
        annotations(&self.report)
    }

    fn exit(&self) -> Exit {
        if self.report.failed() {
            Exit::Error
        } else if self.warning_exit && self.report.notifications.iter().any(|d| !d.sent) {
            Exit::Warning
        } else {
            Exit::Ok
        }
    }

    fn outputs(&self) -> Vec<(&'static str, String)> {
        let report = &self.report;
        let changed: Vec<&str> = report
            .stacks
            .iter()
            .filter(|s| {
                matches!(
                    s.action,
                    Action::Create | Action::Update | Action::Recreate | Action::Delete
                )
            })
            .map(|s| s.stack.as_str())
            .collect();
        // What runs: services awaiting their first image run nothing yet.
        let digests: serde_json::Map<String, serde_json::Value> = report
            .services
            .iter()
            .filter(|s| !s.artifact.is_empty())
            .map(|s| (s.service.clone(), s.artifact.clone().into()))
            .collect();
        // The result output says how the operation went, not whether a notice was sent.
        let exit = if report.failed() {
            Exit::Error
        } else {
            Exit::Ok
        };
        // Each stack's outputs, for the steps after this one (`fromJSON(...).api.ApiUrl`).
        let stack_outputs: serde_json::Map<String, serde_json::Value> = report
            .stacks
            .iter()
            .filter(|s| !s.outputs.is_empty())
            .map(|s| (s.stack.clone(), serde_json::json!(s.outputs)))
            .collect();
        vec![
            ("environment", report.environment.clone()),
            ("version", self.version.clone().unwrap_or_default()),
            ("changed-stacks", changed.join(",")),
            ("digests", serde_json::Value::Object(digests).to_string()),
            (
                "stack-outputs",
                serde_json::Value::Object(stack_outputs).to_string(),
            ),
            ("result", exit_result(exit).to_string()),
        ]
    }
}

fn stacks_table(report: &DeployReport) -> Table {
    let width = report
        .stacks
        .iter()
        .map(|s| s.stack.len())
        .max()
        .unwrap_or(5);
    let mut table = Table::new([
        Column::left("stack").width(width),
        Column::left("action").width(9),
        Column::left("result").width(9),
        Column::right("duration").width(8),
    ]);
    for s in &report.stacks {
        let result = match s.result {
            StackResult::Succeeded => Cell::from("ok"),
            StackResult::Skipped => Cell::from("skipped"),
            StackResult::Failed => Cell::strong("FAILED"),
        };
        table.row([
            Cell::from(s.stack.as_str()),
            Cell::from(s.action.as_str()),
            result,
            Cell::from(seconds(s.duration_ms)),
        ]);
    }
    table
}

/// Each stack that failed or was skipped: why, and its failed resources.
fn failures(report: &DeployReport, markdown: bool) -> String {
    let mut out = String::new();
    for s in report.stacks.iter().filter(|s| s.message.is_some()) {
        let message = s.message.as_deref().unwrap_or_default();
        if markdown {
            let _ = writeln!(out, "\n**{}**: {message}", s.stack);
        } else {
            let _ = writeln!(out, "\n{}: {message}", s.stack);
        }
        for f in &s.failures {
            let resource = if markdown {
                format!("- `{}`", f.resource)
            } else {
                format!("  {}", f.resource)
            };
            let _ = writeln!(
                out,
                "{resource} ({}) {}: {}",
                f.resource_type, f.status, f.reason
            );
        }
    }
    out
}

/// The services of a deploy: result, what ran before and after. None without services.
fn services_table(services: &[ServiceReport]) -> Option<Table> {
    if services.is_empty() {
        return None;
    }
    let width = services.iter().map(|s| s.service.len()).max().unwrap_or(7);
    let mut table = Table::new([
        Column::left("service").width(width),
        Column::left("result").width(11),
        Column::right("duration").width(8),
        Column::left("change"),
    ]);
    for s in services {
        let change = match &s.rollout {
            Some(o) if o.changed => format!("{} -> {}", o.old, o.new.as_deref().unwrap_or("?")),
            Some(o) => o.old.clone(),
            None => String::new(),
        };
        let label = s.result.label();
        let result = if label == "FAILED" {
            Cell::strong(label)
        } else {
            Cell::from(label)
        };
        table.row([
            Cell::from(s.service.as_str()),
            result,
            Cell::from(seconds(s.duration_ms)),
            Cell::from(change),
        ]);
    }
    Some(table)
}

/// Why each failed service failed.
fn service_messages(services: &[ServiceReport]) -> String {
    let mut out = String::new();
    for s in services.iter().filter(|s| s.message.is_some()) {
        let _ = writeln!(
            out,
            "\nservice {}: {}",
            s.service,
            s.message.as_deref().unwrap_or_default()
        );
    }
    out
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Planned(plan) => plan.serialize(s),
            Self::Deployed(deployed) => deployed.serialize(s),
        }
    }
}

impl schemars::JsonSchema for Outcome {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DeployOutcome".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        super::either_schema::<crate::stacks::plan::Plan, DeployReport>(generator)
    }
}

impl Report for Outcome {
    fn text(&self) -> String {
        match self {
            Self::Planned(plan) => super::plan::text(plan),
            Self::Deployed(deployed) => deployed.text(),
        }
    }

    fn markdown(&self) -> String {
        match self {
            Self::Planned(plan) => super::plan::markdown(plan),
            Self::Deployed(deployed) => deployed.markdown(),
        }
    }

    fn exit(&self) -> Exit {
        match self {
            Self::Planned(_) => Exit::Ok,
            Self::Deployed(deployed) => deployed.exit(),
        }
    }

    fn outputs(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::Planned(_) => Vec::new(),
            Self::Deployed(deployed) => deployed.outputs(),
        }
    }

    fn annotations(&self) -> Vec<super::Annotation> {
        match self {
            Self::Planned(_) => Vec::new(),
            Self::Deployed(deployed) => deployed.annotations(),
        }
    }
}

/// Each failed stack and service (errors) and each skipped stack (a warning), with the
/// resource and reason that failed it.
fn annotations(report: &DeployReport) -> Vec<super::Annotation> {
    use super::{Annotation, Severity};
    let mut out = Vec::new();
    for s in &report.stacks {
        let why = s.failures.first().map_or_else(
            || s.message.clone().unwrap_or_default(),
            |f| {
                format!(
                    "{} ({}) {}: {}",
                    f.resource, f.resource_type, f.status, f.reason
                )
            },
        );
        match s.result {
            StackResult::Failed => out.push(Annotation {
                severity: Severity::Error,
                title: format!("stack {} failed", s.stack),
                message: format!("{}: {why}", s.stack_name),
            }),
            StackResult::Skipped => out.push(Annotation {
                severity: Severity::Warning,
                title: format!("stack {} skipped", s.stack),
                message: why,
            }),
            StackResult::Succeeded => {}
        }
    }
    for s in report
        .services
        .iter()
        .filter(|s| s.result == crate::services::ServiceResult::Failed)
    {
        out.push(Annotation {
            severity: Severity::Error,
            title: format!("service {} failed", s.service),
            message: s.message.clone().unwrap_or_default(),
        });
    }
    out
}
