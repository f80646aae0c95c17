//! facturactl as a GitHub Actions step: workflow commands (log groups, annotations), the
//! step summary and step outputs. Only what GitHub documents is written: commands are lines
//! of the form `::name key=value,...::message` with GitHub's escaping, the summary is
//! Markdown appended to `$GITHUB_STEP_SUMMARY`, outputs are `name<<DELIMITER` blocks in
//! `$GITHUB_OUTPUT` (safe for any value, multi-line included).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::config::ConfigError;

/// The files of the running step, present when `GITHUB_ACTIONS=true`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    pub summary: Option<PathBuf>,
    pub output: Option<PathBuf>,
}

impl Step {
    /// Appends Markdown to the step summary (a missing summary file is not an error).
    pub fn append_summary(&self, markdown: &str) -> std::io::Result<()> {
        match &self.summary {
            Some(path) => append(path, &format!("{}\n", markdown.trim_end())),
            None => Ok(()),
        }
    }

    /// Writes step outputs; each value, whatever it holds, is one output.
    pub fn set_outputs(&self, outputs: &[(&str, String)]) -> std::io::Result<()> {
        let Some(path) = &self.output else {
            return Ok(());
        };
        let mut text = String::new();
        for (name, value) in outputs {
            let delimiter = delimiter_for(value);
            text.push_str(&format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"));
        }
        append(path, &text)
    }
}

fn append(path: &Path, text: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(text.as_bytes())
}

/// A heredoc delimiter that does not occur in the value (a value cannot end its own block).
fn delimiter_for(value: &str) -> String {
    let mut n = 0u32;
    loop {
        let candidate = format!("FACTURACTL_EOF_{n}");
        if !value.contains(&candidate) {
            return candidate;
        }
        n += 1;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    Notice,
}

impl Level {
    fn command(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Notice => "notice",
        }
    }
}

/// Where in the repository an annotation points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Relative to the repository root, with `/`.
    pub file: String,
    pub line: usize,
    pub column: usize,
}

/// `::error file=...,line=...,col=...,title=...::message`.
pub fn annotation(level: Level, location: Option<&Location>, title: &str, message: &str) -> String {
    let mut properties = Vec::new();
    if let Some(at) = location {
        properties.push(format!("file={}", escape_property(&at.file)));
        properties.push(format!("line={}", at.line));
        properties.push(format!("col={}", at.column));
    }
    properties.push(format!("title={}", escape_property(title)));
    format!(
        "::{} {}::{}",
        level.command(),
        properties.join(","),
        escape_data(message)
    )
}

/// The annotation of a configuration error, on the file and line to fix. `project_dir` is
/// where facturactl ran, relative to the repository root.
pub fn config_annotation(error: &ConfigError, project_dir: &Path) -> String {
    let file = project_dir.join(error.origin.file.as_path());
    let file = file
        .strip_prefix(".")
        .unwrap_or(&file)
        .to_string_lossy()
        .replace('\\', "/");
    let mut message = error.message();
    if let Some(expected) = error.expected() {
        message.push_str(&format!("\nexpected: {expected}"));
    }
    if let Some(help) = error.help() {
        message.push_str(&format!("\nhelp: {help}"));
    }
    annotation(
        Level::Error,
        Some(&Location {
            file,
            line: error.origin.line,
            column: error.origin.column,
        }),
        "facturactl: configuration error",
        &message,
    )
}

pub fn group(title: &str) -> String {
    format!("::group::{}", escape_data(title))
}

pub const END_GROUP: &str = "::endgroup::";

/// GitHub's escaping of a command's message.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// GitHub's escaping of a command's property value.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// Progress in a step log: each stack's and service's lines in one collapsible group,
/// printed when it finishes (parallel stacks would interleave otherwise).
#[derive(Debug, Default)]
pub struct Groups {
    open: indexmap::IndexMap<String, Vec<String>>,
}

impl Groups {
    /// Takes one event, shown as `render` writes it; returns the text to print now (a
    /// finished group, titled with the event's own line), if any.
    pub fn apply(
        &mut self,
        event: &crate::progress::Progress,
        render: impl Fn(&crate::progress::Progress) -> String,
    ) -> Option<String> {
        use crate::progress::Progress;
        let title = event.line();
        let line = render(event);
        let (key, finished) = match event {
            Progress::StackStarted { stack, .. }
            | Progress::StackEvent { stack, .. }
            | Progress::StackWaiting { stack, .. } => (format!("stack {stack}"), false),
            Progress::StackFinished { stack, .. } => (format!("stack {stack}"), true),
            Progress::ServiceStarted { service, .. } | Progress::ServiceEvent { service, .. } => {
                (format!("service {service}"), false)
            }
            Progress::ServiceFinished { service, .. } => (format!("service {service}"), true),
        };
        let lines = self.open.entry(key.clone()).or_default();
        lines.push(line.clone());
        if !finished {
            return None;
        }
        let lines = self.open.shift_remove(&key).unwrap_or_default();
        Some(render_group(&title, &lines))
    }

    /// The groups that never finished (an interrupted or failed run), so nothing is lost.
    pub fn flush(&mut self) -> String {
        let mut out = String::new();
        for (key, lines) in self.open.drain(..) {
            out.push_str(&render_group(&format!("{key}: unfinished"), &lines));
        }
        out
    }
}

fn render_group(title: &str, lines: &[String]) -> String {
    let mut out = group(title);
    out.push('\n');
    for line in lines {
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(END_GROUP);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_escape_what_github_would_misread() {
        let at = Location {
            file: "environments/staging.yaml".into(),
            line: 12,
            column: 3,
        };
        assert_eq!(
            annotation(
                Level::Error,
                Some(&at),
                "config: bad, very",
                "50% off\nnext"
            ),
            "::error file=environments/staging.yaml,line=12,col=3,title=config%3A bad%2C very::50%25 off%0Anext"
        );
        assert_eq!(
            annotation(Level::Warning, None, "t", "m"),
            "::warning title=t::m"
        );
    }

    #[test]
    fn outputs_use_a_delimiter_absent_from_the_value() {
        let dir = tempfile::tempdir().expect("tempdir");
        let step = Step {
            summary: None,
            output: Some(dir.path().join("out")),
        };
        step.set_outputs(&[
            ("result", "succeeded".into()),
            ("tricky", "a\nFACTURACTL_EOF_0\nb".into()),
        ])
        .expect("write");
        let text = std::fs::read_to_string(dir.path().join("out")).expect("read");
        assert_eq!(
            text,
            "result<<FACTURACTL_EOF_0\nsucceeded\nFACTURACTL_EOF_0\ntricky<<FACTURACTL_EOF_1\na\nFACTURACTL_EOF_0\nb\nFACTURACTL_EOF_1\n"
        );
    }

    #[test]
    fn a_group_is_printed_whole_when_its_stack_finishes() {
        use crate::progress::Progress;
        let mut groups = Groups::default();
        let started = |s: &str| Progress::StackStarted {
            stack: s.into(),
            action: "create",
        };
        assert_eq!(groups.apply(&started("network"), Progress::line), None);
        assert_eq!(groups.apply(&started("auth"), Progress::line), None);
        let done = groups
            .apply(
                &Progress::StackFinished {
                    stack: "network".into(),
                    action: "create",
                    result: "succeeded",
                    elapsed_ms: 1500,
                },
                Progress::line,
            )
            .expect("group");
        assert_eq!(
            done,
            "::group::network: create succeeded in 1.50s\nnetwork: create\nnetwork: create succeeded in 1.50s\n::endgroup::\n"
        );
        assert_eq!(
            groups.flush(),
            "::group::stack auth: unfinished\nauth: create\n::endgroup::\n"
        );
    }
}
