//! `unlock`: forces open a deploy lock left by a dead run; the act is recorded with who
//! forced it.

use super::Session;
use crate::error::{Error, Refusal, Unconfirmed};
use crate::release::store::{Released, Store};

pub struct Request {
    pub yes: bool,
}

pub struct Outcome {
    pub environment: String,
    /// What was released: a lock, an object that was not one, or nothing.
    pub released: Released,
    pub forced_by: String,
}

pub async fn run(session: &Session<'_>, request: Request) -> Result<Outcome, Error> {
    let loaded = session.load_env()?;
    let environment = loaded.config.environment.name.clone();
    if !request.yes
        && !session
            .console
            .confirm(&format!("Force the deploy lock of `{environment}` open?"))
    {
        return Err(Refusal::NotConfirmed(Unconfirmed::Unlock { environment }).into());
    }
    let who = session.who();
    let aws = session.aws(&loaded.config.environment).await?;
    let released = Store::new(&aws, &loaded.config)
        .force_unlock(&who, &session.trace_id)
        .await?;
    Ok(Outcome {
        environment,
        released,
        forced_by: who,
    })
}
