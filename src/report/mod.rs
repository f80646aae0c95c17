//! Turns command outcomes into text for people, JSON for machines, Markdown for step
//! summaries; one module per command family, and one table model for text and Markdown.

mod alarms;
mod audit;
mod deploy;
mod inspect;
mod model;
mod retrain;
pub use inspect::PrintedSchema;
pub mod contract;
mod notify;
mod outputs;
mod pipeline;
mod plan;
mod preflight;
mod release;
pub mod table;
mod traffic;
mod verify;

use std::fmt::Write as _;

use serde::Serialize;

use crate::config::ConfigErrors;
use crate::config::diagnostic::ConfigErrorReport;
use crate::error::Error;
use crate::exit::Exit;

pub use table::{Cell, Column, Table};

/// A report's JSON Schema is the schema of what its `Serialize` writes: `$view`, the view
/// (or inner report) it serializes. Kept beside each `Serialize` impl so the two move
/// together; `tests/all/output_schemas.rs` checks real documents against the result.
macro_rules! schema_as {
    ($outcome:ty => $view:ty) => {
        impl schemars::JsonSchema for $outcome {
            // Inline: the wrapper is no definition of its own, only a reference to the view's.
            fn inline_schema() -> bool {
                true
            }
            fn schema_name() -> std::borrow::Cow<'static, str> {
                <$view as schemars::JsonSchema>::schema_name()
            }
            fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
                generator.subschema_for::<$view>()
            }
        }
    };
}
use schema_as;

/// The schema of a report that is one of two documents.
fn either_schema<A: schemars::JsonSchema, B: schemars::JsonSchema>(
    generator: &mut schemars::SchemaGenerator,
) -> schemars::Schema {
    schemars::json_schema!({
        "anyOf": [generator.subschema_for::<A>(), generator.subschema_for::<B>()]
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
    Markdown,
}

/// A command's outcome, in every output format, with the exit code it means.
pub trait Report: Serialize + schemars::JsonSchema {
    fn text(&self) -> String;
    fn markdown(&self) -> String;
    /// The exit code of this outcome.
    fn exit(&self) -> Exit {
        Exit::Ok
    }
    /// What later steps of a GitHub Actions job may read (`$GITHUB_OUTPUT`).
    fn outputs(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }
    /// Whether the Markdown belongs in a GitHub step summary (results, not listings).
    fn summarize(&self) -> bool {
        true
    }
    /// What GitHub shows on the run's page: each failed (and skipped) part of the outcome.
    fn annotations(&self) -> Vec<Annotation> {
        Vec::new()
    }
}

/// One line on a GitHub run's page: what failed or was skipped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    pub severity: Severity,
    pub title: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// The version of the JSON documents' shape. Raised when a field is removed, renamed or
/// changes meaning; adding a field keeps it. Every document, success or error, carries it.
pub const SCHEMA_VERSION: u32 = 1;

/// The keys every JSON document on stdout starts with, success or error: the shape's
/// version, the command (`deploy`, `audit.drift`) and its status (`succeeded`, `changes`,
/// `refused`, `failed`, `warning`, `interrupted`, or `error` when the command failed
/// before an outcome). The outcome's own keys follow; a document that is not a map (a
/// printed schema) is under `result`.
pub fn envelope(command: &str, status: &str, body: serde_json::Value) -> serde_json::Value {
    let mut document = serde_json::Map::new();
    document.insert("schema_version".into(), SCHEMA_VERSION.into());
    document.insert("command".into(), command.into());
    document.insert("status".into(), status.into());
    match body {
        serde_json::Value::Object(fields) => {
            for (key, value) in fields {
                document.entry(key).or_insert(value);
            }
        }
        other => {
            document.insert("result".into(), other);
        }
    }
    serde_json::Value::Object(document)
}

pub fn format<R: Report>(report: &R, format: OutputFormat, command: &str) -> String {
    match format {
        OutputFormat::Text => report.text(),
        OutputFormat::Markdown => report.markdown(),
        OutputFormat::Json => {
            // Every document is published in schemas/output.schema.json: a command that
            // prints one without a `contract::Document` fails the first test that runs it.
            debug_assert!(
                contract::Document::named(command).is_some(),
                "`{command}` prints a JSON document with no schema: add it to report::contract"
            );
            let body = serde_json::to_value(report).unwrap_or_else(
                |e| serde_json::json!({ "message": format!("the report could not be encoded: {e}") }),
            );
            let document = envelope(command, exit_result(report.exit()), body);
            let mut s = serde_json::to_string_pretty(&document).unwrap_or_default();
            s.push('\n');
            s
        }
    }
}

/// The word for an exit in outputs and logs.
pub fn exit_result(exit: Exit) -> &'static str {
    match exit {
        Exit::Ok => "succeeded",
        Exit::Changes => "changes",
        Exit::Warning => "warning",
        Exit::Refused => "refused",
        Exit::Error => "failed",
        Exit::Interrupted => "interrupted",
    }
}

/// The JSON document printed on stdout when a command fails with `--output json`, inside
/// the same envelope as outcomes (`status` is `error`).
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "ErrorDocument")]
pub struct ErrorReport {
    /// What kind of error (`config`, `aws`, `refused`, ...).
    pub kind: &'static str,
    /// The error as a person reads it (with its help).
    pub message: String,
    /// What to do about it, alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// The error's data: one key naming the reason (`lock`, `gate`, `not_an_image`, ...)
    /// holding its fields; for a failed AWS call, its operation, code, kind of failure and
    /// request id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ConfigErrorReport>,
}

impl ErrorReport {
    /// `verbosity` as `-v` gives it: how much of a failed call's detail the message names.
    pub fn new(error: &Error, verbosity: u8) -> Self {
        let errors = match error {
            Error::Config(ConfigErrors(list)) => list.iter().map(ConfigErrorReport::from).collect(),
            _ => Vec::new(),
        };
        Self {
            kind: error.kind(),
            message: error.detailed(verbosity),
            help: error.help(),
            detail: error.detail(),
            errors,
        }
    }
}

/// The error document: `status` is `refused` when a gate said no (exit 3), as a refused
/// outcome's is, else `error`.
pub fn format_error(error: &Error, command: &str, verbosity: u8) -> String {
    let body = serde_json::to_value(ErrorReport::new(error, verbosity)).unwrap_or_default();
    let status = if error.exit() == Exit::Refused {
        "refused"
    } else {
        "error"
    };
    let mut s = serde_json::to_string_pretty(&envelope(command, status, body)).unwrap_or_default();
    s.push('\n');
    s
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

/// Seconds with two decimals and a unit: `12.34s`.
fn seconds(ms: u64) -> String {
    format!("{:.2}s", ms as f64 / 1000.0)
}

/// A commit shortened to 12 characters, or `-`.
fn short_commit(commit: Option<&str>) -> &str {
    commit.map_or("-", |c| c.get(..12).unwrap_or(c))
}
