//! `status`: what runs in the environment now, from its last successful record, and who
//! holds the deploy lock.

use super::Session;
use crate::error::Error;
use crate::release::record::Record;
use crate::release::store::{LockInfo, Store};

pub struct Outcome {
    pub environment: String,
    pub current: Option<Record>,
    pub lock: Option<LockInfo>,
}

pub async fn run(session: &Session<'_>) -> Result<Outcome, Error> {
    let loaded = session.load_env()?;
    let aws = session.aws(&loaded.config.environment).await?;
    let store = Store::new(&aws, &loaded.config);
    // The first deploy of an environment holds the lock before any record exists: both
    // are read, at once.
    let (current, lock) = tokio::join!(store.current(), store.holder());
    Ok(Outcome {
        environment: loaded.config.environment.name.clone(),
        current: current?,
        lock: lock?,
    })
}
