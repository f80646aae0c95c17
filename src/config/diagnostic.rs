//! Configuration errors that say where, what was expected, and how to fix it.

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

/// One problem in the configuration, located in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub origin: Origin,
    pub message: String,
    pub expected: Option<String>,
    pub help: Option<String>,
    /// The text of the offending line, filled in by the loader for display.
    pub line_text: Option<String>,
    /// The offending line may hold a secret pasted in clear: never quote it.
    pub sensitive: bool,
}

impl ConfigError {
    pub fn new(origin: Origin, message: impl Into<String>) -> Self {
        Self {
            origin,
            message: message.into(),
            expected: None,
            help: None,
            line_text: None,
            sensitive: false,
        }
    }

    /// Marks the error as being about a secret, so its line is never shown.
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }

    pub fn expected(mut self, expected: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for ConfigError {
    /// rustc-style: message, location, the line with a caret, then expected and help.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
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
        if let Some(expected) = &self.expected {
            write!(f, "\n{pad} = expected: {expected}")?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n{pad} = help: {help}")?;
        }
        Ok(())
    }
}

/// The JSON form of a config error, for `--output json` and GitHub annotations.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "ConfigError")]
pub struct ConfigErrorReport<'a> {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: &'a str,
    pub expected: Option<&'a str>,
    pub help: Option<&'a str>,
}

impl<'a> From<&'a ConfigError> for ConfigErrorReport<'a> {
    fn from(e: &'a ConfigError) -> Self {
        Self {
            file: e.origin.file.display().to_string(),
            line: e.origin.line,
            column: e.origin.column,
            message: &e.message,
            expected: e.expected.as_deref(),
            help: e.help.as_deref(),
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
        let mut e = ConfigError::new(
            Origin {
                file: Arc::new(PathBuf::from("deploy.toml")),
                line: 7,
                column: 5,
            },
            "unknown field `cpuu`",
        )
        .expected("one of `cpu`, `memory`")
        .help("fix the spelling");
        e.line_text = Some("    cpuu = 1".into());
        let text = e.to_string();
        assert_eq!(
            text,
            "error: unknown field `cpuu`\n --> deploy.toml:7:5\n  |\n7 |     cpuu = 1\n  |     ^\n  = expected: one of `cpu`, `memory`\n  = help: fix the spelling"
        );
    }
}
