//! What a command may ask of the person or pipeline running it. The CLI implements it on
//! the terminal (and in a GitHub Actions step); tests pass a [`ScriptedConsole`].

use std::sync::Mutex;

use crate::progress::{ProgressSink, SharedTally};

pub trait Console: Sync {
    /// Whether a question can be asked (stdin and stderr are terminals).
    fn interactive(&self) -> bool;
    /// Asks a yes/no question; without a terminal the answer is no.
    fn confirm(&self, question: &str) -> bool;
    /// Asks for a line of text (an MFA code); `None` without a terminal.
    fn ask(&self, question: &str) -> Option<String>;
    /// Something to read before a question or while work goes on (a promotion's summary).
    fn note(&self, text: &str);
    /// A warning worth a person's attention (an undelivered notification).
    fn warn(&self, title: &str, message: &str);
    /// Starts showing progress; events sent to the scope's sink are counted in `tally`.
    fn progress(&self, tally: &SharedTally) -> ProgressScope;
}

/// Where a command sends progress while it works, and the printer showing it.
pub struct ProgressScope {
    pub sink: ProgressSink,
    printer: Option<tokio::task::JoinHandle<()>>,
}

impl ProgressScope {
    pub fn new(sink: ProgressSink, printer: Option<tokio::task::JoinHandle<()>>) -> Self {
        Self { sink, printer }
    }

    /// Closes the sink and waits until the printer has shown everything sent.
    pub async fn finish(self) {
        drop(self.sink);
        if let Some(printer) = self.printer {
            let _ = printer.await;
        }
    }
}

/// A console for tests: fixed answers, and a transcript of what was asked and said.
#[derive(Debug, Default)]
pub struct ScriptedConsole {
    /// The answers, in order; a question past the end is answered no.
    pub answers: Mutex<Vec<bool>>,
    pub interactive: bool,
    pub transcript: Mutex<Vec<String>>,
}

impl ScriptedConsole {
    pub fn answering(answers: &[bool]) -> Self {
        Self {
            answers: Mutex::new(answers.iter().rev().copied().collect()),
            interactive: true,
            transcript: Mutex::default(),
        }
    }

    fn log(&self, line: String) {
        if let Ok(mut t) = self.transcript.lock() {
            t.push(line);
        }
    }

    pub fn lines(&self) -> Vec<String> {
        self.transcript
            .lock()
            .map(|t| t.clone())
            .unwrap_or_default()
    }
}

impl Console for ScriptedConsole {
    fn interactive(&self) -> bool {
        self.interactive
    }

    fn confirm(&self, question: &str) -> bool {
        let answer = self.interactive
            && self
                .answers
                .lock()
                .ok()
                .and_then(|mut a| a.pop())
                .unwrap_or(false);
        self.log(format!("ask: {question} -> {answer}"));
        answer
    }

    fn ask(&self, question: &str) -> Option<String> {
        self.log(format!("ask: {question} -> (no answer)"));
        None
    }

    fn note(&self, text: &str) {
        self.log(format!("note: {text}"));
    }

    fn warn(&self, title: &str, message: &str) {
        self.log(format!("warn: {title}: {message}"));
    }

    fn progress(&self, tally: &SharedTally) -> ProgressScope {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        // Nothing shows the events; the receiver is dropped and sends are ignored.
        drop(receiver);
        ProgressScope::new(ProgressSink::new(sender, tally.clone()), None)
    }
}
