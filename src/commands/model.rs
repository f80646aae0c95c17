//! `model register|list|show|alias|approve|reject`: the environment's model registry (S3: the models
//! bucket of its storage stack). `show` resolves a version or alias the way a deploy does,
//! the artifact's bytes hashed against the registered SHA-256.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::Session;
use crate::config::ModelRegistry;
use crate::config::names::is_alias;
use crate::error::Error;
use crate::models::approval::{Approval, ApprovalState};
use crate::models::registration;
use crate::models::registry::NewVersion;
use crate::models::{ModelError, ModelRef, ModelVersion, Registry, registry_kind};

pub enum Request {
    Register {
        name: String,
        file: PathBuf,
        /// `key=value`, repeatable.
        params: Vec<String>,
        /// `key=number`, repeatable.
        metrics: Vec<String>,
        /// A JSON object of field name to type.
        input: PathBuf,
        alias: Option<String>,
    },
    List {
        name: String,
    },
    Show {
        name: String,
        reference: String,
    },
    Alias {
        name: String,
        alias: String,
        version: u32,
    },
    /// Approve or reject a version (production runs approved versions only).
    Decide {
        name: String,
        version: u32,
        state: Decision,
        /// Why (required to reject).
        reason: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

/// What the registry holds for one model after the command.
pub struct Outcome {
    pub action: Action,
    pub environment: String,
    pub model: String,
    /// `s3://<models bucket>`.
    pub registry: String,
    /// Registered, resolved or listed (ascending).
    pub versions: Vec<ModelVersion>,
    /// Listed versions that cannot serve a service, each with why.
    pub unusable: Vec<crate::models::Unusable>,
    pub aliases: BTreeMap<String, u32>,
    /// The approval of each version shown that has one (the others are pending).
    pub approvals: BTreeMap<u32, Approval>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Registered,
    Listed,
    Shown,
    Aliased,
    Approved,
    Rejected,
}

pub async fn run(session: &Session<'_>, request: Request) -> Result<Outcome, Error> {
    let loaded = session.load_env()?;
    let config = &loaded.config;
    // Everything read from files and arguments is checked before the first AWS call.
    let prepared = prepare(session, request)?;
    if let Prepared::Register(new, _) = &prepared
        && registry_kind(config, &new.name) == ModelRegistry::Mlflow
    {
        return Err(ModelError::RegisterInMlflow(new.name.clone()).into());
    }
    let aws = session.aws(&config.environment).await?;
    let registry = Registry::of(&aws, config, prepared.model());
    let mut unusable = Vec::new();
    let (action, name, versions) = match prepared {
        Prepared::Register(new, alias) => {
            let Registry::S3(s3) = &registry else {
                unreachable!("refused above");
            };
            let name = new.name.clone();
            let (version, _) = s3.register(*new, alias.as_deref()).await?;
            (Action::Registered, name, vec![version])
        }
        Prepared::List(name) => {
            let listing = registry.versions(&name).await?;
            unusable = listing.unusable;
            (Action::Listed, name, listing.versions)
        }
        Prepared::Show(name, reference) => {
            let version = registry.resolve(&name, &reference).await?;
            (Action::Shown, name, vec![version])
        }
        Prepared::Alias(name, alias, number) => {
            let version = registry.set_alias(&name, &alias, number).await?;
            (Action::Aliased, name, vec![version])
        }
        Prepared::Decide(name, number, decision, reason) => {
            let version = registry.resolve(&name, &ModelRef::Version(number)).await?;
            let previous = registry.approval(&name, number).await?;
            let (state, action) = match decision {
                Decision::Approve => (ApprovalState::Approved, Action::Approved),
                Decision::Reject => (ApprovalState::Rejected, Action::Rejected),
            };
            let approval = Approval::decided(previous, state, session.who(), reason);
            registry.set_approval(&name, number, &approval).await?;
            (action, name, vec![version])
        }
    };
    let aliases = registry.aliases(&name).await?;
    let mut approvals = BTreeMap::new();
    for v in &versions {
        if let Some(approval) = registry.approval(&name, v.version).await? {
            approvals.insert(v.version, approval);
        }
    }
    Ok(Outcome {
        action,
        environment: config.environment.name.clone(),
        model: name,
        registry: registry.location(),
        versions,
        unusable,
        aliases,
        approvals,
    })
}

enum Prepared {
    Register(Box<NewVersion>, Option<String>),
    List(String),
    Show(String, ModelRef),
    Alias(String, String, u32),
    Decide(String, u32, Decision, Option<String>),
}

impl Prepared {
    fn model(&self) -> &str {
        match self {
            Self::Register(new, _) => &new.name,
            Self::List(name)
            | Self::Show(name, _)
            | Self::Alias(name, ..)
            | Self::Decide(name, ..) => name,
        }
    }
}

fn prepare(session: &Session<'_>, request: Request) -> Result<Prepared, ModelError> {
    let named = |name: String| {
        if is_alias(&name) {
            Ok(name)
        } else {
            Err(ModelError::BadName(name))
        }
    };
    Ok(match request {
        Request::Register {
            name,
            file,
            params,
            metrics,
            input,
            alias,
        } => {
            let name = named(name)?;
            let alias = alias.map(named).transpose()?;
            let files = registration::Files {
                artifact: &file,
                input: &input,
                params: &params,
                metrics: &metrics,
            };
            let new = registration::new_version(name, &files, session.who())?;
            Prepared::Register(Box::new(new), alias)
        }
        Request::List { name } => Prepared::List(named(name)?),
        Request::Show { name, reference } => {
            Prepared::Show(named(name)?, ModelRef::parse(&reference)?)
        }
        Request::Alias {
            name,
            alias,
            version,
        } => Prepared::Alias(named(name)?, named(alias)?, version),
        Request::Decide {
            name,
            version,
            state,
            reason,
        } => {
            let reason = reason
                .map(|r| r.trim().to_string())
                .filter(|r| !r.is_empty());
            if state == Decision::Reject && reason.is_none() {
                return Err(ModelError::NoReason);
            }
            Prepared::Decide(named(name)?, version, state, reason)
        }
    })
}
