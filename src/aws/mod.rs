//! One place that builds the AWS clients of an environment.
//!
//! Stages borrow an [`AwsContext`]; none builds its own client. The endpoint comes, in this
//! order, from `--endpoint-url`, a client's `AWS_ENDPOINT_URL_<SERVICE>` (left to the SDK),
//! the standard `AWS_ENDPOINT_URL` variable (passed in by the CLI, not read here), or the
//! environment's `endpoint_url` (the local emulator).

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};

use crate::config::{Environment, RetryMode};

pub mod hints;
pub mod mfa;
pub mod s3;

/// How to reach AWS, from outside the config files: flags first, then variables, then the
/// environment file (the AWS CLI's order: what is given for this run beats what is
/// written down). The README's "AWS settings" says each rule and why.
#[derive(Debug, Clone, Default)]
pub struct EndpointOverride {
    /// `--endpoint-url`.
    pub flag: Option<String>,
    /// `AWS_ENDPOINT_URL`.
    pub env_var: Option<String>,
    /// The `<SERVICE>` of each `AWS_ENDPOINT_URL_<SERVICE>` that is set: those clients keep
    /// the SDK's own endpoint resolution, which reads them.
    pub service_vars: std::collections::BTreeSet<String>,
    /// `--profile`.
    pub profile_flag: Option<String>,
    /// `AWS_PROFILE`.
    pub profile_var: Option<String>,
    /// `AWS_ACCESS_KEY_ID` is exported: an explicit profile wins over it (and says so).
    pub keys_exported: bool,
    /// `AWS_CA_BUNDLE`: the certificates HTTPS trusts, instead of the system's.
    pub ca_bundle_var: Option<std::path::PathBuf>,
}

/// Where the profile of a run comes from: its place in the credential chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileSource {
    /// `--profile`: explicit, its credentials alone (exported keys are not used), as the
    /// AWS CLI (botocore) does with `--profile`.
    Flag,
    /// `AWS_PROFILE`: exported keys still come first, as in botocore.
    Variable,
    /// The environment file's `profile`: explicit, like the flag.
    File,
}

impl ProfileSource {
    /// Whether the profile's credentials are used even with keys exported.
    pub fn explicit(self) -> bool {
        matches!(self, Self::Flag | Self::File)
    }
}

/// The profiles of the shared config and credentials files, read as the SDK reads them
/// (`AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE`, `~/.aws`); empty when there are none.
pub async fn profile_names() -> Vec<String> {
    // The default files, as the SDK's loader uses them (the type's own name is deprecated).
    match aws_config::profile::load(
        &aws_types::os_shim_internal::Fs::real(),
        &aws_types::os_shim_internal::Env::real(),
        &Default::default(),
        None,
    )
    .await
    {
        Ok(set) => {
            let mut names: Vec<String> = set.profiles().map(str::to_string).collect();
            names.sort();
            names
        }
        Err(_) => Vec::new(),
    }
}

impl EndpointOverride {
    /// The endpoint given for the run that is not a usable URL: (where it came from, the
    /// URL, what is wrong). An empty `--endpoint-url` is an error, never "use AWS".
    pub fn invalid(&self) -> Option<(&'static str, String, &'static str)> {
        [
            ("--endpoint-url", &self.flag),
            ("AWS_ENDPOINT_URL", &self.env_var),
        ]
        .into_iter()
        .find_map(|(source, url)| {
            let url = url.as_ref()?;
            crate::config::endpoint_problem(url).map(|problem| (source, url.clone(), problem))
        })
    }

    /// The endpoint every client uses, if any.
    pub fn resolve<'a>(&'a self, env: &'a Environment) -> Option<&'a str> {
        self.resolve_with_source(env).map(|(url, _)| url)
    }

    /// The endpoint every client uses, and where it came from.
    pub fn resolve_with_source<'a>(
        &'a self,
        env: &'a Environment,
    ) -> Option<(&'a str, &'static str)> {
        [
            (self.flag.as_deref(), "--endpoint-url"),
            (self.env_var.as_deref(), "AWS_ENDPOINT_URL"),
            (
                env.endpoint_url.as_deref(),
                "the environment file's endpoint_url",
            ),
        ]
        .into_iter()
        .find_map(|(url, source)| Some((url.filter(|u| !u.is_empty())?, source)))
    }

    /// The profile: `--profile`, then `AWS_PROFILE`, then the environment file's. With a
    /// note when a profile given for the run differs from the file's, so that neither wins
    /// silently.
    pub fn profile<'a>(&'a self, env: &'a Environment) -> (Option<&'a str>, Option<String>) {
        let file = env.profile.as_deref();
        let (chosen, source) = match (&self.profile_flag, &self.profile_var) {
            (Some(flag), _) => (Some(flag.as_str()), "--profile"),
            (None, Some(var)) => (Some(var.as_str()), "AWS_PROFILE"),
            (None, None) => return (file, None),
        };
        let note = match file {
            Some(file) if Some(file) != chosen => Some(format!(
                "profile `{}` from {source} is used, not `{file}` from environments/{}.yaml: a profile given for the run wins over the file",
                chosen.unwrap_or_default(),
                env.name
            )),
            _ => None,
        };
        (chosen, note)
    }

    /// The profile and where it came from (`profile` without the note).
    pub fn profile_source(&self, env: &Environment) -> Option<(String, ProfileSource)> {
        match (&self.profile_flag, &self.profile_var, &env.profile) {
            (Some(flag), _, _) => Some((flag.clone(), ProfileSource::Flag)),
            (None, Some(var), _) => Some((var.clone(), ProfileSource::Variable)),
            (None, None, Some(file)) => Some((file.clone(), ProfileSource::File)),
            (None, None, None) => None,
        }
    }

    /// Whether a client's endpoint is left to the SDK (`AWS_ENDPOINT_URL_<SERVICE>` set):
    /// `--endpoint-url` wins over those variables, `AWS_ENDPOINT_URL` loses to them (the
    /// AWS CLI's order: the more specific variable, the flag above all).
    fn service_var(&self, service: &str) -> bool {
        self.flag.is_none() && self.service_vars.contains(service)
    }
}

/// An HTTPS client whose only trust store is `pem` (a CA bundle, as the AWS CLI uses
/// AWS_CA_BUNDLE: instead of the system's certificates, not beside them).
pub fn https_trusting(
    pem: Vec<u8>,
) -> Result<aws_smithy_runtime_api::client::http::SharedHttpClient, AwsError> {
    use aws_smithy_http_client::tls;
    let context = tls::TlsContext::builder()
        .with_trust_store(tls::TrustStore::empty().with_pem_certificate(pem))
        .build()
        .map_err(|e| AwsError::local("TLS", None, format!("the CA bundle is not usable: {e}")))?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .tls_context(context)
        .build_https())
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
    pub scheduler: aws_sdk_scheduler::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub sts: aws_sdk_sts::Client,
    /// What the SDK's retries cost so far.
    pub retries: RetryClock,
}

impl AwsContext {
    /// Clients for `env`, with credentials from the standard chain (environment, profile,
    /// SSO, web identity in CI, instance metadata).
    pub async fn new(env: &Environment, endpoint: &EndpointOverride) -> Self {
        // The SDK reads AWS_PROFILE itself; the choice made here is passed explicitly.
        Self::with_loader(
            aws_config::defaults(BehaviorVersion::latest()),
            env,
            endpoint,
        )
        .await
    }

    /// Clients for `env` with what the session resolved: credentials already issued (a
    /// profile's MFA session) and a CA bundle (PEM) HTTPS trusts instead of the system's.
    pub async fn with_session(
        env: &Environment,
        endpoint: &EndpointOverride,
        credentials: Option<aws_sdk_sts::config::Credentials>,
        ca_bundle: Option<Vec<u8>>,
    ) -> Result<Self, AwsError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        let given = credentials.is_some();
        if let Some(credentials) = credentials {
            loader = loader.credentials_provider(credentials);
        }
        if let Some(pem) = ca_bundle {
            loader = loader.http_client(https_trusting(pem)?);
        }
        Ok(Self::build(loader, env, endpoint, given).await)
    }

    /// Clients for `env` from a given loader (explicit credentials, say), with the
    /// environment's region, retry settings, profile and endpoint applied on top.
    pub async fn with_loader(
        loader: aws_config::ConfigLoader,
        env: &Environment,
        endpoint: &EndpointOverride,
    ) -> Self {
        Self::build(loader, env, endpoint, false).await
    }

    async fn build(
        loader: aws_config::ConfigLoader,
        env: &Environment,
        endpoint: &EndpointOverride,
        credentials_given: bool,
    ) -> Self {
        let retry = match env.retry.mode {
            RetryMode::Standard => RetryConfig::standard(),
            RetryMode::Adaptive => RetryConfig::adaptive(),
        }
        .with_max_attempts(env.retry.max_attempts)
        .with_initial_backoff(std::time::Duration::from_millis(
            env.retry.initial_backoff_ms,
        ))
        .with_max_backoff(std::time::Duration::from_millis(env.retry.max_backoff_ms));
        let endpoint_url = endpoint.resolve(env).map(str::to_string);
        hints::remember(hints::Reach {
            profile: endpoint.profile_source(env).map(|(profile, _)| profile),
            endpoint: endpoint
                .resolve_with_source(env)
                .map(|(url, source)| (url.to_string(), source)),
        });
        let mut loader = loader
            .region(Region::new(env.region.clone()))
            .retry_config(retry)
            .timeout_config(CALL_TIMEOUTS.config());
        match endpoint.profile_source(env) {
            // An explicit profile's own credentials, not the exported keys the default
            // chain reads first.
            Some(_) if credentials_given => {}
            Some((profile, source)) if source.explicit() => {
                let provider = aws_config::profile::ProfileFileCredentialsProvider::builder()
                    .profile_name(&profile)
                    .build();
                loader = loader.profile_name(&profile).credentials_provider(provider);
            }
            Some((profile, _)) => loader = loader.profile_name(profile),
            None => {}
        }
        let shared = loader.load().await;
        let retries = RetryClock::default();
        // Every client with the same retry clock, so a run can say what retrying cost. The
        // endpoint override is set per client, not on the shared config, so that a client
        // whose `AWS_ENDPOINT_URL_<SERVICE>` is set keeps the SDK's own resolution of it.
        macro_rules! client {
            ($sdk:ident, $service:literal) => {{
                let mut builder = $sdk::config::Builder::from(&shared).interceptor(retries.clone());
                if let Some(url) = endpoint_url
                    .as_deref()
                    .filter(|_| !endpoint.service_var($service))
                {
                    builder = builder.endpoint_url(url);
                }
                builder
            }};
        }
        // An endpoint override (the emulator) has no per-bucket DNS names: address buckets
        // by path there.
        let s3 = aws_sdk_s3::Client::from_conf(
            client!(aws_sdk_s3, "S3")
                .force_path_style(endpoint_url.is_some() || endpoint.service_var("S3"))
                .build(),
        );
        Self {
            region: env.region.clone(),
            cloudformation: aws_sdk_cloudformation::Client::from_conf(
                client!(aws_sdk_cloudformation, "CLOUDFORMATION").build(),
            ),
            acm: aws_sdk_acm::Client::from_conf(client!(aws_sdk_acm, "ACM").build()),
            ecs: aws_sdk_ecs::Client::from_conf(client!(aws_sdk_ecs, "ECS").build()),
            ecr: aws_sdk_ecr::Client::from_conf(client!(aws_sdk_ecr, "ECR").build()),
            lambda: aws_sdk_lambda::Client::from_conf(client!(aws_sdk_lambda, "LAMBDA").build()),
            cloudwatch: aws_sdk_cloudwatch::Client::from_conf(
                client!(aws_sdk_cloudwatch, "CLOUDWATCH").build(),
            ),
            s3,
            sns: aws_sdk_sns::Client::from_conf(client!(aws_sdk_sns, "SNS").build()),
            ses: aws_sdk_sesv2::Client::from_conf(client!(aws_sdk_sesv2, "SESV2").build()),
            ssm: aws_sdk_ssm::Client::from_conf(client!(aws_sdk_ssm, "SSM").build()),
            scheduler: aws_sdk_scheduler::Client::from_conf(
                client!(aws_sdk_scheduler, "SCHEDULER").build(),
            ),
            elb: aws_sdk_elasticloadbalancingv2::Client::from_conf(
                client!(aws_sdk_elasticloadbalancingv2, "ELASTIC_LOAD_BALANCING_V2").build(),
            ),
            secrets: aws_sdk_secretsmanager::Client::from_conf(
                client!(aws_sdk_secretsmanager, "SECRETS_MANAGER").build(),
            ),
            sts: aws_sdk_sts::Client::from_conf(client!(aws_sdk_sts, "STS").build()),
            endpoint_url,
            retries,
        }
    }

    /// The address the STS client calls: the override, or the region's own endpoint.
    fn sts_endpoint(&self) -> String {
        self.endpoint_url
            .clone()
            .unwrap_or_else(|| format!("https://sts.{}.amazonaws.com", self.region))
    }

    /// Whose credentials these are: sts:GetCallerIdentity, which needs no permission (an
    /// explicit deny does not stop it), so it fails only when the credentials do.
    pub async fn caller(&self) -> Result<Caller, AwsError> {
        let out =
            self.sts.get_caller_identity().send().await.map_err(|e| {
                AwsError::new("GetCallerIdentity", e).at_endpoint(&self.sts_endpoint())
            })?;
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

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
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

/// AWS answers an API call in well under a second, including the writes that start long
/// work (a stack update, a deployment: those are followed by polling, each poll a call): a
/// call that has had no answer for 20 s will not get one (the emulator, on a busy CI machine,
/// takes a few seconds for the largest stack). Bounded per attempt and over all
/// retries, so an endpoint that accepts connections and never answers fails a run in under
/// a minute instead of hanging it.
const CALL_TIMEOUTS: CallTimeouts = CallTimeouts {
    connect: std::time::Duration::from_secs(5),
    first_byte: std::time::Duration::from_secs(20),
    attempt: std::time::Duration::from_secs(30),
    all_attempts: std::time::Duration::from_secs(60),
};

/// A call that sends a body of any size (a Lambda package, a model, a template uploaded to
/// S3): its first byte of answer comes only after the upload, which may take minutes.
const TRANSFER_TIMEOUTS: CallTimeouts = CallTimeouts {
    connect: std::time::Duration::from_secs(5),
    first_byte: std::time::Duration::from_secs(300),
    attempt: std::time::Duration::from_secs(600),
    all_attempts: std::time::Duration::from_secs(1800),
};

/// The timeouts of one kind of call.
#[derive(Debug, Clone, Copy)]
struct CallTimeouts {
    pub connect: std::time::Duration,
    /// From the start of the request to the first byte of the answer.
    pub first_byte: std::time::Duration,
    pub attempt: std::time::Duration,
    pub all_attempts: std::time::Duration,
}

impl CallTimeouts {
    fn config(&self) -> aws_config::timeout::TimeoutConfig {
        aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .read_timeout(self.first_byte)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.all_attempts)
            .build()
    }
}

/// For `.customize().config_override(..)` of an S3 upload.
pub fn s3_transfer() -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::config::Builder::default().timeout_config(TRANSFER_TIMEOUTS.config())
}

/// For `.customize().config_override(..)` of a Lambda call carrying a zip.
pub fn lambda_transfer() -> aws_sdk_lambda::config::Builder {
    aws_sdk_lambda::config::Builder::default().timeout_config(TRANSFER_TIMEOUTS.config())
}

/// What kind of failure a call met, for the sentence that explains it (and, in reports,
/// for a machine to tell throttling from a denial).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// Nothing listens at the endpoint, or the network path is down.
    Unreachable,
    /// The endpoint's host name does not resolve.
    Dns,
    Timeout,
    /// No credentials were found, or the credential provider failed.
    NoCredentials,
    ExpiredCredentials,
    AccessDenied,
    /// Throttled on every attempt the retry policy allowed.
    Throttled,
    /// The service answered 5xx on every attempt.
    ServiceFailed,
    /// Any other answer of the service (validation, not found, conflicts).
    Service,
    Other,
}

/// A failed AWS call: the operation, the service's error code, and one sentence.
#[derive(Debug, Clone, thiserror::Error)]
pub struct AwsError {
    pub operation: &'static str,
    pub code: Option<String>,
    pub message: String,
    /// Boxed: errors travel in every `Result`, the detail is read once if at all.
    detail: Box<CallDetail>,
}

#[derive(Debug, Clone)]
struct CallDetail {
    failure: Failure,
    request_id: Option<String>,
    /// The SDK's error as it printed itself: shown only with -vv.
    raw: String,
}

/// As the JSON error document carries it: the operation, AWS's error code, the kind of
/// failure, the sentence and the request id.
impl serde::Serialize for AwsError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut fields = serializer.serialize_struct("AwsError", 5)?;
        fields.serialize_field("operation", self.operation)?;
        fields.serialize_field("code", &self.code)?;
        fields.serialize_field("failure", &self.detail.failure)?;
        fields.serialize_field("message", &self.message)?;
        fields.serialize_field("request_id", &self.detail.request_id)?;
        fields.end()
    }
}

/// The sentence alone; `with_detail` adds what `-v` and `-vv` ask for, at display time.
impl std::fmt::Display for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.with_detail(0))
    }
}

impl AwsError {
    /// The sentence, with the request id from `detail` 1 (`-v`) and the raw error from 2
    /// (`-vv`).
    pub fn with_detail(&self, detail: u8) -> String {
        let mut text = format!("{} failed: {}", self.operation, self.message);
        if detail >= 1
            && let Some(id) = &self.detail.request_id
        {
            text.push_str(&format!(" (request id {id})"));
        }
        if detail >= 2 {
            text.push_str(&format!("\n  raw error: {}", self.detail.raw));
        }
        text
    }

    pub fn failure(&self) -> Failure {
        self.detail.failure
    }

    /// Names the endpoint in an error that is about reaching it (timeout, unreachable,
    /// unresolvable): which address did not answer is the first thing to check.
    fn at_endpoint(mut self, endpoint: &str) -> Self {
        if matches!(
            self.detail.failure,
            Failure::Timeout | Failure::Unreachable | Failure::Dns
        ) {
            self.message = format!("{} (endpoint {endpoint})", self.message);
        }
        self
    }
}

const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "EC2ThrottledException",
    "BandwidthLimitExceeded",
    "PriorRequestNotComplete",
];

const EXPIRED_CODES: &[&str] = &[
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
];

const DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthorizationError",
    "AuthorizationErrorException",
];

impl AwsError {
    /// A failure found on this side of a call (a body that would not read, a change set that
    /// never settled): no request id, nothing raw beyond the message.
    pub fn local(operation: &'static str, code: Option<&str>, message: String) -> Self {
        Self {
            operation,
            code: code.map(str::to_string),
            detail: Box::new(CallDetail {
                failure: if code.is_some() {
                    Failure::Service
                } else {
                    Failure::Other
                },
                request_id: None,
                raw: message.clone(),
            }),
            message,
        }
    }

    /// One sentence for what went wrong, never the SDK's raw structure: the kind of failure
    /// (unreachable, DNS, credentials, denied, throttled, 5xx) in plain words with the
    /// service's code and message; the request id and the raw error wait for -v and -vv.
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
        use aws_sdk_cloudformation::error::ProvideErrorMetadata;
        use aws_sdk_cloudformation::operation::RequestId;
        let code = error.code().map(str::to_string);
        let status = error.raw_response().map(|r| r.status().as_u16());
        let (failure, message) = describe(&error, code.as_deref(), error.message(), status);
        Self {
            operation,
            detail: Box::new(CallDetail {
                failure,
                request_id: error.request_id().map(str::to_string),
                raw: without_process_output(&format!("{error:?}")),
            }),
            code,
            message,
        }
    }
}

fn describe<E, R>(
    error: &aws_sdk_cloudformation::error::SdkError<E, R>,
    code: Option<&str>,
    message: Option<&str>,
    status: Option<u16>,
) -> (Failure, String)
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let said = match (code, message) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ => String::new(),
    };
    match code {
        Some(code) => by_service(code, message, said, status),
        None => by_transport(error, status),
    }
}

/// A failure the service answered with an AWS error code.
fn by_service(
    code: &str,
    message: Option<&str>,
    said: String,
    status: Option<u16>,
) -> (Failure, String) {
    {
        if THROTTLING_CODES.contains(&code) {
            return (
                Failure::Throttled,
                format!(
                    "AWS throttled it on every attempt the retry policy allows ({said}); raise `environment.retry.max_attempts` or run it again later"
                ),
            );
        }
        if EXPIRED_CODES.contains(&code) {
            return (
                Failure::ExpiredCredentials,
                format!(
                    "the AWS credentials are expired or not valid ({said}); {}",
                    hints::expired()
                ),
            );
        }
        if DENIED_CODES.contains(&code) {
            // AWS's message names the principal, the action and the resource.
            return (
                Failure::AccessDenied,
                format!("access denied: {}", message.unwrap_or(code)),
            );
        }
        match status {
            Some(status @ 500..) => (
                Failure::ServiceFailed,
                format!("the service failed (HTTP {status}) on every attempt: {said}"),
            ),
            _ => (Failure::Service, said),
        }
    }
}

/// A failure before or beneath the service's answer: credentials, network, HTTP.
fn by_transport<E, R>(
    error: &aws_sdk_cloudformation::error::SdkError<E, R>,
    status: Option<u16>,
) -> (Failure, String)
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    use aws_sdk_cloudformation::error::SdkError;
    let chain: Vec<String> = causes(error)
        .iter()
        .map(|c| without_process_output(c))
        .collect();
    if chain
        .iter()
        .any(|c| c.contains("credentials") || c.contains("credential provider"))
    {
        return (
            Failure::NoCredentials,
            format!(
                "no usable AWS credentials ({}); {}",
                chain.last().map_or("", String::as_str),
                hints::missing()
            ),
        );
    }
    let cause = chain.last().cloned().unwrap_or_default();
    match error {
        SdkError::DispatchFailure(failure) => {
            if cause.contains("lookup address")
                || cause.contains("dns error")
                || cause.contains("Name or service not known")
            {
                (
                    Failure::Dns,
                    format!(
                        "cannot resolve the endpoint's host name{}: {cause}",
                        hints::endpoint()
                    ),
                )
            } else if failure.is_timeout() {
                (
                    Failure::Timeout,
                    format!(
                        "the endpoint{} did not answer in time (a connection within {} s, the answer's first byte within {} s: {cause})",
                        hints::endpoint(),
                        CALL_TIMEOUTS.connect.as_secs(),
                        CALL_TIMEOUTS.first_byte.as_secs()
                    ),
                )
            } else if failure.is_io() {
                (
                    Failure::Unreachable,
                    format!("cannot reach the endpoint{}: {cause}", hints::endpoint()),
                )
            } else {
                (
                    Failure::Other,
                    format!("the request could not be sent: {cause}"),
                )
            }
        }
        SdkError::TimeoutError(_) => (
            Failure::Timeout,
            format!(
                "the endpoint did not answer in time (at most {} s per attempt, {} s in all; an endpoint that accepts connections and never answers)",
                CALL_TIMEOUTS.attempt.as_secs(),
                CALL_TIMEOUTS.all_attempts.as_secs()
            ),
        ),
        SdkError::ConstructionFailure(_) => (
            Failure::Other,
            format!("the request could not be made: {cause}"),
        ),
        SdkError::ServiceError(_) | SdkError::ResponseError(_) => match status {
            Some(status @ 500..) => (
                Failure::ServiceFailed,
                format!(
                    "the service failed (HTTP {status}) on every attempt, without an AWS error"
                ),
            ),
            Some(status) => (
                Failure::Other,
                format!("the service answered HTTP {status}, not an AWS answer"),
            ),
            None => (Failure::Other, cause),
        },
        _ => (Failure::Other, cause),
    }
}

/// A failed `credential_process`'s error as the SDK words it carries the process's whole
/// stderr, which may hold a token or a key: only its exit status is kept, with where to see
/// the rest.
fn without_process_output(text: &str) -> String {
    match text.find("Stderr:") {
        Some(at) if text.contains("external process") => format!(
            "{}its stderr is not shown, since it may hold a secret: run the profile's credential_process yourself to read it",
            &text[..at]
        ),
        _ => text.to_string(),
    }
}

/// Every cause's message, outermost first.
fn causes(error: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut out = vec![error.to_string()];
    let mut cause = error.source();
    while let Some(next) = cause {
        out.push(next.to_string());
        cause = next.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{RetrySettings, Tier};
    use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    /// An AWS-shaped error answer: the status, the request id header, the code and message.
    fn answered(status: u16, code: &str, message: &str) -> AwsError {
        let mut response = aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(status).expect("status"),
            SdkBody::from("<ErrorResponse/>"),
        );
        response
            .headers_mut()
            .insert("x-amzn-requestid", "c0ffee00-1111-2222-3333-444455556666");
        let error = GetCallerIdentityError::generic(
            ErrorMetadata::builder().code(code).message(message).build(),
        );
        AwsError::new(
            "GetCallerIdentity",
            aws_sdk_sts::error::SdkError::service_error(error, response),
        )
    }

    #[test]
    fn each_kind_of_failure_is_one_plain_sentence() {
        let denied = answered(
            403,
            "AccessDenied",
            "User: arn:aws:iam::210987654321:user/ci is not authorized to perform: cloudformation:UpdateStack on resource: arn:aws:cloudformation:eu-west-1:210987654321:stack/x/1",
        );
        assert_eq!(denied.failure(), Failure::AccessDenied);
        assert!(denied.message.starts_with("access denied: User: arn:aws:iam::210987654321:user/ci is not authorized to perform: cloudformation:UpdateStack on resource"));
        let throttled = answered(400, "Throttling", "Rate exceeded");
        assert_eq!(throttled.failure(), Failure::Throttled);
        assert!(throttled.message.contains("throttled it on every attempt"));
        let expired = answered(
            403,
            "ExpiredToken",
            "The security token included in the request is expired",
        );
        assert_eq!(expired.failure(), Failure::ExpiredCredentials);
        assert!(expired.message.contains("refresh them"));
        let failed = answered(503, "ServiceUnavailable", "Service is unavailable");
        assert_eq!(failed.failure(), Failure::ServiceFailed);
        assert!(failed.message.contains("HTTP 503"));
        let refused = answered(400, "ValidationError", "Stack with id x does not exist");
        assert_eq!(refused.failure(), Failure::Service);
        for error in [&denied, &throttled, &expired, &failed, &refused] {
            let line = error.with_detail(0);
            assert!(
                !line.contains('\n') && !line.contains("ServiceError {") && !line.contains("raw:"),
                "{line}"
            );
        }
    }

    #[test]
    fn verbosity_adds_the_request_id_then_the_raw_error() {
        let error = answered(400, "ValidationError", "Template format error");
        assert!(!error.with_detail(0).contains("c0ffee00"));
        assert!(
            error
                .with_detail(1)
                .ends_with("(request id c0ffee00-1111-2222-3333-444455556666)")
        );
        assert!(!error.with_detail(1).contains("raw error"));
        let raw = error.with_detail(2);
        assert!(raw.contains("\n  raw error: ServiceError"), "{raw}");
    }

    fn env(url: Option<&str>) -> Environment {
        Environment {
            name: "local".into(),
            tier: Tier::Local,
            account_id: "123456789012".into(),
            region: "eu-west-1".into(),
            endpoint_url: url.map(str::to_string),
            profile: None,
            retry: RetrySettings::default(),
            promoted_to: None,
        }
    }

    #[test]
    fn profiles_given_for_the_run_win_and_say_so() {
        let mut e = env(None);
        let none = EndpointOverride::default();
        assert_eq!(none.profile(&e), (None, None));
        e.profile = Some("staging-deployer".into());
        assert_eq!(none.profile(&e), (Some("staging-deployer"), None));
        let var = EndpointOverride {
            profile_var: Some("ana-admin".into()),
            ..Default::default()
        };
        let (chosen, note) = var.profile(&e);
        assert_eq!(chosen, Some("ana-admin"));
        assert!(
            note.unwrap()
                .contains("from AWS_PROFILE is used, not `staging-deployer`")
        );
        let flag = EndpointOverride {
            profile_flag: Some("ci".into()),
            profile_var: Some("ana-admin".into()),
            ..Default::default()
        };
        assert_eq!(flag.profile(&e).0, Some("ci"));
        let same = EndpointOverride {
            profile_var: Some("staging-deployer".into()),
            ..Default::default()
        };
        assert_eq!(same.profile(&e), (Some("staging-deployer"), None));
    }

    #[test]
    fn flag_beats_variable_beats_config() {
        let e = env(Some("http://config"));
        let both = EndpointOverride {
            flag: Some("http://flag".into()),
            env_var: Some("http://var".into()),
            ..Default::default()
        };
        assert_eq!(both.resolve(&e), Some("http://flag"));
        let var = EndpointOverride {
            flag: None,
            env_var: Some("http://var".into()),
            ..Default::default()
        };
        assert_eq!(var.resolve(&e), Some("http://var"));
        assert_eq!(
            EndpointOverride::default().resolve(&e),
            Some("http://config")
        );
        assert_eq!(EndpointOverride::default().resolve(&env(None)), None);
    }
}
