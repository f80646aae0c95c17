//! The loader's problems: files that cannot be read, environment names, the overlay's
//! shape, and values serde could not type.

use std::fmt;
use std::path::PathBuf;

use super::ENVIRONMENTS_DIR;
use super::diagnostic::Problem;
use super::secret::SecretRef;

/// A configuration file that could not be read as text.
#[derive(Debug)]
pub struct Unreadable {
    pub file: PathBuf,
    pub failure: ReadFailure,
}

#[derive(Debug)]
pub enum ReadFailure {
    NotFound {
        hint: MissingHint,
    },
    Io {
        reason: String,
    },
    /// A directory, FIFO or device.
    NotRegular,
    TooLarge {
        limit: usize,
    },
    NotUtf8 {
        offset: usize,
    },
}

/// What a missing file's help suggests.
#[derive(Debug)]
pub enum MissingHint {
    Create,
    /// The project file: facturactl was probably run elsewhere.
    ProjectRoot,
    /// An environment file: the environments that do exist.
    Environments(Vec<String>),
}

impl fmt::Display for MissingHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Create => f.write_str("create it, or run from the project's root"),
            Self::ProjectRoot => {
                f.write_str("run facturactl from the project root, or pass --project-dir")
            }
            Self::Environments(names) if names.is_empty() => write!(
                f,
                "create {ENVIRONMENTS_DIR}/<env>.yaml for the environment"
            ),
            Self::Environments(names) => write!(f, "environments here: {}", names.join(", ")),
        }
    }
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.failure {
            ReadFailure::NotFound { .. } => f.write_str("file not found"),
            ReadFailure::Io { reason } => write!(f, "cannot read the file: {reason}"),
            ReadFailure::NotRegular => {
                f.write_str("not a regular file (a directory, FIFO or device)")
            }
            ReadFailure::TooLarge { limit } => write!(f, "the file is larger than {limit} bytes"),
            ReadFailure::NotUtf8 { offset } => {
                write!(f, "not UTF-8 text (invalid byte at offset {offset})")
            }
        }
    }
}

impl Problem for Unreadable {
    fn expected(&self) -> Option<String> {
        Some(format!("a readable {}", self.file.display()))
    }

    fn help(&self) -> Option<String> {
        Some(match &self.failure {
            ReadFailure::NotFound { hint } => hint.to_string(),
            ReadFailure::Io { .. } => "check its permissions".into(),
            ReadFailure::NotRegular => {
                "configuration files are plain text files: replace it with one".into()
            }
            ReadFailure::TooLarge { .. } => {
                "a configuration file this large is not one: check the path".into()
            }
            ReadFailure::NotUtf8 { .. } => "save the file as UTF-8".into(),
        })
    }
}

/// The environment asked for, or the one it is promoted to, cannot be used.
#[derive(Debug)]
pub enum EnvironmentProblem {
    BadName {
        name: String,
        hint: MissingHint,
    },
    PromotedToItself {
        target: String,
    },
    TargetDoesNotLoad {
        target: String,
    },
    /// The overlay's top level is not a map; `found` is its kind, as `a list`.
    OverlayNotMap {
        found: &'static str,
    },
}

impl fmt::Display for EnvironmentProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadName { name, .. } => write!(f, "`{name}` is not an environment name"),
            Self::PromotedToItself { target } => write!(f, "`{target}` is promoted to itself"),
            Self::TargetDoesNotLoad { target } => write!(
                f,
                "`promoted_to: {target}`: environments/{target}.yaml does not load"
            ),
            Self::OverlayNotMap { found } => write!(f, "the overlay is {found}"),
        }
    }
}

impl Problem for EnvironmentProblem {
    fn expected(&self) -> Option<String> {
        Some(
            match self {
                Self::BadName { .. } => "lowercase letters, digits and dashes, as `staging`",
                Self::PromotedToItself { .. } | Self::TargetDoesNotLoad { .. } => {
                    "the name of another environment, in another account, as `production`"
                }
                Self::OverlayNotMap { .. } => {
                    "a map of settings at the top level, as `environment:`"
                }
            }
            .into(),
        )
    }

    fn help(&self) -> Option<String> {
        Some(match self {
            Self::BadName { hint, .. } => hint.to_string(),
            Self::PromotedToItself { .. } => {
                "name the environment `promote --to` takes from this one".into()
            }
            Self::TargetDoesNotLoad { target } => format!(
                "fix it first (`facturactl validate --env {target}`), or name another environment"
            ),
            Self::OverlayNotMap { .. } => {
                "start the file with `environment:` and indent its settings".into()
            }
        })
    }
}

/// What serde could not type, parsed from its message.
#[derive(Debug)]
pub enum SerdeProblem {
    UnknownField { field: String, expected: String },
    MissingField(String),
    InvalidType { found: String, expected: String },
    UnknownVariant { found: String, expected: String },
    InvalidValue { found: String, expected: String },
    Other(String),
}

impl SerdeProblem {
    pub(super) fn parse(message: &str) -> Self {
        // serde_json appends " at line 1 column N" of the intermediate JSON: meaningless here.
        let message = message.split(" at line ").next().unwrap_or(message);
        let pair = |rest: &str, default: &str| {
            let (a, b) = rest.split_once(", expected ").unwrap_or((rest, default));
            (a.to_string(), b.to_string())
        };
        if let Some(rest) = message.strip_prefix("unknown field ") {
            let (field, expected) = pair(rest, "no other keys");
            Self::UnknownField { field, expected }
        } else if let Some(rest) = message.strip_prefix("missing field ") {
            Self::MissingField(rest.to_string())
        } else if let Some(rest) = message.strip_prefix("invalid type: ") {
            let (found, expected) = pair(rest, "another type");
            Self::InvalidType { found, expected }
        } else if let Some(rest) = message.strip_prefix("unknown variant ") {
            let (found, expected) = pair(rest, "a known value");
            Self::UnknownVariant { found, expected }
        } else if let Some(rest) = message.strip_prefix("invalid value: ") {
            let (found, expected) = pair(rest, "another value");
            Self::InvalidValue { found, expected }
        } else {
            Self::Other(message.to_string())
        }
    }
}

/// A value serde could not type, at `at` (a dotted path; `parent` is its table's).
#[derive(Debug)]
pub struct Untyped {
    pub problem: SerdeProblem,
    pub at: String,
    pub parent: String,
}

fn place(path: &str) -> String {
    if path.is_empty() {
        "at the top level".to_string()
    } else {
        format!("in `{path}`")
    }
}

/// serde names Rust types; users think in YAML and TOML types.
fn plain_type(expected: &str) -> String {
    match expected {
        "u16" | "u32" | "u64" | "usize" => "a whole number of 0 or more".into(),
        "i32" | "i64" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a boolean" | "bool" => "true or false".into(),
        "a sequence" => "a list".into(),
        other if other.starts_with("struct ") || other.starts_with("a map") => {
            "a map of keys".into()
        }
        other => other.into(),
    }
}

impl Untyped {
    /// The secret types refuse a value that is not a reference with this phrase.
    fn is_secret(&self) -> bool {
        matches!(&self.problem, SerdeProblem::Other(m) if m.contains("secret must be a reference"))
    }
}

impl fmt::Display for Untyped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = &self.at;
        match &self.problem {
            SerdeProblem::UnknownField { field, .. } => {
                write!(f, "unknown key {field} {}", place(&self.parent))
            }
            SerdeProblem::MissingField(field) => write!(f, "missing key {field} {}", place(at)),
            SerdeProblem::InvalidType { found, .. } => {
                write!(f, "`{at}` has the wrong type: found {found}")
            }
            SerdeProblem::UnknownVariant { found, .. } => {
                write!(f, "`{at}` does not accept {found}")
            }
            SerdeProblem::InvalidValue { found, .. } => {
                write!(f, "`{at}` is out of range: found {found}")
            }
            SerdeProblem::Other(message) => write!(f, "`{at}`: {message}"),
        }
    }
}

impl Problem for Untyped {
    fn expected(&self) -> Option<String> {
        match &self.problem {
            SerdeProblem::UnknownField { expected, .. } => {
                Some(expected.replace("there are no fields", "no keys here"))
            }
            SerdeProblem::MissingField(field) => Some(format!(
                "{field} to be set in deploy.toml or in the environment file"
            )),
            SerdeProblem::InvalidType { expected, .. }
            | SerdeProblem::InvalidValue { expected, .. } => Some(plain_type(expected)),
            SerdeProblem::UnknownVariant { expected, .. } => Some(expected.clone()),
            SerdeProblem::Other(_) => None,
        }
    }

    fn help(&self) -> Option<String> {
        Some(
            match &self.problem {
                SerdeProblem::UnknownField { .. } => {
                    "fix the spelling or remove the key; `facturactl schema` lists every key"
                }
                SerdeProblem::MissingField(_) => "add the key; `facturactl schema` describes it",
                SerdeProblem::InvalidType { .. } => {
                    "change the value's type; quote strings in YAML when they look like numbers"
                }
                SerdeProblem::UnknownVariant { .. } => "use one of the listed values",
                SerdeProblem::InvalidValue { .. } => "change the value",
                SerdeProblem::Other(_) if self.is_secret() => SecretRef::HELP,
                SerdeProblem::Other(_) => "fix the value",
            }
            .into(),
        )
    }

    fn sensitive(&self) -> bool {
        self.is_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::plain_type;

    #[test]
    fn serde_messages_become_plain_words() {
        assert_eq!(plain_type("u32"), "a whole number of 0 or more");
        assert_eq!(plain_type("struct Stack"), "a map of keys");
        assert_eq!(plain_type("a string"), "a string");
    }
}
