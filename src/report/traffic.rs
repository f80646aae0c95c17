//! `traffic`: the split of one service and each side's figures.

use std::fmt::Write as _;

use super::{Column, Report, Table};
use crate::exit::Exit;
use crate::services::evaluation::Verdict;
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
        // The model a version runs, by the start of its SHA-256, beside the version.
        let version = match side.model_sha256.as_deref() {
            Some(sha) if !sha.is_empty() => {
                format!("{} (model {})", side.version, sha.get(..12).unwrap_or(sha))
            }
            _ => side.version.clone(),
        };
        table.row([
            label.to_string(),
            version,
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
        if let Some(table) = comparisons_table(self) {
            out.push('\n');
            out.push_str(&table.text());
        }
        out.push_str(&sample_ratio_text(self));
        out.push_str(&evaluation_text(self));
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!(
            "### traffic of `{}` (last {} min)\n\n{}",
            self.service,
            self.window_minutes,
            sides_table(self).markdown()
        );
        if let Some(table) = comparisons_table(self) {
            out.push('\n');
            out.push_str(&table.markdown());
        }
        out.push_str(&sample_ratio_text(self));
        out.push_str(&evaluation_text(self));
        out
    }

    /// `traffic evaluate`: promote 0, keep collecting 2, abort 3 (a guard rail refused), and
    /// 3 for a sample ratio mismatch (the split cannot be judged; `--apply` changes nothing).
    fn exit(&self) -> Exit {
        let undelivered = self.warning_exit && self.notifications.iter().any(|d| !d.sent);
        match self.evaluation.as_ref().map(|e| e.verdict) {
            None | Some(Verdict::Promote) if undelivered => Exit::Warning,
            None | Some(Verdict::Promote) => Exit::Ok,
            Some(Verdict::KeepCollecting) => Exit::Changes,
            Some(Verdict::Abort | Verdict::SampleRatioMismatch) => Exit::Refused,
        }
    }
}

/// Variant against control per measure, with the interval and the limit.
fn comparisons_table(r: &TrafficReport) -> Option<Table> {
    if r.comparisons.is_empty() {
        return None;
    }
    let confidence = r.evaluation.as_ref().map_or(0.95, |e| e.confidence);
    let mut table = Table::new([
        Column::left("measure").width(15),
        Column::right("control").width(8),
        Column::right("variant").width(8),
        Column::right("change").width(9),
        Column::left(interval_header(confidence)),
        Column::right("limit"),
        Column::left("needed (variant, time)"),
    ]);
    let figure =
        |v: Option<f64>, unit: &str| v.map_or("-".to_string(), |v| format!("{v}{}", suffix(unit)));
    for c in &r.comparisons {
        table.row([
            c.measure.to_string(),
            figure(c.control, c.unit),
            figure(c.variant, c.unit),
            c.difference
                .map_or("-".to_string(), |d| format!("{d:+} {}", c.unit)),
            c.interval.map_or("-".to_string(), |(low, high)| {
                format!("{low:+} to {high:+}")
            }),
            match c.limit {
                Some(l) if c.judged => format!("{l} {}", c.unit),
                Some(l) => format!("{l} {} (shown)", c.unit),
                None => "-".to_string(),
            },
            needed_text(c),
        ]);
    }
    Some(table)
}

/// `8,164 (about 3 h)`: the variant's samples a limit needs, and the time to them.
fn needed_text(c: &crate::services::evaluation::Comparison) -> String {
    let Some(needed) = c.needed else {
        return "-".to_string();
    };
    let time = match needed.minutes_left {
        Some(m) if m <= 0.0 => " (reached)".to_string(),
        Some(m) if m < 120.0 => format!(" (about {m:.0} min)"),
        Some(m) if m < 2880.0 => format!(" (about {:.0} h)", m / 60.0),
        Some(m) => format!(" (about {:.0} days)", m / 1440.0),
        None => String::new(),
    };
    format!("{}{time}", needed.variant)
}

/// The observed split against the configured one, when it is measured.
fn sample_ratio_text(r: &TrafficReport) -> String {
    let Some(ratio) = r.sample_ratio else {
        return String::new();
    };
    let judged = if ratio.mismatched() {
        "MISMATCH: no verdict can be trusted"
    } else {
        "as configured"
    };
    format!(
        "\nsplit: {}% of requests on the variant for {}% configured (p {}): {judged}\n",
        ratio.observed_percent,
        ratio.expected_percent,
        crate::services::evaluation::ratio::p_text(ratio.p_value)
    )
}

fn interval_header(confidence: f64) -> &'static str {
    if (confidence - 0.95).abs() < 1e-9 {
        "95% interval"
    } else {
        "interval"
    }
}

fn suffix(unit: &str) -> &'static str {
    if unit == "pp" { "%" } else { " ms" }
}

fn evaluation_text(r: &TrafficReport) -> String {
    let Some(e) = &r.evaluation else {
        return String::new();
    };
    let verdict = match e.verdict {
        Verdict::Promote => "promote",
        Verdict::KeepCollecting => "keep collecting",
        Verdict::Abort => "abort",
        Verdict::SampleRatioMismatch => "no verdict (sample ratio mismatch)",
    };
    let mut out = format!(
        "\nverdict: {verdict} ({:.0}% confidence, at least {} samples a side)\n",
        e.confidence * 100.0,
        e.min_samples
    );
    for reason in &e.reasons {
        let _ = writeln!(out, "  {reason}");
    }
    let _ = writeln!(out, "method: {}", e.method);
    if let Some(applied) = &e.applied {
        let _ = writeln!(out, "applied: {applied}");
    }
    out
}
