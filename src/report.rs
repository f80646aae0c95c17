//! Turns command results into text for people, JSON for machines, Markdown for step summaries.

use std::fmt::Write as _;

use serde::Serialize;

use crate::config::diagnostic::ConfigErrorReport;
use crate::config::{Config, ConfigErrors};
use crate::error::Error;
use crate::policy::{Level, PolicyReport};
use crate::render::RenderedEnv;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
    Markdown,
}

/// A command's result, in every output format.
pub trait Report: Serialize {
    fn text(&self) -> String;
    fn markdown(&self) -> String;
}

pub fn format<R: Report>(report: &R, format: OutputFormat) -> String {
    match format {
        OutputFormat::Text => report.text(),
        OutputFormat::Markdown => report.markdown(),
        OutputFormat::Json => {
            let mut s = serde_json::to_string_pretty(report)
                .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
            s.push('\n');
            s
        }
    }
}

/// `config show`: the effective configuration; secrets appear as their references.
#[derive(Serialize)]
pub struct ConfigShow<'a> {
    pub environment: &'a str,
    pub config: &'a Config,
}

impl Report for ConfigShow<'_> {
    fn text(&self) -> String {
        let yaml = serde_yaml::to_string(self.config).unwrap_or_default();
        format!(
            "# effective configuration of `{}` (deploy.toml + environments/{}.yaml)\n{yaml}",
            self.environment, self.environment
        )
    }
    fn markdown(&self) -> String {
        format!(
            "### Configuration of `{}`\n\n```yaml\n{}```\n",
            self.environment,
            serde_yaml::to_string(self.config).unwrap_or_default()
        )
    }
}

/// `render`: what was rendered, with hashes, and where it was written.
#[derive(Serialize)]
pub struct RenderReport<'a> {
    pub environment: &'a str,
    pub rendered: &'a RenderedEnv,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_dir: Option<String>,
    pub files_written: usize,
}

impl Report for RenderReport<'_> {
    fn text(&self) -> String {
        let mut out = String::new();
        let width = self
            .rendered
            .stacks
            .iter()
            .map(|s| s.name.len())
            .max()
            .unwrap_or(5)
            .max(5);
        let _ = writeln!(out, "{:width$}  {:40}  hash", "stack", "template");
        for s in &self.rendered.stacks {
            let _ = writeln!(
                out,
                "{:width$}  {:40}  {}",
                s.name,
                s.template_file,
                &s.hash[..19]
            );
        }
        let _ = writeln!(
            out,
            "{} stacks, {} alarms rendered for `{}`",
            self.rendered.stacks.len(),
            self.rendered.alarms.len(),
            self.environment
        );
        if let Some(dir) = &self.out_dir {
            let _ = writeln!(out, "{} files written to {dir}", self.files_written);
        }
        out
    }
    fn markdown(&self) -> String {
        let mut out = format!(
            "### Rendered `{}`\n\n| stack | template | hash |\n|---|---|---|\n",
            self.environment
        );
        for s in &self.rendered.stacks {
            let _ = writeln!(
                out,
                "| {} | `{}` | `{}` |",
                s.name,
                s.template_file,
                &s.hash[..19]
            );
        }
        let _ = writeln!(out, "\n{} alarms.", self.rendered.alarms.len());
        out
    }
}

/// `validate`: config, rendering and policy in one verdict.
#[derive(Serialize)]
pub struct ValidateReport<'a> {
    pub environment: &'a str,
    pub stacks: usize,
    pub alarms: usize,
    pub policy: &'a PolicyReport,
    pub blocking: usize,
}

impl Report for ValidateReport<'_> {
    fn text(&self) -> String {
        let mut out = String::new();
        for f in &self.policy.findings {
            let level = match f.level {
                Level::Error => "error",
                Level::Warning => "warning",
                Level::Excepted => "excepted",
            };
            let _ = writeln!(
                out,
                "{level}[{}]: {}\n  --> {}/{}\n  = help: {}",
                f.rule, f.message, f.stack, f.resource, f.hint
            );
            if let Some(reason) = &f.exception_reason {
                let _ = writeln!(out, "  = exception: {reason}");
            }
        }
        let verdict = if self.blocking > 0 { "refused" } else { "ok" };
        let _ = writeln!(
            out,
            "{verdict}: `{}` config valid, {} stacks and {} alarms rendered, {} policy findings ({} blocking, mode {})",
            self.environment,
            self.stacks,
            self.alarms,
            self.policy.findings.len(),
            self.blocking,
            match self.policy.mode {
                crate::config::PolicyMode::Enforce => "enforce",
                crate::config::PolicyMode::Warn => "warn",
            }
        );
        out
    }
    fn markdown(&self) -> String {
        let mut out = format!(
            "### Validation of `{}`: {}\n\n{} stacks, {} alarms, {} findings ({} blocking).\n",
            self.environment,
            if self.blocking > 0 {
                "refused"
            } else {
                "passed"
            },
            self.stacks,
            self.alarms,
            self.policy.findings.len(),
            self.blocking
        );
        if !self.policy.findings.is_empty() {
            out.push_str("\n| level | rule | resource | finding | fix |\n|---|---|---|---|---|\n");
            for f in &self.policy.findings {
                let _ = writeln!(
                    out,
                    "| {:?} | `{}` | `{}/{}` | {} | {} |",
                    f.level, f.rule, f.stack, f.resource, f.message, f.hint
                );
            }
        }
        out
    }
}

/// `validate --explain`: every rule with why it exists.
#[derive(Serialize)]
pub struct RulesReport {
    pub rules: Vec<RuleEntry>,
}

#[derive(Serialize)]
pub struct RuleEntry {
    pub id: &'static str,
    pub why: &'static str,
}

impl Report for RulesReport {
    fn text(&self) -> String {
        self.rules
            .iter()
            .map(|r| format!("{:20} {}\n", r.id, r.why))
            .collect()
    }
    fn markdown(&self) -> String {
        let mut out = String::from("| rule | why |\n|---|---|\n");
        for r in &self.rules {
            let _ = writeln!(out, "| `{}` | {} |", r.id, r.why);
        }
        out
    }
}

/// The JSON document printed on stdout when a command fails with `--output json`.
#[derive(Serialize)]
pub struct ErrorReport<'a> {
    pub status: &'static str,
    pub kind: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ConfigErrorReport<'a>>,
}

impl<'a> ErrorReport<'a> {
    pub fn new(error: &'a Error) -> Self {
        let errors = match error {
            Error::Config(ConfigErrors(list)) => list.iter().map(ConfigErrorReport::from).collect(),
            _ => Vec::new(),
        };
        Self {
            status: "error",
            kind: error.kind(),
            message: error.to_string(),
            errors,
        }
    }
}

pub fn format_error(error: &Error) -> String {
    let mut s = serde_json::to_string_pretty(&ErrorReport::new(error)).unwrap_or_default();
    s.push('\n');
    s
}

/// One line of progress on stderr, for people and CI logs alike.
pub fn progress_line(event: &crate::progress::Progress) -> String {
    use crate::progress::Progress;
    match event {
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

/// `deploy`: a summary table, then what failed and why.
#[derive(Serialize)]
#[serde(transparent)]
pub struct DeployView<'a>(pub &'a crate::stacks::deploy::DeployReport);

impl Report for DeployView<'_> {
    fn text(&self) -> String {
        use crate::stacks::deploy::StackResult;
        let report = self.0;
        let width = report
            .stacks
            .iter()
            .map(|s| s.stack.len())
            .max()
            .unwrap_or(5)
            .max(5);
        let mut out = format!(
            "{:width$}  {:9}  {:9}  {:>8}\n",
            "stack", "action", "result", "duration"
        );
        for s in &report.stacks {
            let result = match s.result {
                StackResult::Succeeded => "ok",
                StackResult::Skipped => "skipped",
                StackResult::Failed => "FAILED",
            };
            let _ = writeln!(
                out,
                "{:width$}  {:9}  {:9}  {:>7.2}s",
                s.stack,
                s.action.as_str(),
                result,
                s.duration_ms as f64 / 1000.0
            );
        }
        for s in report.stacks.iter().filter(|s| s.message.is_some()) {
            let _ = writeln!(
                out,
                "\n{}: {}",
                s.stack,
                s.message.as_deref().unwrap_or_default()
            );
            for f in &s.failures {
                let _ = writeln!(
                    out,
                    "  {} ({}) {}: {}",
                    f.resource, f.resource_type, f.status, f.reason
                );
            }
        }
        if let Some(alarms) = &report.alarms {
            out.push('\n');
            out.push_str(&AlarmsView(alarms).text());
        }
        out.push_str(&services_text(&report.services));
        if let Some(note) = &report.alarms_note {
            let _ = writeln!(out, "\n{note}");
        }
        out.push_str(&notifications_text(&report.notifications));
        out.push_str(&retries_text(&report.retries));
        let changed = report.changed();
        let verdict = if report.failed() { "failed" } else { "done" };
        let _ = writeln!(
            out,
            "\n{} {verdict}: `{}`, {} stacks ({} changed) in {:.2}s",
            report.operation,
            report.environment,
            report.stacks.len(),
            changed.len(),
            report.duration_ms as f64 / 1000.0
        );
        out
    }

    fn markdown(&self) -> String {
        use crate::stacks::deploy::StackResult;
        let report = self.0;
        let mut out = format!(
            "### {} of `{}`: {}\n\n| stack | action | result | duration |\n|---|---|---|---|\n",
            report.operation,
            report.environment,
            if report.failed() {
                "failed"
            } else {
                "succeeded"
            }
        );
        for s in &report.stacks {
            let result = match s.result {
                StackResult::Succeeded => "ok",
                StackResult::Skipped => "skipped",
                StackResult::Failed => "**failed**",
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.2}s |",
                s.stack,
                s.action.as_str(),
                result,
                s.duration_ms as f64 / 1000.0
            );
        }
        for s in report.stacks.iter().filter(|s| s.message.is_some()) {
            let _ = writeln!(
                out,
                "\n**{}**: {}",
                s.stack,
                s.message.as_deref().unwrap_or_default()
            );
            for f in &s.failures {
                let _ = writeln!(
                    out,
                    "- `{}` ({}) {}: {}",
                    f.resource, f.resource_type, f.status, f.reason
                );
            }
        }
        out.push_str(&services_text(&report.services));
        out.push_str(&notifications_text(&report.notifications));
        out.push_str(&retries_text(&report.retries));
        out
    }
}

/// The services table of a deploy: result, what ran before and after, and why one failed.
fn services_text(services: &[crate::services::ServiceReport]) -> String {
    if services.is_empty() {
        return String::new();
    }
    let width = services
        .iter()
        .map(|s| s.service.len())
        .max()
        .unwrap_or(7)
        .max(7);
    let mut out = format!(
        "\n{:width$}  {:11}  {:>8}  change\n",
        "service", "result", "duration"
    );
    for s in services {
        let result = s.result.label();
        let change = match &s.outcome {
            Some(o) if o.changed => format!("{} -> {}", o.old, o.new.as_deref().unwrap_or("?")),
            Some(o) => o.old.clone(),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "{:width$}  {:11}  {:>7.2}s  {change}",
            s.service,
            result,
            s.duration_ms as f64 / 1000.0
        );
    }
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

/// `notified: a (slack), b (sns)` and a warning per channel not reached.
fn notifications_text(deliveries: &[crate::notify::Delivery]) -> String {
    if deliveries.is_empty() {
        return String::new();
    }
    let sent: Vec<String> = deliveries
        .iter()
        .filter(|d| d.sent)
        .map(|d| format!("{} ({})", d.channel, d.via))
        .collect();
    let mut out = String::from("\n");
    if !sent.is_empty() {
        let _ = writeln!(out, "notified: {}", sent.join(", "));
    }
    for warning in crate::notify::failures(deliveries) {
        let _ = writeln!(out, "warning: {warning}");
    }
    out
}

/// `notify`: where a pipeline stage's message went.
#[derive(Serialize)]
pub struct NotifyView<'a> {
    pub notice: &'a crate::notify::Notice,
    pub notifications: &'a [crate::notify::Delivery],
}

impl Report for NotifyView<'_> {
    fn text(&self) -> String {
        let mut out = format!("{}\n", self.notice.headline());
        if self.notifications.is_empty() {
            out.push_str("no channel wants this notice ([notifications] channels and on)\n");
        }
        out.push_str(&notifications_text(self.notifications));
        out
    }

    fn markdown(&self) -> String {
        self.text()
    }
}

/// `traffic`: the split of one service and each side's figures.
#[derive(Serialize)]
#[serde(transparent)]
pub struct TrafficView<'a>(pub &'a crate::services::traffic::TrafficReport);

impl Report for TrafficView<'_> {
    fn text(&self) -> String {
        let r = self.0;
        let mut out = String::new();
        if let Some(changed) = &r.changed {
            let _ = writeln!(out, "{changed}\n");
        }
        let _ = writeln!(
            out,
            "{} ({}:live), last {} min\n{:8}  {:>7}  {:>7}  {:>11}  {:>10}  {:>8}",
            r.service,
            r.function,
            r.window_minutes,
            "side",
            "version",
            "traffic",
            "invocations",
            "error rate",
            "p95"
        );
        let sides = std::iter::once(("control", &r.control))
            .chain(r.variant.iter().map(|v| ("variant", v)));
        for (label, side) in sides {
            let rate = side
                .error_rate
                .map_or("-".to_string(), |e| format!("{e:.1}%"));
            let p95 = side
                .p95_ms
                .map_or("-".to_string(), |p| format!("{p:.0} ms"));
            let _ = writeln!(
                out,
                "{label:8}  {:>7}  {:>6.1}%  {:>11}  {:>10}  {:>8}",
                side.version, side.percent, side.invocations, rate, p95
            );
        }
        if r.variant.is_none() {
            out.push_str("\nno variant: all traffic on the control\n");
        }
        out
    }

    fn markdown(&self) -> String {
        let r = self.0;
        let mut out = format!(
            "### traffic of `{}` (last {} min)\n\n| side | version | traffic | invocations | error rate | p95 |\n|---|---|---|---|---|---|\n",
            r.service, r.window_minutes
        );
        let sides = std::iter::once(("control", &r.control))
            .chain(r.variant.iter().map(|v| ("variant", v)));
        for (label, side) in sides {
            let _ = writeln!(
                out,
                "| {label} | {} | {:.1}% | {} | {} | {} |",
                side.version,
                side.percent,
                side.invocations,
                side.error_rate
                    .map_or("-".to_string(), |e| format!("{e:.1}%")),
                side.p95_ms
                    .map_or("-".to_string(), |p| format!("{p:.0} ms"))
            );
        }
        out
    }
}

/// `plan` and `deploy --dry-run`.
#[derive(Serialize)]
#[serde(transparent)]
pub struct PlanView<'a>(pub &'a crate::stacks::plan::Plan);

fn plan_action(action: crate::stacks::plan::PlanAction) -> &'static str {
    use crate::stacks::plan::PlanAction;
    match action {
        PlanAction::Create => "create",
        PlanAction::Update => "update",
        PlanAction::NoChange => "no change",
        PlanAction::Blocked => "blocked",
    }
}

fn resource_sign(action: &str) -> &'static str {
    match action {
        "Add" => "+",
        "Remove" => "-",
        _ => "~",
    }
}

impl Report for PlanView<'_> {
    fn text(&self) -> String {
        use crate::stacks::plan::PlanAction;
        let plan = self.0;
        let mut out = String::new();
        for s in &plan.stacks {
            let _ = writeln!(out, "{}: {}", s.stack, plan_action(s.action));
            if !s.reasons.is_empty() {
                let _ = writeln!(out, "  because: {}", s.reasons.join(", "));
            }
            for p in &s.parameters {
                let from = p.from.as_deref().unwrap_or("(unset)");
                let _ = writeln!(out, "  parameter {}: {from} -> {}", p.name, p.to);
            }
            for r in &s.resources {
                let replacement = match r.replacement.as_deref() {
                    Some("True") => " (REPLACEMENT)",
                    Some("Conditional") => " (may be replaced)",
                    _ => "",
                };
                let _ = writeln!(
                    out,
                    "  {} {} {}{replacement}",
                    resource_sign(&r.action),
                    r.logical_id,
                    r.resource_type
                );
            }
            if let Some(note) = &s.note {
                let _ = writeln!(out, "  note: {note}");
            }
            if let Some(diff) = s.template_diff.as_deref().filter(|d| !d.is_empty()) {
                for line in diff.lines() {
                    let _ = writeln!(out, "  {line}");
                }
            }
        }
        let _ = writeln!(
            out,
            "\nplan for `{}`: {} to create, {} to update, {} unchanged, {} blocked",
            plan.environment,
            plan.count(PlanAction::Create),
            plan.count(PlanAction::Update),
            plan.count(PlanAction::NoChange),
            plan.count(PlanAction::Blocked)
        );
        out
    }

    fn markdown(&self) -> String {
        let plan = self.0;
        let mut out = format!(
            "### Plan for `{}`\n\n| stack | action | resources | parameters |\n|---|---|---|---|\n",
            plan.environment
        );
        for s in &plan.stacks {
            let resources: Vec<String> = s
                .resources
                .iter()
                .map(|r| format!("{} `{}`", resource_sign(&r.action), r.logical_id))
                .collect();
            let parameters: Vec<String> = s
                .parameters
                .iter()
                .map(|p| format!("`{}`", p.name))
                .collect();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                s.stack,
                plan_action(s.action),
                resources.join("<br>"),
                parameters.join(", ")
            );
        }
        out
    }
}

/// `alarms plan` and `alarms apply`.
#[derive(Serialize)]
#[serde(transparent)]
pub struct AlarmsView<'a>(pub &'a crate::alarms::apply::AlarmsReport);

impl Report for AlarmsView<'_> {
    fn text(&self) -> String {
        use crate::alarms::apply::AlarmAction;
        let report = self.0;
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

    fn markdown(&self) -> String {
        let report = self.0;
        let mut out = format!(
            "### Alarms of `{}`\n\n| alarm | action | why |\n|---|---|---|\n",
            report.environment
        );
        for change in &report.changes {
            let _ = writeln!(
                out,
                "| `{}` | {:?} | {} |",
                change.name,
                change.action,
                change.reasons.join(", ")
            );
        }
        out
    }
}

/// `release check`: the gate passed, and on what.
#[derive(Serialize)]
#[serde(transparent)]
pub struct GateView<'a>(pub &'a crate::release::gate::Accepted);

impl Report for GateView<'_> {
    fn text(&self) -> String {
        let a = self.0;
        let mut out = String::new();
        for check in &a.checks {
            let _ = writeln!(out, "ok: {check}");
        }
        let _ = writeln!(
            out,
            "release gate of `{}` passed: commit {}, tag {}",
            a.environment,
            a.commit.as_deref().map_or("-", |c| &c[..c.len().min(12)]),
            a.tag.as_deref().unwrap_or("-")
        );
        out
    }

    fn markdown(&self) -> String {
        let a = self.0;
        let mut out = format!("### release gate of `{}`: passed\n\n", a.environment);
        for check in &a.checks {
            let _ = writeln!(out, "- {check}");
        }
        out
    }
}

/// `status`: what runs now, and who holds the lock.
#[derive(Serialize)]
pub struct StatusView<'a> {
    pub environment: &'a str,
    pub current: Option<&'a crate::release::record::Record>,
    pub lock: Option<&'a crate::release::store::LockInfo>,
}

impl Report for StatusView<'_> {
    fn text(&self) -> String {
        let locked = self
            .lock
            .map(|lock| format!("locked: {}\n", lock.describe()))
            .unwrap_or_default();
        let Some(r) = self.current else {
            return format!(
                "`{}` has no successful release recorded\n{locked}",
                self.environment
            );
        };
        let mut out = format!(
            "`{}` runs {} ({}, {}) since {}: commit {}, by {}\n",
            self.environment,
            r.tag.as_deref().unwrap_or("an untagged commit"),
            r.action,
            r.id,
            r.at,
            r.commit.as_deref().map_or("-", |c| &c[..c.len().min(12)]),
            r.who
        );
        let width = r.services.keys().map(String::len).max().unwrap_or(7).max(7);
        for (name, s) in &r.services {
            let what = match (&s.image, &s.version) {
                (Some(image), _) if s.runtime == "ecs" => image.clone(),
                (_, Some(v)) => format!(
                    "version {v} (code {})",
                    s.code_sha256.as_deref().unwrap_or("?")
                ),
                _ => "-".into(),
            };
            let _ = writeln!(out, "  {name:width$}  {:6}  {what}", s.runtime);
        }
        for (name, hash) in &r.stacks {
            let _ = writeln!(out, "  stack {name}: {}", &hash[..hash.len().min(19)]);
        }
        out.push_str(&locked);
        out
    }

    fn markdown(&self) -> String {
        self.text()
    }
}

/// `history`: releases, newest first.
#[derive(Serialize)]
pub struct HistoryView<'a> {
    pub environment: &'a str,
    pub records: &'a [crate::release::record::Record],
}

impl Report for HistoryView<'_> {
    fn text(&self) -> String {
        if self.records.is_empty() {
            return format!("`{}` has no deployment records\n", self.environment);
        }
        let mut out = format!(
            "{:33}  {:8}  {:9}  {:10}  {:12}  who\n",
            "release", "action", "result", "tag", "commit"
        );
        for r in self.records {
            let _ = writeln!(
                out,
                "{:33}  {:8}  {:9}  {:10}  {:12}  {}",
                r.id,
                r.action,
                r.result,
                r.tag.as_deref().unwrap_or("-"),
                r.commit.as_deref().map_or("-", |c| &c[..c.len().min(12)]),
                r.who
            );
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!(
            "### releases of `{}`\n\n| release | action | result | tag | commit | who |\n|---|---|---|---|---|---|\n",
            self.environment
        );
        for r in self.records {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                r.id,
                r.action,
                r.result,
                r.tag.as_deref().unwrap_or("-"),
                r.commit.as_deref().map_or("-", |c| &c[..c.len().min(12)]),
                r.who
            );
        }
        out
    }
}

/// `audit drift` and `audit alarms`: findings by severity, with expected, actual and a fix.
#[derive(Serialize)]
pub struct AuditView<'a> {
    #[serde(flatten)]
    pub report: &'a crate::audit::AuditReport,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub notifications: &'a [crate::notify::Delivery],
}

impl Report for AuditView<'_> {
    fn text(&self) -> String {
        let r = self.report;
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
        out.push_str(&notifications_text(self.notifications));
        let _ = writeln!(
            out,
            "{} audit of `{}`: {}",
            r.audit,
            r.environment,
            if r.clean() {
                "clean".to_string()
            } else {
                format!("{} findings", r.findings.len())
            }
        );
        out
    }

    fn markdown(&self) -> String {
        let r = self.report;
        let mut out = format!(
            "### {} audit of `{}`: {}\n\n",
            r.audit,
            r.environment,
            if r.clean() {
                "clean".to_string()
            } else {
                format!("{} findings", r.findings.len())
            }
        );
        if !r.findings.is_empty() {
            out.push_str("| severity | resource | finding | expected | actual | fix |\n|---|---|---|---|---|---|\n");
            for f in &r.findings {
                let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} |",
                    f.severity.as_str(),
                    cell(&f.resource),
                    f.kind,
                    cell(&f.expected),
                    cell(&f.actual),
                    cell(&f.fix)
                );
            }
        }
        for note in &r.notes {
            let _ = writeln!(out, "\n> note: {note}");
        }
        out
    }
}

/// `pipeline render`: the generated workflows and which were (or are) out of date.
#[derive(Serialize)]
pub struct PipelineReport<'a> {
    pub check: bool,
    pub files: Vec<String>,
    /// Written (render) or stale (`--check`); a removed orphan counts too.
    pub stale: Vec<String>,
    /// Unified diffs, committed -> fresh, with `--check`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diff: Vec<&'a str>,
}

impl Report for PipelineReport<'_> {
    fn text(&self) -> String {
        let mut out = String::new();
        if self.check {
            if self.stale.is_empty() {
                let _ = writeln!(out, "{} workflows up to date", self.files.len());
            } else {
                for d in &self.diff {
                    out.push_str(d);
                }
                let _ = writeln!(
                    out,
                    "stale: {}\n  = help: run `facturactl pipeline render` and commit the result",
                    self.stale.join(", ")
                );
            }
        } else {
            for f in &self.files {
                let state = if self.stale.contains(f) {
                    "written"
                } else {
                    "unchanged"
                };
                let _ = writeln!(out, "{state:9}  {f}");
            }
            for f in self.stale.iter().filter(|f| !self.files.contains(f)) {
                let _ = writeln!(out, "{:9}  {f}", "removed");
            }
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = String::from("### Workflows\n\n");
        for f in &self.files {
            let state = if self.stale.contains(f) {
                "stale"
            } else {
                "up to date"
            };
            let _ = writeln!(out, "- `{f}`: {state}");
        }
        if !self.diff.is_empty() {
            out.push_str("\n```diff\n");
            for d in &self.diff {
                out.push_str(d);
            }
            out.push_str("```\n");
        }
        out
    }
}

/// `retries: 4 calls retried 6 times, 2.31s spent retrying`, when anything was retried.
fn retries_text(retries: &crate::aws::RetryTotals) -> String {
    if retries.is_zero() {
        return String::new();
    }
    format!(
        "\nretries: {} calls retried {} times, {:.2}s spent retrying\n",
        retries.operations,
        retries.retries,
        retries.retry_ms as f64 / 1000.0
    )
}
