//! Configuration errors that say where, what was expected, and how to fix it.
//!
//! A problem is data: each module that reads configuration (the sources, the validator,
//! the models, the pipeline, the wiring of templates) names its own problems in an enum
//! with the values involved, and the words (message, expected, help) are produced only
//! when the error is shown. A `ConfigError` is one such problem at its place in a file.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

/// Where a key or value was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: Arc<PathBuf>,
    /// 1-based.
    pub line: usize,
    /// 1-based.
    pub column: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// One kind of problem in the configuration. `Display` is the message.
pub trait Problem: fmt::Display + fmt::Debug + Send + Sync {
    /// What a correct value looks like.
    fn expected(&self) -> Option<String> {
        None
    }
    /// How to fix it.
    fn help(&self) -> Option<String> {
        None
    }
    /// The offending line may hold a secret pasted in clear: it is never quoted.
    fn sensitive(&self) -> bool {
        false
    }
}

/// One problem in the configuration, located in a file.
#[derive(Debug, Clone)]
pub struct ConfigError {
    pub origin: Origin,
    pub problem: Arc<dyn Problem>,
    /// The text of the offending line, filled in by the loader for display.
    pub line_text: Option<String>,
}

impl ConfigError {
    pub fn new(origin: Origin, problem: impl Problem + 'static) -> Self {
        Self {
            origin,
            problem: Arc::new(problem),
            line_text: None,
        }
    }

    pub fn message(&self) -> String {
        self.problem.to_string()
    }

    pub fn expected(&self) -> Option<String> {
        self.problem.expected()
    }

    pub fn help(&self) -> Option<String> {
        self.problem.help()
    }

    pub fn sensitive(&self) -> bool {
        self.problem.sensitive()
    }
}

/// Two errors are the same when they say the same thing at the same place.
impl PartialEq for ConfigError {
    fn eq(&self, other: &Self) -> bool {
        self.origin == other.origin
            && self.line_text == other.line_text
            && self.message() == other.message()
            && self.expected() == other.expected()
            && self.help() == other.help()
    }
}

impl Eq for ConfigError {}

impl fmt::Display for ConfigError {
    /// rustc-style: message, location, the line with a caret, then expected and help.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.problem)?;
        let line_no = self.origin.line.to_string();
        let pad = " ".repeat(line_no.len());
        write!(f, "{pad}--> {}", self.origin)?;
        if let Some(text) = &self.line_text {
            let caret_pad: String = text
                .chars()
                .take(self.origin.column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(f, "\n{pad} |\n{line_no} | {text}\n{pad} | {caret_pad}^")?;
        }
        if let Some(expected) = self.expected() {
            write!(f, "\n{pad} = expected: {expected}")?;
        }
        if let Some(help) = self.help() {
            write!(f, "\n{pad} = help: {help}")?;
        }
        Ok(())
    }
}

/// The JSON form of a config error, for `--output json` and GitHub annotations.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "ConfigError")]
pub struct ConfigErrorReport {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub expected: Option<String>,
    pub help: Option<String>,
}

impl From<&ConfigError> for ConfigErrorReport {
    fn from(e: &ConfigError) -> Self {
        Self {
            file: e.origin.file.display().to_string(),
            line: e.origin.line,
            column: e.origin.column,
            message: e.message(),
            expected: e.expected(),
            help: e.help(),
        }
    }
}

/// Every problem found in one load, in file order, so a user fixes them in one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        if self.0.len() > 1 {
            write!(f, "\n\n{} configuration errors", self.0.len())?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::Arc;

    #[test]
    fn display_points_a_caret_at_the_column() {
        #[derive(Debug)]
        struct Misspelt;
        impl fmt::Display for Misspelt {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("unknown field `cpuu`")
            }
        }
        impl Problem for Misspelt {
            fn expected(&self) -> Option<String> {
                Some("one of `cpu`, `memory`".into())
            }
            fn help(&self) -> Option<String> {
                Some("fix the spelling".into())
            }
        }
        let mut e = ConfigError::new(
            Origin {
                file: Arc::new(PathBuf::from("deploy.toml")),
                line: 7,
                column: 5,
            },
            Misspelt,
        );
        e.line_text = Some("    cpuu = 1".into());
        let text = e.to_string();
        assert_eq!(
            text,
            "error: unknown field `cpuu`\n --> deploy.toml:7:5\n  |\n7 |     cpuu = 1\n  |     ^\n  = expected: one of `cpu`, `memory`\n  = help: fix the spelling"
        );
    }
}
