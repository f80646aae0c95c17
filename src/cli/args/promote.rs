//! `promote`: its arguments and its use case.

use clap::Args;

use super::{Action, Document, Error, Exit, Invocation, Presenter, Session};
use crate::commands;

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The environment whose running release is promoted (its last successful record).
    #[arg(long, add = super::environments())]
    from: String,
    /// The environment that takes it; its release gate and preflight must pass.
    #[arg(long, add = super::environments())]
    to: String,
    /// Go ahead without asking (CI).
    #[arg(short = 'y', long)]
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
    /// While an A/B experiment runs in the source, which side is promoted (else refused).
    #[arg(long, value_enum)]
    side: Option<crate::release::promotion::Side>,
    /// Promote a release without a passing verification of what it runs (`verify`): the
    /// reason is required, recorded and told with the notice.
    #[arg(long, requires = "reason")]
    skip_verification: bool,
    /// Why the verification is skipped.
    #[arg(long, requires = "skip_verification", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    reason: Option<String>,
    /// Show what the promotion would apply (the release, its artifacts, each stack's
    /// changes) and stop: nothing is copied, locked or changed.
    #[arg(long)]
    dry_run: bool,
    /// With --dry-run: keep the change sets and write the plan to FILE, for `--plan FILE`.
    #[arg(long, value_name = "FILE", requires = "dry_run")]
    save: Option<std::path::PathBuf>,
    /// Execute exactly the plan `--dry-run --save FILE` wrote, refusing before any change
    /// if the source's release, a stack, the configuration or a change set moved since.
    #[arg(long, value_name = "FILE", conflicts_with = "dry_run")]
    plan: Option<std::path::PathBuf>,
}

impl PromoteArgs {
    fn request(self) -> commands::promote::Request {
        commands::promote::Request {
            from: self.from,
            to: self.to,
            yes: self.yes,
            tag: self.tag,
            skip_wait: self.skip_wait,
            allow_downgrade: self.allow_downgrade,
            side: self.side,
            skip_verification: self.reason.filter(|_| self.skip_verification),
            dry_run: self.dry_run,
            save: self.save,
            plan: self.plan,
        }
    }
}

impl Invocation for PromoteArgs {
    fn action(&self) -> Action {
        Action::Document(Document::Promote)
    }

    async fn run(
        self,
        session: &Session<'_>,
        show: &Presenter<'_>,
    ) -> Result<(String, Exit), Error> {
        Ok(show.present(&commands::promote::run(session, self.request()).await?))
    }
}
