//! The command line: the global options, and one file per command holding its clap types,
//! the typed request of its use case (`commands::<name>::Request`) and how it runs and is
//! presented. A command is declared once, in the list below; its action name (for the
//! logs and the JSON document) comes from `report::contract::Document`. No run state lives
//! here.

mod alarms;
mod audit;
mod bootstrap;
mod config;
mod deploy;
mod destroy;
mod history;
mod manual;
mod model;
mod notify;
mod outputs;
mod pipeline;
mod plan;
mod preflight;
mod promote;
mod release;
mod render;
mod retrain;
mod rollback;
mod schema;
mod status;
mod traffic;
mod unlock;
mod validate;
mod verify;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use clap_complete::engine::ArgValueCompleter;

use super::complete;
use super::console::Presenter;
use crate::commands::Session;
use crate::error::Error;
use crate::exit::Exit;
use crate::logging::{ColorChoice, LogFormat};
use crate::report::OutputFormat;
use crate::report::contract::Document;

#[derive(Debug, Parser)]
#[command(
    name = "facturactl",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("FACTURACTL_COMMIT"), ")"),
    about = "Deployment control plane of FacturaScan 360: render, validate, deploy, promote and audit",
    after_help = crate::exit::Exit::HELP
)]
pub struct Cli {
    /// Environment: the name of a file in environments/ (local, staging, production).
    #[arg(long, short = 'e', global = true, help_heading = "Global options", add = environments())]
    pub env: Option<String>,

    /// Project directory holding deploy.toml.
    #[arg(
        long,
        short = 'C',
        global = true,
        help_heading = "Global options",
        default_value = "."
    )]
    pub project_dir: PathBuf,

    /// Result format on stdout (`--format` is the same flag).
    #[arg(long, short = 'o', visible_alias = "format", global = true, help_heading = "Global options", value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    /// Log format on stderr.
    #[arg(long, global = true, help_heading = "Global options", value_enum, default_value_t = LogFormat::Auto)]
    pub log_format: LogFormat,

    /// Colour in logs on stderr: auto (a terminal, unless NO_COLOR; CLICOLOR_FORCE forces
    /// it), always or never. The flag wins over the variables.
    #[arg(long, global = true, help_heading = "Global options", value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// More logs: -v debug, -vv trace (including the AWS SDK).
    #[arg(short, long, global = true, help_heading = "Global options", action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// AWS endpoint for every client (overrides AWS_ENDPOINT_URL_<SERVICE>, which overrides
    /// AWS_ENDPOINT_URL, which overrides the environment file's endpoint_url).
    #[arg(long, global = true, help_heading = "Global options")]
    pub endpoint_url: Option<String>,

    /// AWS profile (overrides AWS_PROFILE, which overrides the environment file's
    /// `profile`: what is given for this run wins, and a note says when it differs).
    #[arg(long, global = true, help_heading = "Global options", add = ArgValueCompleter::new(complete::profiles))]
    pub profile: Option<String>,

    /// Region to deploy the environment to, instead of its file's `region` (templates
    /// render for it). AWS_REGION and AWS_DEFAULT_REGION never move an environment: they
    /// are ignored, with a note when they differ.
    #[arg(long, global = true, help_heading = "Global options")]
    pub region: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

/// Completes an environment's name from the project (`environments/*.yaml`).
fn environments() -> ArgValueCompleter {
    ArgValueCompleter::new(complete::environments)
}

/// Completes a stack's name from the project (`deploy.toml`'s `[stacks]`).
fn stacks() -> ArgValueCompleter {
    ArgValueCompleter::new(complete::stacks)
}

/// What a run is, for its logs and its `--output json` document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A command with a JSON document.
    Document(Document),
    /// `completions` and `man` print no JSON.
    Completions,
    Man,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Self::Document(document) => document.command(),
            Self::Completions => "completions",
            Self::Man => "man",
        }
    }
}

/// One command as the command line gives it: what the run is, and running it (the use
/// case, then its presentation: stdout and the exit code).
trait Invocation {
    fn action(&self) -> Action;
    async fn run(
        self,
        session: &Session<'_>,
        show: &Presenter<'_>,
    ) -> Result<(String, Exit), Error>;
}

/// Declares the commands once: the clap enum, and its action and dispatch derived from it.
macro_rules! commands {
    ($( $(#[$attr:meta])* $variant:ident($args:ty), )*) => {
        #[derive(Debug, Subcommand)]
        pub enum Command {
            $( $(#[$attr])* $variant($args), )*
        }

        impl Command {
            pub fn action(&self) -> Action {
                match self {
                    $( Self::$variant(command) => command.action(), )*
                }
            }

            /// Runs the command; returns what to print on stdout and the exit code.
            pub(super) async fn run(
                self,
                session: &Session<'_>,
                show: &Presenter<'_>,
            ) -> Result<(String, Exit), Error> {
                match self {
                    $( Self::$variant(command) => command.run(session, show).await, )*
                }
            }
        }
    };
}

commands! {
    /// Render every stack template, its parameters and hash, and the alarm definitions.
    Render(render::RenderArgs),
    /// Check config, rendering and policy rules; exit 3 when findings block (production).
    Validate(validate::ValidateArgs),
    /// Show what a deploy would change, stack by stack, from change sets (nothing applied).
    Plan(plan::PlanArgs),
    /// Day 0: create the release store (with the promotion grant) and the stacks marked
    /// `bootstrap` (the registry), before any image or package. Safe to run again.
    Bootstrap(bootstrap::BootstrapArgs),
    /// Deploy the environment's stacks in dependency order (independent ones concurrently);
    /// unchanged stacks are skipped without a write.
    Deploy(deploy::DeployArgs),
    /// Delete the environment's stacks, dependents first. Never production.
    Destroy(destroy::DestroyArgs),
    /// CloudWatch alarms from the rendered definitions.
    #[command(subcommand)]
    Alarms(alarms::AlarmsCommand),
    /// Audits for scheduled runs: exit 0 when clean, 2 when findings exist, 1 on error.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// The release gate alone: may this checkout be deployed to the environment? Exit 3
    /// when not, saying which condition failed.
    #[command(subcommand)]
    Release(release::ReleaseCommand),
    /// Read-only checks that the environment can take a deploy: the account, every secret
    /// reference, the images the services run, email subscriptions, the certificate. Exit 3
    /// on a blocking finding; a check that could not run says so.
    Preflight(preflight::PreflightArgs),
    /// What runs in the environment now, from its last successful deployment record.
    Status(status::StatusArgs),
    /// Each enabled stack's CloudFormation outputs as they are now (`--stack` for some).
    Outputs(outputs::OutputsArgs),
    /// Past deploys, promotions and rollbacks of the environment, newest first.
    History(history::HistoryArgs),
    /// Check the environment's current release where it runs ([verify]: smoke requests and
    /// invocations, regression against the baseline, a Locust load test) and record the
    /// result, which `promote` requires. Exit 0 passed, 3 a threshold failed, 1 a check
    /// could not run.
    Verify(verify::VerifyArgs),
    /// Deploy to one environment exactly what another runs (same digests, same code, same
    /// commit), after the target's release gate passes for that commit.
    Promote(promote::PromoteArgs),
    /// Return the services to the previous successful release (or `--to` a record id or
    /// tag), from the records: no stack changes.
    Rollback(rollback::RollbackArgs),
    /// Release a deploy lock left by a dead run (recorded with who forced it).
    Unlock(unlock::UnlockArgs),
    /// A/B splits of Lambda services (alias weights) and of ECS services with a `path`
    /// (target group weights): `traffic SERVICE` shows the split with each side's latency,
    /// error rate and prediction measures; `set`, `promote`, `abort` and `evaluate` change it.
    Traffic(traffic::TrafficArgs),
    /// The model registry: register a model version, list, resolve, set aliases.
    #[command(subcommand)]
    Model(model::ModelCommand),
    /// Run a model's training job now (`[models.<name>.retraining]`) and follow it to the
    /// end; its output becomes a new registered version, deployed only by a deploy. Exit 3
    /// when its input is not what the serving service sends (nothing registered).
    Retrain(retrain::RetrainArgs),
    /// Tell the configured channels how a pipeline stage ended (build, test, ...).
    Notify(notify::NotifyArgs),
    /// Generate the GitHub Actions workflows from pipelines/*.toml.
    #[command(subcommand)]
    Pipeline(pipeline::PipelineCommand),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Print the JSON Schema of a config file (for editors) or of a command's `--output json`
    /// document (for consumers).
    Schema(schema::SchemaArgs),
    /// Print a shell completion script: `facturactl completions bash > /etc/bash_completion.d/facturactl`.
    Completions(manual::CompletionsArgs),
    /// Print the manual page (roff): `facturactl man > facturactl.1`.
    Man(manual::ManArgs),
}
