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
    pub ecs: aws_sdk_ecs::Client,
    pub ecr: aws_sdk_ecr::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub s3: aws_sdk_s3::Client,
    pub sns: aws_sdk_sns::Client,
    pub ses: aws_sdk_sesv2::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
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
        // An endpoint override (the emulator) has no per-bucket DNS names: address buckets
        // by path there.
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&shared)
                .force_path_style(endpoint_url.is_some())
                .build(),
        );
        Self {
            region: env.region.clone(),
            endpoint_url,
            cloudformation: aws_sdk_cloudformation::Client::new(&shared),
            ecs: aws_sdk_ecs::Client::new(&shared),
            ecr: aws_sdk_ecr::Client::new(&shared),
            lambda: aws_sdk_lambda::Client::new(&shared),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&shared),
            s3,
            sns: aws_sdk_sns::Client::new(&shared),
            ses: aws_sdk_sesv2::Client::new(&shared),
            ssm: aws_sdk_ssm::Client::new(&shared),
            secrets: aws_sdk_secretsmanager::Client::new(&shared),
        }
    }
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
