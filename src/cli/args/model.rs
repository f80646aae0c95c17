//! `model register|list|show|alias|approve|reject`: their arguments and their use case.

use std::path::PathBuf;

use clap::Subcommand;

use super::{Action, Document, Error, Exit, Invocation, Presenter, Session};
use crate::commands;

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
    /// Approve a version: production deploys, traffic moves and promotions run approved
    /// versions only. Review its comparison with the champion first (`model show`).
    Approve {
        /// The model's name.
        name: String,
        /// The version approved.
        #[arg(value_parser = clap::value_parser!(u32).range(1..))]
        version: u32,
        /// Why, for the next reviewer.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Reject a version: it is never deployed to production.
    Reject {
        /// The model's name.
        name: String,
        /// The version rejected.
        #[arg(value_parser = clap::value_parser!(u32).range(1..))]
        version: u32,
        /// Why (required).
        #[arg(long)]
        reason: String,
    },
}

impl ModelCommand {
    fn request(self) -> commands::model::Request {
        use commands::model::{Decision, Request};
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
            Self::Approve {
                name,
                version,
                reason,
            } => Request::Decide {
                name,
                version,
                state: Decision::Approve,
                reason,
            },
            Self::Reject {
                name,
                version,
                reason,
            } => Request::Decide {
                name,
                version,
                state: Decision::Reject,
                reason: Some(reason),
            },
        }
    }
}

impl Invocation for ModelCommand {
    fn action(&self) -> Action {
        Action::Document(match self {
            Self::Register { .. } => Document::ModelRegister,
            Self::List { .. } => Document::ModelList,
            Self::Show { .. } => Document::ModelShow,
            Self::Alias { .. } => Document::ModelAlias,
            Self::Approve { .. } | Self::Reject { .. } => Document::ModelApproval,
        })
    }

    async fn run(
        self,
        session: &Session<'_>,
        show: &Presenter<'_>,
    ) -> Result<(String, Exit), Error> {
        Ok(show.present(&commands::model::run(session, self.request()).await?))
    }
}
