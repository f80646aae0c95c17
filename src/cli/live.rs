//! The live view of a deploy on a terminal: one line per stack with its state and elapsed
//! time, redrawn in place. CI and pipes get one plain line per event instead.

use std::time::{Duration, Instant};

use indexmap::IndexMap;

use crate::progress::Progress;

struct Row {
    state: String,
    started: Instant,
    finished: Option<Duration>,
}

#[derive(Default)]
pub struct LiveView {
    rows: IndexMap<String, Row>,
    /// Lines drawn last time, to move back over them.
    drawn: usize,
}

impl LiveView {
    pub fn apply(&mut self, event: &Progress, now: Instant) {
        let new_row = |state: String| Row {
            state,
            started: now,
            finished: None,
        };
        match event {
            Progress::StackStarted { stack, action } => {
                self.rows
                    .insert(stack.clone(), new_row(format!("{action}...")));
            }
            Progress::StackEvent {
                stack,
                resource,
                status,
                ..
            } => {
                let row = self
                    .rows
                    .entry(stack.clone())
                    .or_insert_with(|| new_row(String::new()));
                row.state = format!("{status} {resource}");
            }
            Progress::StackWaiting { stack, status, .. } => {
                let row = self
                    .rows
                    .entry(stack.clone())
                    .or_insert_with(|| new_row(String::new()));
                row.state = status.clone();
            }
            Progress::StackFinished {
                stack,
                action,
                result,
                elapsed_ms,
            } => {
                let row = self
                    .rows
                    .entry(stack.clone())
                    .or_insert_with(|| new_row(String::new()));
                row.state = format!("{action} {result}");
                row.finished = Some(Duration::from_millis(*elapsed_ms));
            }
            Progress::ServiceStarted { service, .. } => {
                self.rows.insert(
                    format!("service {service}"),
                    new_row("rolling out...".into()),
                );
            }
            Progress::ServiceEvent { service, message } => {
                let row = self
                    .rows
                    .entry(format!("service {service}"))
                    .or_insert_with(|| new_row(String::new()));
                row.state = message.chars().take(100).collect();
            }
            Progress::ServiceFinished {
                service,
                result,
                elapsed_ms,
            } => {
                let row = self
                    .rows
                    .entry(format!("service {service}"))
                    .or_insert_with(|| new_row(String::new()));
                row.state = (*result).to_string();
                row.finished = Some(Duration::from_millis(*elapsed_ms));
            }
        }
    }

    /// The text that redraws the view: cursor back over the last frame, then every row.
    pub fn frame(&mut self, now: Instant) -> String {
        let mut out = String::new();
        if self.drawn > 0 {
            out.push_str(&format!("\x1b[{}A", self.drawn));
        }
        let width = self.rows.keys().map(String::len).max().unwrap_or(5);
        for (stack, row) in &self.rows {
            let elapsed = row
                .finished
                .unwrap_or_else(|| now.duration_since(row.started));
            let mark = if row.finished.is_some() { " " } else { "~" };
            let state: String = row.state.chars().take(60).collect();
            out.push_str(&format!(
                "\x1b[2K{mark} {stack:width$}  {state:60}  {:>6.1}s\n",
                elapsed.as_secs_f64()
            ));
        }
        self.drawn = self.rows.len();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let first = view.frame(start + Duration::from_millis(1500));
        assert!(first.contains("network  create..."), "{first:?}");
        assert!(first.contains("1.5s"));
        view.apply(
            &Progress::StackFinished {
                stack: "network".into(),
                action: "create",
                result: "succeeded",
                elapsed_ms: 2000,
            },
            start,
        );
        let second = view.frame(start + Duration::from_secs(9));
        assert!(
            second.starts_with("\x1b[1A"),
            "moves back over the last frame"
        );
        assert!(
            second.contains("create succeeded") && second.contains("2.0s"),
            "{second:?}"
        );
    }
}
