//! `completions` and `man`: generated from the command line's own definitions.

use clap::Args;

use super::{Action, Error, Exit, Invocation, Presenter, Session};

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

impl Invocation for CompletionsArgs {
    fn action(&self) -> Action {
        Action::Completions
    }

    async fn run(self, _: &Session<'_>, _: &Presenter<'_>) -> Result<(String, Exit), Error> {
        Ok((crate::cli::manual::completions(self.shell), Exit::Ok))
    }
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write one page per command into DIR (facturactl.1, facturactl-deploy.1, ...)
    /// instead of printing facturactl.1.
    #[arg(long, value_name = "DIR")]
    out: Option<std::path::PathBuf>,
}

impl Invocation for ManArgs {
    fn action(&self) -> Action {
        Action::Man
    }

    async fn run(self, _: &Session<'_>, _: &Presenter<'_>) -> Result<(String, Exit), Error> {
        let Some(dir) = self.out else {
            return Ok((crate::cli::manual::man_page()?, Exit::Ok));
        };
        let pages = crate::cli::manual::man_pages()?;
        let write = |path: std::path::PathBuf, text: &str| {
            std::fs::create_dir_all(&dir)
                .and_then(|()| std::fs::write(&path, text))
                .map_err(|source| Error::Write {
                    path,
                    source,
                    nothing_written: false,
                })
        };
        for (file, text) in &pages {
            write(dir.join(file), text)?;
        }
        Ok((
            format!(
                "{} manual pages written to {}\n",
                pages.len(),
                dir.display()
            ),
            Exit::Ok,
        ))
    }
}
