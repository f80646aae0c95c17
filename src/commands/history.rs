//! `history`: past deploys, promotions and rollbacks of an environment, newest first.

use super::Session;
use crate::error::Error;
use crate::release::record::Record;
use crate::release::store::Store;

pub struct Request {
    pub limit: usize,
}

pub struct Outcome {
    pub environment: String,
    /// Newest first.
    pub records: Vec<Record>,
}

pub async fn run(session: &Session<'_>, request: Request) -> Result<Outcome, Error> {
    let loaded = session.load_env()?;
    let aws = session.aws(&loaded.config.environment).await?;
    let mut records = Store::new(&aws, &loaded.config)
        .records(Some(request.limit))
        .await?;
    records.reverse();
    Ok(Outcome {
        environment: loaded.config.environment.name.clone(),
        records,
    })
}
