//! `schema`: its arguments and its use case.

use clap::Args;

use super::{Action, Document, Error, Exit, Invocation, Presenter, Session};
use crate::commands;
use crate::schema::SchemaFile;

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
    fn request(self) -> commands::schema::Request {
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

impl Invocation for SchemaArgs {
    fn action(&self) -> Action {
        Action::Document(Document::Schema)
    }

    async fn run(
        self,
        session: &Session<'_>,
        show: &Presenter<'_>,
    ) -> Result<(String, Exit), Error> {
        Ok(
            match commands::schema::run(session, self.request()).await? {
                commands::schema::Outcome::Printed(schema) => {
                    show.present(&crate::report::PrintedSchema(schema))
                }
                commands::schema::Outcome::Files(files) => show.present(&files),
            },
        )
    }
}
