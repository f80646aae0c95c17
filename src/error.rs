//! The errors a command can end with. Variants carry data; the words are built only when
//! an error is displayed, and the exit code comes from the variant, never from its text.

use std::path::PathBuf;

use crate::aws::AwsError;
use crate::config::ConfigErrors;
use crate::exit::Exit;
use crate::models::ModelError;
use crate::models::training::TrainingError;
use crate::policy::Violation;
use crate::release::gate::GateRefusal;
pub use crate::release::promotion::NothingToPromote;
use crate::release::promotion::PromotionError;
pub use crate::release::rollback::NoRollbackTarget;
use crate::release::store::LockInfo;
use crate::render::RenderError;
use crate::services::artifact::ArtifactError;
use crate::services::traffic::TrafficError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    #[error("{0}")]
    Render(#[from] RenderError),
    #[error("error: cannot write {path}: {source}\n  = help: {}", write_help(*.nothing_written))]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
        /// The write was all or nothing (`render --out`), and left nothing.
        nothing_written: bool,
    },
    #[error("error: {}\n  = help: {}", .0.message(), .0.help())]
    Usage(Usage),
    #[error("error: {0}")]
    Aws(#[from] AwsError),
    #[error("error: {}\n  = help: {}", .0.message(), .0.help())]
    Refused(Refusal),
    #[error("error: {}\n  = help: {}", .0, .0.help())]
    Artifact(#[from] ArtifactError),
    #[error("{}", traffic_text(.0))]
    Traffic(TrafficError),
    #[error("error: {}\n  = help: {}", .0.message(), .0.help())]
    Interrupted(Interruption),
    #[error("error: {}\n  = help: {}", .0, .0.help())]
    Model(ModelError),
    #[error("error: {}\n  = help: {}", .0, .0.help())]
    /// Boxed: its largest variant would make every `Result<_, Error>` large.
    Training(Box<TrainingError>),
}

impl From<TrainingError> for Error {
    fn from(e: TrainingError) -> Self {
        match e {
            TrainingError::Aws(e) => Self::Aws(e),
            other => Self::Training(Box::new(other)),
        }
    }
}

impl From<ModelError> for Error {
    fn from(e: ModelError) -> Self {
        match e {
            ModelError::Aws(e) => Self::Aws(e),
            other => Self::Model(other),
        }
    }
}

fn traffic_text(error: &TrafficError) -> String {
    match error {
        TrafficError::Aws(e) => format!("error: {e}"),
        other => format!("error: {}\n  = help: {}", other.message(), other.help()),
    }
}

impl From<TrafficError> for Error {
    fn from(e: TrafficError) -> Self {
        match e {
            TrafficError::Aws(e) => Self::Aws(e),
            other => Self::Traffic(other),
        }
    }
}

impl From<Usage> for Error {
    fn from(u: Usage) -> Self {
        Self::Usage(u)
    }
}

impl From<Refusal> for Error {
    fn from(r: Refusal) -> Self {
        Self::Refused(r)
    }
}

impl Error {
    /// The error as the CLI shows it: with `-v` (`verbosity` 1) a failed AWS call names
    /// its request id, with `-vv` the SDK's raw error too.
    pub fn detailed(&self, verbosity: u8) -> String {
        match self {
            Self::Aws(e) if verbosity > 0 => format!("error: {}", e.with_detail(verbosity)),
            other => other.to_string(),
        }
    }

    /// What to do about it, alone (the text shows it after `= help:`); none for
    /// configuration errors (each carries its own) and failed AWS calls.
    pub fn help(&self) -> Option<String> {
        match self {
            Self::Config(_) | Self::Aws(_) => None,
            Self::Render(e) => Some(e.help()),
            Self::Write {
                nothing_written, ..
            } => Some(write_help(*nothing_written).into()),
            Self::Usage(e) => Some(e.help()),
            Self::Refused(e) => Some(e.help()),
            Self::Artifact(e) => Some(e.help()),
            Self::Traffic(TrafficError::Aws(_)) => None,
            Self::Traffic(e) => Some(e.help()),
            Self::Interrupted(e) => Some(e.help().into()),
            Self::Model(e) => Some(e.help()),
            Self::Training(e) => Some(e.help()),
        }
    }

    /// The error's data, for machines: one key naming the reason, holding its fields
    /// (`{"lock": {"environment": ..., "holder": {...}}}`); a failed AWS call's operation,
    /// code and kind of failure. None for configuration errors (listed one by one).
    pub fn detail(&self) -> Option<serde_json::Value> {
        let value = match self {
            Self::Config(_) => return None,
            Self::Render(e) => serde_json::json!({
                "template": e.template.display().to_string(),
                "line": e.line,
            }),
            Self::Write { path, .. } => serde_json::json!({ "path": path.display().to_string() }),
            Self::Usage(e) => serde_json::to_value(e).ok()?,
            Self::Aws(e) => serde_json::to_value(e).ok()?,
            Self::Refused(e) => serde_json::to_value(e).ok()?,
            Self::Artifact(e) => serde_json::to_value(e).ok()?,
            Self::Traffic(e) => serde_json::to_value(e).ok()?,
            Self::Interrupted(e) => serde_json::to_value(e).ok()?,
            Self::Model(e) => serde_json::to_value(e).ok()?,
            Self::Training(e) => serde_json::to_value(e).ok()?,
        };
        Some(value)
    }

    pub fn exit(&self) -> Exit {
        match self {
            Self::Refused(_) => Exit::Refused,
            Self::Model(e) if e.refused() => Exit::Refused,
            Self::Training(e) if e.refused() => Exit::Refused,
            Self::Traffic(e) if e.refused() => Exit::Refused,
            Self::Interrupted(_) => Exit::Interrupted,
            _ => Exit::Error,
        }
    }

    /// A short machine-readable kind, for JSON output and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Config(_) => "config",
            Self::Render(_) => "render",
            Self::Write { .. } => "io",
            Self::Traffic(e) if e.refused() => "refused",
            Self::Usage(_) | Self::Traffic(_) => "usage",
            Self::Aws(_) => "aws",
            Self::Refused(_) => "refused",
            Self::Artifact(_) => "artifact",
            Self::Interrupted(_) => "interrupted",
            Self::Model(e) if e.refused() => "refused",
            Self::Model(_) => "model",
            Self::Training(e) if e.refused() => "refused",
            Self::Training(_) => "training",
        }
    }
}

fn write_help(nothing_written: bool) -> &'static str {
    if nothing_written {
        "nothing was written; check that the directory is writable and the disk has room, then run again"
    } else {
        "check that the directory is writable and the disk has room, then run again"
    }
}

/// A command asked for something that cannot be (exit 1), found before any AWS call.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Usage {
    NoEnvironment,
    UnknownStack {
        name: String,
        known: Vec<String>,
    },
    TwoArtifacts {
        service: String,
    },
    PromoteToItself {
        environment: String,
    },
    /// `bootstrap` of an environment with no stack marked `bootstrap`.
    NothingToBootstrap {
        environment: String,
    },
    StageName {
        stage: String,
    },
    TrafficNeedsService,
    UnknownRegion {
        region: String,
    },
    /// The command line did not parse (clap's message).
    Arguments(String),
    /// No credentials, and the profile chosen is in no profile file.
    UnknownProfile {
        profile: String,
        known: Vec<String>,
    },
    /// The CA bundle named for the run cannot be read.
    CaBundle {
        path: PathBuf,
        source: &'static str,
        problem: String,
    },
    /// The profile asks for an MFA code and there is no terminal to ask on.
    MfaNeedsTerminal {
        profile: String,
        serial: String,
    },
    /// `verify --update-baseline` in CI.
    BaselineInCi,
    /// A plan file (`deploy --plan`, `promote --plan`) that cannot be read as one.
    PlanFile {
        path: PathBuf,
        problem: String,
    },
    /// A plan file that cannot be written (`plan --save`).
    PlanNotWritten {
        path: PathBuf,
        problem: String,
    },
    /// `verify` of an environment with no successful release.
    NothingToVerify {
        environment: String,
    },
    /// A file `[verify]` names is not there.
    VerifyFile {
        key: String,
        path: PathBuf,
    },
    /// `--endpoint-url` or `AWS_ENDPOINT_URL` is not a usable endpoint.
    EndpointUrl {
        source: &'static str,
        url: String,
        problem: &'static str,
    },
}

impl Usage {
    pub fn message(&self) -> String {
        match self {
            Self::NoEnvironment => "this command needs an environment".into(),
            Self::UnknownStack { name, .. } => {
                format!("`{name}` is not an enabled stack of this environment")
            }
            Self::TwoArtifacts { service } => format!("service `{service}` is given two artifacts"),
            Self::PromoteToItself { environment } => {
                format!("cannot promote `{environment}` to itself")
            }
            Self::NothingToBootstrap { environment } => {
                format!("`{environment}` has no enabled stack marked `bootstrap`")
            }
            Self::StageName { stage } => format!("`{stage}` is not a stage name"),
            Self::TrafficNeedsService => "which service?".into(),
            Self::UnknownRegion { region } => format!("--region `{region}` is not an AWS region"),
            Self::EndpointUrl {
                source,
                url,
                problem,
            } => format!("{source} `{url}` is not an endpoint: {problem}"),
            Self::Arguments(message) => message.lines().next().unwrap_or_default().to_string(),
            Self::NothingToVerify { environment } => {
                format!("`{environment}` has no successful release to verify")
            }
            Self::BaselineInCi => {
                "`verify --update-baseline` does not run in CI (CI or GITHUB_ACTIONS is set)".into()
            }
            Self::PlanFile { path, problem } => {
                format!(
                    "{} is not a plan `plan --save` wrote: {problem}",
                    path.display()
                )
            }
            Self::PlanNotWritten { path, problem } => {
                format!("cannot write the plan to {}: {problem}", path.display())
            }
            Self::CaBundle {
                path,
                source,
                problem,
            } => format!(
                "cannot read the CA bundle {} ({source}): {problem}",
                path.display()
            ),
            Self::MfaNeedsTerminal { profile, serial } => format!(
                "profile `{profile}` needs an MFA code ({serial}), and there is no terminal to ask for it"
            ),
            Self::VerifyFile { key, path } => {
                format!("{key}: {} does not exist", path.display())
            }
            Self::UnknownProfile { profile, .. } => format!(
                "no usable AWS credentials: profile `{profile}` is in neither the config nor the credentials file"
            ),
        }
    }

    pub fn help(&self) -> String {
        match self {
            Self::NoEnvironment => "pass --env local, --env staging or --env production".into(),
            Self::UnknownStack { known, .. } => format!("stacks: {}", known.join(", ")),
            Self::TwoArtifacts { .. } => {
                "name each service once, in --image, --package or the artifacts file".into()
            }
            Self::PromoteToItself { .. } => "promote --from staging --to production".into(),
            Self::NothingToBootstrap { .. } => {
                "mark the stacks that must exist before any image or package (the registry) with `bootstrap = true` in deploy.toml".into()
            }
            Self::StageName { .. } => {
                "use lowercase letters, digits and dashes, as `build` or `integration-tests`".into()
            }
            Self::TrafficNeedsService => {
                "`facturactl traffic --env E SERVICE`, or `traffic set|promote|abort SERVICE`"
                    .into()
            }
            Self::UnknownRegion { region } => match crate::config::regions::check(region) {
                Err(crate::config::regions::UnknownRegion::Typo { code, .. }) => {
                    format!("did you mean `{code}`?")
                }
                Err(crate::config::regions::UnknownRegion::DisplayName { code }) => {
                    format!("write the region's code, `{code}`")
                }
                _ => "a region code, as `eu-west-1`".into(),
            },
            Self::NothingToVerify { environment } => {
                format!("deploy it first: `facturactl deploy --env {environment}`")
            }
            Self::BaselineInCi => {
                "record the baseline by hand against a deployed environment, review the diff and commit it; CI verifies against it".into()
            }
            Self::CaBundle { source, .. } => format!(
                "point {source} at a readable PEM file of the certificates to trust, or unset it"
            ),
            Self::PlanFile { .. } => {
                "make it with `facturactl plan --env E --save FILE` (or `promote --dry-run --save FILE`) and pass that file unchanged".into()
            }
            Self::PlanNotWritten { .. } => {
                "save it where the run may write (its directory must exist); the change sets it kept were deleted".into()
            }
            Self::MfaNeedsTerminal { .. } => {
                "run it on a terminal, or use credentials that need no code here (the job's OIDC role in CI, or a profile without mfa_serial)".into()
            }
            Self::VerifyFile { key, .. } if key.ends_with("baseline") => {
                "record the baseline by hand, `facturactl verify --env E --update-baseline`, review it and commit it".into()
            }
            Self::VerifyFile { .. } => {
                "the path is relative to the project directory (deploy.toml's): fix it in [verify], or add the file".into()
            }
            Self::Arguments(_) => "`facturactl --help` lists the commands, `facturactl <command> --help` their options".into(),
            Self::UnknownProfile { known, .. } if known.is_empty() => {
                "no profile file was found (~/.aws/config, or AWS_CONFIG_FILE): create the profile, or use other credentials".into()
            }
            Self::UnknownProfile { known, .. } => {
                format!("profiles there: {}", known.join(", "))
            }
            Self::EndpointUrl { source, .. } => format!(
                "give the endpoint as scheme, host and port, as `http://127.0.0.1:4566`, or leave {source} unset to use AWS"
            ),
        }
    }
}

/// Why a command refused to change anything (exit 3). Nothing was written.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// The release gate of the environment said no.
    Gate {
        environment: String,
        refusal: GateRefusal,
    },
    /// Another run holds the deploy lock.
    Lock {
        environment: String,
        holder: Box<LockInfo>,
    },
    /// Blocking policy findings in the rendered templates.
    Policy { violations: Vec<Violation> },
    /// A service's guarding alarm fires.
    AlarmsFiring {
        alarms: Vec<crate::services::FiringAlarm>,
    },
    /// A question on the terminal was not answered `yes` (or there was no terminal).
    NotConfirmed(Unconfirmed),
    /// A production deploy would replace or delete resources, and no one confirmed it.
    Destructive { changes: Vec<String> },
    /// A promoted artifact is not the one the source environment runs.
    ArtifactMismatch {
        service: String,
        found: Option<String>,
        expected: String,
    },
    /// `destroy` never touches production.
    ProductionDestroy { environment: String },
    /// `destroy --stack` of a stack whose dependents are deployed and not destroyed with it.
    StackHasDependents {
        stack: String,
        dependents: Vec<String>,
    },
    /// `promote` found nothing it may promote.
    NothingToPromote(NothingToPromote),
    /// The source's release has no passing, recent verification of what it runs.
    Unverified {
        from: String,
        to: String,
        record: String,
        why: crate::release::verification::Unverified,
    },
    /// `rollback` found no release to go back to.
    NoRollbackTarget(NoRollbackTarget),
    /// The promotion's target may not read what the source keeps (its release store), with
    /// the target's credentials: the grant is missing. `denied` is AWS's message.
    SourceNotReadable {
        from: String,
        to: String,
        denied: String,
    },
    /// Images the target's tasks cannot pull: in another account's registry.
    ImagesNotPullable {
        environment: String,
        registry: String,
        images: Vec<crate::release::promotion::ForeignImage>,
    },
    /// A release older than what the environment runs, without `--allow-downgrade`.
    Downgrade {
        environment: String,
        running: String,
        requested: String,
    },
    /// Images the target's registry does not hold (yet).
    ImagesMissing {
        environment: String,
        registry: String,
        images: Vec<crate::release::promotion::MissingImage>,
    },
    /// Preflight found what would make the run fail on AWS: its blocking checks.
    Preflight {
        environment: String,
        blocking: Vec<crate::preflight::Check>,
    },
    /// A saved plan that no longer holds: something moved since it was made. Nothing changed.
    PlanMoved {
        environment: String,
        moved: crate::stacks::saved::Moved,
    },
    /// A stack a saved plan could not execute as planned (`plan --save`); nothing is kept.
    PlanUnsavable {
        environment: String,
        stack: String,
        why: String,
    },
    /// The credentials belong to another account than the environment's.
    AccountMismatch {
        environment: String,
        expected: String,
        actual: String,
        arn: String,
    },
}

/// What was not confirmed, and so left unchanged.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unconfirmed {
    Unlock {
        environment: String,
    },
    Destroy {
        environment: String,
    },
    Deploy,
    Promote {
        to: String,
    },
    Rollback,
    /// `traffic set|promote|abort` in production.
    Traffic {
        service: String,
    },
    /// `alarms apply` in production.
    Alarms {
        environment: String,
    },
}

/// `head:` then one indented line each.
fn bulleted(head: String, lines: impl Iterator<Item = String>) -> String {
    let lines: Vec<String> = lines.collect();
    format!("{head}:\n  {}", lines.join("\n  "))
}

impl Refusal {
    pub fn message(&self) -> String {
        match self {
            Self::Gate {
                environment,
                refusal,
            } => format!("release gate of `{environment}`: {refusal}"),
            Self::Lock {
                environment,
                holder,
            } => format!("`{environment}` is being deployed: {}", holder.describe()),
            Self::Policy { violations } => bulleted(
                "policy blocks this deploy".into(),
                violations.iter().map(|f| {
                    format!(
                        "error[{}] {}/{}: {}",
                        f.rule, f.stack, f.resource, f.message
                    )
                }),
            ),
            Self::AlarmsFiring { alarms } => bulleted(
                "alarms are firing, nothing was deployed".into(),
                alarms
                    .iter()
                    .map(|a| format!("{}: alarm {} is in ALARM", a.service, a.alarm)),
            ),
            Self::NotConfirmed(what) => what.message(),
            Self::Destructive { changes } => {
                format!("this production deploy would:\n  {}", changes.join("\n  "))
            }
            Self::ArtifactMismatch {
                service,
                found,
                expected,
            } => format!(
                "`{service}`: the artifact found is {}, not the {expected} the source environment runs",
                found.as_deref().unwrap_or("missing")
            ),
            Self::ProductionDestroy { environment } => {
                format!("`{environment}` is a production environment: facturactl never destroys it")
            }
            Self::StackHasDependents { stack, dependents } => dependents_message(stack, dependents),
            Self::PlanMoved { .. } | Self::PlanUnsavable { .. } => self.plan_message(),
            Self::NothingToPromote(why) => why.message(),
            Self::Unverified {
                from,
                to,
                record,
                why,
            } => format!("`{from}` ({record}) may not be promoted to `{to}`: {why}"),
            Self::NoRollbackTarget(why) => why.message(),
            Self::Downgrade {
                environment,
                running,
                requested,
            } => format!(
                "`{environment}` runs {running}; {requested} is older: a downgrade, nothing was changed"
            ),
            Self::ImagesMissing { .. } | Self::ImagesNotPullable { .. } => self.images_message(),
            Self::Preflight {
                environment,
                blocking,
            } => bulleted(
                format!(
                    "preflight of `{environment}` found what AWS would refuse; nothing was changed"
                ),
                blocking
                    .iter()
                    .map(|c| format!("{} {}: {}", c.check, c.subject, c.detail)),
            ),
            Self::SourceNotReadable { from, to, denied } => format!(
                "`{to}` may not read what `{from}` promotes (nothing was promoted): {denied}"
            ),
            Self::AccountMismatch {
                environment,
                expected,
                actual,
                arn,
            } => format!(
                "`{environment}` is account {expected}, but the credentials are for account {actual} ({arn}): nothing was changed"
            ),
        }
    }

    /// The message of a saved plan's refusal.
    fn plan_message(&self) -> String {
        match self {
            Self::PlanMoved { environment, moved } => format!(
                "the saved plan of `{environment}` no longer holds, nothing was changed: {moved}"
            ),
            Self::PlanUnsavable { stack, why, .. } => {
                format!("the plan cannot be saved: `{stack}` {why}")
            }
            _ => String::new(),
        }
    }

    /// The message of a promotion refused for its images.
    fn images_message(&self) -> String {
        match self {
            Self::ImagesMissing {
                environment,
                registry,
                images,
            } => bulleted(
                format!(
                    "`{environment}`'s registry {registry} lacks images to promote; nothing was promoted"
                ),
                images.iter().map(|i| format!("{}: {}", i.service, i.why)),
            ),
            Self::ImagesNotPullable {
                environment,
                registry,
                images,
            } => bulleted(
                format!(
                    "`{environment}`'s tasks pull from {registry}; these images are elsewhere, nothing was promoted"
                ),
                images
                    .iter()
                    .map(|i| format!("{}: in {}", i.service, i.registry)),
            ),
            _ => String::new(),
        }
    }

    pub fn help(&self) -> String {
        match self {
            Self::Gate { refusal, .. } => refusal.help(),
            Self::Lock { environment, .. } => format!(
                "wait for it (release.lock_wait_seconds), or if that run is dead and you are sure, `facturactl unlock --env {environment}`"
            ),
            Self::Policy { .. } => "fix the findings (`facturactl validate` explains each), or add an exception with its reason to [policy] in deploy.toml".into(),
            Self::AlarmsFiring { .. } => "look at the alarm first; if this deploy is the fix, set `when_alarm_firing = \"proceed\"` in the service's rollout settings".into(),
            Self::NotConfirmed(what) => what.help().into(),
            Self::Destructive { .. } => "review it with `facturactl plan --env production --diff`, then pass --yes (and --allow-data-replacement for databases and buckets)".into(),
            Self::ArtifactMismatch { .. } => "the promoted bytes must be the tested ones: deploy the source environment again, then promote".into(),
            Self::ProductionDestroy { .. } => "production stacks are removed by hand, one at a time, after their data is archived".into(),
            Self::StackHasDependents { stack, dependents } => format!(
                "destroy them first, or with it (`--stack {stack} {}`); nothing was deleted",
                dependents.iter().map(|d| format!("--stack {d}")).collect::<Vec<_>>().join(" ")
            ),
            Self::PlanMoved { .. } => {
                "make the plan again (`plan --save`, or `promote --dry-run --save` for a promotion), review it, and apply that one".into()
            }
            Self::PlanUnsavable { .. } => {
                "deploy it without a saved plan, or deploy the stacks it waits for first (`deploy --stack`), then plan again".into()
            }
            Self::NothingToPromote(why) => why.help(),
            Self::Unverified { from, .. } => format!(
                "verify it: `facturactl verify --env {from}`; or, knowingly, `promote --skip-verification --reason \"...\"` (recorded and told)"
            ),
            Self::NoRollbackTarget(why) => why.help(),
            Self::Downgrade { .. } => "deploy a newer release, or pass --allow-downgrade if going back is intended (`facturactl rollback` returns the services to an earlier release)".into(),
            Self::ImagesMissing { .. } => "replication copies each push within minutes: wait and promote again. ECR replicates only pushes made after the target's registry accepted them (`facturactl bootstrap` of the target first): copy an image pushed before, by digest (`skopeo copy docker://<source registry>/<repository>@<digest> docker://<target registry>/<repository>:<tag>`), or push it again to the source; then promote".into(),
            Self::Preflight { environment, .. } => format!(
                "fix each finding (`facturactl preflight --env {environment}` shows every check), then run again"
            ),
            Self::SourceNotReadable { from, to, .. } => format!(
                "the promotion reads `{from}` with `{to}`'s credentials: set `promoted_to: {to}` under `environment:` in environments/{from}.yaml, then run `facturactl bootstrap --env {from}` (the release store's grant) and `facturactl deploy --env {from}` (the models bucket's and the key's); `{to}`'s deploy role needs s3:ListBucket and s3:GetObject on them (README \"Day 0\")"
            ),
            Self::ImagesNotPullable { .. } => "replicate the source registry's repositories to the target's (ECR replication keeps the digest), or copy the images by digest, then promote".into(),
            Self::AccountMismatch { environment, .. } => format!(
                "use credentials for `{environment}`'s account (AWS_PROFILE, or the environment's `profile`), or fix `account_id` in environments/{environment}.yaml"
            ),
        }
    }
}

impl Unconfirmed {
    fn message(&self) -> String {
        match self {
            Self::Unlock { environment } => {
                format!("not confirmed: the lock of `{environment}` is unchanged")
            }
            Self::Destroy { environment } => {
                format!("not confirmed: nothing of `{environment}` was deleted")
            }
            Self::Deploy => "not confirmed: nothing was deployed".into(),
            Self::Promote { to } => format!("not confirmed: nothing was promoted to `{to}`"),
            Self::Rollback => "not confirmed: nothing was rolled back".into(),
            Self::Traffic { service } => {
                format!("not confirmed: the traffic of `{service}` is unchanged")
            }
            Self::Alarms { environment } => {
                format!("not confirmed: the alarms of `{environment}` are unchanged")
            }
        }
    }

    fn help(&self) -> &'static str {
        match self {
            Self::Deploy => "review the plan with `facturactl plan --diff`",
            Self::Promote { .. } => "answer `yes` on a terminal, or pass --yes in CI",
            Self::Unlock { .. }
            | Self::Destroy { .. }
            | Self::Rollback
            | Self::Traffic { .. }
            | Self::Alarms { .. } => "answer `yes` on a terminal, or pass --yes",
        }
    }
}

impl From<PromotionError> for Error {
    fn from(e: PromotionError) -> Self {
        match e {
            PromotionError::Nothing(why) => Refusal::NothingToPromote(why).into(),
            PromotionError::Artifact(e) => e.into(),
            PromotionError::ImagesNotPullable {
                environment,
                registry,
                images,
            } => Refusal::ImagesNotPullable {
                environment,
                registry,
                images,
            }
            .into(),
            PromotionError::ImagesMissing {
                environment,
                registry,
                images,
            } => Refusal::ImagesMissing {
                environment,
                registry,
                images,
            }
            .into(),
        }
    }
}

impl From<crate::models::retraining::RetrainError> for Error {
    fn from(e: crate::models::retraining::RetrainError) -> Self {
        match e {
            crate::models::retraining::RetrainError::Training(e) => e.into(),
            crate::models::retraining::RetrainError::Model(e) => e.into(),
        }
    }
}

impl From<crate::deployment::rollouts::RecordedCodeError> for Error {
    fn from(e: crate::deployment::rollouts::RecordedCodeError) -> Self {
        match e {
            crate::deployment::rollouts::RecordedCodeError::Missing(e) => e.into(),
            crate::deployment::rollouts::RecordedCodeError::Unparsable(e) => e.into(),
        }
    }
}

/// A guarded run stopped by SIGINT or SIGTERM (exit 130): what it had done, and the lock.
#[derive(Debug, serde::Serialize)]
pub struct Interruption {
    pub operation: crate::release::record::Operation,
    pub environment: String,
    pub lock_released: bool,
    /// What had started and finished (`progress::Tally::summary`); empty when nothing had.
    pub tally: String,
}

impl Interruption {
    pub fn message(&self) -> String {
        let lock = if self.lock_released {
            "the deploy lock was released"
        } else {
            "the deploy lock could not be released (it expires by itself)"
        };
        let tally = if self.tally.is_empty() {
            "nothing had started"
        } else {
            &self.tally
        };
        format!(
            "{} of `{}` interrupted (SIGINT or SIGTERM); {lock}; no record was written\n{tally}",
            self.operation, self.environment
        )
    }

    pub fn help(&self) -> &'static str {
        "stacks finish or roll back on their own in CloudFormation; a service may be mid-rollout: check with `facturactl status` and deploy again or `facturactl rollback`"
    }
}

/// `stack `a` cannot go while `b`, `c` still depend on it`.
fn dependents_message(stack: &str, dependents: &[String]) -> String {
    let names: Vec<String> = dependents.iter().map(|d| format!("`{d}`")).collect();
    let verb = if dependents.len() == 1 {
        "depends"
    } else {
        "depend"
    };
    format!(
        "stack `{stack}` cannot go while {} still {verb} on it",
        names.join(", ")
    )
}
