//! `preflight`: read-only checks that an environment can take a deploy (the account,
//! secrets, images, email subscriptions, the certificate); exit 3 on a blocking finding.

use super::Session;
use crate::error::Error;
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
    let refs = preflight::secret_refs(config);
    let secrets = futures_util::future::join_all(
        refs.iter()
            .map(|(used_by, reference)| preflight::secret(&aws, used_by, reference)),
    );
    let store = Store::new(&aws, config);
    let (secrets, record, subscriptions) = tokio::join!(
        secrets,
        store.current(),
        preflight::subscriptions(&aws, config)
    );
    checks.extend(secrets);
    match record {
        Ok(record) => checks.extend(preflight::images(&aws, config, record.as_ref()).await),
        Err(e) => checks.push(Check {
            check: "image",
            subject: "ecs services".into(),
            status: Status::NotRun,
            detail: format!("the release record could not be read: {e}"),
        }),
    }
    checks.extend(subscriptions);
    checks.push(preflight::certificate());
    Ok(Outcome {
        environment: config.environment.name.clone(),
        checks,
    })
}
