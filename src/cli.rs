//! Command-line interface: arguments, dispatch, and printing of reports and errors.
//!
//! This is the only module that writes to stdout (results) and stderr (errors); everything
//! it calls returns values.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::{Parser, Subcommand};

use crate::aws::{AwsContext, EndpointOverride};
use crate::config::{self, LoadedConfig};
use crate::error::Error;
use crate::exit::Exit;
use crate::logging::{self, LogFormat, RunIdentity};
use crate::policy;
use crate::progress::ProgressSink;
use crate::render;
use crate::report::{self, OutputFormat};
use crate::schema::{self, SchemaFile};
use crate::stacks::{self, deploy::DeployOptions};

#[derive(Debug, Parser)]
#[command(
    name = "facturactl",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("FACTURACTL_COMMIT"), ")"),
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

    /// Result format on stdout (`--format` is the same flag).
    #[arg(long, short = 'o', visible_alias = "format", global = true, value_enum, default_value_t = OutputFormat::Text)]
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

    /// `AWS_ENDPOINT_URL`, filled in from the host by `run`.
    #[arg(skip)]
    pub aws_endpoint_url: Option<String>,

    /// How progress is shown, decided by `run` from the host.
    #[arg(skip)]
    pub progress: ProgressStyle,
    /// How far the run's stacks and services got (for an interrupted run's message).
    #[arg(skip)]
    pub tally: crate::progress::SharedTally,

    /// The process's host facts and run identity, filled in by `run`.
    #[arg(skip)]
    pub host: Host,
    #[arg(skip)]
    pub trace_id: String,
}

impl Cli {
    fn endpoint_override(&self) -> EndpointOverride {
        EndpointOverride {
            flag: self.endpoint_url.clone(),
            env_var: self.aws_endpoint_url.clone(),
        }
    }
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
    /// Show what a deploy would change, stack by stack, from change sets (nothing applied).
    Plan {
        /// Only these stacks.
        #[arg(long = "stack", value_name = "STACK")]
        stacks: Vec<String>,
        /// Exit 2 when anything would change.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Include a diff of each template (deployed versus rendered, normalised).
        #[arg(long)]
        diff: bool,
    },
    /// Deploy the environment's stacks in dependency order (independent ones concurrently);
    /// unchanged stacks are skipped without a write.
    Deploy {
        /// Only these stacks (their dependencies' outputs are read from what is deployed).
        #[arg(long = "stack", value_name = "STACK")]
        stacks: Vec<String>,
        /// Stacks deployed at once.
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
        max_concurrency: u16,
        /// Refuse instead of waiting when a stack is busy with another operation.
        #[arg(long)]
        no_wait: bool,
        /// Delete and create again a stack whose first create failed (ROLLBACK_COMPLETE).
        #[arg(long)]
        recreate_failed: bool,
        /// Print the plan and stop.
        #[arg(long)]
        dry_run: bool,
        /// Answer yes: go ahead with replacements and deletions without asking.
        #[arg(long)]
        yes: bool,
        /// Let this deploy replace or delete production databases and buckets, which the
        /// stack policy otherwise denies.
        #[arg(long)]
        allow_data_replacement: bool,
        /// A service's image: `ocr=v1.4.2`, `ocr=sha256:...` or a full ECR reference
        /// (tags are resolved to digests before anything changes). Repeatable.
        #[arg(long = "image", value_name = "SERVICE=IMAGE")]
        images: Vec<String>,
        /// A Lambda service's package: `parser=dist/parser.zip` or `parser=s3://bucket/key.zip`.
        /// Repeatable.
        #[arg(long = "package", value_name = "SERVICE=ZIP")]
        packages: Vec<String>,
        /// The artifacts file a build job wrote:
        /// {"services": {"ocr": {"image": "..."}, "parser": {"package": "..."}}}.
        #[arg(long, value_name = "FILE")]
        artifacts: Option<PathBuf>,
        /// Finish canary and linear rollouts without watching each step (an engineer's
        /// explicit decision; alarms are still checked once per step).
        #[arg(long)]
        skip_wait: bool,
        /// The release tag being deployed (default: GITHUB_REF_NAME on a tag build, else the
        /// release tag at HEAD).
        #[arg(long)]
        tag: Option<String>,
    },
    /// Delete the environment's stacks, dependents first. Never production.
    Destroy {
        /// Do not ask (required without a terminal).
        #[arg(long)]
        yes: bool,
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
        max_concurrency: u16,
    },
    /// CloudWatch alarms from the rendered definitions.
    Alarms {
        #[command(subcommand)]
        command: AlarmsCommand,
    },
    /// Audits for scheduled runs: exit 0 when clean, 2 when findings exist, 1 on error.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// The release gate alone: may this checkout be deployed to the environment? Exit 3
    /// when not, saying which condition failed.
    Release {
        #[command(subcommand)]
        command: ReleaseCommand,
    },
    /// What runs in the environment now, from its last successful deployment record.
    Status,
    /// Past deploys, promotions and rollbacks of the environment, newest first.
    History {
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Deploy to one environment exactly what another runs (same digests, same code, same
    /// commit), after the target's release gate passes for that commit.
    Promote {
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        /// Go ahead without asking (CI).
        #[arg(long)]
        yes: bool,
        /// The release tag (default: GITHUB_REF_NAME on a tag build, else the tag on the commit).
        #[arg(long)]
        tag: Option<String>,
        #[arg(long)]
        skip_wait: bool,
    },
    /// Return the services to the previous successful release (or `--to` a record id or
    /// tag), from the records: no stack changes.
    Rollback {
        #[arg(long, value_name = "RELEASE")]
        to: Option<String>,
        #[arg(long)]
        yes: bool,
    },
    /// Release a deploy lock left by a dead run (recorded with who forced it).
    Unlock {
        #[arg(long)]
        yes: bool,
    },
    /// A/B splits of Lambda services: `traffic SERVICE` shows the split with each side's
    /// latency and error rate; `set`, `promote` and `abort` change it.
    Traffic {
        #[command(subcommand)]
        command: Option<TrafficCommand>,
        /// The service whose split to show.
        service: Option<String>,
        /// The metrics window, in minutes.
        #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=1440))]
        window_minutes: u32,
    },
    /// Tell the configured channels how a pipeline stage ended (build, test, ...).
    Notify {
        /// The stage, as `build` or `integration-tests`.
        #[arg(long)]
        stage: String,
        #[arg(long, value_enum)]
        result: StageResult,
        /// A line of detail: what was built, or why it failed.
        #[arg(long)]
        message: Option<String>,
        /// How long the stage took.
        #[arg(long, default_value_t = 0)]
        duration_seconds: u64,
        /// The version or tag (default: the tag at HEAD, or GITHUB_REF_NAME on a tag).
        #[arg(long)]
        version: Option<String>,
    },
    /// Generate the GitHub Actions workflows from pipelines/*.toml.
    Pipeline {
        #[command(subcommand)]
        command: PipelineCommand,
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
pub enum AlarmsCommand {
    /// Show what `apply` would create, update and delete.
    Plan {
        /// Exit 2 when anything would change.
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// Create and update the defined alarms, delete the tool's alarms no longer defined.
    Apply,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Live environment versus the rendered templates and the last deployment record:
    /// stacks (CloudFormation drift included), services changed out of band, alarms.
    Drift {
        /// Only these stacks (services and alarms are then not audited).
        #[arg(long = "stack", value_name = "STACK")]
        stacks: Vec<String>,
        /// Tell the notification channels when there are findings.
        #[arg(long)]
        notify: bool,
        #[arg(long, default_value_t = 24)]
        stale_hours: u64,
    },
    /// Alarms as declared, their actions' topics and subscriptions, undeclared alarms,
    /// alarms firing or without data for longer than --stale-hours.
    Alarms {
        #[arg(long)]
        notify: bool,
        #[arg(long, default_value_t = 24)]
        stale_hours: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReleaseCommand {
    /// Check the release gate of `--env` for the checkout (or `--tag`).
    Check {
        #[arg(long)]
        tag: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TrafficCommand {
    /// Send a share of the traffic to a variant version (the alias's version stays control).
    Set {
        service: String,
        /// The variant: a published version number.
        #[arg(long)]
        variant: String,
        /// The variant's share, 1 to 99.
        #[arg(long)]
        percent: u32,
    },
    /// The variant becomes the control, with all the traffic.
    Promote { service: String },
    /// All traffic back on the control; the variant gets none.
    Abort { service: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StageResult {
    Success,
    Failure,
}

/// How progress events reach stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProgressStyle {
    /// One line per event (CI, pipes, JSON logs).
    #[default]
    Lines,
    /// A view redrawn in place (a terminal with text logs).
    Live,
    /// One collapsible log group per stack and service (a GitHub Actions step).
    GithubGroups,
}

#[derive(Debug, Subcommand)]
pub enum PipelineCommand {
    /// Write .github/workflows/*.yml from pipelines/*.toml (and remove generated workflows
    /// whose definition is gone).
    Render {
        /// Write nothing: exit 2 with a diff when the committed workflows are stale.
        #[arg(long)]
        check: bool,
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
    /// `AWS_ENDPOINT_URL` is below; the rest of the AWS settings (credentials, profile) are
    /// read by the SDK's own provider chain.
    /// `CI` or `GITHUB_ACTIONS` is set.
    pub in_ci: bool,
    /// `GITHUB_ACTOR` or `USER`.
    pub user: Option<String>,
    /// `FACTURACTL_TRACE_ID`, to share one trace id across pipeline stages.
    pub trace_id: Option<String>,
    /// `AWS_ENDPOINT_URL`.
    pub aws_endpoint_url: Option<String>,
    /// `GITHUB_SHA`: the commit a workflow runs for (the checkout may be shallow).
    pub github_sha: Option<String>,
    /// `GITHUB_REF_NAME` when `GITHUB_REF_TYPE` is `tag`.
    pub github_tag: Option<String>,
    /// The workflow run's page, from `GITHUB_SERVER_URL`, `GITHUB_REPOSITORY`, `GITHUB_RUN_ID`.
    pub run_url: Option<String>,
    /// `GITHUB_ACTIONS=true`: the step's summary and output files.
    pub github: Option<crate::github::Step>,
}

impl Host {
    pub fn from_process_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Self {
            in_ci: var("CI").is_some() || var("GITHUB_ACTIONS").is_some(),
            user: var("GITHUB_ACTOR").or_else(|| var("USER")),
            trace_id: var("FACTURACTL_TRACE_ID"),
            aws_endpoint_url: var("AWS_ENDPOINT_URL"),
            github_sha: var("GITHUB_SHA"),
            github_tag: var("GITHUB_REF_NAME")
                .filter(|_| var("GITHUB_REF_TYPE").as_deref() == Some("tag")),
            run_url: match (
                var("GITHUB_SERVER_URL"),
                var("GITHUB_REPOSITORY"),
                var("GITHUB_RUN_ID"),
            ) {
                (Some(server), Some(repo), Some(run)) => {
                    Some(format!("{server}/{repo}/actions/runs/{run}"))
                }
                _ => None,
            },
            github: (var("GITHUB_ACTIONS").as_deref() == Some("true")).then(|| {
                crate::github::Step {
                    summary: var("GITHUB_STEP_SUMMARY").map(PathBuf::from),
                    output: var("GITHUB_OUTPUT").map(PathBuf::from),
                }
            }),
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

pub fn run(mut cli: Cli, host: Host) -> Exit {
    cli.aws_endpoint_url = host.aws_endpoint_url.clone();
    let identity = RunIdentity::new(host.user.clone(), host.trace_id.clone());
    cli.trace_id = identity.trace_id.clone();
    cli.host = host;
    let json_logs = logging::init(cli.log_format, cli.host.in_ci, cli.verbose, identity);
    cli.progress = if cli.host.github.is_some() {
        ProgressStyle::GithubGroups
    } else if !json_logs && !cli.host.in_ci && {
        use std::io::IsTerminal;
        std::io::stderr().is_terminal()
    } {
        ProgressStyle::Live
    } else {
        ProgressStyle::Lines
    };
    let action = action_name(&cli.command);
    let started = Instant::now();
    let result = dispatch(&cli);
    let latency_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok((stdout, exit)) => {
            print_stdout(&stdout);
            let result = match exit {
                Exit::Ok => "ok",
                Exit::Changes => "changes",
                Exit::Warning => "warning",
                Exit::Refused => "refused",
                Exit::Error => "failed",
                Exit::Interrupted => "interrupted",
            };
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
            drop(stderr);
            if cli.host.github.is_some() {
                github_failure(&cli, action, &error);
            }
            error.exit()
        }
    }
}

/// A failed command in a GitHub Actions step: annotations (on the file and line for
/// configuration errors, so they show on the pull request), the error in the step summary,
/// and the `result` output.
fn github_failure(cli: &Cli, action: &str, error: &Error) {
    let mut annotations = Vec::new();
    match error {
        Error::Config(errors) => {
            for e in &errors.0 {
                annotations.push(crate::github::config_annotation(e, &cli.project_dir));
            }
        }
        other => annotations.push(crate::github::annotation(
            crate::github::Level::Error,
            None,
            &format!("facturactl {action}"),
            other.to_string().trim_start_matches("error: "),
        )),
    }
    let mut stderr = std::io::stderr().lock();
    for line in annotations {
        let _ = writeln!(stderr, "{line}");
    }
    drop(stderr);
    let exit = error.exit();
    if let Some(step) = &cli.host.github {
        let summary = format!(
            "### facturactl {action}: {}\n\n```text\n{}\n```\n",
            exit_result(exit),
            error.to_string().trim_end()
        );
        if let Err(e) = step.append_summary(&summary) {
            tracing::warn!("the step summary could not be written: {e}");
        }
    }
    let mut outputs = vec![("result", exit_result(exit).to_string())];
    if let Some(env) = &cli.env {
        outputs.insert(0, ("environment", env.clone()));
    }
    set_outputs(cli, &outputs);
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
        Command::Plan { .. } => "plan",
        Command::Deploy { .. } => "deploy",
        Command::Destroy { .. } => "destroy",
        Command::Alarms {
            command: AlarmsCommand::Plan { .. },
        } => "alarms.plan",
        Command::Alarms {
            command: AlarmsCommand::Apply,
        } => "alarms.apply",
        Command::Validate { .. } => "validate",
        Command::Notify { .. } => "notify",
        Command::Release { .. } => "release.check",
        Command::Audit {
            command: AuditCommand::Drift { .. },
        } => "audit.drift",
        Command::Audit {
            command: AuditCommand::Alarms { .. },
        } => "audit.alarms",
        Command::Status => "status",
        Command::History { .. } => "history",
        Command::Promote { .. } => "promote",
        Command::Rollback { .. } => "rollback",
        Command::Unlock { .. } => "unlock",
        Command::Traffic { command: None, .. } => "traffic.show",
        Command::Traffic {
            command: Some(_), ..
        } => "traffic.change",
        Command::Pipeline { .. } => "pipeline.render",
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
        Command::Pipeline {
            command: PipelineCommand::Render { check },
        } => render_pipelines(cli, *check),
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
        Command::Plan {
            stacks,
            detailed_exitcode,
            diff,
        } => {
            let (loaded, rendered) = load_checked(cli)?;
            check_stack_names(&rendered, stacks)?;
            let plan = run_plan(cli, &loaded, &rendered, stacks, *diff)?;
            let exit = if *detailed_exitcode && plan.has_changes() {
                Exit::Changes
            } else {
                Exit::Ok
            };
            let changed: Vec<&str> = plan
                .stacks
                .iter()
                .filter(|s| s.action != stacks::plan::PlanAction::NoChange)
                .map(|s| s.stack.as_str())
                .collect();
            set_outputs(
                cli,
                &[
                    ("environment", plan.environment.clone()),
                    ("changed-stacks", changed.join(",")),
                    (
                        "result",
                        if plan.has_changes() {
                            "changes"
                        } else {
                            "succeeded"
                        }
                        .to_string(),
                    ),
                ],
            );
            Ok((present(cli, &report::PlanView(&plan)), exit))
        }
        Command::Deploy {
            stacks,
            max_concurrency,
            no_wait,
            recreate_failed,
            dry_run,
            yes,
            allow_data_replacement,
            images,
            packages,
            artifacts,
            skip_wait,
            tag,
        } => {
            let (loaded, rendered) = load_checked(cli)?;
            check_stack_names(&rendered, stacks)?;
            let wanted = artifact_refs(&loaded, images, packages, artifacts.as_deref())?;
            // The release gate comes first: a refused release touches nothing.
            let accepted = gate(cli, &loaded, tag.clone(), None)?;
            let production = loaded.config.environment.tier == config::Tier::Production;
            if *dry_run {
                let plan = run_plan(cli, &loaded, &rendered, stacks, false)?;
                return Ok((present(cli, &report::PlanView(&plan)), Exit::Ok));
            }
            if !yes {
                confirm_destructive(cli, &loaded, &rendered, stacks, production)?;
            }
            let options = DeployOptions {
                max_concurrency: usize::from(*max_concurrency),
                no_wait: *no_wait,
                recreate_failed: *recreate_failed,
                only: (!stacks.is_empty()).then(|| stacks.iter().cloned().collect()),
                protect_data: production,
                allow_data_replacement: *allow_data_replacement,
            };
            let run = Run {
                action: "deploy",
                loaded: &loaded,
                rendered: &rendered,
                options,
                artifacts: Artifacts::Named(wanted),
                expected: Default::default(),
                skip_wait: *skip_wait,
                accepted,
                from: None,
            };
            execute(cli, run)
        }
        Command::Audit { command } => audit(cli, command),
        Command::Release {
            command: ReleaseCommand::Check { tag },
        } => {
            let loaded = load(cli)?;
            let accepted = gate(cli, &loaded, tag.clone(), None)?;
            Ok((present(cli, &report::GateView(&accepted)), Exit::Ok))
        }
        Command::Status => {
            let loaded = load(cli)?;
            let rt = runtime()?;
            let (current, holder) = rt.block_on(async {
                let aws =
                    AwsContext::new(&loaded.config.environment, &cli.endpoint_override()).await;
                let store = crate::release::store::Store::new(&aws, &loaded.config);
                // The first deploy of an environment holds the lock before any record
                // exists: both are read, at once.
                let (current, holder) = tokio::join!(store.current(), store.holder());
                Ok::<_, crate::error::AwsError>((current?, holder?))
            })?;
            let view = report::StatusView {
                environment: &loaded.config.environment.name,
                current: current.as_ref(),
                lock: holder.as_ref(),
            };
            Ok((report::format(&view, cli.output), Exit::Ok))
        }
        Command::History { limit } => {
            let loaded = load(cli)?;
            let rt = runtime()?;
            let mut records = rt.block_on(async {
                let aws =
                    AwsContext::new(&loaded.config.environment, &cli.endpoint_override()).await;
                crate::release::store::Store::new(&aws, &loaded.config)
                    .records(Some(*limit))
                    .await
            })?;
            records.reverse();
            let view = report::HistoryView {
                environment: &loaded.config.environment.name,
                records: &records,
            };
            Ok((report::format(&view, cli.output), Exit::Ok))
        }
        Command::Unlock { yes } => {
            let loaded = load(cli)?;
            let env = &loaded.config.environment.name;
            if !yes && !confirm(&format!("Force the deploy lock of `{env}` open?")) {
                return Err(Error::Refused {
                    message: format!("not confirmed: the lock of `{env}` is unchanged"),
                    help: "answer `yes` on a terminal, or pass --yes".into(),
                });
            }
            let who = cli.host.user.clone().unwrap_or_else(|| "unknown".into());
            let rt = runtime()?;
            let released = rt.block_on(async {
                let aws =
                    AwsContext::new(&loaded.config.environment, &cli.endpoint_override()).await;
                crate::release::store::Store::new(&aws, &loaded.config)
                    .force_unlock(&who, &cli.trace_id)
                    .await
            })?;
            let text = match &released {
                Some(holder) => format!(
                    "released the lock of `{env}`: {} (recorded as forced by {who})\n",
                    holder.describe()
                ),
                None => format!("`{env}` was not locked\n"),
            };
            let text = if cli.output == report::OutputFormat::Json {
                let mut t = serde_json::to_string_pretty(&serde_json::json!({"environment": env, "released": released, "forced_by": who})).unwrap_or_default();
                t.push('\n');
                t
            } else {
                text
            };
            Ok((text, Exit::Ok))
        }
        Command::Promote {
            from,
            to,
            yes,
            tag,
            skip_wait,
        } => promote(cli, from, to, *yes, tag.clone(), *skip_wait),
        Command::Rollback { to, yes } => rollback(cli, to.as_deref(), *yes),
        Command::Traffic {
            command,
            service,
            window_minutes,
        } => {
            use crate::services::traffic;
            let loaded = load(cli)?;
            let config = &loaded.config;
            let name = match (command, service) {
                (Some(TrafficCommand::Set { service, .. }), _)
                | (Some(TrafficCommand::Promote { service }), _)
                | (Some(TrafficCommand::Abort { service }), _)
                | (None, Some(service)) => service,
                (None, None) => {
                    return Err(Error::Usage {
                        message: "which service?".into(),
                        help: "`facturactl traffic --env E SERVICE`, or `traffic set|promote|abort SERVICE`".into(),
                    });
                }
            };
            traffic::function_of(config, name)?;
            let rt = runtime()?;
            let report = rt.block_on(async {
                let aws = AwsContext::new(&config.environment, &cli.endpoint_override()).await;
                let changed = match command {
                    Some(TrafficCommand::Set {
                        variant, percent, ..
                    }) => Some(traffic::set(&aws, config, name, variant, *percent).await?),
                    Some(TrafficCommand::Promote { .. }) => {
                        Some(traffic::promote(&aws, config, name).await?)
                    }
                    Some(TrafficCommand::Abort { .. }) => {
                        Some(traffic::abort(&aws, config, name).await?)
                    }
                    None => None,
                };
                let mut report = traffic::show(&aws, config, name, *window_minutes).await?;
                report.changed = changed;
                Ok::<_, Error>(report)
            })?;
            Ok((present(cli, &report::TrafficView(&report)), Exit::Ok))
        }
        Command::Notify {
            stage,
            result,
            message,
            duration_seconds,
            version,
        } => {
            let loaded = load(cli)?;
            if !stage
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                || stage.is_empty()
            {
                return Err(Error::Usage {
                    message: format!("`{stage}` is not a stage name"),
                    help: "use lowercase letters, digits and dashes, as `build` or `integration-tests`".into(),
                });
            }
            let mut origin = origin(cli, &loaded, None);
            if version.is_some() {
                origin.version = version.clone();
            }
            let outcome = match result {
                StageResult::Success => crate::notify::Outcome::Succeeded,
                StageResult::Failure => crate::notify::Outcome::Failed,
            };
            let notice = origin.stage_notice(
                stage,
                &loaded.config.environment.name,
                outcome,
                duration_seconds.saturating_mul(1000),
                message.as_deref(),
            );
            let rt = runtime()?;
            let deliveries = rt.block_on(async {
                let aws =
                    AwsContext::new(&loaded.config.environment, &cli.endpoint_override()).await;
                crate::notify::send(&aws, &loaded.config, &notice).await
            });
            warn_undelivered(cli, &deliveries);
            let view = report::NotifyView {
                notice: &notice,
                notifications: &deliveries,
            };
            Ok((
                present(cli, &view),
                notification_exit(Exit::Ok, &deliveries, &loaded.config),
            ))
        }
        Command::Destroy {
            yes,
            max_concurrency,
        } => {
            let loaded = load(cli)?;
            let env = &loaded.config.environment;
            if env.tier == config::Tier::Production {
                return Err(Error::Refused {
                    message: format!("`{}` is a production environment: facturactl never destroys it", env.name),
                    help: "production stacks are removed by hand, one at a time, after their data is archived".into(),
                });
            }
            let rendered = render::render(&loaded)?;
            if !yes && !confirm(&format!("Delete every stack of `{}`?", env.name)) {
                return Err(Error::Refused {
                    message: format!("not confirmed: nothing of `{}` was deleted", env.name),
                    help: "answer `yes` on a terminal, or pass --yes".into(),
                });
            }
            let rt = runtime()?;
            let endpoint = cli.endpoint_override();
            let report = with_progress(&rt, cli, async |progress| {
                let aws = AwsContext::new(env, &endpoint).await;
                let mut report = stacks::destroy::destroy(
                    &aws,
                    &rendered,
                    usize::from(*max_concurrency),
                    progress,
                )
                .await?;
                report.retries = aws.retries.totals();
                Ok::<_, Error>(report)
            })?;
            Ok(deploy_outcome(cli, &report, None))
        }
        Command::Alarms { command } => {
            let (loaded, rendered) = load_checked(cli)?;
            let apply = matches!(command, AlarmsCommand::Apply);
            let endpoint = cli.endpoint_override();
            let rt = runtime()?;
            let report = rt.block_on(async {
                let aws = AwsContext::new(&loaded.config.environment, &endpoint).await;
                crate::alarms::apply::sync(&aws, &loaded.config, &rendered.alarms, apply).await
            })?;
            let exit = match command {
                AlarmsCommand::Plan {
                    detailed_exitcode: true,
                } if report.has_changes() => Exit::Changes,
                _ => Exit::Ok,
            };
            Ok((present(cli, &report::AlarmsView(&report)), exit))
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
            Ok((present(cli, &report), exit))
        }
    }
}

/// The printed result; in a GitHub Actions step its Markdown also goes to the step summary.
fn present<R: report::Report>(cli: &Cli, report: &R) -> String {
    if let Some(step) = &cli.host.github
        && let Err(e) = step.append_summary(&report.markdown())
    {
        tracing::warn!("the step summary could not be written: {e}");
    }
    report::format(report, cli.output)
}

/// Step outputs, in a GitHub Actions step.
fn set_outputs(cli: &Cli, outputs: &[(&str, String)]) {
    if let Some(step) = &cli.host.github
        && let Err(e) = step.set_outputs(outputs)
    {
        tracing::warn!("the step outputs could not be written: {e}");
    }
}

/// What a workflow's later steps need from a deploy, promotion, rollback or destroy.
fn deploy_outputs(
    report: &stacks::deploy::DeployReport,
    exit: Exit,
    version: Option<String>,
) -> Vec<(&'static str, String)> {
    let changed: Vec<&str> = report
        .stacks
        .iter()
        .filter(|s| {
            use stacks::deploy::Action;
            matches!(
                s.action,
                Action::Create | Action::Update | Action::Recreate | Action::Delete
            )
        })
        .map(|s| s.stack.as_str())
        .collect();
    let digests: serde_json::Map<String, serde_json::Value> = report
        .services
        .iter()
        .map(|s| (s.service.clone(), s.artifact.clone().into()))
        .collect();
    vec![
        ("environment", report.environment.clone()),
        ("version", version.unwrap_or_default()),
        ("changed-stacks", changed.join(",")),
        ("digests", serde_json::Value::Object(digests).to_string()),
        ("result", exit_result(exit).to_string()),
    ]
}

/// The word for an exit in outputs and logs.
fn exit_result(exit: Exit) -> &'static str {
    match exit {
        Exit::Ok => "succeeded",
        Exit::Changes => "changes",
        Exit::Warning => "warning",
        Exit::Refused => "refused",
        Exit::Error => "failed",
        Exit::Interrupted => "interrupted",
    }
}

/// `pipeline render`: every definition's workflows, written or (with `check`) compared.
fn render_pipelines(cli: &Cli, check: bool) -> Result<(String, Exit), Error> {
    let root = &cli.project_dir;
    let definitions = crate::pipeline::load_all(root)?;
    let files: Vec<_> = definitions
        .iter()
        .flat_map(crate::pipeline::workflow::render)
        .collect();
    let stale = crate::pipeline::compare(root, &files);
    let mut report = report::PipelineReport {
        check,
        files: files.iter().map(|f| f.path.display().to_string()).collect(),
        stale: stale
            .diffs
            .iter()
            .map(|(p, _)| p.display().to_string())
            .collect(),
        diff: stale.diffs.iter().map(|(_, d)| d.as_str()).collect(),
    };
    if check {
        let exit = if report.stale.is_empty() {
            Exit::Ok
        } else {
            Exit::Changes
        };
        return Ok((present(cli, &report), exit));
    }
    let write = |path: &std::path::Path, text: Option<&str>| {
        let full = root.join(path);
        let result = match text {
            Some(text) => full
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| std::fs::write(&full, text)),
            None => std::fs::remove_file(&full),
        };
        result.map_err(|source| Error::Write { path: full, source })
    };
    for file in &files {
        if report.stale.contains(&file.path.display().to_string()) {
            write(&file.path, Some(&file.text))?;
        }
    }
    for orphan in crate::pipeline::orphans(root, &files) {
        write(&orphan, None)?;
    }
    report.diff.clear();
    Ok((report::format(&report, cli.output), Exit::Ok))
}

/// Loads, renders, and refuses (exit 3) on blocking policy findings: nothing reaches AWS
/// before the environment is valid.
fn load_checked(cli: &Cli) -> Result<(LoadedConfig, render::RenderedEnv), Error> {
    let loaded = load(cli)?;
    let rendered = render::render(&loaded)?;
    refuse_on_policy(&loaded, &rendered)?;
    Ok((loaded, rendered))
}

/// Exit 3 on blocking policy findings.
fn refuse_on_policy(loaded: &LoadedConfig, rendered: &render::RenderedEnv) -> Result<(), Error> {
    let policy = policy::check(&loaded.config, rendered);
    let blocking: Vec<String> = policy
        .findings
        .iter()
        .filter(|f| f.level == policy::Level::Error)
        .map(|f| {
            format!(
                "{}[{}] {}/{}: {}",
                "error", f.rule, f.stack, f.resource, f.message
            )
        })
        .collect();
    if !blocking.is_empty() {
        return Err(Error::Refused {
            message: format!("policy blocks this deploy:\n  {}", blocking.join("\n  ")),
            help: "fix the findings (`facturactl validate` explains each), or add an exception with its reason to [policy] in deploy.toml".into(),
        });
    }
    Ok(())
}

fn run_plan(
    cli: &Cli,
    loaded: &LoadedConfig,
    rendered: &render::RenderedEnv,
    stacks: &[String],
    diff: bool,
) -> Result<stacks::plan::Plan, Error> {
    let only: Option<std::collections::BTreeSet<String>> =
        (!stacks.is_empty()).then(|| stacks.iter().cloned().collect());
    let endpoint = cli.endpoint_override();
    let rt = runtime()?;
    Ok(rt.block_on(async {
        let aws = AwsContext::new(&loaded.config.environment, &endpoint).await;
        stacks::plan::plan(&aws, rendered, only.as_ref(), diff).await
    })?)
}

/// The printed report of a deploy or destroy, and exit 1 when any stack did not succeed.
fn deploy_outcome(
    cli: &Cli,
    report: &stacks::deploy::DeployReport,
    origin: Option<&crate::notify::Origin>,
) -> (String, Exit) {
    let exit = if report.failed() {
        Exit::Error
    } else {
        Exit::Ok
    };
    let version = origin.and_then(|o| o.version.clone().or_else(|| o.commit.clone()));
    set_outputs(cli, &deploy_outputs(report, exit, version));
    (present(cli, &report::DeployView(report)), exit)
}

/// The artifacts of a run: as named (resolved inside the lock), or already resolved.
enum Artifacts {
    Named(std::collections::BTreeMap<String, crate::services::artifact::ArtifactRef>),
}

/// One guarded change to an environment: a deploy or a promotion.
struct Run<'a> {
    action: &'static str,
    loaded: &'a LoadedConfig,
    rendered: &'a render::RenderedEnv,
    options: DeployOptions,
    artifacts: Artifacts,
    /// Identities (digest, CodeSha256) the resolved artifacts must have (promote).
    expected: std::collections::BTreeMap<String, String>,
    skip_wait: bool,
    accepted: crate::release::gate::Accepted,
    /// The record a promotion deploys.
    from: Option<String>,
}

impl Run<'_> {
    /// Who and what this run's deployment record is about.
    fn record_input<'r>(
        &'r self,
        origin: &'r crate::notify::Origin,
        trace_id: &'r str,
    ) -> crate::release::RecordInput<'r> {
        crate::release::RecordInput {
            action: self.action,
            commit: origin.commit.clone(),
            tag: origin.version.clone(),
            who: &origin.who,
            trace_id,
            from: self.from.clone(),
        }
    }
}

/// Says when the deploy lock could not be released, or was no longer this run's.
fn warn_unreleased(released: &Result<bool, crate::error::AwsError>) {
    match released {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            "the deploy lock was no longer this run's (it expired and another run took it over): check `facturactl status` before deploying again"
        ),
        Err(e) => tracing::warn!(
            "the deploy lock was not released ({e}); it expires by itself, or run `facturactl unlock`"
        ),
    }
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM (a cancelled CI job): the caller stops, releases
/// the deploy lock and says what may be half-done.
async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Lock, deploy (stacks, alarms, services), record, unlock, notify. Ctrl-C releases the
/// lock and says what may be half-done (exit 130).
fn execute(cli: &Cli, run: Run<'_>) -> Result<(String, Exit), Error> {
    use crate::release::store::Store;
    let config = &run.loaded.config;
    let rt = runtime()?;
    let aws = rt.block_on(AwsContext::new(
        &config.environment,
        &cli.endpoint_override(),
    ));
    let store = Store::new(&aws, config);
    let origin = origin(cli, run.loaded, Some(&run.accepted));
    let lock = rt.block_on(crate::release::lock(
        &store,
        config,
        &origin.who,
        &cli.trace_id,
        run.action,
    ))?;
    let started = Instant::now();
    let started_at = std::time::SystemTime::now();
    // The lock is renewed alongside the work and stopped (not dropped) when it ends, so no
    // renewal can land after the release.
    let (stop_renewing, renewing) = tokio::sync::watch::channel(false);
    let outcome = rt.block_on(async {
        let work = async {
            let outcome = tokio::select! {
                result = deploy_locked(cli, &aws, &store, &run, &origin) => Some(result),
                _ = interrupted() => None,
            };
            let _ = stop_renewing.send(true);
            outcome
        };
        let (outcome, ()) = tokio::join!(
            work,
            crate::release::keep_alive(&store, &lock, config, renewing)
        );
        outcome
    });
    let Some(result) = outcome else {
        let released = rt.block_on(store.unlock(&lock));
        warn_unreleased(&released);
        let lock_state = if matches!(released, Ok(true)) {
            "the deploy lock was released"
        } else {
            "the deploy lock could not be released (it expires by itself)"
        };
        let tally = cli.tally.lock().map(|t| t.summary()).unwrap_or_default();
        let tally = if tally.is_empty() {
            "nothing had started".to_string()
        } else {
            tally
        };
        return Err(Error::Interrupted {
            message: format!(
                "{} of `{}` interrupted (SIGINT or SIGTERM); {lock_state}; no record was written\n{tally}",
                run.action, config.environment.name
            ),
            help: "stacks finish or roll back on their own in CloudFormation; a service may be mid-rollout: check with `facturactl status` and deploy again or `facturactl rollback`".into(),
        });
    };
    // Still under the lock: a run that erred is recorded before anyone else may deploy.
    // Refusals (alarm gates, changed artifacts) changed nothing and leave no record.
    if let Err(error) = &result
        && !matches!(error, Error::Refused { .. })
    {
        let record = crate::release::error_record(
            run.record_input(&origin, &cli.trace_id),
            &config.environment.name,
            &error.to_string(),
            rt.block_on(store.current()).ok().flatten().as_ref(),
        );
        if let Err(e) = rt.block_on(store.put_record(&record)) {
            tracing::warn!("the failed deploy's record could not be written: {e}");
        }
    }
    let notice = match &result {
        Ok(report) => origin.deploy_notice(report),
        Err(error) => origin.error_notice(
            run.action,
            &config.environment.name,
            &error.to_string(),
            started.elapsed().as_millis() as u64,
        ),
    };
    // Releasing the lock and telling people do not wait for each other.
    let (released, mut deliveries, marked) = rt.block_on(async {
        tokio::join!(
            store.unlock(&lock),
            crate::notify::send(&aws, config, &notice),
            crate::notify::sentry::mark(&aws, config, &notice, started_at)
        )
    });
    deliveries.extend(marked);
    warn_unreleased(&released);
    warn_undelivered(cli, &deliveries);
    let mut report = result?;
    report.notifications = deliveries;
    report.retries = aws.retries.totals();
    let (text, exit) = deploy_outcome(cli, &report, Some(&origin));
    Ok((text, notification_exit(exit, &report.notifications, config)))
}

/// The deploy itself, under the lock: artifacts resolved and alarm gates checked before
/// anything changes, then stacks, alarms, services, and the record.
async fn deploy_locked(
    cli: &Cli,
    aws: &AwsContext,
    store: &crate::release::store::Store<'_>,
    run: &Run<'_>,
    origin: &crate::notify::Origin,
) -> Result<stacks::deploy::DeployReport, Error> {
    let config = &run.loaded.config;
    let Artifacts::Named(wanted) = &run.artifacts;
    let resolved = prepare_rollouts(aws, run.loaded, run.rendered, wanted).await?;
    for (service, identity) in &run.expected {
        let found = resolved.get(service).map(|a| a.identity());
        if found != Some(identity.as_str()) {
            return Err(Error::Refused {
                message: format!(
                    "`{service}`: the artifact found is {}, not the {identity} the source environment runs",
                    found.unwrap_or("missing")
                ),
                help: "the promoted bytes must be the tested ones: deploy the source environment again, then promote".into(),
            });
        }
    }
    let rollout = crate::services::RolloutOptions {
        skip_wait: run.skip_wait,
        trace_id: cli.trace_id.clone(),
        ..Default::default()
    };
    let partial = run.options.only.is_some();
    // The current record (what the new one carries over) is read while the stacks deploy.
    let (report, current) = tokio::join!(
        progress_scope(cli, async |progress| {
            // The alarms are read while the stacks deploy (one round trip saved).
            let (report, live_alarms) = tokio::join!(
                stacks::deploy::deploy(aws, run.rendered, &run.options, progress),
                crate::alarms::apply::live_alarms(aws, config)
            );
            let mut report = report?;
            // Alarms follow a complete, successful deploy: they notify the alerts stack's
            // topics and watch what the other stacks created.
            if !report.failed() && !partial {
                let live = live_alarms?;
                report.alarms = Some(
                    crate::alarms::apply::sync_with(aws, config, &run.rendered.alarms, &live, true)
                        .await?,
                );
            }
            // Services follow their stacks: none rolls out past a failed stack.
            if !report.failed() && !resolved.is_empty() {
                report.services = crate::services::roll_out_all(
                    aws,
                    config,
                    &run.rendered.alarms,
                    &resolved,
                    &rollout,
                    progress,
                )
                .await;
            }
            Ok::<_, crate::error::AwsError>(report)
        }),
        store.current()
    );
    let mut report = report?;
    let current = current?;
    let previous = current.as_ref();
    report.operation = run.action;
    if report.failed() || partial {
        report.alarms_note = Some(if partial {
            "alarms not applied: a partial deploy (--stack); run `facturactl alarms apply`".into()
        } else {
            "alarms not applied: a stack failed".into()
        });
    }
    let packages = crate::release::keep_packages(store, &resolved).await?;
    let hashes = run
        .rendered
        .stacks
        .iter()
        .map(|s| (s.name.clone(), s.hash.clone()))
        .collect();
    let record = crate::release::record_of(
        run.record_input(origin, &cli.trace_id),
        &report,
        &hashes,
        &resolved,
        &packages,
        previous,
    );
    store.put_record(&record).await?;
    report.record = Some(record.id);
    Ok(report)
}

/// The release gate for this environment (exit 3 on refusal), before any AWS call.
fn gate(
    cli: &Cli,
    loaded: &LoadedConfig,
    tag: Option<String>,
    commit: Option<String>,
) -> Result<crate::release::gate::Accepted, Error> {
    let input = crate::release::gate::GateInput {
        github_sha: cli.host.github_sha.clone(),
        github_tag: cli.host.github_tag.clone(),
        tag,
        commit,
        may_fetch: cli.host.in_ci,
    };
    crate::release::gate::check(&loaded.config, &loaded.root, &input).map_err(|r| Error::Refused {
        message: format!(
            "release gate of `{}`: {}",
            loaded.config.environment.name, r.message
        ),
        help: r.help,
    })
}

/// The artifacts named by `--image`, `--package` and `--artifacts`, checked against the
/// config (no AWS call yet). A service named twice is an error.
fn artifact_refs(
    loaded: &LoadedConfig,
    images: &[String],
    packages: &[String],
    file: Option<&std::path::Path>,
) -> Result<std::collections::BTreeMap<String, crate::services::artifact::ArtifactRef>, Error> {
    use crate::services::artifact::{self, ArtifactRef};
    let mut refs = match file {
        Some(path) => artifact::read_file(path)?,
        None => Default::default(),
    };
    let named = images
        .iter()
        .map(|text| {
            let (service, image) = artifact::parse_assignment(text)?;
            Ok((service, ArtifactRef::Image(artifact::parse_image(&image)?)))
        })
        .chain(packages.iter().map(|text| {
            let (service, package) = artifact::parse_assignment(text)?;
            let source = artifact::parse_package(&package, std::path::Path::new(""))?;
            Ok((service, ArtifactRef::Package(source)))
        }));
    for entry in named {
        let (service, reference) = entry.map_err(Error::Artifact)?;
        if refs.insert(service.clone(), reference).is_some() {
            return Err(Error::Usage {
                message: format!("service `{service}` is given two artifacts"),
                help: "name each service once, in --image, --package or the artifacts file".into(),
            });
        }
    }
    artifact::check(&loaded.config, &refs)?;
    Ok(refs)
}

/// Resolves the artifacts (tags to digests, packages to hashes) and refuses (exit 3) when a
/// service set to `when_alarm_firing = "block"` has an alarm firing. Nothing has changed yet.
async fn prepare_rollouts(
    aws: &AwsContext,
    loaded: &LoadedConfig,
    rendered: &render::RenderedEnv,
    wanted: &std::collections::BTreeMap<String, crate::services::artifact::ArtifactRef>,
) -> Result<std::collections::BTreeMap<String, crate::services::artifact::Artifact>, Error> {
    if wanted.is_empty() {
        return Ok(Default::default());
    }
    let resolved = crate::services::artifact::resolve(aws, &loaded.config, wanted).await?;
    let blocked = crate::services::blocked_by_alarms(
        aws,
        &loaded.config,
        &rendered.alarms,
        resolved.keys().map(String::as_str),
    )
    .await?;
    if !blocked.is_empty() {
        let list: Vec<String> = blocked
            .iter()
            .map(|(service, alarm)| format!("{service}: alarm {alarm} is in ALARM"))
            .collect();
        return Err(Error::Refused {
            message: format!("alarms are firing, nothing was deployed:\n  {}", list.join("\n  ")),
            help: "look at the alarm first; if this deploy is the fix, set `when_alarm_firing = \"proceed\"` in the service's rollout settings".into(),
        });
    }
    Ok(resolved)
}

/// Who and what a notification is about: the user, the trace id, the commit and tag (what
/// the release gate accepted, else GitHub Actions' variables, else the checkout), the run.
fn origin(
    cli: &Cli,
    loaded: &LoadedConfig,
    accepted: Option<&crate::release::gate::Accepted>,
) -> crate::notify::Origin {
    let host = &cli.host;
    let repo = crate::git::Repo::new(&loaded.root);
    let commit = accepted
        .and_then(|a| a.commit.clone())
        .or_else(|| host.github_sha.clone())
        .or_else(|| repo.commit_of("HEAD"));
    let version = accepted
        .and_then(|a| a.tag.clone())
        .or_else(|| host.github_tag.clone())
        .or_else(|| {
            commit
                .as_deref()
                .and_then(|c| repo.tags_at(c).into_iter().next())
        });
    crate::notify::Origin {
        who: host.user.clone().unwrap_or_else(|| "unknown".into()),
        trace_id: cli.trace_id.clone(),
        commit,
        version,
        link: host.run_url.clone(),
    }
}

/// A warning on stderr for each channel not reached (the report lists them too).
fn warn_undelivered(cli: &Cli, deliveries: &[crate::notify::Delivery]) {
    for warning in crate::notify::failures(deliveries) {
        tracing::warn!(result = "warning", "{warning}");
        if cli.host.github.is_some() {
            let line = crate::github::annotation(
                crate::github::Level::Warning,
                None,
                "facturactl: notification not delivered",
                &warning,
            );
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }
}

/// A failed notification never fails the operation; it turns a success into exit 4 only
/// when `notifications.warning_exit` asks for it.
fn notification_exit(
    exit: Exit,
    deliveries: &[crate::notify::Delivery],
    config: &config::Config,
) -> Exit {
    if exit == Exit::Ok && config.notifications.warning_exit && deliveries.iter().any(|d| !d.sent) {
        Exit::Warning
    } else {
        exit
    }
}

/// Before a deploy that would replace or remove resources: on a terminal, show them and ask;
/// without one, refuse in production (exit 3) and go on elsewhere. Only planned when it can
/// matter, so a CI deploy to staging costs no extra call.
fn confirm_destructive(
    cli: &Cli,
    loaded: &LoadedConfig,
    rendered: &render::RenderedEnv,
    stacks: &[String],
    production: bool,
) -> Result<(), Error> {
    use std::io::IsTerminal;
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if !interactive && !production {
        return Ok(());
    }
    let plan = run_plan(cli, loaded, rendered, stacks, false)?;
    let destructive: Vec<String> = plan
        .stacks
        .iter()
        .flat_map(|s| {
            s.resources
                .iter()
                .filter(|r| {
                    r.action == "Remove"
                        || matches!(r.replacement.as_deref(), Some("True" | "Conditional"))
                })
                .map(move |r| {
                    let what = if r.action == "Remove" {
                        "delete"
                    } else {
                        "replace"
                    };
                    format!("{what} {}/{} ({})", s.stack, r.logical_id, r.resource_type)
                })
        })
        .collect();
    if destructive.is_empty() {
        return Ok(());
    }
    let list = destructive.join("\n  ");
    if interactive {
        eprintln!("This deploy would:\n  {list}");
        if confirm("Go on?") {
            return Ok(());
        }
        return Err(Error::Refused {
            message: "not confirmed: nothing was deployed".into(),
            help: "review the plan with `facturactl plan --diff`".into(),
        });
    }
    Err(Error::Refused {
        message: format!("this production deploy would:\n  {list}"),
        help: "review it with `facturactl plan --env production --diff`, then pass --yes (and --allow-data-replacement for databases and buckets)".into(),
    })
}

/// Asks on the terminal; without one (CI, a pipe) the answer is no.
fn confirm(question: &str) -> bool {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return false;
    }
    eprint!("{question} Type `yes` to go on: ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).is_ok() && answer.trim() == "yes"
}

fn check_stack_names(rendered: &render::RenderedEnv, names: &[String]) -> Result<(), Error> {
    match names
        .iter()
        .find(|n| !rendered.stacks.iter().any(|s| &s.name == *n))
    {
        None => Ok(()),
        Some(unknown) => Err(Error::Usage {
            message: format!("`{unknown}` is not an enabled stack of this environment"),
            help: format!(
                "stacks: {}",
                rendered
                    .stacks
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Usage {
            message: format!("cannot start the async runtime: {e}"),
            help: "check the process limits (threads, file descriptors)".into(),
        })
}

/// Renders progress events as lines on stderr while `work` runs.
/// On a terminal (text logs), a live view redrawn in place; elsewhere one line per event.
fn with_progress<T>(
    rt: &tokio::runtime::Runtime,
    cli: &Cli,
    work: impl AsyncFnOnce(&ProgressSink) -> T,
) -> T {
    rt.block_on(progress_scope(cli, work))
}

async fn progress_scope<T>(cli: &Cli, work: impl AsyncFnOnce(&ProgressSink) -> T) -> T {
    let style = cli.progress;
    {
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
        let printer = tokio::spawn(async move {
            match style {
                ProgressStyle::Lines => {
                    while let Some(event) = receiver.recv().await {
                        let line = report::progress_line(&event);
                        let mut stderr = std::io::stderr().lock();
                        let _ = writeln!(stderr, "{line}");
                    }
                    return;
                }
                ProgressStyle::GithubGroups => {
                    let mut groups = crate::github::Groups::default();
                    while let Some(event) = receiver.recv().await {
                        if let Some(text) = groups.apply(&event) {
                            let _ = std::io::stderr().lock().write_all(text.as_bytes());
                        }
                    }
                    let rest = groups.flush();
                    let _ = std::io::stderr().lock().write_all(rest.as_bytes());
                    return;
                }
                ProgressStyle::Live => {}
            }
            let mut view = crate::terminal::LiveView::default();
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
            loop {
                tokio::select! {
                    event = receiver.recv() => match event {
                        Some(event) => view.apply(&event, std::time::Instant::now()),
                        None => break,
                    },
                    _ = tick.tick() => {}
                }
                let frame = view.frame(std::time::Instant::now());
                let _ = std::io::stderr().lock().write_all(frame.as_bytes());
            }
            let frame = view.frame(std::time::Instant::now());
            let _ = std::io::stderr().lock().write_all(frame.as_bytes());
        });
        let sink = ProgressSink::new(sender, cli.tally.clone());
        let result = work(&sink).await;
        drop(sink);
        let _ = printer.await;
        result
    }
}

fn load(cli: &Cli) -> Result<LoadedConfig, Error> {
    let env = cli.env.as_deref().ok_or_else(|| Error::Usage {
        message: "this command needs an environment".into(),
        help: "pass --env local, --env staging or --env production".into(),
    })?;
    load_env(cli, env)
}

fn load_env(cli: &Cli, env: &str) -> Result<LoadedConfig, Error> {
    let rule_ids = policy::rule_ids();
    Ok(config::load(&cli.project_dir, env, &rule_ids)?)
}

/// `audit drift` and `audit alarms`: exit 2 when anything is found.
fn audit(cli: &Cli, command: &AuditCommand) -> Result<(String, Exit), Error> {
    use crate::audit::{AuditReport, drift};
    let loaded = load(cli)?;
    let rendered = render::render(&loaded)?;
    let config = &loaded.config;
    let (name, stacks, notify, stale_hours) = match command {
        AuditCommand::Drift {
            stacks,
            notify,
            stale_hours,
        } => ("drift", stacks.as_slice(), *notify, *stale_hours),
        AuditCommand::Alarms {
            notify,
            stale_hours,
        } => ("alarms", &[][..], *notify, *stale_hours),
    };
    check_stack_names(&rendered, stacks)?;
    let stale = std::time::Duration::from_secs(stale_hours.saturating_mul(3600));
    let rt = runtime()?;
    let started = Instant::now();
    let (report, deliveries) = rt.block_on(async {
        let aws = AwsContext::new(&config.environment, &cli.endpoint_override()).await;
        let mut report = AuditReport::new(name, &config.environment.name);
        if name == "drift" {
            let options = drift::DriftOptions {
                only: (!stacks.is_empty()).then(|| stacks.iter().cloned().collect()),
                ..Default::default()
            };
            let store = crate::release::store::Store::new(&aws, config);
            let (record, stack_result) = tokio::join!(
                store.current(),
                drift::stacks(&aws, config, &rendered, &options, &mut report)
            );
            stack_result?;
            if stacks.is_empty() {
                drift::services(&aws, config, &rendered, record?.as_ref(), &mut report).await?;
            }
        }
        if name == "alarms" || stacks.is_empty() {
            crate::audit::alarms::audit(&aws, config, &rendered.alarms, stale, &mut report).await?;
        }
        report.sort();
        let mut deliveries = Vec::new();
        if notify && !report.clean() {
            let summary: Vec<String> = report
                .findings
                .iter()
                .take(20)
                .map(|f| {
                    format!(
                        "[{}] {}: {} (expected {}, found {})",
                        f.severity.as_str(),
                        f.resource,
                        f.kind,
                        f.expected,
                        f.actual
                    )
                })
                .collect();
            let mut notice = origin(cli, &loaded, None).stage_notice(
                &format!("{name} audit"),
                &config.environment.name,
                crate::notify::Outcome::Failed,
                started.elapsed().as_millis() as u64,
                Some(&format!("{} findings", report.findings.len())),
            );
            notice.changes = summary;
            deliveries = crate::notify::send(&aws, config, &notice).await;
            warn_undelivered(cli, &deliveries);
        }
        Ok::<_, crate::error::AwsError>((report, deliveries))
    })?;
    let exit = if report.clean() {
        Exit::Ok
    } else {
        Exit::Changes
    };
    let view = report::AuditView {
        report: &report,
        notifications: &deliveries,
    };
    Ok((present(cli, &view), exit))
}

/// `promote --from A --to B`: B gets exactly what A's last deploy recorded.
fn promote(
    cli: &Cli,
    from: &str,
    to: &str,
    yes: bool,
    tag: Option<String>,
    skip_wait: bool,
) -> Result<(String, Exit), Error> {
    use crate::services::artifact::{self, ArtifactRef};
    if from == to {
        return Err(Error::Usage {
            message: format!("cannot promote `{from}` to itself"),
            help: "promote --from staging --to production".into(),
        });
    }
    let source = load_env(cli, from)?;
    let target = load_env(cli, to)?;
    let rendered = render::render(&target)?;
    refuse_on_policy(&target, &rendered)?;
    let rt = runtime()?;
    let last = rt.block_on(async {
        let aws = AwsContext::new(&source.config.environment, &cli.endpoint_override()).await;
        let store = crate::release::store::Store::new(&aws, &source.config);
        Ok::<_, crate::error::AwsError>(store.records(Some(1)).await?.pop())
    })?;
    let refuse = |message: String, help: &str| Error::Refused {
        message,
        help: help.to_string(),
    };
    let Some(record) = last else {
        return Err(refuse(
            format!("`{from}` has no deployment record to promote"),
            "deploy it first",
        ));
    };
    if !record.succeeded() {
        return Err(refuse(
            format!(
                "`{from}`'s last deploy ({}, {}) failed: nothing is promoted from a failed release",
                record.id, record.at
            ),
            &format!("fix and deploy `{from}` again, then promote"),
        ));
    }
    let Some(commit) = record.commit.clone() else {
        return Err(refuse(
            format!("`{from}`'s last deploy ({}) recorded no commit", record.id),
            "deploy it from a git checkout",
        ));
    };
    // The target's gate, for the commit the source runs: its release tag must point there.
    let accepted = gate(cli, &target, tag, Some(commit.clone()))?;
    let mut wanted = std::collections::BTreeMap::new();
    let mut expected = std::collections::BTreeMap::new();
    for (service, entry) in &record.services {
        if !target
            .config
            .services
            .get(service)
            .is_some_and(|s| s.enabled)
        {
            continue; // not part of the target environment
        }
        let (reference, identity) = match (entry.runtime.as_str(), &entry.image, &entry.package) {
            ("ecs", Some(image), _) => (
                ArtifactRef::Image(artifact::parse_image(image)?),
                entry.digest.clone(),
            ),
            ("lambda", _, Some(package)) => (
                ArtifactRef::Package(artifact::parse_package(package, std::path::Path::new(""))?),
                entry.code_sha256.clone(),
            ),
            ("lambda", Some(image), None) => {
                (ArtifactRef::Image(artifact::parse_image(image)?), None)
            }
            _ => {
                return Err(refuse(
                    format!(
                        "`{from}` records no artifact location for `{service}`: it cannot be promoted"
                    ),
                    &format!(
                        "deploy `{service}` to `{from}` again with this version of facturactl, then promote"
                    ),
                ));
            }
        };
        wanted.insert(service.clone(), reference);
        if let Some(identity) = identity {
            expected.insert(service.clone(), identity);
        }
    }
    artifact::check(&target.config, &wanted)?;
    let production = target.config.environment.tier == config::Tier::Production;
    let mut summary = format!(
        "Promote `{from}` ({}, commit {}) to `{to}`:\n",
        record.id,
        &commit[..commit.len().min(12)]
    );
    for (service, reference) in &wanted {
        let what = match reference {
            ArtifactRef::Image(_) => record.services[service].image.clone().unwrap_or_default(),
            ArtifactRef::Package(_) => record.services[service]
                .code_sha256
                .clone()
                .unwrap_or_default(),
        };
        summary.push_str(&format!("  {service}: {what}\n"));
    }
    eprint!("{summary}");
    if !yes {
        if !confirm("Go on?") {
            return Err(refuse(
                format!("not confirmed: nothing was promoted to `{to}`"),
                "answer `yes` on a terminal, or pass --yes in CI",
            ));
        }
        confirm_destructive(cli, &target, &rendered, &[], production)?;
    }
    let run = Run {
        action: "promote",
        loaded: &target,
        rendered: &rendered,
        options: DeployOptions {
            protect_data: production,
            ..DeployOptions::default()
        },
        artifacts: Artifacts::Named(wanted),
        expected,
        skip_wait,
        accepted,
        from: Some(format!("{from}/{}", record.id)),
    };
    execute(cli, run)
}

/// `rollback`: services back to an earlier successful release, from the records.
fn rollback(cli: &Cli, to: Option<&str>, yes: bool) -> Result<(String, Exit), Error> {
    use crate::services::Restore;
    let loaded = load(cli)?;
    let rendered = render::render(&loaded)?;
    let config = &loaded.config;
    let env = &config.environment.name;
    let rt = runtime()?;
    let aws = rt.block_on(AwsContext::new(
        &config.environment,
        &cli.endpoint_override(),
    ));
    let store = crate::release::store::Store::new(&aws, config);
    let records = rt.block_on(store.records(None))?;
    let good: Vec<&crate::release::record::Record> =
        records.iter().filter(|r| r.succeeded()).collect();
    let Some(current) = good.last().copied() else {
        return Err(Error::Refused {
            message: format!("`{env}` has no successful release to roll back from"),
            help: "deploy it first".into(),
        });
    };
    let target = match to {
        Some(wanted) => good
            .iter()
            .rev()
            .find(|r| r.id == wanted || r.tag.as_deref() == Some(wanted))
            .copied(),
        None => good
            .iter()
            .rev()
            .find(|r| r.services != current.services)
            .copied(),
    };
    let Some(target) = target else {
        return Err(Error::Refused {
            message: match to {
                Some(wanted) => format!("no successful release `{wanted}` in `{env}`'s records"),
                None => format!(
                    "no earlier release of `{env}` runs different services than the current one ({})",
                    current.id
                ),
            },
            help: format!("`facturactl history --env {env}` lists the releases"),
        });
    };
    let mut targets = std::collections::BTreeMap::new();
    for (service, entry) in &target.services {
        if current.services.get(service) == Some(entry)
            || !config.services.get(service).is_some_and(|s| s.enabled)
        {
            continue;
        }
        let restore = match (
            entry.runtime.as_str(),
            &entry.image,
            &entry.version,
            &entry.code_sha256,
        ) {
            ("ecs", Some(image), _, _) => Restore::Image(image),
            ("lambda", _, Some(version), Some(sha)) => Restore::Version {
                version,
                code_sha256: sha,
            },
            _ => continue,
        };
        targets.insert(service.clone(), restore);
    }
    eprintln!(
        "Roll `{env}` back from {} to {} ({}): {}",
        current.id,
        target.id,
        target.tag.as_deref().unwrap_or("untagged"),
        targets.keys().cloned().collect::<Vec<_>>().join(", ")
    );
    if !yes && config.environment.tier == config::Tier::Production && !confirm("Go on?") {
        return Err(Error::Refused {
            message: "not confirmed: nothing was rolled back".into(),
            help: "answer `yes` on a terminal, or pass --yes".into(),
        });
    }
    let who = cli.host.user.clone().unwrap_or_else(|| "unknown".into());
    let lock = rt.block_on(crate::release::lock(
        &store,
        config,
        &who,
        &cli.trace_id,
        "rollback",
    ))?;
    let started = Instant::now();
    let options = crate::services::RolloutOptions {
        skip_wait: true,
        trace_id: cli.trace_id.clone(),
        ..Default::default()
    };
    let (stop_renewing, renewing) = tokio::sync::watch::channel(false);
    let outcome = rt.block_on(async {
        let work = async {
            let outcome = tokio::select! {
                reports = progress_scope(cli, async |progress| {
                    crate::services::restore_all(&aws, config, &rendered.alarms, &targets, &options, progress).await
                }) => Some(reports),
                _ = interrupted() => None,
            };
            let _ = stop_renewing.send(true);
            outcome
        };
        let (outcome, ()) = tokio::join!(
            work,
            crate::release::keep_alive(&store, &lock, config, renewing)
        );
        outcome
    });
    let finished = async {
        let Some(services) = outcome else {
            return Err(Error::Interrupted {
                message: format!("rollback of `{env}` interrupted; the deploy lock was released"),
                help: "run the rollback again".into(),
            });
        };
        let mut report = stacks::deploy::DeployReport::new(
            "rollback",
            env,
            Vec::new(),
            started.elapsed().as_millis() as u64,
        );
        report.services = services;
        let mut record = crate::release::record_of(
            crate::release::RecordInput {
                action: "rollback",
                commit: target.commit.clone(),
                tag: target.tag.clone(),
                who: &who,
                trace_id: &cli.trace_id,
                from: Some(target.id.clone()),
            },
            &report,
            &std::collections::BTreeMap::new(),
            &std::collections::BTreeMap::new(),
            &std::collections::BTreeMap::new(),
            Some(current),
        );
        // Lambda entries keep the target's package, for a later promotion.
        for (service, entry) in record.services.iter_mut() {
            if let Some(t) = target.services.get(service)
                && entry.code_sha256 == t.code_sha256
            {
                entry.package = t.package.clone();
            }
        }
        store.put_record(&record).await?;
        report.record = Some(record.id);
        Ok(report)
    };
    let result = rt.block_on(finished);
    warn_unreleased(&rt.block_on(store.unlock(&lock)));
    let mut report = result?;
    let origin = crate::notify::Origin {
        who: who.clone(),
        trace_id: cli.trace_id.clone(),
        commit: target.commit.clone(),
        version: target.tag.clone(),
        link: cli.host.run_url.clone(),
    };
    let notice = origin.deploy_notice(&report);
    let started_at = std::time::SystemTime::now()
        .checked_sub(std::time::Duration::from_millis(report.duration_ms))
        .unwrap_or_else(std::time::SystemTime::now);
    let (mut deliveries, marked) = rt.block_on(async {
        tokio::join!(
            crate::notify::send(&aws, config, &notice),
            crate::notify::sentry::mark(&aws, config, &notice, started_at)
        )
    });
    deliveries.extend(marked);
    report.notifications = deliveries;
    report.retries = aws.retries.totals();
    warn_undelivered(cli, &report.notifications);
    let (text, exit) = deploy_outcome(cli, &report, Some(&origin));
    Ok((text, notification_exit(exit, &report.notifications, config)))
}
