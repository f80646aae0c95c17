//! The command line: it parses, builds the session, dispatches to `commands`, and presents.
//! It is the only layer that prints or prompts (stdout for results, stderr for logs,
//! progress, questions and errors).

pub mod args;
mod complete;
mod console;
pub mod github;
mod host;
pub mod live;
mod manual;

use std::io::Write;
use std::time::Instant;

use clap::{CommandFactory, FromArgMatches};

pub use args::Cli;
pub use host::Host;

use crate::aws::EndpointOverride;
use crate::commands::RegionOverride;
use crate::commands::Session;
use crate::error::Error;
use crate::exit::Exit;
use crate::logging::{self, RunIdentity};
use crate::report::{self, OutputFormat};
use console::{Presenter, ProgressStyle, TerminalConsole};

/// Parses arguments; usage errors exit 1 (exit 2 means "changes found" here, not "bad flag").
/// A usage error honours `-o json` (an error document on stdout) and JSON logs (one error
/// event on stderr), as every other error does: a pipeline parsing either gets its kind.
pub fn parse() -> Result<Cli, Exit> {
    // A shell asking for completions gets them and the process ends here.
    complete::answer_if_asked();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let color = clap_color(&args);
    let parsed = Cli::command()
        .color(color)
        .try_get_matches()
        .and_then(|matches| Cli::from_arg_matches(&matches));
    parsed.map_err(|e| {
        let e = e.with_cmd(&Cli::command().color(color));
        if !e.use_stderr() {
            let _ = e.print();
            return Exit::Ok;
        }
        let message = e.render().to_string();
        let error = Error::Usage(crate::error::Usage::Arguments(
            message.trim_end().trim_start_matches("error: ").to_string(),
        ));
        if option_value(&args, &["-o", "--output", "--format"]).as_deref() == Some("json") {
            console::print_stdout(&report::format_error(&error, ARGUMENTS, 0));
        }
        let host = Host::from_process_env();
        let json_logs = match option_value(&args, &["--log-format"]).as_deref() {
            Some("json") => true,
            Some(_) => false,
            None => host.json_logs_by_default(),
        };
        if json_logs {
            let identity = RunIdentity::new(host.user.clone(), host.trace_id.clone());
            logging::init(
                logging::LogFormat::Json,
                host.in_ci,
                false,
                0,
                identity,
                ARGUMENTS,
            );
            tracing::error!(result = "error", kind = error.kind(), "{message}");
        } else {
            let _ = e.print();
        }
        Exit::Error
    })
}

/// The colour of clap's own messages (usage errors, `--help`): `--color` as the rest of
/// the run reads it (read by hand: the line may not parse), then the same variables.
fn clap_color(args: &[String]) -> clap::ColorChoice {
    let choice = match option_value(args, &["--color"]).as_deref() {
        Some("always") => logging::ColorChoice::Always,
        Some("never") => logging::ColorChoice::Never,
        _ => logging::ColorChoice::Auto,
    };
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    if choice.enabled(terminal, |name| std::env::var(name).ok()) {
        clap::ColorChoice::Always
    } else {
        clap::ColorChoice::Never
    }
}

/// The `command` of the document a command line that does not parse prints.
const ARGUMENTS: &str = "arguments";

/// The value of the last of `names` in `args` (`-o json`, `--output=json`, `-ojson`), read
/// by hand: the line did not parse.
fn option_value(args: &[String], names: &[&str]) -> Option<String> {
    let mut found = None;
    for (i, arg) in args.iter().enumerate() {
        for name in names {
            if arg == name {
                found = args.get(i + 1).cloned();
            } else if let Some(value) = arg.strip_prefix(&format!("{name}=")) {
                found = Some(value.to_string());
            } else if name.len() == 2
                && let Some(value) = arg.strip_prefix(name)
                && !value.is_empty()
                && !arg.starts_with("--")
            {
                found = Some(value.to_string());
            }
        }
    }
    found
}

/// Runs one command to its exit code, on the runtime `main` created.
pub async fn run(cli: Cli, host: Host) -> Exit {
    let identity = RunIdentity::new(host.user.clone(), host.trace_id.clone());
    let trace_id = identity.trace_id.clone();
    let color = cli.color.enabled(
        std::io::IsTerminal::is_terminal(&std::io::stderr()),
        |name| std::env::var(name).ok(),
    );
    // Tables fit a terminal's width (a pipe or a file gets whole lines).
    if let Some((terminal_size::Width(columns), _)) =
        terminal_size::terminal_size_of(std::io::stdout())
    {
        report::table::set_width(usize::from(columns));
    }
    // A debug re-run of a GitHub workflow (RUNNER_DEBUG=1) is a `-v` run.
    let verbose = cli.verbose.max(u8::from(host.runner_debug));
    let json_logs = logging::init(
        cli.log_format,
        host.json_logs_by_default(),
        color,
        verbose,
        identity,
        cli.command.action().name(),
    );
    if host.github.is_some() {
        crate::aws::hints::set(crate::aws::hints::Where::GithubActions);
    }
    let console = TerminalConsole {
        progress: progress_style(&host, json_logs),
        json: json_logs,
        live_notes: std::sync::Mutex::new(None),
        github: host.github.is_some(),
    };
    let session = Session {
        project_dir: cli.project_dir.clone(),
        env: cli.env.clone(),
        endpoint: EndpointOverride {
            flag: cli.endpoint_url.clone(),
            env_var: host.aws_endpoint_url.clone(),
            service_vars: host.aws_service_endpoints.clone(),
            profile_flag: cli.profile.clone(),
            profile_var: host.aws_profile.clone(),
            keys_exported: host.aws_keys_exported,
            ca_bundle_var: host.aws_ca_bundle.clone(),
        },
        region: RegionOverride {
            flag: cli.region.clone(),
            env_var: host.aws_region.clone(),
        },
        user: host.user.clone(),
        local_user: host.local_user.clone(),
        caller: std::sync::OnceLock::new(),
        trace_id,
        in_ci: host.in_ci,
        github_sha: host.github_sha.clone(),
        github_tag: host.github_tag.clone(),
        run_url: host.run_url.clone(),
        tally: Default::default(),
        console: &console,
        started: std::time::Instant::now(),
    };
    let action = cli.command.action().name();
    let presenter = Presenter {
        format: cli.output,
        command: action,
        step: host.github.as_ref(),
    };
    let started = Instant::now();
    let result = cli.command.run(&session, &presenter).await;
    let latency_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok((stdout, exit)) => {
            console::print_stdout(&stdout);
            log_end(
                json_logs,
                action,
                report::exit_result(exit),
                latency_ms,
                None,
            );
            exit
        }
        Err(error) => {
            log_end(json_logs, action, "error", latency_ms, Some(error.kind()));
            if cli.output == OutputFormat::Json {
                console::print_stdout(&report::format_error(&error, action, verbose));
            }
            let shown = error.detailed(verbose);
            if json_logs {
                tracing::error!(result = "error", kind = error.kind(), "{shown}");
            } else {
                let _ = writeln!(std::io::stderr().lock(), "{shown}");
            }
            if let Some(step) = &host.github {
                github_failure(step, &session, action, &error, &shown);
            }
            error.exit()
        }
    }
}

/// How progress reaches stderr: GitHub log groups in a step, a live view on a terminal
/// with text logs (not a `TERM=dumb` one), else one line per event.
fn progress_style(host: &Host, json_logs: bool) -> ProgressStyle {
    use std::io::IsTerminal;
    if host.github.is_some() {
        if json_logs {
            ProgressStyle::GithubJsonGroups
        } else {
            ProgressStyle::GithubGroups
        }
    } else if json_logs {
        ProgressStyle::Json
    } else if !host.in_ci && !host.dumb_terminal && std::io::stderr().is_terminal() {
        ProgressStyle::Live
    } else {
        ProgressStyle::Lines
    }
}

/// In JSON (CI) every run ends with one event carrying the platform's fields; on a terminal
/// the result on stdout already says it.
fn log_end(json: bool, action: &str, result: &str, latency_ms: u64, kind: Option<&str>) {
    let result = if result == "succeeded" { "ok" } else { result };
    match (json, kind) {
        (true, None) => tracing::info!(action, result, latency_ms, "{action} finished"),
        (false, None) => tracing::debug!(action, result, latency_ms, "{action} finished"),
        (true, Some(kind)) => tracing::info!(action, result, latency_ms, kind, "{action} failed"),
        (false, Some(kind)) => {
            tracing::debug!(action, result, latency_ms, kind, "{action} failed")
        }
    }
}

/// A failed command in a GitHub Actions step: annotations (on the file and line for
/// configuration errors, so they show on the pull request), the error in the step summary,
/// and the `result` output.
fn github_failure(
    step: &github::Step,
    session: &Session<'_>,
    action: &str,
    error: &Error,
    shown: &str,
) {
    let annotations: Vec<String> = match error {
        Error::Config(errors) => errors
            .0
            .iter()
            .map(|e| github::config_annotation(e, &session.project_dir))
            .collect(),
        _ => vec![github::annotation(
            github::Level::Error,
            None,
            &format!("facturactl {action}"),
            shown.trim_start_matches("error: "),
        )],
    };
    let mut stderr = std::io::stderr().lock();
    for line in annotations {
        let _ = writeln!(stderr, "{line}");
    }
    drop(stderr);
    let result = report::exit_result(error.exit());
    let summary = format!(
        "### facturactl {action}: {result}\n\n```text\n{}\n```\n",
        shown.trim_end()
    );
    if let Err(e) = step.append_summary(&summary) {
        tracing::warn!("the step summary could not be written: {e}");
    }
    let mut outputs = vec![("result", result.to_string())];
    if let Some(env) = &session.env {
        outputs.insert(0, ("environment", env.clone()));
    }
    console::set_outputs(step, &outputs);
}
