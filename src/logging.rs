//! Logs to stderr: readable text on a terminal, JSON lines in CI or when asked.
//!
//! JSON lines carry the fields the platform uses in every service's logs (tenant_id,
//! user_id, trace_id, action, result, latency_ms), so a deploy's logs land in the same
//! CloudWatch Logs Insights queries as the services'.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// JSON in CI (`CI` set), text otherwise and in a GitHub Actions step (inside its log
    /// groups, where people read it).
    Auto,
    Text,
    Json,
}

/// `--color`: whether logs on stderr carry ANSI colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour on a terminal, unless NO_COLOR is set; CLICOLOR_FORCE forces it elsewhere.
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// The flag first, then NO_COLOR (any non-empty value: no colour, no-color.org), then
    /// CLICOLOR_FORCE (non-empty and not `0`: colour even off a terminal), then whether the
    /// stream is a terminal.
    pub fn enabled(self, terminal: bool, var: impl Fn(&str) -> Option<String>) -> bool {
        let set = |name: &str| var(name).is_some_and(|v| !v.is_empty());
        match self {
            Self::Always => true,
            Self::Never => false,
            Self::Auto if set("NO_COLOR") => false,
            Self::Auto
                if set("CLICOLOR_FORCE") && var("CLICOLOR_FORCE").as_deref() != Some("0") =>
            {
                true
            }
            // A terminal that says it cannot do escapes (Emacs shells, some CI consoles).
            Self::Auto if var("TERM").as_deref() == Some("dumb") => false,
            Self::Auto => terminal,
        }
    }
}

/// Who runs this, and the id that ties its log lines together.
#[derive(Debug, Clone)]
pub struct RunIdentity {
    pub tenant_id: String,
    pub user_id: String,
    pub trace_id: String,
}

impl RunIdentity {
    /// `trace_id` is taken from the caller when a pipeline passes one down, so that all of a
    /// pipeline's stages share it; otherwise a new random id.
    pub fn new(user_id: Option<String>, trace_id: Option<String>) -> Self {
        Self {
            tenant_id: "platform".into(),
            user_id: user_id
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| "unknown".into()),
            trace_id: trace_id
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string()),
        }
    }
}

/// Installs the global subscriber. `json_by_default`: what `auto` means here (JSON in CI
/// outside a GitHub step); `color`: ANSI in text logs (see [`ColorChoice`]); `verbosity`
/// counts `-v` flags. Returns whether logs are JSON lines.
pub fn init(
    format: LogFormat,
    json_by_default: bool,
    color: bool,
    verbosity: u8,
    identity: RunIdentity,
    action: &'static str,
) -> bool {
    let level = match verbosity {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    // Our own crate at the chosen level. The SDK's own warnings print raw structures
    // (a credential provider's whole HTTP response): from -v only, everything from -vv.
    // The credential chain's own events quote a failed credential_process's stderr, which
    // may hold a secret: never shown (the run's error says which provider failed and how).
    const CREDENTIALS: &str = "aws_config::meta::credentials=off,aws_config::profile=off,aws_config::credential_process=off";
    let filter = match verbosity {
        0 => format!("error,facturactl=info,{CREDENTIALS}"),
        1 => format!("warn,facturactl={level},{CREDENTIALS}"),
        _ => format!("{level},{CREDENTIALS}"),
    };
    let filter = tracing_subscriber::EnvFilter::new(filter);
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => json_by_default,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = if json {
        let _ = JSON_CONTEXT.set(JsonContext {
            identity,
            action,
            started: std::time::Instant::now(),
        });
        builder.event_format(JsonLines).try_init()
    } else {
        builder
            .without_time()
            .with_target(false)
            .with_ansi(color)
            .try_init()
    };
    // A second init (tests calling `run` twice) keeps the first subscriber.
    let _ = result;
    json
}

/// Who runs this and since when: what every JSON line carries, set once by `init`.
struct JsonContext {
    identity: RunIdentity,
    action: &'static str,
    started: std::time::Instant,
}

static JSON_CONTEXT: std::sync::OnceLock<JsonContext> = std::sync::OnceLock::new();

/// One JSON log line. Every line carries the platform's six fields: one without its own
/// `action`, `result` or `latency_ms` gets the run's command, `in_progress` and the time
/// since the run started, so a query on any of them finds every line of the run.
pub fn json_line(
    level: &str,
    message: &str,
    fields: serde_json::Map<String, serde_json::Value>,
) -> String {
    let mut line = serde_json::Map::new();
    line.insert("timestamp".into(), rfc3339(SystemTime::now()).into());
    line.insert("level".into(), level.into());
    let context = JSON_CONTEXT.get();
    if let Some(context) = context {
        line.insert(
            "tenant_id".into(),
            context.identity.tenant_id.clone().into(),
        );
        line.insert("user_id".into(), context.identity.user_id.clone().into());
        line.insert("trace_id".into(), context.identity.trace_id.clone().into());
    }
    line.insert("message".into(), message.into());
    line.extend(fields);
    line.entry("action")
        .or_insert_with(|| context.map_or("", |c| c.action).into());
    line.entry("result").or_insert_with(|| "in_progress".into());
    line.entry("latency_ms").or_insert_with(|| {
        context
            .map_or(0, |c| c.started.elapsed().as_millis() as u64)
            .into()
    });
    serde_json::to_string(&line).unwrap_or_default()
}

struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = serde_json::Map::new();
        event.record(&mut JsonVisitor(&mut fields));
        let message = fields
            .remove("message")
            .and_then(|m| m.as_str().map(str::to_string))
            .unwrap_or_default();
        let level = event.metadata().level().as_str().to_lowercase();
        let line = json_line(&level, &message, fields);
        writeln!(writer, "{line}")
    }
}

struct JsonVisitor<'a>(&'a mut serde_json::Map<String, serde_json::Value>);

impl tracing::field::Visit for JsonVisitor<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}

/// UTC, millisecond precision, without pulling in a date crate for one format.
pub fn rfc3339(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (hour, minute, second) = (rem / 3600, rem % 3600 / 60, rem % 60);
    // Howard Hinnant's days-to-civil.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{:03}Z",
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_000_000_123);
        assert_eq!(rfc3339(t), "2026-11-18T11:06:40.123Z");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn identity_keeps_a_given_trace_id() {
        let id = RunIdentity::new(Some("ana".into()), Some("abc".into()));
        assert_eq!((id.user_id.as_str(), id.trace_id.as_str()), ("ana", "abc"));
        let fresh = RunIdentity::new(None, None);
        assert_eq!(fresh.trace_id.len(), 32);
        assert_eq!(fresh.user_id, "unknown");
    }
}

#[cfg(test)]
mod color_tests {
    use super::ColorChoice;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_flag_then_no_color_then_clicolor_force_then_the_terminal() {
        assert!(ColorChoice::Auto.enabled(true, env(&[])));
        assert!(!ColorChoice::Auto.enabled(false, env(&[])));
        assert!(!ColorChoice::Auto.enabled(true, env(&[("NO_COLOR", "1")])));
        // An empty NO_COLOR does not count (no-color.org).
        assert!(ColorChoice::Auto.enabled(true, env(&[("NO_COLOR", "")])));
        assert!(ColorChoice::Auto.enabled(false, env(&[("CLICOLOR_FORCE", "1")])));
        assert!(!ColorChoice::Auto.enabled(false, env(&[("CLICOLOR_FORCE", "0")])));
        assert!(
            !ColorChoice::Auto.enabled(false, env(&[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")]))
        );
        assert!(ColorChoice::Always.enabled(false, env(&[("NO_COLOR", "1")])));
        assert!(!ColorChoice::Never.enabled(true, env(&[("CLICOLOR_FORCE", "1")])));
        // A dumb terminal gets no escapes, unless colour is forced.
        assert!(!ColorChoice::Auto.enabled(true, env(&[("TERM", "dumb")])));
        assert!(ColorChoice::Auto.enabled(true, env(&[("TERM", "xterm-256color")])));
        assert!(ColorChoice::Auto.enabled(true, env(&[("TERM", "dumb"), ("CLICOLOR_FORCE", "1")])));
    }
}
