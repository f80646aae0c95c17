//! `preflight`: each check with its status, then the verdict.

use std::fmt::Write as _;

use serde::Serialize;

use super::{Cell, Column, Report, Table};
use crate::commands::preflight::Outcome;
use crate::exit::Exit;
use crate::preflight::Status;

#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "PreflightDocument")]
struct Json<'a> {
    environment: &'a str,
    checks: &'a [crate::preflight::Check],
    blocking: usize,
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Json {
            environment: &self.environment,
            checks: &self.checks,
            blocking: self.blocking(),
        }
        .serialize(s)
    }
}

impl Outcome {
    fn table(&self) -> Table {
        let mut table = Table::new([
            Column::left("check").width(12),
            Column::left("status").width(8),
            Column::left("subject"),
            Column::left("detail"),
        ]);
        for c in &self.checks {
            let status = match c.status {
                Status::Blocking => Cell::strong(c.status.as_str()),
                other => Cell::from(other.as_str()),
            };
            table.row([
                Cell::from(c.check),
                status,
                Cell::from(c.subject.as_str()),
                Cell::from(c.detail.as_str()),
            ]);
        }
        table
    }

    fn verdict(&self) -> String {
        format!(
            "preflight of `{}`: {} passed, {} warnings, {} blocking, {} not run",
            self.environment,
            self.count(Status::Passed),
            self.count(Status::Warning),
            self.blocking(),
            self.count(Status::NotRun)
        )
    }
}

super::schema_as!(Outcome => Json<'static>);

impl Report for Outcome {
    fn text(&self) -> String {
        let mut out = self.table().text();
        let _ = writeln!(out, "\n{}", self.verdict());
        out
    }

    fn markdown(&self) -> String {
        format!("### {}\n\n{}", self.verdict(), self.table().markdown())
    }

    fn exit(&self) -> Exit {
        if self.blocking() > 0 {
            Exit::Refused
        } else {
            Exit::Ok
        }
    }
}
