//! `preflight`: read-only checks that an environment can take a deploy (the account,
//! secrets, images, email subscriptions, the certificate); exit 3 on a blocking finding.

use super::Session;
use crate::error::Error;
use crate::preflight::{self, Check, Status};

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
    let aws = session.aws_to_read(&config.environment).await?;
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
    checks.extend(preflight::after_account(&aws, config, None).await);
    Ok(Outcome {
        environment: config.environment.name.clone(),
        checks,
    })
}
