//! `deploy`: its arguments and its use case.

use std::path::PathBuf;

use clap::Args;

use super::{Action, Document, Error, Exit, Invocation, Presenter, Session};
use crate::commands;

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Only these stacks (their dependencies' outputs are read from what is deployed).
    #[arg(long = "stack", value_name = "STACK", add = super::stacks())]
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
    #[arg(short = 'y', long)]
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
    /// Execute exactly the change sets `plan --save FILE` kept, refusing before any change
    /// if a stack, the configuration or a change set moved since.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["stacks", "dry_run", "models", "allow_data_replacement", "recreate_failed"])]
    plan: Option<PathBuf>,
}

impl DeployArgs {
    fn request(self) -> commands::deploy::Request {
        commands::deploy::Request {
            models: self.models,
            plan: self.plan,
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

impl Invocation for DeployArgs {
    fn action(&self) -> Action {
        Action::Document(Document::Deploy)
    }

    async fn run(
        self,
        session: &Session<'_>,
        show: &Presenter<'_>,
    ) -> Result<(String, Exit), Error> {
        Ok(show.present(&commands::deploy::run(session, self.request()).await?))
    }
}
