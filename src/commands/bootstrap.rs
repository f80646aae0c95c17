//! `bootstrap`: Day 0 of an environment. Creates, in order, what must exist before any image
//! or package: the release store (its bucket, with the grant the environment promoted from
//! this one reads through), then the stacks marked `bootstrap` (the registry the image jobs
//! push to, with its replication and the policy that accepts replicas). Idempotent: the
//! pipeline runs it before the image jobs on every run, and an unchanged stack is skipped.
//!
//! It takes no deploy lock and writes no deployment record: it changes no service, and a
//! record would become the "release" that `promote` and `rollback` read. CloudFormation
//! serializes updates of one stack, and a deploy waits for a busy stack.

use super::Session;
use super::guarded::Deployed;
use crate::deployment::DeployReport;
use crate::error::{Error, Usage};
use crate::release::record::Operation;
use crate::release::store::Store;
use crate::stacks::deploy::DeployOptions;

pub struct Request {
    pub max_concurrency: usize,
}

pub async fn run(session: &Session<'_>, request: Request) -> Result<Deployed, Error> {
    let (loaded, rendered) = super::steps::load_checked(session, session.env()?)?;
    let config = &loaded.config;
    let stacks = bootstrap_stacks(config);
    if stacks.is_empty() {
        return Err(Usage::NothingToBootstrap {
            environment: config.environment.name.clone(),
        }
        .into());
    }
    let aws = session.aws(&config.environment).await?;
    let store = Store::new(&aws, config);
    store.ensure_settled().await?;
    if let (Some(account), Some(target)) = (store.reader(), config.promotion.as_ref()) {
        session.console.note(&format!(
            "release store s3://{}: account {account} ({}) may read its records and packages",
            store.bucket, target.environment
        ));
    }
    let options = DeployOptions {
        max_concurrency: request.max_concurrency,
        only: Some(stacks.into_iter().collect()),
        protect_data: config.environment.tier == crate::config::Tier::Production,
        templates: crate::stacks::template::TemplateBucket::of(config),
        ..DeployOptions::default()
    };
    let run = session
        .with_progress(async |progress| {
            crate::stacks::deploy::deploy(&aws, &rendered, &options, progress).await
        })
        .await?;
    let mut report = DeployReport::new(Operation::Bootstrap, &config.environment.name, run);
    report.retries = aws.retries.totals();
    Ok(Deployed {
        report,
        version: None,
        warning_exit: false,
    })
}

/// The enabled stacks marked `bootstrap`, in the config's order.
fn bootstrap_stacks(config: &crate::config::Config) -> Vec<String> {
    config
        .stacks
        .iter()
        .filter(|(_, s)| s.enabled && s.bootstrap)
        .map(|(name, _)| name.clone())
        .collect()
}
