//! `audit drift` and `audit alarms`: findings by severity, with expected, actual and a fix.

use std::fmt::Write as _;

use serde::Serialize;

use super::{Column, Report, Table, notifications_text};
use crate::commands::audit::Outcome;
use crate::exit::Exit;

#[derive(Serialize)]
struct Json<'a> {
    #[serde(flatten)]
    report: &'a crate::audit::AuditReport,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    notifications: &'a [crate::notify::Delivery],
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Json {
            report: &self.report,
            notifications: &self.notifications,
        }
        .serialize(s)
    }
}

impl Outcome {
    fn verdict(&self) -> String {
        if self.report.clean() {
            "clean".to_string()
        } else {
            format!("{} findings", self.report.findings.len())
        }
    }
}

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
        for note in &r.notes {
            let _ = writeln!(out, "\n> note: {note}");
        }
        out
    }

    fn exit(&self) -> Exit {
        if self.report.clean() {
            Exit::Ok
        } else {
            Exit::Changes
        }
    }
}
