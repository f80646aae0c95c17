//! One place that builds the AWS clients of an environment.
//!
//! Stages borrow an [`AwsContext`]; none builds its own client. The endpoint comes, in this
//! order, from `--endpoint-url`, the standard `AWS_ENDPOINT_URL` variable (passed in by the
//! CLI, not read here), or the environment's `endpoint_url` (the local emulator).

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};

use crate::config::{Environment, RetryMode};

/// Endpoint overrides from outside the config files.
#[derive(Debug, Clone, Default)]
pub struct EndpointOverride {
    /// `--endpoint-url`.
    pub flag: Option<String>,
    /// `AWS_ENDPOINT_URL`.
    pub env_var: Option<String>,
}

impl EndpointOverride {
    /// The endpoint every client uses, if any.
    pub fn resolve<'a>(&'a self, env: &'a Environment) -> Option<&'a str> {
        self.flag
            .as_deref()
            .or(self.env_var.as_deref())
            .or(env.endpoint_url.as_deref())
            .filter(|u| !u.is_empty())
    }
}

/// The service clients of one environment.
#[derive(Debug, Clone)]
pub struct AwsContext {
    pub region: String,
    pub endpoint_url: Option<String>,
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub acm: aws_sdk_acm::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub ecr: aws_sdk_ecr::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub s3: aws_sdk_s3::Client,
    pub sns: aws_sdk_sns::Client,
    pub ses: aws_sdk_sesv2::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub sts: aws_sdk_sts::Client,
    /// What the SDK's retries cost so far.
    pub retries: RetryClock,
}

impl AwsContext {
    /// Clients for `env`, with credentials from the standard chain (environment, profile,
    /// SSO, web identity in CI, instance metadata).
    pub async fn new(env: &Environment, endpoint: &EndpointOverride) -> Self {
        Self::with_loader(
            aws_config::defaults(BehaviorVersion::latest()),
            env,
            endpoint,
        )
        .await
    }

    /// Clients for `env` from a given loader (explicit credentials, say), with the
    /// environment's region, retry settings, profile and endpoint applied on top.
    pub async fn with_loader(
        loader: aws_config::ConfigLoader,
        env: &Environment,
        endpoint: &EndpointOverride,
    ) -> Self {
        let retry = match env.retry.mode {
            RetryMode::Standard => RetryConfig::standard(),
            RetryMode::Adaptive => RetryConfig::adaptive(),
        }
        .with_max_attempts(env.retry.max_attempts);
        let endpoint_url = endpoint.resolve(env).map(str::to_string);
        let mut loader = loader
            .region(Region::new(env.region.clone()))
            .retry_config(retry);
        if let Some(profile) = &env.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let shared = loader.load().await;
        let retries = RetryClock::default();
        // Every client with the same retry clock, so a run can say what retrying cost.
        macro_rules! client {
            ($sdk:ident) => {
                $sdk::Client::from_conf(
                    $sdk::config::Builder::from(&shared)
                        .interceptor(retries.clone())
                        .build(),
                )
            };
        }
        // An endpoint override (the emulator) has no per-bucket DNS names: address buckets
        // by path there.
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&shared)
                .force_path_style(endpoint_url.is_some())
                .interceptor(retries.clone())
                .build(),
        );
        Self {
            region: env.region.clone(),
            endpoint_url,
            cloudformation: client!(aws_sdk_cloudformation),
            acm: client!(aws_sdk_acm),
            ecs: client!(aws_sdk_ecs),
            ecr: client!(aws_sdk_ecr),
            lambda: client!(aws_sdk_lambda),
            cloudwatch: client!(aws_sdk_cloudwatch),
            s3,
            sns: client!(aws_sdk_sns),
            ses: client!(aws_sdk_sesv2),
            ssm: client!(aws_sdk_ssm),
            secrets: client!(aws_sdk_secretsmanager),
            sts: client!(aws_sdk_sts),
            retries,
        }
    }

    /// Whose credentials these are: sts:GetCallerIdentity, which needs no permission (an
    /// explicit deny does not stop it), so it fails only when the credentials do.
    pub async fn caller(&self) -> Result<Caller, AwsError> {
        let out = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| AwsError::new("GetCallerIdentity", e))?;
        Ok(Caller {
            account: out.account().unwrap_or_default().to_string(),
            arn: out.arn().unwrap_or_default().to_string(),
        })
    }
}

/// The principal behind a run's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account: String,
    pub arn: String,
}

/// What retrying cost a run: the SDK retries (with the environment's retry mode and
/// attempt limit); this clock only watches, per operation, the time from the end of its
/// first attempt to the end of its last.
#[derive(Debug, Clone, Default)]
pub struct RetryClock(std::sync::Arc<std::sync::Mutex<RetryTotals>>);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RetryTotals {
    /// Operations that needed more than one attempt.
    pub operations: u64,
    /// Attempts beyond the first, over all operations.
    pub retries: u64,
    /// Time spent on those extra attempts and the waits before them.
    pub retry_ms: u64,
}

impl RetryTotals {
    pub fn is_zero(&self) -> bool {
        self.retries == 0
    }
}

impl RetryClock {
    pub fn totals(&self) -> RetryTotals {
        self.0.lock().map(|t| *t).unwrap_or_default()
    }
}

/// When an operation's first attempt ended (kept in the operation's config bag).
#[derive(Debug, Clone, Copy)]
struct FirstAttemptEnded(std::time::Instant);

impl aws_smithy_types::config_bag::Storable for FirstAttemptEnded {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

impl aws_smithy_runtime_api::client::interceptors::Intercept for RetryClock {
    fn name(&self) -> &'static str {
        "RetryClock"
    }

    fn read_after_attempt(
        &self,
        _context: &aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        if cfg.load::<FirstAttemptEnded>().is_none() {
            cfg.interceptor_state()
                .store_put(FirstAttemptEnded(std::time::Instant::now()));
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        _context: &aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let attempts = cfg
            .load::<aws_smithy_runtime_api::client::retries::RequestAttempts>()
            .map_or(1, |a| a.attempts());
        if attempts > 1
            && let Some(first) = cfg.load::<FirstAttemptEnded>()
            && let Ok(mut totals) = self.0.lock()
        {
            totals.operations += 1;
            totals.retries += (attempts - 1) as u64;
            totals.retry_ms += first.0.elapsed().as_millis() as u64;
        }
        Ok(())
    }
}

/// A failed AWS call: the operation, the service's error code, and its message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation} failed: {message}")]
pub struct AwsError {
    pub operation: &'static str,
    pub code: Option<String>,
    pub message: String,
}

impl AwsError {
    /// One sentence for what went wrong, never the SDK's raw structure: the service's code
    /// and message; else what the transport said (connection refused, DNS, timeout, TLS);
    /// else the HTTP status the service answered with.
    pub fn new<E>(
        operation: &'static str,
        error: aws_sdk_cloudformation::error::SdkError<
            E,
            aws_smithy_runtime_api::client::orchestrator::HttpResponse,
        >,
    ) -> Self
    where
        E: aws_sdk_cloudformation::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        use aws_sdk_cloudformation::error::{ProvideErrorMetadata, SdkError};
        let code = error.code().map(str::to_string);
        let message = match (&error, error.code(), error.message()) {
            (_, Some(code), Some(message)) => format!("{code}: {message}"),
            (_, Some(code), None) => code.to_string(),
            (SdkError::DispatchFailure(failure), ..) => {
                let cause = innermost(&error);
                if failure.is_timeout() {
                    format!("timed out reaching the endpoint ({cause})")
                } else if failure.is_io() {
                    format!("cannot reach the endpoint: {cause}")
                } else {
                    format!("the request could not be sent: {cause}")
                }
            }
            (SdkError::TimeoutError(_), ..) => "timed out waiting for the answer".to_string(),
            (SdkError::ConstructionFailure(_), ..) => {
                format!("the request could not be made: {}", innermost(&error))
            }
            (SdkError::ServiceError(_) | SdkError::ResponseError(_), ..) => {
                match error.raw_response().map(|r| r.status().as_u16()) {
                    Some(status @ 500..) => {
                        format!("the service failed (HTTP {status}) without an AWS error")
                    }
                    Some(status) => {
                        format!("the service answered HTTP {status}, not an AWS answer")
                    }
                    None => innermost(&error),
                }
            }
            _ => innermost(&error),
        };
        Self {
            operation,
            code,
            message,
        }
    }
}

/// The deepest cause of an error, which is where the transport says what happened
/// (`Connection refused (os error 111)`, `failed to lookup address information`).
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{RetrySettings, Tier};

    fn env(url: Option<&str>) -> Environment {
        Environment {
            name: "local".into(),
            tier: Tier::Local,
            account_id: "123456789012".into(),
            region: "eu-west-1".into(),
            endpoint_url: url.map(str::to_string),
            profile: None,
            retry: RetrySettings::default(),
        }
    }

    #[test]
    fn flag_beats_variable_beats_config() {
        let e = env(Some("http://config"));
        let both = EndpointOverride {
            flag: Some("http://flag".into()),
            env_var: Some("http://var".into()),
        };
        assert_eq!(both.resolve(&e), Some("http://flag"));
        let var = EndpointOverride {
            flag: None,
            env_var: Some("http://var".into()),
        };
        assert_eq!(var.resolve(&e), Some("http://var"));
        assert_eq!(
            EndpointOverride::default().resolve(&e),
            Some("http://config")
        );
        assert_eq!(EndpointOverride::default().resolve(&env(None)), None);
    }
}
