//! `validate`: config, rendering and policy in one verdict (exit 3 when findings block);
//! `validate --explain` lists the rules instead.

use super::Session;
use crate::error::Error;
use crate::policy::{self, PolicyReport};

pub struct Request {
    pub explain: bool,
}

pub enum Outcome {
    /// `--explain`: every rule and why it exists.
    Rules(Vec<(&'static str, &'static str)>),
    Validated(Validated),
}

pub struct Validated {
    pub environment: String,
    pub stacks: usize,
    pub alarms: usize,
    pub policy: PolicyReport,
    pub blocking: usize,
}

pub async fn run(session: &Session<'_>, request: Request) -> Result<Outcome, Error> {
    if request.explain {
        return Ok(Outcome::Rules(
            policy::RULES.iter().map(|r| (r.id, r.why)).collect(),
        ));
    }
    let loaded = session.load_env()?;
    let rendered = super::steps::render_checked(&loaded)?;
    let policy = policy::check(&loaded.config, &rendered);
    for finding in &policy.findings {
        tracing::debug!(rule = finding.rule, stack = %finding.stack, resource = %finding.resource, "policy finding");
    }
    Ok(Outcome::Validated(Validated {
        environment: loaded.config.environment.name.clone(),
        stacks: rendered.stacks.len(),
        alarms: rendered.alarms.len(),
        blocking: policy.blocking(),
        policy,
    }))
}
