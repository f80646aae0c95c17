//! `preflight`: read-only checks that an environment can take a deploy (the account,
//! secrets, images, email subscriptions, the certificate); exit 3 on a blocking finding.

use super::Session;
use crate::aws::AwsContext;
use crate::config::Config;
use crate::error::{Error, Refusal};
use crate::preflight::{self, Check, Status};
use crate::release::store::Store;

pub struct Outcome {
    pub environment: String,
    pub checks: Vec<Check>,
}

impl Outcome {
    pub fn blocking(&self) -> usize {
        self.count(Status::Blocking)
    }

    pub fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }
}

pub async fn run(session: &Session<'_>) -> Result<Outcome, Error> {
    let loaded = session.load_env()?;
    let config = &loaded.config;
    // Read-only: the account is a check here, not a refusal, so it is reported with the rest.
    let aws = session.aws_to_read(&config.environment).await;
    let caller = aws.caller().await?;
    let account = preflight::account(config, &caller);
    let mut checks = vec![account];
    if checks[0].status == Status::Blocking {
        checks.push(Check {
            check: "others",
            subject: "secrets, images, subscriptions".into(),
            status: Status::NotRun,
            detail: "not run with another account's credentials".into(),
        });
        return Ok(Outcome {
            environment: config.environment.name.clone(),
            checks,
        });
    }
    checks.extend(checks_after_account(&aws, config).await);
    Ok(Outcome {
        environment: config.environment.name.clone(),
        checks,
    })
}

/// Every check but the account's (which the caller has made): the config's secrets, the
/// recorded images, the alert topics' email subscriptions and the certificate.
pub(super) async fn checks_after_account(aws: &AwsContext, config: &Config) -> Vec<Check> {
    let mut checks = Vec::new();
    let refs = preflight::secret_refs(config);
    let secrets = futures_util::future::join_all(
        refs.iter()
            .map(|(used_by, reference)| preflight::secret(aws, used_by, reference)),
    );
    let store = Store::new(aws, config);
    let (secrets, record, subscriptions) = tokio::join!(
        secrets,
        store.current(),
        preflight::subscriptions(aws, config)
    );
    checks.extend(secrets);
    match record {
        Ok(record) => checks.extend(preflight::images(aws, config, record.as_ref()).await),
        Err(e) => checks.push(Check {
            check: "image",
            subject: "ecs services".into(),
            status: Status::NotRun,
            detail: format!("the release record could not be read: {e}"),
        }),
    }
    checks.extend(subscriptions);
    checks.extend(preflight::training_images(aws, config).await);
    let (certificate, concurrency, ses) = tokio::join!(
        preflight::certificate(aws, config),
        preflight::concurrency(aws, config),
        preflight::ses_senders(aws, config)
    );
    checks.push(certificate);
    checks.push(concurrency);
    checks.extend(ses);
    checks
}

/// Runs the checks at the start of `deploy` and `promote` (read-only, before the lock):
/// a blocking finding refuses the run (exit 3); warnings are shown and the run goes on.
pub(super) async fn gate(
    session: &Session<'_>,
    aws: &AwsContext,
    config: &Config,
) -> Result<(), Error> {
    let checks = checks_after_account(aws, config).await;
    for check in checks.iter().filter(|c| c.status == Status::Warning) {
        let title = format!("preflight {} {}", check.check, check.subject);
        session.console.warn(&title, &check.detail);
    }
    let blocking: Vec<(String, String, String)> = checks
        .into_iter()
        .filter(|c| c.status == Status::Blocking)
        .map(|c| (c.check.to_string(), c.subject, c.detail))
        .collect();
    if blocking.is_empty() {
        return Ok(());
    }
    Err(Refusal::Preflight {
        environment: config.environment.name.clone(),
        blocking,
    }
    .into())
}
