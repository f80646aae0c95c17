//! Secrets as references, and resolved secrets that never print themselves.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where a secret lives. The config only ever holds this reference; the value is fetched at
/// the moment of use and wrapped in [`Secret`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum SecretRef {
    /// `ssm:/path/to/parameter` (a SecureString parameter).
    Ssm(String),
    /// `secretsmanager:name-or-arn`.
    SecretsManager(String),
    /// `env:VARIABLE`, for CI runners that inject secrets as variables.
    Env(String),
}

impl SecretRef {
    pub const HELP: &'static str = "write a reference: `ssm:/facturascan/slack/webhook`, `secretsmanager:facturascan/slack` or `env:SLACK_WEBHOOK_URL`, and keep the value in that store";
}

/// Why a string is not a reference. Deliberately does not quote the string: it may be the
/// secret itself, pasted in clear.
#[derive(Debug, PartialEq, Eq)]
pub struct NotAReference;

impl fmt::Display for NotAReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a secret must be a reference (`ssm:`, `secretsmanager:` or `env:`), not a value written in clear"
        )
    }
}

impl TryFrom<String> for SecretRef {
    type Error = NotAReference;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        let (scheme, rest) = text.split_once(':').ok_or(NotAReference)?;
        let rest = rest.trim();
        if rest.is_empty() || rest.starts_with("//") {
            // `https://hooks.slack.com/...` has a scheme too: refuse it.
            return Err(NotAReference);
        }
        match scheme {
            "ssm" => Ok(Self::Ssm(rest.to_string())),
            "secretsmanager" => Ok(Self::SecretsManager(rest.to_string())),
            "env" if rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                Ok(Self::Env(rest.to_string()))
            }
            _ => Err(NotAReference),
        }
    }
}

impl From<SecretRef> for String {
    fn from(r: SecretRef) -> Self {
        r.to_string()
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ssm(p) => write!(f, "ssm:{p}"),
            Self::SecretsManager(n) => write!(f, "secretsmanager:{n}"),
            Self::Env(v) => write!(f, "env:{v}"),
        }
    }
}

impl JsonSchema for SecretRef {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SecretRef".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^(ssm:[^/].*|ssm:/.+|secretsmanager:.+|env:[A-Za-z0-9_]+)$",
            "description": "A reference to a secret: ssm:/param, secretsmanager:name or env:VAR. Never the value itself."
        })
    }
}

/// A resolved secret value. Debug and Display print a placeholder, so a secret that reaches
/// a log line or a report by mistake shows as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The value, for the one call that needs it (an HTTP request, an SDK parameter).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse() {
        assert_eq!(
            SecretRef::try_from("ssm:/fs/slack".to_string()),
            Ok(SecretRef::Ssm("/fs/slack".into()))
        );
        assert_eq!(
            SecretRef::try_from("secretsmanager:fs/slack".to_string()),
            Ok(SecretRef::SecretsManager("fs/slack".into()))
        );
        assert_eq!(
            SecretRef::try_from("env:SLACK_URL".to_string()),
            Ok(SecretRef::Env("SLACK_URL".into()))
        );
    }

    #[test]
    fn clear_values_are_refused_without_being_echoed() {
        for clear in [
            "https://hooks.slack.com/services/T000/B000/XXXX",
            "xoxb-123",
            "env:not a var",
            "ssm:   ",
        ] {
            let err = SecretRef::try_from(clear.to_string()).unwrap_err();
            assert!(!err.to_string().contains(clear));
        }
    }

    #[test]
    fn resolved_secrets_never_print() {
        let s = Secret::new("hunter2".into());
        assert_eq!(format!("{s} {s:?}"), "*** Secret(***)");
        assert_eq!(s.expose(), "hunter2");
    }
}
