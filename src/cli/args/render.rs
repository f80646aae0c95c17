//! `render`: its arguments and its use case.

use std::path::PathBuf;

use clap::Args;

use super::{Action, Document, Error, Exit, Invocation, Presenter, Session};
use crate::commands;

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Write the rendered files into this directory.
    #[arg(long)]
    out: Option<PathBuf>,
}

impl RenderArgs {
    fn request(self) -> commands::render::Request {
        commands::render::Request { out: self.out }
    }
}

impl Invocation for RenderArgs {
    fn action(&self) -> Action {
        Action::Document(Document::Render)
    }

    async fn run(
        self,
        session: &Session<'_>,
        show: &Presenter<'_>,
    ) -> Result<(String, Exit), Error> {
        Ok(show.present(&commands::render::run(session, self.request()).await?))
    }
}
