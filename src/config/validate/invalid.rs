//! What the validator finds, as data: one variant per check, with the values involved.
//! The words (message, expected, help) are written here and only here.

use std::fmt;

use super::super::diagnostic::Problem;
use super::super::model::{DriftMeasure, Tier};
use super::super::regions::UnknownRegion;
use super::models::ScheduleProblem;

fn one_of(names: &[String]) -> String {
    format!("one of: {}", names.join(", "))
}

/// A project, environment, release, policy, Sentry or MLflow setting.
#[derive(Debug)]
pub enum Setting {
    VariableName {
        name: String,
    },
    OutOfRange {
        key: String,
        at: String,
        value: u32,
        min: u32,
        max: u32,
    },
    ProjectName {
        name: String,
    },
    AccountId {
        value: String,
    },
    Profile {
        value: String,
    },
    Region {
        value: String,
        unknown: UnknownRegion,
    },
    EndpointOutsideLocal {
        tier: Tier,
    },
    EndpointUrl {
        url: String,
        problem: &'static str,
    },
    TagPattern {
        key: &'static str,
        reason: String,
    },
    RecordsBucket {
        bucket: String,
        problem: &'static str,
    },
    ProtectedBranch,
    PolicyRule {
        rule: String,
        rules: Vec<String>,
    },
    ExceptionReason,
    ExceptionResource {
        resource: String,
    },
    SentryUrl {
        url: String,
    },
    SentryProjects,
    TrackingUri {
        uri: String,
    },
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::VariableName { name } => write!(
                f,
                "`{}` is not an environment variable name",
                name.escape_debug()
            ),
            Self::OutOfRange { key, value, .. } => write!(f, "{key} {value} is out of range"),
            Self::ProjectName { name } => {
                write!(f, "project name `{name}` cannot prefix AWS resource names")
            }
            Self::AccountId { value } => write!(f, "`{value}` is not an AWS account id"),
            Self::Profile { value } => write!(f, "`{value}` is not a profile name"),
            Self::Region { value, .. } => write!(f, "`{value}` is not an AWS region"),
            Self::EndpointOutsideLocal { tier } => write!(
                f,
                "endpoint_url is set in a {} environment",
                format!("{tier:?}").to_lowercase()
            ),
            Self::EndpointUrl { url, problem } => {
                write!(f, "`{url}` is not an endpoint URL: {problem}")
            }
            Self::SentryUrl { url } => write!(f, "`{url}` is not a Sentry server address"),
            Self::SentryProjects => {
                f.write_str("Sentry needs an organization and at least one project")
            }
            Self::TagPattern { key, reason } => {
                write!(f, "`{key}` is not a valid regular expression: {reason}")
            }
            Self::RecordsBucket { bucket, problem } => {
                write!(f, "`{bucket}` is not an S3 bucket name: {problem}")
            }
            Self::ProtectedBranch => f.write_str("protected_branch is empty"),
            Self::PolicyRule { rule, .. } => write!(f, "`{rule}` is not a policy rule"),
            Self::ExceptionReason => f.write_str("a policy exception needs a reason"),
            Self::ExceptionResource { resource } => {
                write!(f, "`{resource}` does not name a resource")
            }
            Self::TrackingUri { uri } => write!(f, "`{uri}` is not an http(s) URL"),
        }
    }
}

impl Problem for Setting {
    fn expected(&self) -> Option<String> {
        Some(match self {
            Self::VariableName { .. } => {
                "letters, digits and `_`, not starting with a digit, as `LOG_FORMAT`".into()
            }
            Self::OutOfRange { min, max, .. } => format!("a whole number from {min} to {max}"),
            Self::ProjectName { .. } => "lowercase letters, digits and dashes, starting with a letter, at most 32 characters".into(),
            Self::AccountId { .. } => {
                "12 digits, quoted so that leading zeros survive: \"012345678901\"".into()
            }
            Self::Profile { .. } => "a profile of ~/.aws/config, as `facturascan-staging`".into(),
            Self::Region { .. } => "a region code, as `eu-west-1`".into(),
            Self::EndpointOutsideLocal { .. } => {
                "endpoint_url only in environments with `tier: local`".into()
            }
            Self::EndpointUrl { .. } => "http://host:port or https://host:port".into(),
            Self::SentryUrl { .. } => {
                "the server's https:// address without the API path, as `https://sentry.io`"
                    .into()
            }
            Self::SentryProjects => {
                "`organization = \"facturascan\"` and `projects = [\"facturascan-ocr\"]`".into()
            }
            Self::TagPattern { .. } => "a regular expression, as '^v\\d+\\.\\d+\\.\\d+$'".into(),
            Self::RecordsBucket { .. } => "3 to 63 lowercase letters, digits, `.` and `-`, starting and ending with a letter or digit".into(),
            Self::ProtectedBranch => "a branch name, as `main`".into(),
            Self::PolicyRule { rules, .. } => one_of(rules),
            Self::ExceptionReason => "a sentence saying why the rule does not apply".into(),
            Self::ExceptionResource { .. } => "`<stack>/<LogicalId>` or `<stack>/*`".into(),
            Self::TrackingUri { .. } => {
                "the tracking server's URL, as `https://mlflow.internal.example.com`".into()
            }
        })
    }

    fn help(&self) -> Option<String> {
        Some(match self {
            Self::VariableName { .. } => "rename the variable".into(),
            Self::OutOfRange { at, min, max, .. } => format!("set `{at}` between {min} and {max}"),
            Self::ProjectName { .. } => "rename the project, as `facturascan`".into(),
            Self::AccountId { .. } => "copy the id from `aws sts get-caller-identity`".into(),
            Self::Profile { .. } => {
                "name the profile, or remove the key to use the default credential chain".into()
            }
            Self::Region { unknown, .. } => match unknown {
                UnknownRegion::DisplayName { code } => {
                    format!("write the region's code, `{code}`, not its name")
                }
                UnknownRegion::Typo { code, name } => format!("did you mean `{code}` ({name})?"),
                UnknownRegion::Unknown => "`aws account list-regions` lists the codes; a region newer than this facturactl needs a newer release".into(),
            },
            Self::EndpointOutsideLocal { .. } => {
                "remove endpoint_url: staging and production talk to AWS itself".into()
            }
            Self::EndpointUrl { .. } => {
                "write the emulator's URL, as printed by `scripts/local-aws start`".into()
            }
            Self::SentryUrl { .. } => "http:// is accepted only for an environment with endpoint_url (the local emulator)".into(),
            Self::SentryProjects => "the slugs are in the project's Sentry settings".into(),
            Self::TagPattern { .. } => {
                "in TOML, write it as a literal string in single quotes so backslashes stay".into()
            }
            Self::RecordsBucket { .. } => {
                "leave it unset for `<project>-<env>-releases-<account>`, or fix the name".into()
            }
            Self::ProtectedBranch => "name the branch releases are cut from".into(),
            Self::PolicyRule { .. } => {
                "`facturactl validate --output json` shows rule ids of findings".into()
            }
            Self::ExceptionReason => "write the reason a reviewer would accept".into(),
            Self::ExceptionResource { .. } => {
                "write the stack and logical id from the finding".into()
            }
            Self::TrackingUri { .. } => {
                "facturactl speaks MLflow's REST API: give the server's URL".into()
            }
        })
    }
}

/// A stack: its name, template, dependencies and inputs.
#[derive(Debug)]
pub enum StackInvalid {
    UnknownDependency {
        stack: String,
        dependency: String,
        stacks: Vec<String>,
    },
    DisabledDependency {
        stack: String,
        dependency: String,
    },
    BootstrapDependency {
        stack: String,
        dependency: String,
    },
    StackName {
        name: String,
    },
    EmptyTemplate {
        stack: String,
    },
    InputFromUnknownStack {
        parameter: String,
        from: String,
    },
    ParameterTwice {
        parameter: String,
    },
    StackCycle {
        cycle: Vec<String>,
    },
}

impl fmt::Display for StackInvalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownDependency {
                stack, dependency, ..
            } => write!(
                f,
                "stack `{stack}` depends on `{dependency}`, which is not a stack"
            ),
            Self::DisabledDependency { stack, dependency } => write!(
                f,
                "stack `{stack}` depends on `{dependency}`, which is disabled here"
            ),
            Self::BootstrapDependency { stack, dependency } => write!(
                f,
                "bootstrap stack `{stack}` depends on `{dependency}`, which is not one"
            ),
            Self::StackName { name } => write!(
                f,
                "stack name `{name}` is not usable in a CloudFormation stack name"
            ),
            Self::EmptyTemplate { stack } => {
                write!(f, "stack `{stack}` has an empty template path")
            }
            Self::InputFromUnknownStack { parameter, from } => write!(
                f,
                "input `{parameter}` reads from `{from}`, which is not a stack"
            ),
            Self::ParameterTwice { parameter } => write!(
                f,
                "parameter `{parameter}` is set both as a value and as an input"
            ),
            Self::StackCycle { cycle } => write!(
                f,
                "stacks depend on each other in a cycle: {}",
                cycle.join(" -> ")
            ),
        }
    }
}

impl Problem for StackInvalid {
    fn expected(&self) -> Option<String> {
        Some(match self {
            Self::UnknownDependency { stacks, .. } => one_of(stacks),
            Self::DisabledDependency { .. } => {
                "dependencies of an enabled stack are enabled".into()
            }
            Self::BootstrapDependency { .. } => {
                "a bootstrap stack depends only on bootstrap stacks".into()
            }
            Self::StackName { .. } => {
                "lowercase letters, digits and dashes, starting with a letter".into()
            }
            Self::EmptyTemplate { .. } => {
                "a file under templates/stacks/, as `network.yaml.tera`".into()
            }
            Self::InputFromUnknownStack { .. } => {
                "`<stack>.<Output>` naming a declared stack".into()
            }
            Self::ParameterTwice { .. } => "each parameter set once".into(),
            Self::StackCycle { .. } => "dependencies that form no cycle".into(),
        })
    }

    fn help(&self) -> Option<String> {
        Some(match self {
            Self::UnknownDependency { .. } => {
                "fix the name or declare the stack under [stacks]".into()
            }
            Self::DisabledDependency { stack, dependency } => {
                format!("enable `{dependency}` or disable `{stack}` in this environment")
            }
            Self::BootstrapDependency { dependency, .. } => format!(
                "add `bootstrap = true` to stacks.{dependency}, or drop the dependency"
            ),
            Self::StackName { .. } => "rename the stack".into(),
            Self::EmptyTemplate { .. } => "name the template file".into(),
            Self::InputFromUnknownStack { .. } => "fix the stack name".into(),
            Self::ParameterTwice { .. } => "remove it from `parameters` or from `inputs`".into(),
            Self::StackCycle { .. } => "move the shared resources into a stack both can depend on, or pass the value as a parameter".into(),
        })
    }
}

/// A service: its stack, runtime, size, image, routes and secrets.
#[derive(Debug)]
pub enum ServiceInvalid {
    ServiceStackUnknown {
        service: String,
        stack: String,
        stacks: Vec<String>,
    },
    ServiceStackDisabled {
        service: String,
        stack: String,
    },
    ServiceRuntime {
        service: String,
    },
    FargateCpu {
        cpu: u32,
    },
    FargateMemory {
        cpu: u32,
        memory: u32,
        min: u32,
        max: u32,
        step: u32,
    },
    Repository {
        name: String,
    },
    HealthPath {
        path: String,
    },
    RoutePath {
        path: String,
    },
    ContainerSecretFromEnv {
        key: String,
    },
    LambdaRuntime {
        runtime: String,
        supported: Vec<&'static str>,
    },
    Handler {
        handler: String,
    },
    MlflowMissing {
        service: String,
    },
}

impl fmt::Display for ServiceInvalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ServiceStackUnknown { service, stack, .. } => write!(
                f,
                "service `{service}` belongs to stack `{stack}`, which is not a stack"
            ),
            Self::ServiceStackDisabled { service, stack } => write!(
                f,
                "service `{service}` is enabled but its stack `{stack}` is disabled"
            ),
            Self::ServiceRuntime { service } => write!(
                f,
                "service `{service}` must have exactly one of `ecs` and `lambda`"
            ),
            Self::FargateCpu { cpu } => write!(f, "{cpu} is not a Fargate CPU size"),
            Self::FargateMemory { cpu, memory, .. } => write!(
                f,
                "{memory} MiB of memory does not fit {cpu} CPU units on Fargate"
            ),
            Self::Repository { name } => {
                write!(f, "`{name}` is not an ECR repository name")
            }
            Self::HealthPath { path } => {
                write!(f, "health check path `{path}` does not start with `/`")
            }
            Self::RoutePath { path } => write!(f, "`{path}` cannot route to this service"),
            Self::ContainerSecretFromEnv { key } => write!(
                f,
                "container secret `{key}` reads a variable of the machine running facturactl"
            ),
            Self::LambdaRuntime { runtime, .. } => write!(
                f,
                "`{runtime}` is not a runtime Lambda takes for new functions"
            ),
            Self::Handler { handler } => {
                write!(f, "handler `{handler}` does not name a function in a file")
            }
            Self::MlflowMissing { service } => write!(
                f,
                "service `{service}`'s model is in MLflow, but no [mlflow] is set"
            ),
        }
    }
}

impl Problem for ServiceInvalid {
    fn expected(&self) -> Option<String> {
        Some(match self {
            Self::ServiceStackUnknown { stacks, .. } => {
                one_of(stacks)
            }
            Self::ServiceStackDisabled { .. } => {
                "a service's stack enabled when the service is".into()
            }
            Self::ServiceRuntime { service } => format!(
                "a [services.{service}.ecs] or a [services.{service}.lambda] table"
            ),
            Self::FargateCpu { .. } => "one of 256, 512, 1024, 2048, 4096, 8192, 16384".into(),
            Self::FargateMemory { min, max, step, .. } => {
                format!("{min} to {max} MiB in steps of {step}")
            }
            Self::Repository { .. } => "2 to 256 lowercase letters, digits and `._-` in `/`-separated parts, as `facturascan/ocr`".into(),
            Self::HealthPath { .. } => {
                "a path of at most 1024 characters starting with `/`, as `/health`".into()
            }
            Self::RoutePath { .. } => "a path pattern of up to 128 characters starting with `/` (letters, digits, `/_-.$*?~`), on a service with a container_port".into(),
            Self::ContainerSecretFromEnv { .. } => "an `ssm:` or `secretsmanager:` reference, which ECS resolves when the task starts".into(),
            Self::LambdaRuntime { supported, .. } => supported.join(", "),
            Self::Handler { .. } => {
                "`<file>.<function>`, as `parser.handler` for handler() in parser.py".into()
            }
            Self::MlflowMissing { .. } => "[mlflow] tracking_uri = \"https://...\"".into(),
        })
    }

    fn help(&self) -> Option<String> {
        Some(match self {
            Self::ServiceStackUnknown { .. } => {
                "point `stack` at the stack whose template creates the service".into()
            }
            Self::ServiceStackDisabled { service, stack } => {
                format!("set services.{service}.enabled = false, or enable stacks.{stack}")
            }
            Self::ServiceRuntime { .. } => "keep the table of the runtime the service uses".into(),
            Self::FargateCpu { .. } => "pick the nearest size".into(),
            Self::FargateMemory { .. } => {
                "change memory, or cpu to a size that allows it".into()
            }
            Self::Repository { .. } => {
                "ECR and Docker refuse upper case: write the name in lower case".into()
            }
            Self::HealthPath { .. } => {
                "write the path the load balancer requests, from the root".into()
            }
            Self::RoutePath { .. } => {
                "as `path = \"/predict*\"` with `container_port = 8080`".into()
            }
            Self::ContainerSecretFromEnv { .. } => {
                "store the value in SSM Parameter Store or Secrets Manager and reference it".into()
            }
            Self::LambdaRuntime { .. } => "Lambda refuses to create or update functions on a deprecated runtime: move to a supported one".into(),
            Self::Handler { .. } => "add the function's name after the file's".into(),
            Self::MlflowMissing { .. } => "add [mlflow] with the tracking server's URL (per environment, in its overlay, if they differ)".into(),
        })
    }
}

/// A notification channel, the notifications, or an alarm.
#[derive(Debug)]
pub enum ChannelInvalid {
    ChannelNameTwice {
        name: String,
    },
    NoAddresses {
        channel: String,
    },
    EmailAddress {
        address: String,
    },
    SesFrom {
        address: String,
    },
    SlackChannelName {
        channel: String,
    },
    SlackRoute {
        channel: String,
        both: bool,
    },
    ChatbotId {
        field: &'static str,
        value: String,
        first: char,
    },
    NotificationChannel {
        channel: String,
        channels: Vec<String>,
    },
    AlarmThreshold {
        alarm: String,
        threshold: f64,
        percent: bool,
    },
    AlarmPeriod {
        seconds: u32,
    },
    DatapointsToAlarm {
        datapoints: u32,
        evaluation_periods: u32,
    },
    AlarmNotifiesNobody {
        alarm: String,
    },
    AlarmChannel {
        alarm: String,
        channel: String,
        channels: Vec<String>,
    },
}

impl fmt::Display for ChannelInvalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ChannelNameTwice { name } => write!(
                f,
                "channel name `{name}` is used for both an email and a Slack channel"
            ),
            Self::NoAddresses { channel } => {
                write!(f, "email channel `{channel}` has no addresses")
            }
            Self::EmailAddress { address } | Self::SesFrom { address } => {
                write!(f, "`{address}` is not an email address")
            }
            Self::SlackChannelName { channel } => write!(
                f,
                "`{}` is not a Slack channel name",
                channel.escape_debug()
            ),
            Self::SlackRoute {
                channel,
                both: true,
            } => write!(
                f,
                "Slack channel `{channel}` sets both `webhook` and `chatbot`"
            ),
            Self::SlackRoute {
                channel,
                both: false,
            } => write!(
                f,
                "Slack channel `{channel}` sets neither `webhook` nor `chatbot`"
            ),
            Self::ChatbotId { field, value, .. } => write!(f, "`{value}` is not a Slack {field}"),
            Self::NotificationChannel { channel, .. } => {
                write!(f, "notifications go to `{channel}`, which is not a channel")
            }
            Self::AlarmThreshold {
                alarm, threshold, ..
            } => write!(
                f,
                "threshold {threshold} of alarm `{alarm}` is out of range"
            ),
            Self::AlarmPeriod { seconds } => {
                write!(f, "period {seconds}s is not a CloudWatch alarm period")
            }
            Self::DatapointsToAlarm { datapoints, .. } => {
                write!(f, "datapoints_to_alarm {datapoints} is out of range")
            }
            Self::AlarmNotifiesNobody { alarm } => write!(f, "alarm `{alarm}` notifies nobody"),
            Self::AlarmChannel { alarm, channel, .. } => write!(
                f,
                "alarm `{alarm}` notifies `{channel}`, which is not a channel"
            ),
        }
    }
}

impl Problem for ChannelInvalid {
    fn expected(&self) -> Option<String> {
        Some(match self {
            Self::ChannelNameTwice { .. } => "channel names unique across kinds".into(),
            Self::NoAddresses { .. } => "at least one address".into(),
            Self::EmailAddress { .. } => "name@domain.tld".into(),
            Self::SesFrom { .. } => "a sender address verified in SES".into(),
            Self::SlackChannelName { .. } => {
                "`#` and 1 to 80 lowercase letters, digits, `-` or `_`, as `#dev-monitoring`".into()
            }
            Self::SlackRoute { .. } => {
                "exactly one of `webhook` (a secret reference) and `chatbot`".into()
            }
            Self::ChatbotId { first, .. } => {
                format!("an id starting with `{first}`, as in Slack's channel details")
            }
            Self::NotificationChannel { channels, .. } | Self::AlarmChannel { channels, .. } => {
                one_of(channels)
            }
            Self::AlarmThreshold { percent: true, .. } => "a percentage from 0 to 100".into(),
            Self::AlarmThreshold { .. } => "a number of 0 or more".into(),
            Self::AlarmPeriod { .. } => "10, 30, or a multiple of 60 up to 86400".into(),
            Self::DatapointsToAlarm {
                evaluation_periods, ..
            } => format!("1 to evaluation_periods ({evaluation_periods})"),
            Self::AlarmNotifiesNobody { .. } => "at least one channel".into(),
        })
    }

    fn help(&self) -> Option<String> {
        Some(match self {
            Self::ChannelNameTwice { .. } => {
                "rename one of them; alarms refer to channels by name".into()
            }
            Self::NoAddresses { .. } => "add an address".into(),
            Self::EmailAddress { .. } => "fix the address".into(),
            Self::SesFrom { .. } => {
                "fix the address, or remove ses_from to send through the SNS topic".into()
            }
            Self::SlackChannelName { .. } => {
                "write the channel as Slack shows it, with its `#`".into()
            }
            Self::SlackRoute { .. } => "keep `webhook = \"ssm:/...\"` for the forwarder Lambda, or `chatbot = { workspace_id, channel_id }` for AWS Chatbot".into(),
            Self::ChatbotId { .. } => "copy the id from Slack (channel details, at the bottom) or the Chatbot console".into(),
            Self::NotificationChannel { .. } | Self::AlarmChannel { .. } => {
                "declare it under [channels.email] or [channels.slack], or fix the name".into()
            }
            Self::AlarmThreshold { .. } => {
                "percent thresholds are written as 1 for 1%, not 0.01 or 100 for all".into()
            }
            Self::AlarmPeriod { .. } => "use 60 for one-minute datapoints".into(),
            Self::DatapointsToAlarm { .. } => {
                "lower datapoints_to_alarm or raise evaluation_periods".into()
            }
            Self::AlarmNotifiesNobody { .. } => "add a channel, or set enabled = false".into(),
        })
    }
}

/// A model: its name, input, A/B guards, retraining and drift trigger.
#[derive(Debug)]
pub enum ModelInvalid {
    ModelName {
        name: String,
    },
    ModelInputEmpty,
    Confidence {
        value: f64,
    },
    MinSamplesZero,
    Power {
        value: f64,
    },
    Steps {
        steps: Vec<u32>,
    },
    AbLimit {
        key: &'static str,
        limit: f64,
    },
    ModelServers {
        model: String,
        servers: usize,
    },
    Schedule {
        schedule: String,
        problem: ScheduleProblem,
    },
    TimeZone {
        zone: String,
        closest: Option<&'static str>,
    },
    DataPrefix {
        prefix: String,
    },
    GithubRepository {
        name: String,
    },
    TokenSecret {
        name: String,
    },
    TrainingRepository {
        name: String,
    },
    TrainingImage {
        image: String,
    },
    DriftChannel {
        channel: String,
    },
    DriftThreshold {
        threshold: f64,
        measure: DriftMeasure,
    },
    DriftPeriod {
        seconds: u32,
    },
    DriftEvaluation {
        periods: u32,
        period_seconds: u32,
    },
}

impl fmt::Display for ModelInvalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ModelName { name } => write!(f, "`{name}` is not a model name"),
            Self::ModelInputEmpty => f.write_str("the model's input lists no field"),
            Self::Confidence { value } => write!(
                f,
                "a confidence of {value} is not a probability between 0.5 and 1"
            ),
            Self::MinSamplesZero => f.write_str("min_samples = 0 would decide on no data"),
            Self::Steps { steps } => write!(f, "{steps:?} is not a ramp"),
            Self::Power { value } => {
                write!(
                    f,
                    "a power of {value} is not a probability between 0.5 and 1"
                )
            }
            Self::AbLimit { key, limit } => {
                write!(f, "{key} = {limit} is not a change one can accept")
            }
            Self::TrainingRepository { name } => {
                write!(f, "`{name}` is not an ECR repository name")
            }
            Self::ModelServers { model, servers } => {
                write!(f, "model `{model}` is served by {servers} services")
            }
            Self::Schedule { schedule, problem } => {
                write!(f, "`{schedule}` is not a schedule: {problem}")
            }
            Self::TimeZone { zone, .. } => write!(f, "`{zone}` is not an IANA time zone"),
            Self::DataPrefix { prefix } => write!(f, "`{prefix}` is not a key prefix"),
            Self::TrainingImage { image } => {
                write!(f, "`{image}` is neither an image tag nor a digest")
            }
            Self::GithubRepository { name } => {
                write!(f, "`{name}` is not a GitHub repository")
            }
            Self::TokenSecret { name } => write!(f, "`{name}` is not a secret name"),
            Self::DriftChannel { channel } => write!(f, "channel `{channel}` is not declared"),
            Self::DriftThreshold { threshold, measure } => write!(
                f,
                "threshold {threshold} is out of range for {}",
                measure.as_str()
            ),
            Self::DriftPeriod { seconds } => {
                write!(f, "period {seconds}s is not a drift alarm period")
            }
            Self::DriftEvaluation {
                periods,
                period_seconds,
            } => write!(
                f,
                "{periods} periods of {period_seconds}s is more than CloudWatch evaluates"
            ),
        }
    }
}

impl Problem for ModelInvalid {
    fn expected(&self) -> Option<String> {
        Some(match self {
            Self::ModelName { .. } => {
                "lowercase letters, digits, `-` and `_`, starting with a letter, at most 64".into()
            }
            Self::ModelInputEmpty => "the fields the service sends, as `{ supplier = \"string\", total = \"number\" }`".into(),
            Self::Confidence { .. } => "a number such as 0.9, 0.95 or 0.99".into(),
            Self::MinSamplesZero => "at least 1 (hundreds in practice)".into(),
            Self::Power { .. } => "a number such as 0.8 or 0.9".into(),
            Self::Steps { .. } => {
                "shares from 1 to 100, each above the last, ending at 100, as [10, 50, 100]"
                    .into()
            }
            Self::AbLimit { .. } => "a number of 0 or more: the worst change accepted".into(),
            Self::ModelServers { .. } => {
                "exactly one service with `[services.<name>.model] name = \"<model>\"`".into()
            }
            Self::Schedule { .. } => "`cron(minutes hours day-of-month month day-of-week year)` or `rate(N minutes|hours|days)`".into(),
            Self::TimeZone { .. } => "`UTC` or an IANA name, as `Europe/Madrid`".into(),
            Self::DataPrefix { .. } => {
                "a prefix without a leading `/`, ending in `/`, as `validated/`".into()
            }
            Self::TrainingRepository { .. } => "lowercase letters, digits and `._-` in `/`-separated parts, as `facturascan/fraud-training`".into(),
            Self::TrainingImage { .. } => {
                "a tag (up to 128 of letters, digits, `._-`) or `sha256:` and 64 hex digits".into()
            }
            Self::GithubRepository { .. } => {
                "`owner/name`, each of letters, digits and `._-`".into()
            }
            Self::TokenSecret { .. } => {
                "a Secrets Manager name: 1 to 512 of letters, digits and `/_+=.@-`".into()
            }
            Self::DriftChannel { .. } => "a key of [channels.email] or [channels.slack]".into(),
            Self::DriftThreshold {
                measure: DriftMeasure::Agreement,
                ..
            } => "a percentage above 0 and at most 100, as 90".into(),
            Self::DriftThreshold {
                measure: DriftMeasure::PopulationStability,
                ..
            } => "a positive index, as 0.2 (0.1 to 0.25 is a moderate shift)".into(),
            Self::DriftPeriod { .. } => "a multiple of 60 up to 86400".into(),
            Self::DriftEvaluation { .. } => "at least 1, and periods x period_seconds at most 1 day (7 days for periods of an hour or more)".into(),

        })
    }

    fn help(&self) -> Option<String> {
        Some(match self {
            Self::ModelName { .. } => {
                "the registry keys objects by this name: write it as `fraud-scoring`".into()
            }
            Self::ModelInputEmpty => {
                "list them: a deploy compares them with each model version's schema".into()
            }
            Self::Confidence { .. } => {
                "0.95 is the usual choice: intervals that miss one time in twenty".into()
            }
            Self::Steps { .. } => {
                "the variant's share at each step; the last, 100, is the promotion".into()
            }
            Self::Power { .. } => {
                "0.8 is the usual choice: a variant as good as the control is promoted four times in five once it has the samples `traffic` shows".into()
            }
            Self::MinSamplesZero => {
                "set the samples each side needs before a verdict, as 500".into()
            }
            Self::AbLimit { .. } => {
                "0 accepts no worsening at all; leave the key out to only show the measure".into()
            }
            Self::ModelServers { .. } => "the drift alarm watches the measures of the service that serves the model, and the retraining renders into that service's stack: declare the model on one service".into(),
            Self::Schedule { .. } => "as `cron(0 3 ? * MON *)` for Mondays at 03:00; one of day-of-month and day-of-week is `?`".into(),
            Self::TimeZone {
                closest: Some(zone),
                ..
            } => format!("did you mean `{zone}`?"),
            Self::TimeZone { closest: None, .. } => {
                "write the zone the cron expression's hours are in".into()
            }
            Self::DataPrefix { .. } => {
                "the job reads every object under it; the role may read nothing else".into()
            }
            Self::TrainingRepository { .. } => {
                "name the repository the training image is pushed to".into()
            }
            Self::TrainingImage { .. } => {
                "pin the training image: a run should be repeatable from its record".into()
            }
            Self::GithubRepository { .. } => {
                "the repository whose generated training workflow registers the runs".into()
            }
            Self::TokenSecret { .. } => {
                "name the secret, not its value: the token never appears in a file".into()
            }
            Self::DriftChannel { .. } => {
                "declare the channel, or remove it from the drift trigger".into()
            }
            Self::DriftThreshold { .. } => {
                "the alarm fires when the measure passes this value".into()
            }
            Self::DriftPeriod { .. } => "3600 judges an hour of predictions at a time".into(),
            Self::DriftEvaluation { .. } => "lower evaluation_periods".into(),

        })
    }
}
