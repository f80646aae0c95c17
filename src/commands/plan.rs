//! `plan`: what a deploy would change, stack by stack, from change sets (nothing applied).

use std::collections::BTreeMap;

use super::{Session, steps};
use crate::error::Error;
use crate::stacks::plan::Plan;

pub struct Request {
    pub stacks: Vec<String>,
    pub detailed_exitcode: bool,
    pub diff: bool,
}

pub struct Outcome {
    pub plan: Plan,
    /// Exit 2 when anything would change.
    pub detailed_exitcode: bool,
}

pub async fn run(session: &Session<'_>, request: Request) -> Result<Outcome, Error> {
    let (loaded, rendered) = steps::load_checked(session, session.env()?)?;
    steps::check_stack_names(&rendered, &request.stacks)?;
    let aws = session.aws(&loaded.config.environment).await?;
    let store = crate::release::store::Store::new(&aws, &loaded.config);
    let pinned =
        crate::release::pin_models(&store, &loaded.config, &rendered, &BTreeMap::new()).await?;
    let rendered = pinned.rendered;
    let templates = crate::release::template_bucket(&aws, &loaded.config, &rendered).await?;
    let only = steps::only(&request.stacks);
    let plan =
        crate::stacks::plan::plan(&aws, &rendered, only.as_ref(), request.diff, &templates).await?;
    Ok(Outcome {
        plan,
        detailed_exitcode: request.detailed_exitcode,
    })
}
