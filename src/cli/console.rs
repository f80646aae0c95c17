//! The terminal side of a run: the console commands ask (questions, notes, warnings,
//! progress) and the presenter that turns an outcome into stdout, a step summary and step
//! outputs. With `cli::run`, the only code that prints.

use std::io::{IsTerminal, Write};

use super::github::{self, Step};
use super::live::{LiveView, Size};
use crate::commands::{Console, ProgressScope};
use crate::exit::Exit;
use crate::progress::{Progress, ProgressSink, SharedTally};
use crate::report::{self, OutputFormat, Report};

/// How progress events reach stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProgressStyle {
    /// One line per event (CI, pipes).
    #[default]
    Lines,
    /// One JSON log line per event, with the event's fields (JSON logs).
    Json,
    /// GitHub log groups whose lines are JSON log lines (JSON logs in a GitHub step: the
    /// `::group::` lines are workflow commands the runner consumes, not log lines).
    GithubJsonGroups,
    /// A view redrawn in place (a terminal with text logs).
    Live,
    /// One collapsible log group per stack and service (a GitHub Actions step).
    GithubGroups,
}

/// Questions and notes on stderr, answers from stdin.
pub struct TerminalConsole {
    pub progress: ProgressStyle,
    /// While a live view is drawn, notes and warnings go to the task drawing it, which
    /// prints them above the view instead of through it.
    pub live_notes: std::sync::Mutex<Option<tokio::sync::mpsc::UnboundedSender<String>>>,
    /// Logs are JSON lines: notes go through the log, as JSON, like everything else.
    pub json: bool,
    /// In a GitHub Actions step, warnings are annotations too.
    pub github: bool,
}

impl Console for TerminalConsole {
    fn interactive(&self) -> bool {
        std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
    }

    fn confirm(&self, question: &str) -> bool {
        if !self.interactive() {
            return false;
        }
        eprint!("{question} Type `yes` to go on: ");
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer).is_ok() && answer.trim() == "yes"
    }

    fn ask(&self, question: &str) -> Option<String> {
        if !self.interactive() {
            return None;
        }
        eprint!("{question}");
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer).ok()?;
        Some(answer.trim().to_string()).filter(|a| !a.is_empty())
    }

    fn note(&self, text: &str) {
        if self.above_live_view(text) {
            return;
        }
        if self.json {
            tracing::info!("{}", text.trim_end());
        } else {
            let _ = writeln!(std::io::stderr().lock(), "{}", text.trim_end());
        }
    }

    fn warn(&self, title: &str, message: &str) {
        if !self.above_live_view(&format!("warning: {message}")) {
            tracing::warn!(result = "warning", "{message}");
        }
        if self.github {
            let line = github::annotation(github::Level::Warning, None, title, message);
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }

    fn progress(&self, tally: &SharedTally) -> ProgressScope {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        let printer = if self.progress == ProgressStyle::Live {
            let (notes, notes_receiver) = tokio::sync::mpsc::unbounded_channel();
            if let Ok(mut slot) = self.live_notes.lock() {
                *slot = Some(notes);
            }
            tokio::spawn(live(receiver, notes_receiver))
        } else {
            tokio::spawn(print_progress(self.progress, receiver))
        };
        ProgressScope::new(ProgressSink::new(sender, tally.clone()), Some(printer))
    }
}

impl TerminalConsole {
    /// Hands `text` to the live view's task, if one is drawing; false otherwise (the view
    /// has finished, or there is none).
    fn above_live_view(&self, text: &str) -> bool {
        let Ok(mut slot) = self.live_notes.lock() else {
            return false;
        };
        match slot.as_ref().map(|notes| notes.send(text.to_string())) {
            Some(Ok(())) => true,
            Some(Err(_)) => {
                *slot = None;
                false
            }
            None => false,
        }
    }
}

/// Shows progress events on stderr until the sink is closed.
async fn print_progress(
    style: ProgressStyle,
    mut receiver: tokio::sync::mpsc::UnboundedReceiver<Progress>,
) {
    // JSON logs get each event as a JSON log line, in groups or not.
    let render: fn(&Progress) -> String = match style {
        ProgressStyle::Json | ProgressStyle::GithubJsonGroups => json_event,
        _ => Progress::line,
    };
    match style {
        ProgressStyle::Lines | ProgressStyle::Json => {
            while let Some(event) = receiver.recv().await {
                let _ = writeln!(std::io::stderr().lock(), "{}", render(&event));
            }
        }
        ProgressStyle::GithubGroups | ProgressStyle::GithubJsonGroups => {
            let mut groups = github::Groups::default();
            while let Some(event) = receiver.recv().await {
                if let Some(text) = groups.apply(&event, render) {
                    let _ = std::io::stderr().lock().write_all(text.as_bytes());
                }
            }
            let rest = groups.flush();
            let _ = std::io::stderr().lock().write_all(rest.as_bytes());
        }
        // Drawn by `live`, which `progress` starts with the notes channel.
        ProgressStyle::Live => {}
    }
}

/// A progress event as a JSON log line: its text as the message, its fields as fields
/// (`event`, `stack` or `service`, and `result` and `latency_ms` once it finished). A
/// stack's own `action` (create, update) is `operation`: `action` is the run's command.
fn json_event(event: &Progress) -> String {
    let mut fields = match serde_json::to_value(event) {
        Ok(serde_json::Value::Object(fields)) => fields,
        _ => serde_json::Map::new(),
    };
    if let Some(action) = fields.remove("action") {
        fields.insert("operation".into(), action);
    }
    if let Some(elapsed) = fields.remove("elapsed_ms") {
        fields.insert("latency_ms".into(), elapsed);
    }
    let failed = matches!(event, Progress::StackEvent { status, .. } if status.ends_with("_FAILED"))
        || matches!(event, Progress::StackFinished { result, .. } | Progress::ServiceFinished { result, .. } if *result != "succeeded" && *result != "ok");
    let level = if failed { "warn" } else { "info" };
    crate::logging::json_line(level, &event.line(), fields)
}

/// The live view, redrawn on each event and four times a second, fitted to the terminal's
/// size each time; notes and warnings are printed above it, between two frames.
async fn live(
    mut receiver: tokio::sync::mpsc::UnboundedReceiver<Progress>,
    mut notes: tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    let mut view = LiveView::default();
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
    let mut out = String::new();
    loop {
        tokio::select! {
            event = receiver.recv() => match event {
                Some(event) => view.apply(&event, std::time::Instant::now()),
                None => break,
            },
            Some(note) = notes.recv() => out.push_str(&view.above(&note)),
            _ = tick.tick() => {}
        }
        out.push_str(&view.frame(std::time::Instant::now(), Size::of_stderr()));
        let _ = std::io::stderr().lock().write_all(out.as_bytes());
        out.clear();
    }
    while let Ok(note) = notes.try_recv() {
        out.push_str(&view.above(&note));
    }
    out.push_str(&view.frame(std::time::Instant::now(), Size::of_stderr()));
    let _ = std::io::stderr().lock().write_all(out.as_bytes());
}

/// Turns outcomes into what is printed, and in a GitHub Actions step into the step summary
/// and outputs.
pub struct Presenter<'a> {
    pub format: OutputFormat,
    /// The command, for the JSON envelope.
    pub command: &'static str,
    pub step: Option<&'a Step>,
}

impl Presenter<'_> {
    /// The text for stdout and the exit code of an outcome.
    pub fn present<R: Report>(&self, outcome: &R) -> (String, Exit) {
        if let Some(step) = self.step {
            if outcome.summarize()
                && let Err(e) = step.append_summary(&outcome.markdown())
            {
                tracing::warn!("the step summary could not be written: {e}");
            }
            let outputs = outcome.outputs();
            if !outputs.is_empty() {
                set_outputs(step, &outputs);
            }
            let mut err = std::io::stderr().lock();
            for a in outcome.annotations() {
                let level = match a.severity {
                    report::Severity::Error => github::Level::Error,
                    report::Severity::Warning => github::Level::Warning,
                };
                let _ = writeln!(
                    err,
                    "{}",
                    github::annotation(level, None, &a.title, &a.message)
                );
            }
        }
        (
            report::format(outcome, self.format, self.command),
            outcome.exit(),
        )
    }
}

/// Step outputs, in a GitHub Actions step.
pub fn set_outputs(step: &Step, outputs: &[(&str, String)]) {
    if let Err(e) = step.set_outputs(outputs) {
        tracing::warn!("the step outputs could not be written: {e}");
    }
}

/// Writes to stdout; a closed pipe (`facturactl ... | head`) is not an error worth a panic.
pub fn print_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}
