//! Preflight: read-only checks that an environment can take a deploy, each passed, a
//! warning, blocking, or not run (never reported as passed when it could not run).
//!
//! - the credentials' account is the environment's;
//! - every secret reference of the config (Slack webhooks, the Sentry token, ECS task
//!   secrets) exists (SSM GetParameter, Secrets Manager DescribeSecret: no value is read
//!   that need not be); that the role which reads it may is checked offline by the policy
//!   rules (ECS_EXECUTION_PERMISSIONS), not by simulating IAM;
//! - every image the ECS services run (from the last record) exists in the registry the
//!   tasks pull from: their own account's ECR;
//! - the alert topics' email subscriptions are confirmed (a pending one pages nobody);
//! - the certificate, when one is configured;
//! - an email channel's `ses_from` is a verified SES identity (the address, or its domain),
//!   and whether the account is still in SES's sandbox (where only verified recipients get
//!   mail);
//! - the account's Lambda concurrency fits the reservations the functions declare (a new
//!   account starts at 10 concurrent executions, and Lambda keeps 100 unreserved, so
//!   CreateFunction with a reservation fails there).

use serde::Serialize;

use crate::aws::{AwsContext, AwsError, Caller};
use crate::config::{Config, SecretRef};
use crate::release::record::Record;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Passed,
    Warning,
    Blocking,
    NotRun,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::Warning => "warning",
            Self::Blocking => "blocking",
            Self::NotRun => "not run",
        }
    }
}

/// One check: what kind, about what, its status and why.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Check {
    pub check: &'static str,
    pub subject: String,
    pub status: Status,
    pub detail: String,
}

impl Check {
    fn new(
        check: &'static str,
        subject: impl Into<String>,
        status: Status,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            check,
            subject: subject.into(),
            status,
            detail: detail.into(),
        }
    }
}

/// Every check but the account's (which the caller has made): the config's secrets, the
/// recorded images, the alert topics' email subscriptions and the certificate, all at once.
/// `known` is the current record when the caller has read it already (no second read).
pub async fn after_account(
    aws: &AwsContext,
    config: &Config,
    known: Option<Option<&Record>>,
) -> Vec<Check> {
    let refs = secret_refs(config);
    let secrets = futures_util::future::join_all(
        refs.iter()
            .map(|(used_by, reference)| secret(aws, used_by, reference)),
    );
    let recorded_images = async {
        let read;
        let record = match known {
            Some(record) => Ok(record),
            None => {
                read = crate::release::store::Store::new(aws, config)
                    .current()
                    .await;
                read.as_ref()
                    .map(Option::as_ref)
                    .map_err(ToString::to_string)
            }
        };
        match record {
            Ok(record) => images(aws, config, record).await,
            Err(e) => vec![Check {
                check: "image",
                subject: "ecs services".into(),
                status: Status::NotRun,
                detail: format!("the release record could not be read: {e}"),
            }],
        }
    };
    let (secrets, images, subscriptions, training, certificate, concurrency, ses) = tokio::join!(
        secrets,
        recorded_images,
        subscriptions(aws, config),
        training_images(aws, config),
        certificate(aws, config),
        concurrency(aws, config),
        ses_senders(aws, config)
    );
    let mut checks = secrets;
    checks.extend(images);
    checks.extend(subscriptions);
    checks.extend(training);
    checks.push(certificate);
    checks.push(concurrency);
    checks.extend(ses);
    checks
}

/// The account check: everything else is meaningless with another account's credentials.
pub fn account(config: &Config, caller: &Caller) -> Check {
    let expected = &config.environment.account_id;
    if &caller.account == expected {
        Check::new(
            "account",
            expected.clone(),
            Status::Passed,
            format!("credentials are {}", caller.arn),
        )
    } else {
        Check::new(
            "account",
            expected.clone(),
            Status::Blocking,
            format!(
                "credentials are for account {} ({})",
                caller.account, caller.arn
            ),
        )
    }
}

/// Every secret reference of the config, with where it is used.
fn secret_refs(config: &Config) -> Vec<(String, &SecretRef)> {
    let mut refs = Vec::new();
    for (name, slack) in &config.channels.slack {
        if let Some(webhook) = &slack.webhook {
            refs.push((format!("slack channel {name}"), webhook));
        }
    }
    if let Some(sentry) = &config.sentry {
        refs.push(("sentry token".to_string(), &sentry.token));
    }
    for (name, service) in config.services.iter().filter(|(_, s)| s.enabled) {
        if let Some(ecs) = &service.ecs {
            for (key, reference) in &ecs.secrets {
                refs.push((format!("service {name} {key}"), reference));
            }
        }
    }
    refs
}

/// Whether a secret exists (its value is not read where metadata says enough).
pub async fn secret(aws: &AwsContext, used_by: &str, reference: &SecretRef) -> Check {
    let subject = format!("{used_by} ({})", describe(reference));
    match reference {
        SecretRef::Env(_) => Check::new(
            "secret",
            subject,
            Status::NotRun,
            "an environment variable of the runner, read when a notice is sent",
        ),
        SecretRef::Ssm(path) => match aws.ssm.get_parameter().name(path).send().await {
            Ok(_) => Check::new("secret", subject, Status::Passed, "exists"),
            Err(e) => missing_or_unknown(subject, "GetParameter", e),
        },
        SecretRef::SecretsManager(name) => {
            match aws.secrets.describe_secret().secret_id(name).send().await {
                Ok(_) => Check::new("secret", subject, Status::Passed, "exists"),
                Err(e) => missing_or_unknown(subject, "DescribeSecret", e),
            }
        }
    }
}

fn describe(reference: &SecretRef) -> String {
    match reference {
        SecretRef::Ssm(path) => format!("ssm:{path}"),
        SecretRef::SecretsManager(name) => format!("secretsmanager:{name}"),
        SecretRef::Env(var) => format!("env:{var}"),
    }
}

/// A missing secret blocks; any other failure means the check could not run.
fn missing_or_unknown<E>(
    subject: String,
    operation: &'static str,
    error: aws_sdk_ssm::error::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> Check
where
    E: aws_sdk_ssm::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_sdk_ssm::error::ProvideErrorMetadata;
    let missing = matches!(
        error.code(),
        Some("ParameterNotFound" | "ResourceNotFoundException")
    );
    let error = crate::aws::AwsError::new(operation, error);
    if missing {
        Check::new(
            "secret",
            subject,
            Status::Blocking,
            "does not exist: create it before deploying",
        )
    } else {
        Check::new(
            "secret",
            subject,
            Status::NotRun,
            format!("could not be checked: {error}"),
        )
    }
}

/// The recorded images of the ECS services exist where the tasks pull them from.
pub async fn images(aws: &AwsContext, config: &Config, record: Option<&Record>) -> Vec<Check> {
    let Some(record) = record else {
        return vec![Check::new(
            "image",
            "ecs services",
            Status::NotRun,
            "no release recorded yet: nothing runs",
        )];
    };
    let mut checks = Vec::new();
    for (name, entry) in &record.services {
        let enabled_ecs = config
            .services
            .get(name)
            .is_some_and(|s| s.enabled && s.ecs.is_some());
        let (Some(image), true) = (&entry.image, enabled_ecs) else {
            continue;
        };
        checks.push(image_check(aws, config, name, image).await);
    }
    checks
}

async fn image_check(aws: &AwsContext, config: &Config, service: &str, image: &str) -> Check {
    let subject = format!("service {service} {image}");
    let Some((registry, rest)) = image.split_once('/') else {
        return Check::new(
            "image",
            subject,
            Status::NotRun,
            "not an ECR image reference",
        );
    };
    let own = format!(
        "{}.dkr.ecr.{}.amazonaws.com",
        config.environment.account_id, config.environment.region
    );
    if registry != own {
        return Check::new(
            "image",
            subject,
            Status::Blocking,
            format!(
                "the tasks pull from {own}; copy or replicate the image there (keeping its digest)"
            ),
        );
    }
    let Some((repository, digest)) = rest.split_once('@') else {
        return Check::new("image", subject, Status::NotRun, "not pinned by digest");
    };
    let id = aws_sdk_ecr::types::ImageIdentifier::builder()
        .image_digest(digest)
        .build();
    match image_exists(aws, repository, id).await {
        Ok(true) => Check::new("image", subject, Status::Passed, "in the registry"),
        Ok(false) => Check::new("image", subject, Status::Blocking, "not in the registry"),
        Err(e) => Check::new(
            "image",
            subject,
            Status::NotRun,
            format!("could not be checked: {e}"),
        ),
    }
}

/// Whether the image is in the environment's registry.
async fn image_exists(
    aws: &AwsContext,
    repository: &str,
    id: aws_sdk_ecr::types::ImageIdentifier,
) -> Result<bool, crate::aws::AwsError> {
    use aws_sdk_ecr::error::ProvideErrorMetadata;
    match aws
        .ecr
        .describe_images()
        .repository_name(repository)
        .image_ids(id)
        .send()
        .await
    {
        Ok(out) => Ok(!out.image_details().is_empty()),
        Err(e)
            if matches!(
                e.code(),
                Some("ImageNotFoundException" | "RepositoryNotFoundException")
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(crate::aws::AwsError::new("DescribeImages", e)),
    }
}

/// Each retraining job's image is in the registry: a schedule or drift alarm that starts
/// a task on a missing image fails where only ECS's stopped-task reason shows it. A
/// warning, not a refusal: the deploy itself does not run it.
async fn training_images(aws: &AwsContext, config: &Config) -> Vec<Check> {
    let mut checks = Vec::new();
    for (model, settings) in &config.models {
        let Some(retraining) = &settings.retraining else {
            continue;
        };
        if !config.model_servers(model).any(|(_, svc)| svc.enabled) {
            continue;
        }
        let job = &retraining.job;
        let subject = format!("training job of {model} {}:{}", job.repository, job.image);
        let id = match job.image.strip_prefix("sha256:") {
            Some(_) => aws_sdk_ecr::types::ImageIdentifier::builder().image_digest(&job.image),
            None => aws_sdk_ecr::types::ImageIdentifier::builder().image_tag(&job.image),
        }
        .build();
        checks.push(match image_exists(aws, &job.repository, id).await {
            Ok(true) => Check::new("image", subject, Status::Passed, "in the registry"),
            Ok(false) => Check::new(
                "image",
                subject,
                Status::Warning,
                "not in the registry: scheduled and drift-started runs will fail until it is pushed",
            ),
            Err(e) => Check::new(
                "image",
                subject,
                Status::NotRun,
                format!("could not be checked: {e}"),
            ),
        });
    }
    checks
}

/// Email subscriptions of the alert topics: a pending one is a warning (alarms reach nobody
/// at that address until its owner confirms).
pub async fn subscriptions(aws: &AwsContext, config: &Config) -> Vec<Check> {
    let mut checks = Vec::new();
    for (channel, email) in &config.channels.email {
        let found = crate::audit::alarms::subscriptions(aws, config, channel).await;
        let found = match found {
            Ok(Some(found)) => found,
            Ok(None) => {
                checks.push(Check::new(
                    "subscription",
                    format!("channel {channel}"),
                    Status::NotRun,
                    "its topic does not exist yet (the alerts stack creates it)",
                ));
                continue;
            }
            Err(e) => {
                checks.push(Check::new(
                    "subscription",
                    format!("channel {channel}"),
                    Status::NotRun,
                    format!("could not be checked: {e}"),
                ));
                continue;
            }
        };
        for address in &email.addresses {
            let arn = found.get(&("email".to_string(), address.clone()));
            let (status, detail) = match arn.map(String::as_str) {
                Some("PendingConfirmation") => (
                    Status::Warning,
                    "pending confirmation: alarms reach nobody here until the owner confirms",
                ),
                Some(_) => (Status::Passed, "confirmed"),
                None => (Status::Warning, "not subscribed: deploy the alerts stack"),
            };
            checks.push(Check::new(
                "subscription",
                format!("{channel} {address}"),
                status,
                detail,
            ));
        }
    }
    checks
}

/// The API's certificate (`stacks.api.parameters.CertificateArn`) exists in the region and
/// is issued; not run where none is configured (the local environment serves plain HTTP).
pub async fn certificate(aws: &AwsContext, config: &Config) -> Check {
    let arn = config
        .stacks
        .get("api")
        .filter(|s| s.enabled)
        .and_then(|s| s.parameters.get("CertificateArn"))
        .map(|p| p.0.clone());
    let Some(arn) = arn else {
        return Check::new(
            "certificate",
            "api",
            Status::NotRun,
            "no certificate is configured for this environment (plain HTTP)",
        );
    };
    let described = aws
        .acm
        .describe_certificate()
        .certificate_arn(&arn)
        .send()
        .await;
    match described {
        Ok(out) => {
            let certificate = out.certificate();
            let status = certificate
                .and_then(|c| c.status())
                .map_or("UNKNOWN", |s| s.as_str());
            let domain = certificate.and_then(|c| c.domain_name()).unwrap_or("?");
            if status == "ISSUED" {
                Check::new(
                    "certificate",
                    arn,
                    Status::Passed,
                    format!("issued for {domain}"),
                )
            } else {
                Check::new(
                    "certificate",
                    arn,
                    Status::Blocking,
                    format!(
                        "{status} (for {domain}): the load balancer takes issued certificates only"
                    ),
                )
            }
        }
        Err(e) => {
            use aws_sdk_acm::error::ProvideErrorMetadata;
            match e.code() {
                Some("ResourceNotFoundException") => Check::new(
                    "certificate",
                    arn,
                    Status::Blocking,
                    format!(
                        "does not exist in {}: request or import it there",
                        config.environment.region
                    ),
                ),
                _ => Check::new(
                    "certificate",
                    arn,
                    Status::NotRun,
                    format!(
                        "could not be read: {}",
                        AwsError::new("DescribeCertificate", e)
                    ),
                ),
            }
        }
    }
}

/// Each email channel's SES sender: a verified identity (the address or its domain), and
/// the account out of the sandbox, else a warning (a deploy notification that SES refuses
/// is a warning too, never a failed deploy).
async fn ses_senders(aws: &AwsContext, config: &Config) -> Vec<Check> {
    let senders: Vec<(&String, &String)> = config
        .channels
        .email
        .iter()
        .filter_map(|(name, channel)| Some((name, channel.ses_from.as_ref()?)))
        .collect();
    if senders.is_empty() {
        return Vec::new();
    }
    let mut checks = Vec::new();
    for (channel, from) in senders {
        checks.push(ses_identity(aws, channel, from).await);
    }
    checks.push(ses_sandbox(aws).await);
    checks
}

async fn ses_identity(aws: &AwsContext, channel: &str, from: &str) -> Check {
    let subject = format!("{channel}: {from}");
    let domain = from.rsplit_once('@').map_or(from, |(_, d)| d);
    for identity in [from, domain] {
        match aws
            .ses
            .get_email_identity()
            .email_identity(identity)
            .send()
            .await
        {
            Ok(out) if out.verified_for_sending_status() => {
                return Check::new(
                    "ses",
                    subject,
                    Status::Passed,
                    format!("{identity} is verified for sending"),
                );
            }
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_not_found_exception()) => {}
            Err(e) => {
                return Check::new(
                    "ses",
                    subject,
                    Status::NotRun,
                    format!(
                        "could not be read: {}",
                        AwsError::new("GetEmailIdentity", e)
                    ),
                );
            }
        }
    }
    Check::new(
        "ses",
        subject,
        Status::Warning,
        format!(
            "neither {from} nor {domain} is a verified SES identity in {}: SES refuses to send from it, so deploy notifications to this channel would fail; verify the domain (DKIM) or the address",
            aws.region
        ),
    )
}

async fn ses_sandbox(aws: &AwsContext) -> Check {
    match aws.ses.get_account().send().await {
        Ok(account) if account.production_access_enabled() => {
            Check::new("ses", "account", Status::Passed, "out of the SES sandbox")
        }
        Ok(_) => Check::new(
            "ses",
            "account",
            Status::Warning,
            "in the SES sandbox: mail goes only to verified addresses; request production access for this region",
        ),
        Err(e) => Check::new(
            "ses",
            "account",
            Status::NotRun,
            format!(
                "the sandbox status could not be read: {}",
                AwsError::new("GetAccount", e)
            ),
        ),
    }
}

/// Executions Lambda keeps unreserved: a reservation that would leave fewer is refused
/// (PutFunctionConcurrency, and CreateFunction with ReservedConcurrentExecutions).
const UNRESERVED_FLOOR: i64 = 100;

/// The account's Lambda concurrency as GetAccountSettings reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Concurrency {
    /// `ConcurrentExecutions`: the account's quota in the region.
    pub limit: i64,
    /// `UnreservedConcurrentExecutions`: the quota less every function's reservation.
    pub unreserved: i64,
}

/// Whether the reservations `wanted` fit, given what the same functions hold now (`held`:
/// given back when they are reserved again). `Err` is how many executions the quota must
/// at least have.
fn reservations_fit(wanted: i64, held: i64, account: Concurrency) -> Result<(), i64> {
    let available = account.unreserved + held - UNRESERVED_FLOOR;
    if wanted <= available {
        Ok(())
    } else {
        Err(account.limit + (wanted - available))
    }
}

/// The reservations of the enabled Lambda services (function name, executions).
fn reservations(config: &Config) -> Vec<(String, i64)> {
    config
        .services
        .iter()
        .filter(|(_, s)| s.enabled)
        .filter_map(|(name, s)| {
            let reserved = s.lambda.as_ref()?.reserved_concurrency?;
            Some((config.service_resource_name(name), i64::from(reserved)))
        })
        .collect()
}

/// The account's Lambda concurrency against the functions' reservations: blocking, naming
/// the quota to raise, when they cannot fit; not run when the settings cannot be read.
pub async fn concurrency(aws: &AwsContext, config: &Config) -> Check {
    let wanted = reservations(config);
    if wanted.is_empty() {
        return Check::new(
            "concurrency",
            "lambda",
            Status::Passed,
            "no function reserves concurrency",
        );
    }
    let total: i64 = wanted.iter().map(|(_, n)| n).sum();
    let subject = wanted
        .iter()
        .map(|(f, n)| format!("{f} ({n})"))
        .collect::<Vec<_>>()
        .join(", ");
    let settings = match aws.lambda.get_account_settings().send().await {
        Ok(out) => out,
        Err(e) => {
            return Check::new(
                "concurrency",
                subject,
                Status::NotRun,
                format!(
                    "the account's settings could not be read: {}",
                    AwsError::new("GetAccountSettings", e)
                ),
            );
        }
    };
    let Some(limit) = settings.account_limit() else {
        return Check::new(
            "concurrency",
            subject,
            Status::NotRun,
            "GetAccountSettings gave no account limit",
        );
    };
    let account = Concurrency {
        limit: i64::from(limit.concurrent_executions()),
        unreserved: i64::from(limit.unreserved_concurrent_executions().unwrap_or_default()),
    };
    let held = match held_reservations(aws, &wanted).await {
        Ok(held) => held,
        Err(e) => {
            return Check::new(
                "concurrency",
                subject,
                Status::NotRun,
                format!("the functions' reservations could not be read: {e}"),
            );
        }
    };
    match reservations_fit(total, held, account) {
        Ok(()) => Check::new(
            "concurrency",
            subject,
            Status::Passed,
            format!(
                "{total} reserved of the account's {} ({} unreserved now)",
                account.limit, account.unreserved
            ),
        ),
        Err(needed) => Check::new(
            "concurrency",
            subject,
            Status::Blocking,
            format!(
                "the functions reserve {total} concurrent executions, but the account allows {} in {} ({} unreserved, of which Lambda keeps {UNRESERVED_FLOOR}): raise the Service Quotas quota \"Concurrent executions\" (L-B99A9384) to at least {needed}, or lower reserved_concurrency",
                account.limit, config.environment.region, account.unreserved
            ),
        ),
    }
}

/// What the functions reserve now (a missing function holds nothing).
async fn held_reservations(aws: &AwsContext, wanted: &[(String, i64)]) -> Result<i64, AwsError> {
    let reads = wanted.iter().map(|(function, _)| async move {
        match aws
            .lambda
            .get_function_concurrency()
            .function_name(function)
            .send()
            .await
        {
            Ok(out) => Ok(i64::from(
                out.reserved_concurrent_executions().unwrap_or_default(),
            )),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(0)
            }
            Err(e) => Err(AwsError::new("GetFunctionConcurrency", e)),
        }
    });
    Ok(futures_util::future::try_join_all(reads)
        .await?
        .into_iter()
        .sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_fit_what_the_account_leaves_above_lambdas_floor() {
        let fresh = Concurrency {
            limit: 10,
            unreserved: 10,
        };
        assert_eq!(reservations_fit(200, 0, fresh), Err(300), "a new account");
        let usual = Concurrency {
            limit: 1000,
            unreserved: 1000,
        };
        assert_eq!(reservations_fit(200, 0, usual), Ok(()));
        assert_eq!(reservations_fit(900, 0, usual), Ok(()));
        assert_eq!(reservations_fit(901, 0, usual), Err(1001));
        // A redeploy: the 200 the parser holds come back before it reserves them again.
        let held = Concurrency {
            limit: 1000,
            unreserved: 150,
        };
        assert_eq!(reservations_fit(200, 200, held), Ok(()));
        assert_eq!(
            reservations_fit(200, 0, held),
            Err(1150),
            "another function took them"
        );
    }

    #[test]
    fn a_foreign_account_blocks_and_names_the_credentials() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let config = crate::config::load(root, "staging", &crate::policy::rule_ids())
            .expect("loads")
            .config;
        let caller = Caller {
            account: "999999999999".into(),
            arn: "arn:aws:sts::999999999999:assumed-role/ci/x".into(),
        };
        let check = account(&config, &caller);
        assert_eq!(check.status, Status::Blocking);
        assert!(check.detail.contains("999999999999") && check.detail.contains("assumed-role"));
        let ours = Caller {
            account: config.environment.account_id.clone(),
            ..caller
        };
        assert_eq!(account(&config, &ours).status, Status::Passed);
    }
}
