//! `verify`: each check with its figures and findings; the Markdown (for the step
//! summary) adds a Mermaid chart of the load test's latency percentiles and throughput.

use std::fmt::Write as _;

use serde::Serialize;

use super::{Annotation, Column, Report, Severity, Table};
use crate::commands::verify::Outcome;
use crate::exit::Exit;
use crate::release::verification::{CheckRecord, CheckStatus, VerificationResult};
use crate::verify::load::Point;

#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "VerifyDocument")]
struct Json<'a> {
    environment: &'a str,
    /// The record of the release verified.
    record: &'a str,
    /// `passed`, `failed` (a threshold: exit 3) or `incomplete` (a check did not run: exit 1).
    result: VerificationResult,
    /// Whether the verification was written to the record (not with `--update-baseline`).
    recorded: bool,
    /// The verification as the record keeps it: checks, figures, what was verified.
    verification: &'a crate::release::verification::Verification,
    /// Locust's report and statistics, when a load test ran.
    load_files: Vec<String>,
    /// `--update-baseline`: the baseline written.
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline_written: Option<String>,
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Json {
            environment: &self.environment,
            record: &self.record,
            result: self.verification.result,
            recorded: self.recorded,
            verification: &self.verification,
            load_files: self
                .findings
                .load
                .iter()
                .flat_map(|l| l.files.iter().map(|f| f.display().to_string()))
                .collect(),
            baseline_written: self
                .findings
                .baseline_written
                .as_ref()
                .map(|p| p.display().to_string()),
        }
        .serialize(s)
    }
}

super::schema_as!(Outcome => Json<'static>);

fn headline(outcome: &Outcome) -> String {
    let v = &outcome.verification;
    let passed = v
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::Passed)
        .count();
    format!(
        "verification of `{}` ({}): {}, {passed} of {} checks passed",
        outcome.environment,
        outcome.record,
        v.result.as_str(),
        v.checks.len()
    )
}

fn table(checks: &[CheckRecord]) -> Table {
    let mut table = Table::new([
        Column::left("check"),
        Column::left("kind"),
        Column::left("result"),
        Column::left("figures"),
    ]);
    for c in checks {
        let figures = c
            .figures
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ");
        table.row([
            c.name.clone(),
            c.kind.as_str().to_string(),
            c.status.as_str().to_string(),
            figures,
        ]);
    }
    table
}

fn problems(checks: &[CheckRecord]) -> Vec<String> {
    checks
        .iter()
        .flat_map(|c| c.problems.iter().map(move |p| format!("{}: {p}", c.name)))
        .collect()
}

impl Report for Outcome {
    fn text(&self) -> String {
        let mut out = format!(
            "{}\n\n{}",
            headline(self),
            table(&self.verification.checks).text()
        );
        for line in problems(&self.verification.checks) {
            let _ = writeln!(out, "  - {line}");
        }
        if let Some(path) = &self.findings.baseline_written {
            let _ = writeln!(
                out,
                "baseline written: {} (review and commit it)",
                path.display()
            );
        }
        if !self.recorded {
            let _ = writeln!(
                out,
                "not recorded: a run that writes the baseline verifies nothing"
            );
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!(
            "### {}\n\n{}",
            headline(self),
            table(&self.verification.checks).markdown()
        );
        let problems = problems(&self.verification.checks);
        if !problems.is_empty() {
            out.push('\n');
            for line in problems {
                let _ = writeln!(out, "- {line}");
            }
        }
        if let Some(load) = &self.findings.load {
            out.push_str(&chart(&load.history));
        }
        out
    }

    /// 0 passed, 3 a threshold failed, 1 a check could not run.
    fn exit(&self) -> Exit {
        match self.verification.result {
            VerificationResult::Passed => Exit::Ok,
            VerificationResult::Failed => Exit::Refused,
            VerificationResult::Incomplete => Exit::Error,
        }
    }

    fn outputs(&self) -> Vec<(&'static str, String)> {
        vec![("result", self.verification.result.as_str().to_string())]
    }

    fn annotations(&self) -> Vec<Annotation> {
        self.verification
            .checks
            .iter()
            .filter(|c| c.status != CheckStatus::Passed)
            .map(|c| Annotation {
                severity: match c.status {
                    CheckStatus::Failed => Severity::Error,
                    _ => Severity::Warning,
                },
                title: format!("verify {}: {}", c.name, c.status.as_str()),
                message: c.problems.join("; "),
            })
            .collect()
    }
}

/// A Mermaid `xychart-beta` (GitHub renders it) of p50 and p95 (ms, bars and line) and
/// throughput over the run, at most 60 points.
pub fn chart(history: &[Point]) -> String {
    if history.is_empty() {
        return String::new();
    }
    let step = history.len().div_ceil(60);
    let points: Vec<&Point> = history.iter().step_by(step).collect();
    let join =
        |f: &dyn Fn(&Point) -> String| points.iter().map(|p| f(p)).collect::<Vec<_>>().join(", ");
    let max_ms = points.iter().map(|p| p.p95_ms).fold(1.0, f64::max).ceil();
    let max_rps = points.iter().map(|p| p.rps).fold(1.0, f64::max).ceil();
    format!(
        "\n```mermaid\nxychart-beta\n    title \"Response time (ms): p50 bars, p95 line\"\n    x-axis \"second\" [{}]\n    y-axis \"ms\" 0 --> {max_ms}\n    bar [{}]\n    line [{}]\n```\n\n```mermaid\nxychart-beta\n    title \"Throughput (requests/s)\"\n    x-axis \"second\" [{}]\n    y-axis \"requests/s\" 0 --> {max_rps}\n    line [{}]\n```\n",
        join(&|p| p.second.to_string()),
        join(&|p| format!("{:.0}", p.p50_ms)),
        join(&|p| format!("{:.0}", p.p95_ms)),
        join(&|p| p.second.to_string()),
        join(&|p| format!("{:.1}", p.rps)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_has_both_series_and_at_most_sixty_points() {
        let history: Vec<Point> = (0..150)
            .map(|s| Point {
                second: s,
                p50_ms: 10.0,
                p95_ms: 40.0,
                rps: 5.0,
            })
            .collect();
        let chart = chart(&history);
        assert!(chart.contains("xychart-beta") && chart.contains("Throughput"));
        let axis = chart.lines().find(|l| l.contains("x-axis")).unwrap();
        assert_eq!(axis.matches(',').count() + 1, 50); // every third second
        assert!(chart.contains("y-axis \"ms\" 0 --> 40"));
        assert_eq!(super::chart(&[]), "");
    }
}
