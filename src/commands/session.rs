//! What every command runs with: where the project is, which environment, how to reach
//! AWS, who runs it, and the console to ask. Built once by the CLI from the arguments and
//! the process environment, so nothing below reads either behind the caller's back.

use std::path::PathBuf;

use super::console::Console;
use crate::aws::{AwsContext, EndpointOverride};
use crate::config::{Environment, LoadedConfig};
use crate::error::{Error, Refusal, Usage};
use crate::progress::{ProgressSink, SharedTally};

/// `--region` and what the process environment says of regions.
#[derive(Debug, Clone, Default)]
pub struct RegionOverride {
    /// `--region`: the environment is deployed there, and its templates render for it.
    pub flag: Option<String>,
    /// `AWS_REGION` or `AWS_DEFAULT_REGION` (variable, value): never applied, since a
    /// runner's default region must not move an environment; noted when it differs.
    pub env_var: Option<(String, String)>,
}

pub struct Session<'a> {
    /// `-C`: the directory holding deploy.toml.
    pub project_dir: PathBuf,
    /// `--env`, for the commands that take one.
    pub env: Option<String>,
    pub endpoint: EndpointOverride,
    /// `--region`, and the region variables (only ever noted).
    pub region: RegionOverride,
    /// `GITHUB_ACTOR`: who a workflow runs for.
    pub user: Option<String>,
    /// `USER`: the local account, when neither an actor nor AWS names the caller.
    pub local_user: Option<String>,
    /// The caller's ARN, once a command has asked AWS (`aws`): who a record names outside
    /// GitHub Actions, as CloudTrail would.
    pub caller: std::sync::OnceLock<String>,
    /// This run's trace id (shared across a pipeline's stages when given).
    pub trace_id: String,
    /// In CI (`CI` or `GITHUB_ACTIONS`): the release gate may fetch tags.
    pub in_ci: bool,
    /// `GITHUB_SHA`: the commit a workflow runs for (the checkout may be shallow).
    pub github_sha: Option<String>,
    /// `GITHUB_REF_NAME` on a tag build.
    pub github_tag: Option<String>,
    /// The workflow run's page, for notices.
    pub run_url: Option<String>,
    /// How far an interrupted run's stacks and services got.
    pub tally: SharedTally,
    pub console: &'a dyn Console,
    /// When the command started: a report's time is the whole run's.
    pub started: std::time::Instant,
}

impl<'a> Session<'a> {
    /// A session outside the CLI (tests, other front ends): the project and environment,
    /// every AWS client sent to `endpoint`, the given console, and no CI facts.
    pub fn new(
        project_dir: PathBuf,
        env: Option<String>,
        endpoint: &str,
        console: &'a dyn Console,
    ) -> Self {
        Self {
            project_dir,
            env,
            endpoint: EndpointOverride {
                flag: Some(endpoint.to_string()),
                ..Default::default()
            },
            region: RegionOverride::default(),
            user: None,
            local_user: None,
            caller: std::sync::OnceLock::new(),
            trace_id: uuid::Uuid::new_v4().simple().to_string(),
            in_ci: false,
            github_sha: None,
            github_tag: None,
            run_url: None,
            tally: SharedTally::default(),
            console,
            started: std::time::Instant::now(),
        }
    }
}

impl Session<'_> {
    /// The environment named by `--env`, or a usage error.
    pub fn env(&self) -> Result<&str, Error> {
        self.env
            .as_deref()
            .ok_or(Error::Usage(Usage::NoEnvironment))
    }

    /// Loads and validates the config of `env` (no AWS call), with `--region` applied.
    pub fn load(&self, env: &str) -> Result<LoadedConfig, Error> {
        if let Some((source, url, problem)) = self.endpoint.invalid() {
            return Err(Usage::EndpointUrl {
                source,
                url,
                problem,
            }
            .into());
        }
        let rule_ids = crate::policy::rule_ids();
        let mut loaded = crate::config::load(&self.project_dir, env, &rule_ids)?;
        if let Some(region) = &self.region.flag {
            if crate::config::regions::check(region).is_err() {
                return Err(Usage::UnknownRegion {
                    region: region.clone(),
                }
                .into());
            }
            loaded.config.environment.region.clone_from(region);
        }
        Ok(loaded)
    }

    /// Loads the config of `--env`.
    pub fn load_env(&self) -> Result<LoadedConfig, Error> {
        self.load(self.env()?)
    }

    /// The AWS clients of an environment, once the credentials are known to be for its
    /// account: a mismatch is refused (exit 3) before any other call.
    pub async fn aws(&self, env: &Environment) -> Result<AwsContext, Error> {
        Ok(self.aws_with(env, async |_| ()).await?.0)
    }

    /// `aws`, with `read` made alongside the account check (one round trip saved). `read`
    /// must be refused by AWS outside the environment's account (S3's ExpectedBucketOwner):
    /// with another account's credentials its result is dropped unseen.
    pub async fn aws_with<T>(
        &self,
        env: &Environment,
        read: impl AsyncFnOnce(&AwsContext) -> T,
    ) -> Result<(AwsContext, T), Error> {
        self.note_overrides(env);
        let aws = self.clients(env).await?;
        let (caller, value) = tokio::join!(aws.caller(), read(&aws));
        let caller = match caller {
            Ok(caller) => caller,
            Err(e) if e.failure() == crate::aws::Failure::NoCredentials => {
                return Err(self.no_credentials(env, e).await);
            }
            Err(e) => return Err(e.into()),
        };
        if caller.account != env.account_id {
            return Err(Refusal::AccountMismatch {
                environment: env.name.clone(),
                expected: env.account_id.clone(),
                actual: caller.account,
                arn: caller.arn,
            }
            .into());
        }
        let _ = self.caller.set(caller.arn);
        Ok((aws, value))
    }

    /// No credentials: when the profile chosen is in no profile file, that is why (the SDK
    /// would only say that every provider of its chain failed).
    async fn no_credentials(&self, env: &Environment, error: crate::aws::AwsError) -> Error {
        let (Some(profile), _) = self.endpoint.profile(env) else {
            return error.into();
        };
        let known = crate::aws::profile_names().await;
        if known.iter().any(|p| p == profile) {
            return error.into();
        }
        Usage::UnknownProfile {
            profile: profile.to_string(),
            known,
        }
        .into()
    }

    /// Clients to read another environment's records (promote's source): no account check,
    /// since a promotion reads the source across accounts and changes only the target.
    pub async fn aws_to_read(&self, env: &Environment) -> Result<AwsContext, Error> {
        self.note_overrides(env);
        self.clients(env).await
    }

    /// The clients, with the MFA session of a profile that asks for one: its code asked on
    /// a terminal, refused elsewhere (nothing sent to AWS then).
    async fn clients(&self, env: &Environment) -> Result<AwsContext, Error> {
        let profile = self.endpoint.profile_source(env).map(|(p, _)| p);
        let settings = match &profile {
            Some(profile) => crate::aws::mfa::settings(profile).await,
            None => crate::aws::mfa::ProfileSettings::default(),
        };
        let ca_bundle = self.ca_bundle(settings.ca_bundle)?;
        let credentials = match (profile, settings.mfa) {
            (Some(profile), Some(mfa)) => {
                let question = format!("MFA code for {} (profile `{profile}`): ", mfa.serial);
                let Some(code) = self.console.ask(&question) else {
                    return Err(Usage::MfaNeedsTerminal {
                        profile,
                        serial: mfa.serial,
                    }
                    .into());
                };
                let endpoint = self.endpoint.resolve(env);
                Some(crate::aws::mfa::credentials(&mfa, &code, &env.region, endpoint).await?)
            }
            _ => None,
        };
        Ok(AwsContext::with_session(env, &self.endpoint, credentials, ca_bundle).await?)
    }

    /// The CA bundle HTTPS trusts: `AWS_CA_BUNDLE`, else the profile's `ca_bundle` (the
    /// AWS CLI's order); read now, so an unreadable one stops the run before any call.
    fn ca_bundle(&self, from_profile: Option<String>) -> Result<Option<Vec<u8>>, Error> {
        let (path, source) = match (&self.endpoint.ca_bundle_var, from_profile) {
            (Some(path), _) => (path.clone(), "AWS_CA_BUNDLE"),
            (None, Some(path)) => (PathBuf::from(path), "the profile's ca_bundle"),
            (None, None) => return Ok(None),
        };
        std::fs::read(&path).map(Some).map_err(|e| {
            Usage::CaBundle {
                path,
                source,
                problem: e.to_string(),
            }
            .into()
        })
    }

    /// Says which settings given for the run lost, or won, against the environment file.
    fn note_overrides(&self, env: &Environment) {
        if let (_, Some(note)) = self.endpoint.profile(env) {
            self.console.note(&format!("note: {note}"));
        }
        if let Some((profile, source)) = self.endpoint.profile_source(env)
            && source.explicit()
            && self.endpoint.keys_exported
        {
            let from = match source {
                crate::aws::ProfileSource::Flag => "--profile".to_string(),
                _ => format!("environments/{}.yaml", env.name),
            };
            self.console.note(&format!(
                "note: AWS_ACCESS_KEY_ID is exported, but profile `{profile}` (from {from}) is used, as the AWS CLI does with an explicit profile"
            ));
        }
        if let Some((var, region)) = &self.region.env_var
            && *region != env.region
            && self.region.flag.is_none()
        {
            self.console.note(&format!(
                "note: {var}={region} is ignored: environment `{}` deploys to {} (its file's region; --region moves it)",
                env.name, env.region
            ));
        }
    }

    /// Who runs this: the CI actor, else the caller's ARN (once AWS was asked), else the
    /// local user.
    pub fn who(&self) -> String {
        self.user
            .clone()
            .or_else(|| self.caller.get().cloned())
            .or_else(|| self.local_user.clone())
            .unwrap_or_else(|| "unknown".into())
    }

    /// Runs `work` while the console shows its progress; returns once everything sent has
    /// been shown.
    pub async fn with_progress<T>(&self, work: impl AsyncFnOnce(&ProgressSink) -> T) -> T {
        let scope = self.console.progress(&self.tally);
        let result = work(&scope.sink).await;
        scope.finish().await;
        result
    }

    /// A warning for each channel a notification did not reach.
    pub fn warn_undelivered(&self, deliveries: &[crate::notify::Delivery]) {
        for warning in crate::notify::failures(deliveries) {
            self.console
                .warn("facturactl: notification not delivered", &warning);
        }
    }
}
