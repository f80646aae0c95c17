//! `traffic`: the split of one service and each side's figures.

use std::fmt::Write as _;

use super::{Column, Report, Table};
use crate::services::traffic::{Side, TrafficReport};

fn sides_table(r: &TrafficReport) -> Table {
    let mut table = Table::new([
        Column::left("side").width(8),
        Column::right("version").width(7),
        Column::right("traffic").width(7),
        Column::right("invocations").width(11),
        Column::right("error rate").width(10),
        Column::right("p95").width(8),
    ]);
    let sides: Vec<(&str, &Side)> = std::iter::once(("control", &r.control))
        .chain(r.variant.iter().map(|v| ("variant", v)))
        .collect();
    for (label, side) in sides {
        table.row([
            label.to_string(),
            side.version.clone(),
            format!("{:.1}%", side.percent),
            side.invocations.to_string(),
            side.error_rate
                .map_or("-".to_string(), |e| format!("{e:.1}%")),
            side.p95_ms
                .map_or("-".to_string(), |p| format!("{p:.0} ms")),
        ]);
    }
    table
}

impl Report for TrafficReport {
    fn text(&self) -> String {
        let mut out = String::new();
        if let Some(changed) = &self.changed {
            let _ = writeln!(out, "{changed}\n");
        }
        let _ = writeln!(
            out,
            "{} ({}:live), last {} min",
            self.service, self.function, self.window_minutes
        );
        out.push_str(&sides_table(self).text());
        if self.variant.is_none() {
            out.push_str("\nno variant: all traffic on the control\n");
        }
        out
    }

    fn markdown(&self) -> String {
        format!(
            "### traffic of `{}` (last {} min)\n\n{}",
            self.service,
            self.window_minutes,
            sides_table(self).markdown()
        )
    }
}
