//! `verify`: its arguments and its use case.

use std::path::PathBuf;

use clap::Args;

use super::{Action, Document, Error, Exit, Invocation, Presenter, Session};
use crate::commands;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Record the deployed validator's answers to the sample invoices as the new
    /// regression baseline (by hand, never in CI: review and commit it). Nothing else is
    /// compared and the run is not recorded as a verification.
    #[arg(long)]
    update_baseline: bool,
    /// Where Locust's report and statistics go (default: facturactl-verify/<env>-<trace>
    /// in the temporary directory, outside the checkout).
    #[arg(long, value_name = "DIR")]
    artifacts: Option<PathBuf>,
}

impl Invocation for VerifyArgs {
    fn action(&self) -> Action {
        Action::Document(Document::Verify)
    }

    async fn run(
        self,
        session: &Session<'_>,
        show: &Presenter<'_>,
    ) -> Result<(String, Exit), Error> {
        let request = commands::verify::Request {
            update_baseline: self.update_baseline,
            artifacts: self.artifacts,
        };
        Ok(show.present(&commands::verify::run(session, request).await?))
    }
}
