//! `outputs`: each enabled stack's CloudFormation outputs as they are now (one
//! DescribeStacks), for scripts and people who would otherwise ask the AWS CLI.

use std::collections::BTreeMap;

use super::Session;
use crate::error::{Error, Usage};

pub struct Request {
    /// `--stack`: these stacks only (all enabled ones when empty).
    pub stacks: Vec<String>,
}

/// One stack's outputs, or why there are none.
pub struct StackOutputs {
    /// The config's name (`api`).
    pub stack: String,
    /// CloudFormation's (`facturascan-staging-api`).
    pub stack_name: String,
    /// Its status; `None`: not deployed.
    pub status: Option<String>,
    pub outputs: BTreeMap<String, String>,
}

pub struct Outcome {
    pub environment: String,
    pub stacks: Vec<StackOutputs>,
}

pub async fn run(session: &Session<'_>, request: Request) -> Result<Outcome, Error> {
    let loaded = session.load_env()?;
    let config = &loaded.config;
    let enabled: Vec<&String> = config.enabled_stacks().map(|(name, _)| name).collect();
    if let Some(unknown) = request.stacks.iter().find(|s| !enabled.contains(s)) {
        return Err(Usage::UnknownStack {
            name: unknown.clone(),
            known: enabled.iter().map(|s| s.to_string()).collect(),
        }
        .into());
    }
    let aws = session.aws(&config.environment).await?;
    let live = crate::stacks::live::all(&aws.cloudformation).await?;
    let stacks = enabled
        .into_iter()
        .filter(|name| request.stacks.is_empty() || request.stacks.contains(name))
        .map(|name| {
            let stack_name = config.stack_name(name);
            let found = live.get(&stack_name);
            StackOutputs {
                stack: name.clone(),
                status: found.map(|s| s.status.clone()),
                outputs: found.map(|s| s.outputs.clone()).unwrap_or_default(),
                stack_name,
            }
        })
        .collect();
    Ok(Outcome {
        environment: config.environment.name.clone(),
        stacks,
    })
}
