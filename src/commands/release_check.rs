//! `release check`: the release gate alone; exit 3 says which condition failed.

use super::{Session, steps};
use crate::error::Error;
use crate::release::gate::Accepted;

pub struct Request {
    pub tag: Option<String>,
}

pub async fn run(session: &Session<'_>, request: Request) -> Result<Accepted, Error> {
    let loaded = session.load_env()?;
    steps::gate(session, &loaded, request.tag, None)
}
