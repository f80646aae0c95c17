//! The command line: clap types, one struct per command, each turned into the typed request
//! of its use case (`commands::<name>::Request`). No run state lives here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::commands;
use crate::logging::{ColorChoice, LogFormat};
use crate::notify::Verdict;
use crate::report::OutputFormat;
use crate::report::contract::Document;
use crate::schema::SchemaFile;

#[derive(Debug, Parser)]
#[command(
    name = "facturactl",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("FACTURACTL_COMMIT"), ")"),
    about = "Deployment control plane of FacturaScan 360: render, validate, deploy, promote and audit",
    after_help = crate::exit::Exit::HELP
)]
pub struct Cli {
    /// Environment: the name of a file in environments/ (local, staging, production).
    #[arg(long, short = 'e', global = true, help_heading = "Global options")]
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

    /// AWS endpoint for every client (overrides AWS_ENDPOINT_URL and the environment's
    /// endpoint_url; a client whose AWS_ENDPOINT_URL_<SERVICE> is set keeps that one).
    #[arg(long, global = true, help_heading = "Global options")]
    pub endpoint_url: Option<String>,

    /// AWS profile (overrides AWS_PROFILE, which overrides the environment file's
    /// `profile`: what is given for this run wins, and a note says when it differs).
    #[arg(long, global = true, help_heading = "Global options")]
    pub profile: Option<String>,

    /// Region to deploy the environment to, instead of its file's `region` (templates
    /// render for it). AWS_REGION and AWS_DEFAULT_REGION never move an environment: they
    /// are ignored, with a note when they differ.
    #[arg(long, global = true, help_heading = "Global options")]
    pub region: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render every stack template, its parameters and hash, and the alarm definitions.
    Render(RenderArgs),
    /// Check config, rendering and policy rules; exit 3 when findings block (production).
    Validate(ValidateArgs),
    /// Show what a deploy would change, stack by stack, from change sets (nothing applied).
    Plan(PlanArgs),
    /// Day 0: create the release store (with the promotion grant) and the stacks marked
    /// `bootstrap` (the registry), before any image or package. Safe to run again.
    Bootstrap(BootstrapArgs),
    /// Deploy the environment's stacks in dependency order (independent ones concurrently);
    /// unchanged stacks are skipped without a write.
    Deploy(DeployArgs),
    /// Delete the environment's stacks, dependents first. Never production.
    Destroy(DestroyArgs),
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
    /// Read-only checks that the environment can take a deploy: the account, every secret
    /// reference, the images the services run, email subscriptions, the certificate. Exit 3
    /// on a blocking finding; a check that could not run says so.
    Preflight,
    /// What runs in the environment now, from its last successful deployment record.
    Status,
    /// Past deploys, promotions and rollbacks of the environment, newest first.
    History(HistoryArgs),
    /// Deploy to one environment exactly what another runs (same digests, same code, same
    /// commit), after the target's release gate passes for that commit.
    Promote(PromoteArgs),
    /// Return the services to the previous successful release (or `--to` a record id or
    /// tag), from the records: no stack changes.
    Rollback(RollbackArgs),
    /// Release a deploy lock left by a dead run (recorded with who forced it).
    Unlock(UnlockArgs),
    /// A/B splits of Lambda services (alias weights) and of ECS services with a `path`
    /// (target group weights): `traffic SERVICE` shows the split with each side's latency,
    /// error rate and prediction measures; `set`, `promote`, `abort` and `evaluate` change it.
    Traffic(TrafficArgs),
    /// The model registry: register a model version, list, resolve, set aliases.
    Model {
        #[command(subcommand)]
        command: ModelCommand,
    },
    /// Run a model's training job now (`[models.<name>.retraining]`) and follow it to the
    /// end; its output becomes a new registered version, deployed only by a deploy. Exit 3
    /// when its input is not what the serving service sends (nothing registered).
    Retrain(RetrainArgs),
    /// Tell the configured channels how a pipeline stage ended (build, test, ...).
    Notify(NotifyArgs),
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
    /// Print the JSON Schema of a config file (for editors) or of a command's `--output json`
    /// document (for consumers).
    Schema(SchemaArgs),
    /// Print a shell completion script: `facturactl completions bash > /etc/bash_completion.d/facturactl`.
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `facturactl man > facturactl.1`.
    Man,
}

impl Command {
    /// The action's name in logs: `deploy`, `audit.drift`, ...
    pub fn action(&self) -> &'static str {
        match self {
            Self::Render(_) => "render",
            Self::Plan(_) => "plan",
            Self::Deploy(_) => "deploy",
            Self::Destroy(_) => "destroy",
            Self::Bootstrap(_) => "bootstrap",
            Self::Alarms {
                command: AlarmsCommand::Plan { .. },
            } => "alarms.plan",
            Self::Alarms {
                command: AlarmsCommand::Apply,
            } => "alarms.apply",
            Self::Validate(_) => "validate",
            Self::Notify(_) => "notify",
            Self::Release { .. } => "release.check",
            Self::Audit {
                command: AuditCommand::Drift(_),
            } => "audit.drift",
            Self::Audit {
                command: AuditCommand::Alarms(_),
            } => "audit.alarms",
            Self::Status => "status",
            Self::Preflight => "preflight",
            Self::History(_) => "history",
            Self::Promote(_) => "promote",
            Self::Rollback(_) => "rollback",
            Self::Unlock(_) => "unlock",
            Self::Traffic(t) if t.command.is_none() => "traffic.show",
            Self::Traffic(TrafficArgs {
                command: Some(TrafficCommand::Evaluate { .. }),
                ..
            }) => "traffic.evaluate",
            Self::Traffic(_) => "traffic.change",
            Self::Model { command } => command.name(),
            Self::Retrain(a) if a.register_pending => "retrain.pending",
            Self::Retrain(_) => "retrain",
            Self::Pipeline { .. } => "pipeline.render",
            Self::Config { .. } => "config.show",
            Self::Schema(_) => "schema",
            Self::Completions { .. } => "completions",
            Self::Man => "man",
        }
    }
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Write the rendered files into this directory.
    #[arg(long)]
    out: Option<PathBuf>,
}

impl RenderArgs {
    pub fn request(self) -> commands::render::Request {
        commands::render::Request { out: self.out }
    }
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// List the policy rules and why each exists, instead of validating.
    #[arg(long)]
    explain: bool,
}

impl ValidateArgs {
    pub fn request(self) -> commands::validate::Request {
        commands::validate::Request {
            explain: self.explain,
        }
    }
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Only these stacks.
    #[arg(long = "stack", value_name = "STACK")]
    stacks: Vec<String>,
    /// Exit 2 when anything would change.
    #[arg(long)]
    detailed_exitcode: bool,
    /// Include a diff of each template (deployed versus rendered, normalised).
    #[arg(long)]
    diff: bool,
}

impl PlanArgs {
    pub fn request(self) -> commands::plan::Request {
        commands::plan::Request {
            stacks: self.stacks,
            detailed_exitcode: self.detailed_exitcode,
            diff: self.diff,
        }
    }
}

#[derive(Debug, Args)]
pub struct DeployArgs {
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
    /// The model a service serves, from the registry: `scoring=3` or `scoring=champion`.
    /// Resolved (bytes hashed, input schema compared) before anything changes; services
    /// not named keep the model they run. Repeatable.
    #[arg(long = "model", value_name = "SERVICE=VERSION")]
    models: Vec<String>,
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
    /// Deploy a release older (as a semantic version) than the one the environment runs.
    #[arg(long)]
    allow_downgrade: bool,
}

impl DeployArgs {
    pub fn request(self) -> commands::deploy::Request {
        commands::deploy::Request {
            models: self.models,
            stacks: self.stacks,
            max_concurrency: usize::from(self.max_concurrency),
            no_wait: self.no_wait,
            recreate_failed: self.recreate_failed,
            dry_run: self.dry_run,
            yes: self.yes,
            allow_data_replacement: self.allow_data_replacement,
            images: self.images,
            packages: self.packages,
            artifacts: self.artifacts,
            skip_wait: self.skip_wait,
            tag: self.tag,
            allow_downgrade: self.allow_downgrade,
        }
    }
}

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// Stacks deployed at once (independent ones), 1 to 64.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    max_concurrency: u16,
}

impl BootstrapArgs {
    pub fn request(self) -> commands::bootstrap::Request {
        commands::bootstrap::Request {
            max_concurrency: usize::from(self.max_concurrency),
        }
    }
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// Do not ask (required without a terminal).
    #[arg(long)]
    yes: bool,
    /// Stacks deleted at once (independent ones), 1 to 64.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    max_concurrency: u16,
}

impl DestroyArgs {
    pub fn request(self) -> commands::destroy::Request {
        commands::destroy::Request {
            yes: self.yes,
            max_concurrency: usize::from(self.max_concurrency),
        }
    }
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

impl AlarmsCommand {
    pub fn request(self) -> commands::alarms::Request {
        match self {
            Self::Plan { detailed_exitcode } => commands::alarms::Request {
                apply: false,
                detailed_exitcode,
            },
            Self::Apply => commands::alarms::Request {
                apply: true,
                detailed_exitcode: false,
            },
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Register a new version: the artifact (stored once per content), its parameters,
    /// metrics and input schema; prints its number.
    Register {
        /// The model's name, as `fraud-scoring`.
        name: String,
        /// The artifact file (any format the service loads).
        #[arg(long)]
        file: PathBuf,
        /// The input schema: a JSON object of field name to `string`, `number`, `integer`
        /// or `boolean`.
        #[arg(long, value_name = "SCHEMA.json")]
        input: PathBuf,
        /// A training parameter, `key=value` (repeatable).
        #[arg(long = "param", value_name = "KEY=VALUE")]
        params: Vec<String>,
        /// An evaluation metric, `key=number` (repeatable).
        #[arg(long = "metric", value_name = "KEY=NUMBER")]
        metrics: Vec<String>,
        /// Point this alias at the new version, as `candidate`.
        #[arg(long)]
        alias: Option<String>,
    },
    /// Every registered version of a model and its aliases.
    List {
        /// The model's name.
        name: String,
    },
    /// Resolve a version or alias as a deploy would: the artifact's bytes are read and
    /// checked against the registered SHA-256 (exit 3 when they differ).
    Show {
        /// The model's name.
        name: String,
        /// A version number (`3`, `v3`) or an alias (`champion`).
        reference: String,
    },
    /// Point an alias at a version.
    Alias {
        /// The model's name.
        name: String,
        /// The alias, as `champion`.
        alias: String,
        /// The version it points at (versions count from 1).
        #[arg(value_parser = clap::value_parser!(u32).range(1..))]
        version: u32,
    },
}

/// `--variant`: a Lambda version number (`7`) or an ECS task definition revision (`7`,
/// `family:7`), checked before any AWS call.
fn variant_ref(text: &str) -> Result<String, String> {
    let (family, number) = match text.rsplit_once(':') {
        Some((family, number)) => (Some(family), number),
        None => (None, text),
    };
    let family_ok = family.is_none_or(|f| {
        (1..=255).contains(&f.len())
            && f.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    let number_ok = number.parse::<u64>().is_ok_and(|n| n >= 1) && !number.starts_with('+');
    if family_ok && number_ok {
        Ok(text.to_string())
    } else {
        Err("expected a version or revision number, as `7`, or `family:7` for an ECS task definition".into())
    }
}

#[derive(Debug, Args)]
pub struct RetrainArgs {
    /// The model, as `fraud-scoring`.
    pub model: String,
    /// Point this alias at the new version, as `candidate`.
    #[arg(long)]
    pub alias: Option<String>,
    /// Register what an ended run wrote (a scheduled or drift-started run, named by its
    /// ECS task id, or one whose following timed out) instead of starting one.
    #[arg(long, value_name = "RUN")]
    pub register: Option<String>,
    /// Register every ended run not yet a version (scheduled and drift-started runs), oldest
    /// first; `--alias` moves to the newest. For an unattended job after the schedule. Exit
    /// 3 when a run's output is refused, 1 when one could not be read; the others are
    /// registered all the same.
    #[arg(long, conflicts_with = "register")]
    pub register_pending: bool,
}

impl RetrainArgs {
    pub fn pending(self) -> commands::retrain::PendingRequest {
        commands::retrain::PendingRequest {
            model: self.model,
            alias: self.alias,
        }
    }

    pub fn request(self) -> commands::retrain::Request {
        commands::retrain::Request {
            model: self.model,
            alias: self.alias,
            register: self.register,
        }
    }
}

impl ModelCommand {
    fn name(&self) -> &'static str {
        match self {
            Self::Register { .. } => "model.register",
            Self::List { .. } => "model.list",
            Self::Show { .. } => "model.show",
            Self::Alias { .. } => "model.alias",
        }
    }

    pub fn request(self) -> commands::model::Request {
        use commands::model::Request;
        match self {
            Self::Register {
                name,
                file,
                input,
                params,
                metrics,
                alias,
            } => Request::Register {
                name,
                file,
                params,
                metrics,
                input,
                alias,
            },
            Self::List { name } => Request::List { name },
            Self::Show { name, reference } => Request::Show { name, reference },
            Self::Alias {
                name,
                alias,
                version,
            } => Request::Alias {
                name,
                alias,
                version,
            },
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Live environment versus the rendered templates and the last deployment record:
    /// stacks (CloudFormation drift included), services changed out of band, alarms.
    Drift(DriftArgs),
    /// Alarms as declared, their actions' topics and subscriptions, undeclared alarms,
    /// alarms firing or without data for longer than --stale-hours.
    Alarms(AuditAlarmsArgs),
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    /// Only these stacks (services and alarms are then not audited).
    #[arg(long = "stack", value_name = "STACK")]
    stacks: Vec<String>,
    /// Tell the notification channels when there are findings or checks that did not run.
    #[arg(long)]
    notify: bool,
    /// Alarms firing or without data for longer than this are findings.
    #[arg(long, default_value_t = 24)]
    stale_hours: u64,
    /// A check that could not run (drift detection not offered, access denied, throttled)
    /// does not fail the audit: exit 0 when nothing was found (default: exit 1,
    /// `incomplete`).
    #[arg(long)]
    allow_incomplete: bool,
}

#[derive(Debug, Args)]
pub struct AuditAlarmsArgs {
    /// Tell the notification channels when there are findings or checks that did not run.
    #[arg(long)]
    notify: bool,
    /// Alarms firing or without data for longer than this are findings.
    #[arg(long, default_value_t = 24)]
    stale_hours: u64,
    /// A check that could not run does not fail the audit (see `audit drift`).
    #[arg(long)]
    allow_incomplete: bool,
}

impl AuditCommand {
    pub fn request(self) -> commands::audit::Request {
        use commands::audit::{Audit, Request};
        match self {
            Self::Drift(a) => Request {
                audit: Audit::Drift,
                stacks: a.stacks,
                notify: a.notify,
                stale_hours: a.stale_hours,
                allow_incomplete: a.allow_incomplete,
            },
            Self::Alarms(a) => Request {
                audit: Audit::Alarms,
                stacks: Vec::new(),
                notify: a.notify,
                stale_hours: a.stale_hours,
                allow_incomplete: a.allow_incomplete,
            },
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ReleaseCommand {
    /// Check the release gate of `--env` for the checkout (or `--tag`).
    Check {
        /// Check this tag instead of the checkout's own.
        #[arg(long)]
        tag: Option<String>,
    },
}

impl ReleaseCommand {
    pub fn request(self) -> commands::release_check::Request {
        match self {
            Self::Check { tag } => commands::release_check::Request { tag },
        }
    }
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// How many records, newest first.
    #[arg(long, default_value_t = 20)]
    limit: usize,
}

impl HistoryArgs {
    pub fn request(self) -> commands::history::Request {
        commands::history::Request { limit: self.limit }
    }
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The environment whose running release is promoted (its last successful record).
    #[arg(long)]
    from: String,
    /// The environment that takes it; its release gate and preflight must pass.
    #[arg(long)]
    to: String,
    /// Go ahead without asking (CI).
    #[arg(long)]
    yes: bool,
    /// The release tag (default: GITHUB_REF_NAME on a tag build, else the tag on the commit).
    #[arg(long)]
    tag: Option<String>,
    /// Finish canary and linear rollouts without watching their steps.
    #[arg(long)]
    skip_wait: bool,
    /// Promote a release older (as a semantic version) than the one the target runs.
    #[arg(long)]
    allow_downgrade: bool,
}

impl PromoteArgs {
    pub fn request(self) -> commands::promote::Request {
        commands::promote::Request {
            from: self.from,
            to: self.to,
            yes: self.yes,
            tag: self.tag,
            skip_wait: self.skip_wait,
            allow_downgrade: self.allow_downgrade,
        }
    }
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// A record id or a release tag (default: the newest earlier release that runs other
    /// services).
    #[arg(long, value_name = "RELEASE")]
    to: Option<String>,
    /// Do not ask (required without a terminal).
    #[arg(long)]
    yes: bool,
}

impl RollbackArgs {
    pub fn request(self) -> commands::rollback::Request {
        commands::rollback::Request {
            to: self.to,
            yes: self.yes,
        }
    }
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// Do not ask (required without a terminal).
    #[arg(long)]
    yes: bool,
}

impl UnlockArgs {
    pub fn request(self) -> commands::unlock::Request {
        commands::unlock::Request { yes: self.yes }
    }
}

#[derive(Debug, Args)]
pub struct TrafficArgs {
    #[command(subcommand)]
    command: Option<TrafficCommand>,
    /// The service whose split to show.
    service: Option<String>,
    /// The metrics window, in minutes.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=1440))]
    window_minutes: u32,
}

#[derive(Debug, Subcommand)]
pub enum TrafficCommand {
    /// Send a share of the traffic to a variant (the control keeps the rest).
    Set {
        /// The service whose split to change.
        service: String,
        /// The variant: a published Lambda version number, or an ECS task definition
        /// revision (`7` or `family:7`, run as the `<service>-variant` service).
        #[arg(long, value_parser = variant_ref)]
        variant: String,
        /// The variant's share, 1 to 99 (0 is `abort`, 100 is `promote`).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=99))]
        percent: u32,
    },
    /// The variant becomes the control, with all the traffic.
    Promote {
        /// The service whose variant to promote.
        service: String,
    },
    /// All traffic back on the control; the variant gets none.
    Abort {
        /// The service whose variant to drop.
        service: String,
    },
    /// Compare the variant with the control against the service's guard rails
    /// ([services.<name>.ab]) and say promote (exit 0), keep collecting (exit 2) or abort
    /// (exit 3), with the reasons.
    Evaluate {
        /// The service whose experiment to evaluate.
        service: String,
        /// Carry the verdict out: promote the variant, or abort it.
        #[arg(long)]
        apply: bool,
    },
}

impl TrafficArgs {
    pub fn request(self) -> commands::traffic::Request {
        use commands::traffic::Change;
        let (service, change) = match self.command {
            None => (self.service, None),
            Some(TrafficCommand::Set {
                service,
                variant,
                percent,
            }) => (Some(service), Some(Change::Set { variant, percent })),
            Some(TrafficCommand::Promote { service }) => (Some(service), Some(Change::Promote)),
            Some(TrafficCommand::Abort { service }) => (Some(service), Some(Change::Abort)),
            Some(TrafficCommand::Evaluate { service, apply }) => {
                (Some(service), Some(Change::Evaluate { apply }))
            }
        };
        commands::traffic::Request {
            service,
            change,
            window_minutes: self.window_minutes,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StageResult {
    Success,
    Failure,
}

#[derive(Debug, Args)]
pub struct NotifyArgs {
    /// The stage, as `build` or `integration-tests`.
    #[arg(long)]
    stage: String,
    /// How the stage ended.
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
}

impl NotifyArgs {
    pub fn request(self) -> commands::notify::Request {
        commands::notify::Request {
            stage: self.stage,
            verdict: match self.result {
                StageResult::Success => Verdict::Succeeded,
                StageResult::Failure => Verdict::Failed,
            },
            message: self.message,
            duration_seconds: self.duration_seconds,
            version: self.version,
        }
    }
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

impl PipelineCommand {
    pub fn request(self) -> commands::pipeline::Request {
        match self {
            Self::Render { check } => commands::pipeline::Request { check },
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration of an environment (secrets as references).
    Show,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Which file's schema to print: deploy.toml or an environment file.
    #[arg(long, value_enum, default_value_t = SchemaFile::Deploy, conflicts_with_all = ["write", "check", "output_of"])]
    file: SchemaFile,
    /// Print instead the JSON Schema of what COMMAND prints with `--output json` (the
    /// envelope, the outcome, the error document). `--output` itself is the global format
    /// option, so the command is named here.
    #[arg(long, value_enum, value_name = "COMMAND", conflicts_with_all = ["write", "check"])]
    output_of: Option<Document>,
    /// Write schemas/*.schema.json (the config files' and the outputs') and the hint
    /// editors read on the first line of
    /// deploy.toml (`#:schema`, Taplo) and of each environment file
    /// (`# yaml-language-server: $schema=`).
    #[arg(long, conflicts_with = "check")]
    write: bool,
    /// Write nothing; exit 2 with a diff when the schemas or hints are not what --write
    /// would write (CI).
    #[arg(long)]
    check: bool,
}

impl SchemaArgs {
    pub fn request(self) -> commands::schema::Request {
        if self.write || self.check {
            commands::schema::Request::Files {
                check: self.check,
                contract: crate::report::contract::file(),
            }
        } else if let Some(document) = self.output_of {
            commands::schema::Request::Output(crate::report::contract::schema(document))
        } else {
            commands::schema::Request::Print(self.file)
        }
    }
}
