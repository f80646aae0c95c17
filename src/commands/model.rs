//! `model register|list|show|alias`: the environment's model registry (S3: the models
//! bucket of its storage stack). `show` resolves a version or alias the way a deploy does,
//! the artifact's bytes hashed against the registered SHA-256.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::Session;
use crate::config::ModelRegistry;
use crate::config::names::is_alias;
use crate::error::Error;
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Registered,
    Listed,
    Shown,
    Aliased,
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
            let version = s3.register(new, alias.as_deref()).await?;
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
    };
    let aliases = registry.aliases(&name).await?;
    Ok(Outcome {
        action,
        environment: config.environment.name.clone(),
        model: name,
        registry: registry.location(),
        versions,
        unusable,
        aliases,
    })
}

enum Prepared {
    Register(NewVersion, Option<String>),
    List(String),
    Show(String, ModelRef),
    Alias(String, String, u32),
}

impl Prepared {
    fn model(&self) -> &str {
        match self {
            Self::Register(new, _) => &new.name,
            Self::List(name) | Self::Show(name, _) | Self::Alias(name, ..) => name,
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
            Prepared::Register(new, alias)
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
    })
}
