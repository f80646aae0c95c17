//! Command-line interface: arguments, dispatch, and printing of reports and errors.
//!
//! This is the only module that writes to stdout (results) and stderr (errors); everything
//! it calls returns values.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::{Parser, Subcommand};

use crate::config::{self, LoadedConfig};
use crate::error::Error;
use crate::exit::Exit;
use crate::logging::{self, LogFormat, RunIdentity};
use crate::policy;
use crate::render;
use crate::report::{self, OutputFormat};
use crate::schema::{self, SchemaFile};

#[derive(Debug, Parser)]
#[command(
    name = "facturactl",
    version,
    about = "Deployment control plane of FacturaScan 360: render, validate, deploy, promote and audit",
    after_help = crate::exit::Exit::HELP
)]
pub struct Cli {
    /// Environment: the name of a file in environments/ (local, staging, production).
    #[arg(long, short = 'e', global = true)]
    pub env: Option<String>,

    /// Project directory holding deploy.toml.
    #[arg(long, short = 'C', global = true, default_value = ".")]
    pub project_dir: PathBuf,

    /// Result format on stdout.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Auto)]
    pub log_format: LogFormat,

    /// More logs: -v debug, -vv trace (including the AWS SDK).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// AWS endpoint for every client (overrides AWS_ENDPOINT_URL and the environment's endpoint_url).
    #[arg(long, global = true)]
    pub endpoint_url: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render every stack template, its parameters and hash, and the alarm definitions.
    Render {
        /// Write the rendered files into this directory.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check config, rendering and policy rules; exit 3 when findings block (production).
    Validate {
        /// List the policy rules and why each exists, instead of validating.
        #[arg(long)]
        explain: bool,
    },
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Print the JSON Schema of deploy.toml or of an environment file, for editors.
    Schema {
        #[arg(long, value_enum, default_value_t = SchemaFile::Deploy)]
        file: SchemaFile,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration of an environment (secrets as references).
    Show,
}

/// What the process was started with, read once by `main` so nothing below reads the
/// environment behind the caller's back.
#[derive(Debug, Clone, Default)]
pub struct Host {
    /// `CI` or `GITHUB_ACTIONS` is set.
    pub in_ci: bool,
    /// `GITHUB_ACTOR` or `USER`.
    pub user: Option<String>,
    /// `FACTURACTL_TRACE_ID`, to share one trace id across pipeline stages.
    pub trace_id: Option<String>,
    /// `AWS_ENDPOINT_URL`.
    pub aws_endpoint_url: Option<String>,
}

impl Host {
    pub fn from_process_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Self {
            in_ci: var("CI").is_some() || var("GITHUB_ACTIONS").is_some(),
            user: var("GITHUB_ACTOR").or_else(|| var("USER")),
            trace_id: var("FACTURACTL_TRACE_ID"),
            aws_endpoint_url: var("AWS_ENDPOINT_URL"),
        }
    }
}

/// Parses arguments; usage errors exit 1 (exit 2 means "changes found" here, not "bad flag").
pub fn parse() -> Result<Cli, Exit> {
    Cli::try_parse().map_err(|e| {
        let _ = e.print();
        if e.use_stderr() {
            Exit::Error
        } else {
            Exit::Ok
        }
    })
}

pub fn run(cli: Cli, host: Host) -> Exit {
    let identity = RunIdentity::new(host.user.clone(), host.trace_id.clone());
    let json_logs = logging::init(cli.log_format, host.in_ci, cli.verbose, identity);
    let action = action_name(&cli.command);
    let started = Instant::now();
    let result = dispatch(&cli);
    let latency_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok((stdout, exit)) => {
            print_stdout(&stdout);
            let result = if exit == Exit::Ok { "ok" } else { "refused" };
            // In JSON (CI) every run ends with one event carrying the platform's fields; on a
            // terminal the result on stdout already says it.
            if json_logs {
                tracing::info!(action, result, latency_ms, "{action} finished");
            } else {
                tracing::debug!(action, result, latency_ms, "{action} finished");
            }
            exit
        }
        Err(error) => {
            let kind = error.kind();
            if json_logs {
                tracing::info!(
                    action,
                    result = "error",
                    latency_ms,
                    kind,
                    "{action} failed"
                );
            } else {
                tracing::debug!(
                    action,
                    result = "error",
                    latency_ms,
                    kind,
                    "{action} failed"
                );
            }
            if cli.output == OutputFormat::Json {
                print_stdout(&report::format_error(&error));
            }
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "{error}");
            error.exit()
        }
    }
}

fn print_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    // A closed pipe (`facturactl ... | head`) is not an error worth a panic.
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

fn action_name(command: &Command) -> &'static str {
    match command {
        Command::Render { .. } => "render",
        Command::Validate { .. } => "validate",
        Command::Config { .. } => "config.show",
        Command::Schema { .. } => "schema",
    }
}

fn dispatch(cli: &Cli) -> Result<(String, Exit), Error> {
    match &cli.command {
        Command::Schema { file } => {
            let mut text = serde_json::to_string_pretty(&schema::schema(*file)).unwrap_or_default();
            text.push('\n');
            Ok((text, Exit::Ok))
        }
        Command::Validate { explain: true } => {
            let rules = report::RulesReport {
                rules: policy::RULES
                    .iter()
                    .map(|r| report::RuleEntry {
                        id: r.id,
                        why: r.why,
                    })
                    .collect(),
            };
            Ok((report::format(&rules, cli.output), Exit::Ok))
        }
        Command::Config {
            command: ConfigCommand::Show,
        } => {
            let loaded = load(cli)?;
            let show = report::ConfigShow {
                environment: &loaded.config.environment.name,
                config: &loaded.config,
            };
            Ok((report::format(&show, cli.output), Exit::Ok))
        }
        Command::Render { out } => {
            let loaded = load(cli)?;
            let rendered = render::render(&loaded)?;
            let files = match out {
                Some(dir) => rendered
                    .write_to(dir)
                    .map_err(|source| Error::Write {
                        path: dir.clone(),
                        source,
                    })?
                    .len(),
                None => 0,
            };
            let report = report::RenderReport {
                environment: &loaded.config.environment.name,
                rendered: &rendered,
                out_dir: out.as_ref().map(|d| d.display().to_string()),
                files_written: files,
            };
            Ok((report::format(&report, cli.output), Exit::Ok))
        }
        Command::Validate { explain: false } => {
            let loaded = load(cli)?;
            let rendered = render::render(&loaded)?;
            let policy = policy::check(&loaded.config, &rendered);
            for finding in &policy.findings {
                tracing::debug!(rule = finding.rule, stack = %finding.stack, resource = %finding.resource, "policy finding");
            }
            let report = report::ValidateReport {
                environment: &loaded.config.environment.name,
                stacks: rendered.stacks.len(),
                alarms: rendered.alarms.len(),
                blocking: policy.blocking(),
                policy: &policy,
            };
            let exit = if report.blocking > 0 {
                Exit::Refused
            } else {
                Exit::Ok
            };
            Ok((report::format(&report, cli.output), exit))
        }
    }
}

fn load(cli: &Cli) -> Result<LoadedConfig, Error> {
    let env = cli.env.as_deref().ok_or_else(|| Error::Usage {
        message: "this command needs an environment".into(),
        help: "pass --env local, --env staging or --env production".into(),
    })?;
    let rule_ids = policy::rule_ids();
    Ok(config::load(&cli.project_dir, env, &rule_ids)?)
}
