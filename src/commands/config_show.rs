//! `config show`: the effective configuration of an environment (secrets as references).

use super::Session;
use crate::config::Config;
use crate::error::Error;

pub struct Outcome {
    pub environment: String,
    pub config: Config,
}

pub async fn run(session: &Session<'_>) -> Result<Outcome, Error> {
    let loaded = session.load_env()?;
    Ok(Outcome {
        environment: loaded.config.environment.name.clone(),
        config: loaded.config,
    })
}
