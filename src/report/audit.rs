//! `audit drift` and `audit alarms`: findings by severity, with expected, actual and a fix.

use std::fmt::Write as _;

use serde::Serialize;

use super::{Column, Report, Table, notifications_text};
use crate::audit::AuditVerdict;
use crate::commands::audit::Outcome;
use crate::exit::Exit;

#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "AuditDocument")]
struct Json<'a> {
    verdict: AuditVerdict,
    #[serde(flatten)]
    report: &'a crate::audit::AuditReport,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    notifications: &'a [crate::notify::Delivery],
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Json {
            verdict: self.report.verdict(),
            report: &self.report,
            notifications: &self.notifications,
        }
        .serialize(s)
    }
}

impl Outcome {
    fn verdict(&self) -> String {
        let r = &self.report;
        match r.verdict() {
            AuditVerdict::Clean => "clean".to_string(),
            AuditVerdict::Findings if r.not_run.is_empty() => {
                format!("{} findings", r.findings.len())
            }
            AuditVerdict::Findings => format!(
                "{} findings, {} checks not run",
                r.findings.len(),
                r.not_run.len()
            ),
            AuditVerdict::Incomplete if self.allow_incomplete => {
                format!("incomplete, allowed ({} checks not run)", r.not_run.len())
            }
            AuditVerdict::Incomplete => {
                format!("incomplete ({} checks not run)", r.not_run.len())
            }
        }
    }
}

super::schema_as!(Outcome => Json<'static>);

impl Report for Outcome {
    fn text(&self) -> String {
        let r = &self.report;
        let mut out = String::new();
        for f in &r.findings {
            let _ = writeln!(
                out,
                "[{}] {}: {}\n    expected: {}\n    actual:   {}\n    fix:      {}",
                f.severity.as_str(),
                f.resource,
                f.kind,
                f.expected,
                f.actual,
                f.fix
            );
        }
        for n in &r.not_run {
            let _ = writeln!(out, "not run: {}: {}", n.check, n.why);
        }
        for note in &r.notes {
            let _ = writeln!(out, "note: {note}");
        }
        out.push_str(&notifications_text(&self.notifications));
        let _ = writeln!(
            out,
            "{} audit of `{}`: {}",
            r.audit,
            r.environment,
            self.verdict()
        );
        out
    }

    fn markdown(&self) -> String {
        let r = &self.report;
        let mut out = format!(
            "### {} audit of `{}`: {}\n\n",
            r.audit,
            r.environment,
            self.verdict()
        );
        if !r.findings.is_empty() {
            let mut table = Table::new([
                Column::left("severity"),
                Column::left("resource"),
                Column::left("finding"),
                Column::left("expected"),
                Column::left("actual"),
                Column::left("fix"),
            ]);
            for f in &r.findings {
                table.row([
                    f.severity.as_str(),
                    &f.resource,
                    f.kind,
                    &f.expected,
                    &f.actual,
                    &f.fix,
                ]);
            }
            out.push_str(&table.markdown());
        }
        for n in &r.not_run {
            let _ = writeln!(out, "\n> not run: {}: {}", n.check, n.why);
        }
        for note in &r.notes {
            let _ = writeln!(out, "\n> note: {note}");
        }
        out
    }

    /// 2 with findings; 1 when a check did not run (unless allowed); else 0.
    fn exit(&self) -> Exit {
        match self.report.verdict() {
            AuditVerdict::Findings => Exit::Changes,
            AuditVerdict::Incomplete if !self.allow_incomplete => Exit::Error,
            AuditVerdict::Incomplete | AuditVerdict::Clean => Exit::Ok,
        }
    }
}
