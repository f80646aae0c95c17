//! `plan`: what a deploy would change, stack by stack, from change sets (nothing applied).
//! `--save FILE` keeps the change sets for `deploy --plan FILE`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{Session, steps};
use crate::error::Error;
use crate::stacks::plan::{Plan, PlanOptions};

pub struct Request {
    pub stacks: Vec<String>,
    pub detailed_exitcode: bool,
    pub diff: bool,
    /// Keep the change sets and write the plan here.
    pub save: Option<PathBuf>,
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
    let only = steps::only(&request.stacks);
    let options = PlanOptions {
        only: only.as_ref(),
        diff: request.diff,
        keep: request.save.is_some(),
    };
    let config = &loaded.config;
    let mut plan = steps::plan_pinned(&aws, config, &rendered, &BTreeMap::new(), options).await?;
    if let Some(path) = &request.save {
        steps::save_plan(&aws, &loaded.config, &plan, path, None).await?;
        plan.saved_to = Some(path.display().to_string());
    }
    Ok(Outcome {
        plan,
        detailed_exitcode: request.detailed_exitcode,
    })
}
