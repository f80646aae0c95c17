//! `alarms plan` and `alarms apply`, and the alarms part of a deploy report.

use std::fmt::Write as _;

use serde::Serialize;

use super::{Column, Report, Table};
use crate::alarms::apply::{AlarmAction, AlarmsReport};
use crate::commands::alarms::Outcome;
use crate::exit::Exit;

/// `+ name (why)` per change, then the counts.
pub(super) fn changes_text(report: &AlarmsReport) -> String {
    let mut out = String::new();
    let mut counts = [0usize; 4];
    for change in &report.changes {
        let (sign, index) = match change.action {
            AlarmAction::Create => ("+", 0),
            AlarmAction::Update => ("~", 1),
            AlarmAction::Delete => ("-", 2),
            AlarmAction::Unchanged => (" ", 3),
        };
        counts[index] += 1;
        if change.action != AlarmAction::Unchanged {
            let why = if change.reasons.is_empty() {
                String::new()
            } else {
                format!(" ({})", change.reasons.join(", "))
            };
            let _ = writeln!(out, "{sign} {}{why}", change.name);
        }
    }
    let verb = if report.applied { "applied" } else { "plan" };
    let _ = writeln!(
        out,
        "alarms {verb} for `{}`: {} created, {} updated, {} deleted, {} unchanged",
        report.environment, counts[0], counts[1], counts[2], counts[3]
    );
    out
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.report.serialize(s)
    }
}

super::schema_as!(Outcome => AlarmsReport);

impl Report for Outcome {
    fn text(&self) -> String {
        changes_text(&self.report)
    }

    fn markdown(&self) -> String {
        let mut table = Table::new([
            Column::left("alarm").code(),
            Column::left("action"),
            Column::left("why"),
        ]);
        for change in &self.report.changes {
            table.row([
                change.name.clone(),
                change.action.as_str().to_string(),
                change.reasons.join(", "),
            ]);
        }
        format!(
            "### Alarms of `{}`\n\n{}",
            self.report.environment,
            table.markdown()
        )
    }

    fn exit(&self) -> Exit {
        if self.detailed_exitcode && self.report.has_changes() {
            Exit::Changes
        } else {
            Exit::Ok
        }
    }
}
