//! The live view of a deploy on a terminal: one line per stack and service with its state
//! and elapsed time, redrawn in place. CI and pipes get one plain line per event instead.
//!
//! Hand-written rather than indicatif's `MultiProgress`: the rows are not progress bars
//! (no known length), the whole view is one frame computed from the terminal's size (rows
//! truncated to its width, the finished ones collapsed into a summary line when they do not
//! fit its height), and notes printed above it are interleaved by the same task that draws
//! it, so nothing else writes to the terminal mid-frame. A vt100 test renders it into an
//! 80x10 screen (`tests` below).

use std::time::{Duration, Instant};

use indexmap::IndexMap;

use crate::progress::Progress;

struct Row {
    state: String,
    started: Instant,
    finished: Option<Duration>,
    failed: bool,
}

/// A terminal's size in character cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub columns: usize,
    pub rows: usize,
}

impl Size {
    /// Standard error's size, or 80x24 when it cannot be asked.
    pub fn of_stderr() -> Self {
        terminal_size::terminal_size_of(std::io::stderr()).map_or(
            Self {
                columns: 80,
                rows: 24,
            },
            |(w, h)| Self {
                columns: usize::from(w.0).max(20),
                rows: usize::from(h.0).max(2),
            },
        )
    }
}

#[derive(Default)]
pub struct LiveView {
    rows: IndexMap<String, Row>,
    /// Lines drawn last time, to move back over them.
    drawn: usize,
}

impl LiveView {
    pub fn apply(&mut self, event: &Progress, now: Instant) {
        let (key, state, finished, failed) = match event {
            Progress::StackStarted { stack, action } => {
                self.rows.shift_remove(stack);
                (stack.clone(), format!("{action}..."), None, false)
            }
            Progress::StackEvent {
                stack,
                resource,
                status,
                reason,
                ..
            } => {
                // A failure keeps its reason on the row: it is what the user needs to read.
                let failed = status.ends_with("_FAILED");
                let state = match reason.as_deref().filter(|_| failed) {
                    Some(reason) => format!("{status} {resource}: {reason}"),
                    None => format!("{status} {resource}"),
                };
                (stack.clone(), state, None, failed)
            }
            Progress::StackWaiting { stack, status, .. } => {
                (stack.clone(), status.clone(), None, false)
            }
            Progress::StackFinished {
                stack,
                action,
                result,
                elapsed_ms,
            } => {
                let failed = *result != "succeeded" && *result != "ok";
                // A failed stack keeps the reason its failing event gave.
                let reason = self
                    .rows
                    .get(stack)
                    .filter(|r| failed && r.failed)
                    .map(|r| format!(": {}", r.state))
                    .unwrap_or_default();
                let state = format!("{action} {result}{reason}");
                (stack.clone(), state, Some(*elapsed_ms), failed)
            }
            Progress::ServiceStarted { service, .. } => (
                format!("service {service}"),
                "rolling out...".into(),
                None,
                false,
            ),
            Progress::ServiceEvent { service, message } => {
                (format!("service {service}"), message.clone(), None, false)
            }
            Progress::ServiceFinished {
                service,
                result,
                elapsed_ms,
            } => {
                let failed = matches!(*result, "failed" | "rolled back" | "timed out");
                (
                    format!("service {service}"),
                    (*result).to_string(),
                    Some(*elapsed_ms),
                    failed,
                )
            }
        };
        let row = self.rows.entry(key).or_insert_with(|| Row {
            state: String::new(),
            started: now,
            finished: None,
            failed: false,
        });
        row.state = state;
        row.failed |= failed;
        if let Some(ms) = finished {
            row.finished = Some(Duration::from_millis(ms));
        }
    }

    /// Text printed above the view (a warning, a note): the view is cleared, the text
    /// written, and the next frame drawn below it.
    pub fn above(&mut self, text: &str) -> String {
        let mut out = self.clear();
        out.push_str(text.trim_end());
        out.push('\n');
        out
    }

    /// The text that redraws the view for a terminal of `size`: back over the last frame,
    /// then at most `size.rows - 1` lines of at most `size.columns - 1` characters, so the
    /// terminal never wraps or scrolls a line of it.
    pub fn frame(&mut self, now: Instant, size: Size) -> String {
        let mut out = self.clear();
        let lines = self.lines(now, size);
        for line in &lines {
            out.push_str(line);
            out.push('\n');
        }
        self.drawn = lines.len();
        out
    }

    /// Back to where the last frame started, and everything below it erased.
    fn clear(&mut self) -> String {
        let out = match self.drawn {
            0 => String::new(),
            n => format!("\x1b[{n}A\r\x1b[J"),
        };
        self.drawn = 0;
        out
    }

    fn lines(&self, now: Instant, size: Size) -> Vec<String> {
        let budget = size.rows.saturating_sub(1).max(1);
        let width = self
            .rows
            .keys()
            .map(|k| k.chars().count())
            .max()
            .unwrap_or(5);
        let line = |name: &str, row: &Row| {
            let elapsed = row
                .finished
                .unwrap_or_else(|| now.duration_since(row.started));
            let mark = match (row.finished.is_some(), row.failed) {
                (_, true) => "x",
                (true, false) => " ",
                (false, false) => "~",
            };
            fit(
                &format!(
                    "{mark} {name:width$}  {:>6.1}s  {}",
                    elapsed.as_secs_f64(),
                    row.state
                ),
                size.columns,
            )
        };
        if self.rows.len() <= budget {
            return self.rows.iter().map(|(n, r)| line(n, r)).collect();
        }
        // Too many for the screen: the finished successes become one summary line; the
        // rows in progress and the failures keep theirs, newest last, as many as fit.
        let done_ok = self
            .rows
            .values()
            .filter(|r| r.finished.is_some() && !r.failed)
            .count();
        let mut shown: Vec<String> = self
            .rows
            .iter()
            .filter(|(_, r)| r.finished.is_none() || r.failed)
            .map(|(n, r)| line(n, r))
            .collect();
        let room = budget - 1;
        let hidden = shown.len().saturating_sub(room);
        shown.drain(..hidden);
        let mut summary = format!("  {done_ok} finished");
        if hidden > 0 {
            summary.push_str(&format!(", {hidden} more in progress"));
        }
        let mut out = vec![fit(&summary, size.columns)];
        out.extend(shown);
        out
    }
}

/// `text` cut to fit `columns - 1` characters (the last column would wrap on some
/// terminals), with `…` where it was cut.
fn fit(text: &str, columns: usize) -> String {
    let room = columns.saturating_sub(1).max(1);
    if text.chars().count() <= room {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(room - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZE: Size = Size {
        columns: 100,
        rows: 30,
    };

    #[test]
    fn rows_follow_events_and_redraw_in_place() {
        let start = Instant::now();
        let mut view = LiveView::default();
        view.apply(
            &Progress::StackStarted {
                stack: "network".into(),
                action: "create",
            },
            start,
        );
        let first = view.frame(start + Duration::from_millis(1500), SIZE);
        assert!(first.contains("network     1.5s  create..."), "{first:?}");
        view.apply(
            &Progress::StackFinished {
                stack: "network".into(),
                action: "create",
                result: "succeeded",
                elapsed_ms: 2000,
            },
            start,
        );
        let second = view.frame(start + Duration::from_secs(9), SIZE);
        assert!(
            second.starts_with("\x1b[1A"),
            "moves back over the last frame"
        );
        assert!(
            second.contains("create succeeded") && second.contains("2.0s"),
            "{second:?}"
        );
    }

    /// The acceptance case: 12 stacks (one failed with a long reason) and a warning, drawn
    /// frame after frame into an 80x10 virtual terminal, never wrap a line, and the last
    /// frame ends with every unfinished and failed row visible under one summary line.
    #[test]
    fn twelve_stacks_and_a_warning_fit_an_80_by_10_terminal_without_wrapping() {
        let size = Size {
            columns: 80,
            rows: 10,
        };
        let mut parser = vt100::Parser::new(10, 80, 0);
        // The terminal driver turns each `\n` into `\r\n` (ONLCR); vt100 parses raw bytes.
        fn draw(parser: &mut vt100::Parser, text: String) {
            parser.process(text.replace('\n', "\r\n").as_bytes());
        }
        let start = Instant::now();
        let mut view = LiveView::default();
        let mut at = start;
        for i in 0..12 {
            let stack = format!("stack-with-a-long-name-{i:02}");
            at += Duration::from_millis(100);
            view.apply(
                &Progress::StackStarted {
                    stack: stack.clone(),
                    action: "create",
                },
                at,
            );
            draw(&mut parser, view.frame(at, size));
            if i < 8 {
                let (result, reason) = if i == 3 {
                    ("failed", Some("Resource handler returned message: \"The specified VPC has dependencies and cannot be deleted (Service: Ec2, Status Code: 400)\"".to_string()))
                } else {
                    ("succeeded", None)
                };
                if let Some(reason) = reason {
                    view.apply(
                        &Progress::StackEvent {
                            stack: stack.clone(),
                            resource: "Vpc".into(),
                            resource_type: "AWS::EC2::VPC".into(),
                            status: "CREATE_FAILED".into(),
                            reason: Some(reason),
                        },
                        at,
                    );
                }
                view.apply(
                    &Progress::StackFinished {
                        stack,
                        action: "create",
                        result,
                        elapsed_ms: 1200,
                    },
                    at,
                );
            }
            if i == 5 {
                draw(
                    &mut parser,
                    view.above(
                        "warning: notification to ops-email not delivered: SNS Publish failed",
                    ),
                );
            }
            draw(&mut parser, view.frame(at, size));
            if i == 5 {
                // Printed above the view; later frames push it into the scrollback.
                let shown = parser.screen().contents();
                assert!(
                    shown.contains("warning: notification to ops-email"),
                    "{shown}"
                );
            }
        }
        let screen = parser.screen();
        let contents = screen.contents();
        for row in 0..10 {
            assert!(!screen.row_wrapped(row), "row {row} wrapped:\n{contents}");
        }
        assert!(contents.contains("7 finished"), "{contents}");
        assert!(
            contents.contains("x stack-with-a-long-name-03"),
            "the failure stays: {contents}"
        );
        assert!(
            contents.contains("CREATE_FAILED Vpc: Resour"),
            "with its reason: {contents}"
        );
        for running in 8..12 {
            assert!(
                contents.contains(&format!("~ stack-with-a-long-name-{running:02}")),
                "{contents}"
            );
        }
        assert!(
            contents.lines().all(|l| l.chars().count() < 80),
            "{contents}"
        );
    }
}
