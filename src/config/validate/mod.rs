//! Checks that types alone cannot express: ranges, names, references between sections, and
//! the stack graph. Every problem is collected (not just the first) with its location.

use super::diagnostic::ConfigError;
use super::model::{
    Bounds, Config, EcsService, GRACE_PERIOD_SECONDS, INITIAL_BACKOFF_MS, LAMBDA_TIMEOUT_SECONDS,
    LOCK_TTL_SECONDS, LOCK_WAIT_SECONDS, LambdaService, MAX_BACKOFF_MS, NOTIFY_TIMEOUT_SECONDS,
    ROLLOUT_DEADLINE_SECONDS, Runtime, STACK_TIMEOUT_MINUTES, STEP_INTERVAL_SECONDS, SlackChannel,
    ThresholdUnit, Tier,
};
use super::regions;
use super::secret::SecretRef;
use super::source::{Node, PathSegment, path};
use crate::graph::StackGraph;

/// Valid Fargate (cpu, memory MiB) combinations: each cpu size with its memory range and step.
const FARGATE_SIZES: &[(u32, u32, u32, u32)] = &[
    (256, 512, 2048, 512),
    (512, 1024, 4096, 1024),
    (1024, 2048, 8192, 1024),
    (2048, 4096, 16384, 1024),
    (4096, 8192, 30720, 1024),
    (8192, 16384, 61440, 4096),
    (16384, 32768, 122880, 8192),
];

pub fn validate(config: &Config, sources: &Node, rule_ids: &[&str]) -> Vec<ConfigError> {
    let mut v = Validator {
        sources,
        errors: Vec::new(),
    };
    v.project(config);
    v.environment(config);
    v.stacks(config);
    v.services(config);
    v.channels(config);
    v.notifications(config);
    v.alarms(config);
    v.release(config);
    v.sentry(config);
    v.policy(config, rule_ids);
    v.models(config);
    v.mlflow(config);
    v.verify(config);
    v.errors
        .sort_by(|a, b| (&a.origin.file, a.origin.line).cmp(&(&b.origin.file, b.origin.line)));
    v.errors
}

mod invalid;
mod models;
mod verify;

use super::diagnostic::Problem;
use invalid::{ChannelInvalid, ModelInvalid, ServiceInvalid, Setting, StackInvalid};

struct Validator<'a> {
    sources: &'a Node,
    errors: Vec<ConfigError>,
}

fn with_index(mut p: Vec<PathSegment>, i: usize) -> Vec<PathSegment> {
    p.push(PathSegment::Index(i));
    p
}

fn with_key(mut p: Vec<PathSegment>, k: &str) -> Vec<PathSegment> {
    p.push(PathSegment::Key(k.to_string()));
    p
}

/// The runtimes Lambda creates functions on (its runtimes page, 2026): deprecated ones are
/// refused at CreateFunction and, later, at UpdateFunctionCode.
const LAMBDA_RUNTIMES: &[&str] = &[
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "nodejs20.x",
    "nodejs22.x",
    "nodejs24.x",
    "java11",
    "java17",
    "java21",
    "java25",
    "dotnet8",
    "dotnet10",
    "ruby3.3",
    "ruby3.4",
    "provided.al2",
    "provided.al2023",
];

/// `file.function` (Python and Node.js handlers; the file may sit in folders).
fn is_script_handler(handler: &str) -> bool {
    handler.rsplit_once('.').is_some_and(|(file, function)| {
        !file.is_empty()
            && file
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-./".contains(c))
            && function
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && function
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// An ECR repository name (after the registry host, when a full URI is given): 2 to 256
/// characters, `/`-separated parts of lowercase letters and digits joined by `.`, `_`, `-`.
fn is_repository(repository: &str) -> bool {
    let name = match repository.split_once('/') {
        Some((host, rest)) if host.contains('.') || host.contains(':') => rest,
        _ => repository,
    };
    let part_ok = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
            && part.starts_with(|c: char| c.is_ascii_alphanumeric())
            && part.ends_with(|c: char| c.is_ascii_alphanumeric())
    };
    (2..=256).contains(&name.len()) && name.split('/').all(part_ok)
}

/// What S3 refuses in a general purpose bucket's name (its naming rules), if anything.
pub(crate) fn bucket_name_problem(name: &str) -> Option<&'static str> {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !(3..=63).contains(&name.len()) {
        Some("it must have 3 to 63 characters")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        Some("only lowercase letters, digits, `.` and `-` are allowed")
    } else if !edge(name.chars().next()) || !edge(name.chars().last()) {
        Some("it must start and end with a letter or digit")
    } else if name.contains("..") || name.contains(".-") || name.contains("-.") {
        Some("dots may not be next to each other or to a dash")
    } else if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        Some("it may not look like an IP address")
    } else if ["xn--", "sthree-", "amzn-s3-demo-"]
        .iter()
        .any(|p| name.starts_with(p))
        || ["-s3alias", "--ol-s3", "--x-s3", ".mrap"]
            .iter()
            .any(|s| name.ends_with(s))
    {
        Some("it uses a prefix or suffix S3 reserves")
    } else {
        None
    }
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

impl Validator<'_> {
    fn report(&mut self, at: &[PathSegment], problem: impl Problem + 'static) {
        self.errors
            .push(ConfigError::new(self.sources.locate(at), problem));
    }

    /// Environment variable names as ECS and Lambda take them (and as templates write them,
    /// unquoted): a letter or `_`, then letters, digits and `_`.
    fn variable_names<'k>(
        &mut self,
        base: &[PathSegment],
        table: &str,
        names: impl Iterator<Item = &'k String>,
    ) {
        for name in names {
            let valid = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                self.report_key(
                    &with_key(with_key(base.to_vec(), table), name),
                    Setting::VariableName {
                        name: name.to_string(),
                    },
                );
            }
        }
    }

    /// Points at the key rather than its value (a name that is itself the problem).
    fn report_key(&mut self, at: &[PathSegment], problem: impl Problem + 'static) {
        self.errors
            .push(ConfigError::new(self.sources.locate_key(at), problem));
    }

    fn range(&mut self, at: Vec<PathSegment>, value: u32, min: u32, max: u32, what: &str) {
        if !(min..=max).contains(&value) {
            self.report(
                &at,
                Setting::OutOfRange {
                    key: what.to_string(),
                    at: super::source::display_path(&at),
                    value,
                    min,
                    max,
                },
            );
        }
    }

    fn bounded(&mut self, at: Vec<PathSegment>, value: u32, bounds: Bounds, what: &str) {
        self.range(at, value, bounds.min, bounds.max, what);
    }

    fn project(&mut self, c: &Config) {
        if !is_name(&c.project.name) {
            self.report(
                &path(["project", "name"]),
                Setting::ProjectName {
                    name: c.project.name.clone(),
                },
            );
        }
    }

    fn environment(&mut self, c: &Config) {
        let env = &c.environment;
        if env.account_id.len() != 12 || !env.account_id.chars().all(|c| c.is_ascii_digit()) {
            self.report(
                &path(["environment", "account_id"]),
                Setting::AccountId {
                    value: env.account_id.clone(),
                },
            );
        }
        if let Some(profile) = &env.profile
            && profile.trim().is_empty()
        {
            self.report(
                &path(["environment", "profile"]),
                Setting::Profile {
                    value: profile.clone(),
                },
            );
        }
        if let Err(unknown) = regions::check(&env.region) {
            self.report(
                &path(["environment", "region"]),
                Setting::Region {
                    value: env.region.clone(),
                    unknown,
                },
            );
        }
        if let Some(url) = &env.endpoint_url {
            if env.tier != Tier::Local {
                self.report_key(
                    &path(["environment", "endpoint_url"]),
                    Setting::EndpointOutsideLocal { tier: env.tier },
                );
            } else if let Some(problem) = crate::config::endpoint_problem(url) {
                self.report(
                    &path(["environment", "endpoint_url"]),
                    Setting::EndpointUrl {
                        url: url.clone(),
                        problem,
                    },
                );
            }
        }
        self.range(
            path(["environment", "retry", "max_attempts"]),
            env.retry.max_attempts,
            1,
            20,
            "max_attempts",
        );
        let backoff = |ms: u64| u32::try_from(ms).unwrap_or(u32::MAX);
        self.bounded(
            path(["environment", "retry", "initial_backoff_ms"]),
            backoff(env.retry.initial_backoff_ms),
            INITIAL_BACKOFF_MS,
            "initial_backoff_ms",
        );
        self.range(
            path(["environment", "retry", "max_backoff_ms"]),
            backoff(env.retry.max_backoff_ms),
            backoff(env.retry.initial_backoff_ms).clamp(MAX_BACKOFF_MS.min, INITIAL_BACKOFF_MS.max),
            MAX_BACKOFF_MS.max,
            "max_backoff_ms",
        );
    }

    /// Each dependency of a stack: declared, enabled with it, and a bootstrap stack when
    /// it is one.
    fn dependencies(
        &mut self,
        c: &Config,
        name: &str,
        stack: &crate::config::Stack,
        base: &[PathSegment],
    ) {
        // An input's stack is a dependency too, judged where the input is written (an
        // unknown one is InputFromUnknownStack's).
        let listed = stack
            .depends_on
            .iter()
            .enumerate()
            .map(|(i, dep)| (with_index(with_key(base.to_vec(), "depends_on"), i), dep));
        let inputs = stack
            .inputs
            .iter()
            .filter(|(_, input)| c.stacks.contains_key(&input.stack))
            .map(|(param, input)| {
                (
                    with_key(with_key(base.to_vec(), "inputs"), param),
                    &input.stack,
                )
            });
        for (at, dep) in listed.chain(inputs) {
            match c.stacks.get(dep) {
                None => self.report(
                    &at,
                    StackInvalid::UnknownDependency {
                        stack: name.to_string(),
                        dependency: dep.clone(),
                        stacks: c.stacks.keys().cloned().collect(),
                    },
                ),
                Some(d) if stack.enabled && !d.enabled => self.report(
                    &at,
                    StackInvalid::DisabledDependency {
                        stack: name.to_string(),
                        dependency: dep.clone(),
                    },
                ),
                // `bootstrap` deploys only the bootstrap stacks: a dependency outside
                // them would not exist yet on Day 0.
                Some(d) if stack.bootstrap && !d.bootstrap => self.report(
                    &at,
                    StackInvalid::BootstrapDependency {
                        stack: name.to_string(),
                        dependency: dep.clone(),
                    },
                ),
                Some(_) => {}
            }
        }
    }

    fn stacks(&mut self, c: &Config) {
        for (name, stack) in &c.stacks {
            let base = path(["stacks", name]);
            if !is_name(name) {
                self.report_key(&base, StackInvalid::StackName { name: name.clone() });
            }
            if stack.template.trim().is_empty() {
                self.report(
                    &with_key(base.clone(), "template"),
                    StackInvalid::EmptyTemplate {
                        stack: name.clone(),
                    },
                );
            }
            self.dependencies(c, name, stack, &base);
            for (param, input) in &stack.inputs {
                let at = with_key(with_key(base.clone(), "inputs"), param);
                if !c.stacks.contains_key(&input.stack) {
                    self.report(
                        &at,
                        StackInvalid::InputFromUnknownStack {
                            parameter: param.clone(),
                            from: input.stack.clone(),
                        },
                    );
                }
                if stack.parameters.contains_key(param) {
                    self.report(
                        &at,
                        StackInvalid::ParameterTwice {
                            parameter: param.clone(),
                        },
                    );
                }
            }
            self.bounded(
                with_key(base, "timeout_minutes"),
                stack.timeout_minutes,
                STACK_TIMEOUT_MINUTES,
                "timeout_minutes",
            );
        }
        // Inputs are edges too: a stack cannot feed on one that waits for it.
        let dependencies: Vec<(&str, Vec<String>)> = c
            .stacks
            .iter()
            .map(|(n, s)| (n.as_str(), s.dependencies()))
            .filter(|(_, deps)| deps.iter().all(|d| c.stacks.contains_key(d)))
            .collect();
        let known = dependencies.iter().map(|(n, deps)| (*n, deps.as_slice()));
        if let Some(cycle) = StackGraph::new(known).find_cycle() {
            self.report(
                &path(["stacks", &cycle[0], "depends_on"]),
                StackInvalid::StackCycle {
                    cycle: cycle.clone(),
                },
            );
        }
    }

    fn services(&mut self, c: &Config) {
        for (name, svc) in &c.services {
            let base = path(["services", name]);
            match c.stacks.get(&svc.stack) {
                None => self.report(
                    &with_key(base.clone(), "stack"),
                    ServiceInvalid::ServiceStackUnknown {
                        service: name.clone(),
                        stack: svc.stack.clone(),
                        stacks: c.stacks.keys().cloned().collect(),
                    },
                ),
                Some(s) if svc.enabled && !s.enabled => self.report(
                    &with_key(base.clone(), "enabled"),
                    ServiceInvalid::ServiceStackDisabled {
                        service: name.clone(),
                        stack: svc.stack.clone(),
                    },
                ),
                Some(_) => {}
            }
            if let Some(model) = &svc.model {
                self.model(with_key(base.clone(), "model"), model);
            }
            if let Some(ab) = &svc.ab {
                self.ab(with_key(base.clone(), "ab"), ab);
            }
            match svc.runtime() {
                Some(Runtime::Ecs(ecs)) => self.ecs(with_key(base, "ecs"), ecs),
                Some(Runtime::Lambda(l)) => self.lambda(with_key(base, "lambda"), l),
                None => self.report(
                    &base,
                    ServiceInvalid::ServiceRuntime {
                        service: name.clone(),
                    },
                ),
            }
        }
    }

    fn model(&mut self, base: Vec<PathSegment>, model: &crate::config::ServiceModel) {
        if !crate::config::names::is_alias(&model.name) {
            self.report(
                &with_key(base.clone(), "name"),
                ModelInvalid::ModelName {
                    name: model.name.clone(),
                },
            );
        }
        if model.input.is_empty() {
            self.report(&with_key(base, "input"), ModelInvalid::ModelInputEmpty);
        }
    }

    fn ab(&mut self, base: Vec<PathSegment>, ab: &crate::config::AbGuards) {
        if !(0.5..1.0).contains(&ab.confidence) {
            self.report(
                &with_key(base.clone(), "confidence"),
                ModelInvalid::Confidence {
                    value: ab.confidence,
                },
            );
        }
        let ascending = ab.steps.windows(2).all(|w| w[0] < w[1]);
        let in_range = ab.steps.iter().all(|s| (1..=100).contains(s));
        let ramp = ascending && in_range && ab.steps.last() == Some(&100);
        if !ab.steps.is_empty() && !ramp {
            self.report(
                &with_key(base.clone(), "steps"),
                ModelInvalid::Steps {
                    steps: ab.steps.clone(),
                },
            );
        }
        if !(0.5..1.0).contains(&ab.power) {
            self.report(
                &with_key(base.clone(), "power"),
                ModelInvalid::Power { value: ab.power },
            );
        }
        if ab.min_samples == 0 {
            self.report(
                &with_key(base.clone(), "min_samples"),
                ModelInvalid::MinSamplesZero,
            );
        }
        let limits = [
            ("max_error_rate_increase", ab.max_error_rate_increase),
            ("max_p95_increase_ms", ab.max_p95_increase_ms),
            ("max_agreement_drop", ab.max_agreement_drop),
            (
                "max_false_positive_increase",
                ab.max_false_positive_increase,
            ),
            (
                "max_false_negative_increase",
                ab.max_false_negative_increase,
            ),
            ("max_alert_rate_increase", ab.max_alert_rate_increase),
        ];
        for (key, limit) in limits {
            if let Some(limit) = limit.filter(|l| !(l.is_finite() && *l >= 0.0)) {
                self.report(
                    &with_key(base.clone(), key),
                    ModelInvalid::AbLimit { key, limit },
                );
            }
        }
    }

    /// A task size Fargate runs: `cpu` and `memory` keys under `base`.
    fn fargate_size(&mut self, base: &[PathSegment], cpu: u32, memory: u32) {
        match FARGATE_SIZES.iter().find(|(size, ..)| *size == cpu) {
            None => self.report(
                &with_key(base.to_vec(), "cpu"),
                ServiceInvalid::FargateCpu { cpu },
            ),
            Some((cpu, min, max, step)) => {
                if memory < *min || memory > *max || !(memory - min).is_multiple_of(*step) {
                    self.report(
                        &with_key(base.to_vec(), "memory"),
                        ServiceInvalid::FargateMemory {
                            cpu: *cpu,
                            memory,
                            min: *min,
                            max: *max,
                            step: *step,
                        },
                    );
                }
            }
        }
    }

    fn ecs(&mut self, base: Vec<PathSegment>, ecs: &EcsService) {
        self.variable_names(&base, "environment", ecs.environment.keys());
        if !is_repository(&ecs.repository) {
            self.report(
                &with_key(base.clone(), "repository"),
                ServiceInvalid::Repository {
                    name: ecs.repository.clone(),
                },
            );
        }
        if !ecs.health.path.starts_with('/') || ecs.health.path.len() > 1024 {
            self.report(
                &with_key(with_key(base.clone(), "health"), "path"),
                ServiceInvalid::HealthPath {
                    path: ecs.health.path.clone(),
                },
            );
        }
        self.variable_names(&base, "secrets", ecs.secrets.keys());
        self.fargate_size(&base, ecs.cpu, ecs.memory);
        if let Some(path) = &ecs.path {
            let pattern_ok = path.starts_with('/')
                && path.len() <= 128
                && path
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/_-.$*?~".contains(c));
            if !pattern_ok || ecs.container_port.is_none() {
                self.report(
                    &with_key(base.clone(), "path"),
                    ServiceInvalid::RoutePath { path: path.clone() },
                );
            }
        }
        for (key, secret) in &ecs.secrets {
            if matches!(secret, SecretRef::Env(_)) {
                self.report(
                    &with_key(with_key(base.clone(), "secrets"), key),
                    ServiceInvalid::ContainerSecretFromEnv { key: key.clone() },
                );
            }
        }
        self.range(
            with_key(base.clone(), "desired_count"),
            ecs.desired_count,
            0,
            100,
            "desired_count",
        );
        let rollout = with_key(base.clone(), "rollout");
        self.range(
            with_key(rollout.clone(), "min_healthy_percent"),
            ecs.rollout.min_healthy_percent,
            0,
            100,
            "min_healthy_percent",
        );
        self.range(
            with_key(rollout.clone(), "max_percent"),
            ecs.rollout.max_percent,
            100,
            400,
            "max_percent",
        );
        self.bounded(
            with_key(rollout, "deadline_seconds"),
            ecs.rollout.deadline_seconds,
            ROLLOUT_DEADLINE_SECONDS,
            "deadline_seconds",
        );
        self.bounded(
            with_key(with_key(base, "health"), "grace_period_seconds"),
            ecs.health.grace_period_seconds,
            GRACE_PERIOD_SECONDS,
            "grace_period_seconds",
        );
    }

    fn lambda(&mut self, base: Vec<PathSegment>, l: &LambdaService) {
        self.variable_names(&base, "environment", l.environment.keys());
        if !LAMBDA_RUNTIMES.contains(&l.runtime.as_str()) {
            let family: String = l
                .runtime
                .chars()
                .take_while(char::is_ascii_alphabetic)
                .collect();
            let same: Vec<&str> = LAMBDA_RUNTIMES
                .iter()
                .copied()
                .filter(|r| !family.is_empty() && r.starts_with(&family))
                .collect();
            let supported = if same.is_empty() {
                LAMBDA_RUNTIMES.to_vec()
            } else {
                same
            };
            self.report(
                &with_key(base.clone(), "runtime"),
                ServiceInvalid::LambdaRuntime {
                    runtime: l.runtime.clone(),
                    supported,
                },
            );
        } else if (l.runtime.starts_with("python") || l.runtime.starts_with("nodejs"))
            && !is_script_handler(&l.handler)
        {
            self.report(
                &with_key(base.clone(), "handler"),
                ServiceInvalid::Handler {
                    handler: l.handler.clone(),
                },
            );
        }
        self.range(
            with_key(base.clone(), "memory_mb"),
            l.memory_mb,
            128,
            10240,
            "memory_mb",
        );
        self.bounded(
            with_key(base.clone(), "timeout_seconds"),
            l.timeout_seconds,
            LAMBDA_TIMEOUT_SECONDS,
            "timeout_seconds",
        );
        let rollout = with_key(base, "rollout");
        self.range(
            with_key(rollout.clone(), "step_percent"),
            l.rollout.step_percent,
            1,
            99,
            "step_percent",
        );
        self.bounded(
            with_key(rollout, "step_interval_seconds"),
            l.rollout.step_interval_seconds,
            STEP_INTERVAL_SECONDS,
            "step_interval_seconds",
        );
    }

    fn channels(&mut self, c: &Config) {
        for name in c.channels.email.keys() {
            if c.channels.slack.contains_key(name) {
                self.report_key(
                    &path(["channels", "slack", name]),
                    ChannelInvalid::ChannelNameTwice { name: name.clone() },
                );
            }
        }
        for (name, email) in &c.channels.email {
            let base = path(["channels", "email", name, "addresses"]);
            if email.addresses.is_empty() {
                self.report(
                    &base,
                    ChannelInvalid::NoAddresses {
                        channel: name.clone(),
                    },
                );
            }
            for (i, address) in email.addresses.iter().enumerate() {
                let ok = address.split_once('@').is_some_and(|(user, host)| {
                    !user.is_empty() && host.contains('.') && !address.contains(' ')
                });
                if !ok {
                    self.report(
                        &with_index(base.clone(), i),
                        ChannelInvalid::EmailAddress {
                            address: address.clone(),
                        },
                    );
                }
            }
        }
        for (name, slack) in &c.channels.slack {
            self.slack_channel(name, slack);
        }
        for (name, email) in &c.channels.email {
            if let Some(from) = &email.ses_from
                && !from
                    .split_once('@')
                    .is_some_and(|(u, h)| !u.is_empty() && h.contains('.'))
            {
                self.report(
                    &path(["channels", "email", name, "ses_from"]),
                    ChannelInvalid::SesFrom {
                        address: from.clone(),
                    },
                );
            }
        }
    }

    /// A Slack channel: its name as Slack allows, exactly one route, Chatbot ids.
    fn slack_channel(&mut self, name: &str, slack: &SlackChannel) {
        // Slack's own rule, which also keeps the name safe inside templates.
        let valid = slack.channel.strip_prefix('#').is_some_and(|n| {
            (1..=80).contains(&n.len())
                && n.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        });
        if !valid {
            self.report(
                &path(["channels", "slack", name, "channel"]),
                ChannelInvalid::SlackChannelName {
                    channel: slack.channel.clone(),
                },
            );
        }
        if slack.route().is_none() {
            let both = slack.webhook.is_some();
            self.report_key(
                &path(["channels", "slack", name]),
                ChannelInvalid::SlackRoute {
                    channel: name.to_string(),
                    both,
                },
            );
        }
        if let Some(bot) = &slack.chatbot {
            let fields = [
                ("workspace_id", &bot.workspace_id, 'T'),
                ("channel_id", &bot.channel_id, 'C'),
            ];
            for (field, value, first) in fields {
                let ok = value.starts_with(first)
                    && value.len() >= 9
                    && value
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
                if !ok {
                    self.report(
                        &path(["channels", "slack", name, "chatbot", field]),
                        ChannelInvalid::ChatbotId {
                            field,
                            value: value.clone(),
                            first,
                        },
                    );
                }
            }
        }
    }

    fn notifications(&mut self, c: &Config) {
        let n = &c.notifications;
        let base = path(["notifications"]);
        for (i, channel) in n.channels.iter().enumerate() {
            if !c.channels.contains(channel) {
                self.report(
                    &with_index(with_key(base.clone(), "channels"), i),
                    ChannelInvalid::NotificationChannel {
                        channel: channel.clone(),
                        channels: c.channels.names().map(str::to_string).collect(),
                    },
                );
            }
        }
        self.bounded(
            with_key(base.clone(), "timeout_seconds"),
            n.timeout_seconds,
            NOTIFY_TIMEOUT_SECONDS,
            "timeout_seconds",
        );
        self.range(with_key(base, "attempts"), n.attempts, 1, 10, "attempts");
    }

    fn alarms(&mut self, c: &Config) {
        for (name, alarm) in &c.alarms {
            let base = path(["alarms", name]);
            let threshold_ok = alarm.threshold.is_finite()
                && alarm.threshold >= 0.0
                && (alarm.unit != ThresholdUnit::Percent || alarm.threshold <= 100.0);
            if !threshold_ok {
                self.report(
                    &with_key(base.clone(), "threshold"),
                    ChannelInvalid::AlarmThreshold {
                        alarm: name.clone(),
                        threshold: alarm.threshold,
                        percent: alarm.unit == ThresholdUnit::Percent,
                    },
                );
            }
            if !(alarm.period_seconds == 10
                || alarm.period_seconds == 30
                || alarm.period_seconds % 60 == 0)
                || alarm.period_seconds == 0
                || alarm.period_seconds > 86_400
            {
                self.report(
                    &with_key(base.clone(), "period_seconds"),
                    ChannelInvalid::AlarmPeriod {
                        seconds: alarm.period_seconds,
                    },
                );
            }
            self.range(
                with_key(base.clone(), "evaluation_periods"),
                alarm.evaluation_periods,
                1,
                100,
                "evaluation_periods",
            );
            if let Some(dp) = alarm
                .datapoints_to_alarm
                .filter(|dp| *dp == 0 || *dp > alarm.evaluation_periods)
            {
                self.report(
                    &with_key(base.clone(), "datapoints_to_alarm"),
                    ChannelInvalid::DatapointsToAlarm {
                        datapoints: dp,
                        evaluation_periods: alarm.evaluation_periods,
                    },
                );
            }
            if alarm.channels.is_empty() && alarm.enabled {
                self.report(
                    &with_key(base.clone(), "channels"),
                    ChannelInvalid::AlarmNotifiesNobody {
                        alarm: name.clone(),
                    },
                );
            }
            for (i, channel) in alarm.channels.iter().enumerate() {
                if !c.channels.contains(channel) {
                    self.report(
                        &with_index(with_key(base.clone(), "channels"), i),
                        ChannelInvalid::AlarmChannel {
                            alarm: name.clone(),
                            channel: channel.clone(),
                            channels: c.channels.names().map(str::to_string).collect(),
                        },
                    );
                }
            }
        }
    }

    fn sentry(&mut self, c: &Config) {
        let Some(sentry) = &c.sentry else {
            return;
        };
        let local = c.environment.endpoint_url.is_some();
        let scheme_ok =
            sentry.url.starts_with("https://") || (local && sentry.url.starts_with("http://"));
        if !scheme_ok || sentry.url.trim_end_matches('/').ends_with("/api/0") {
            self.report(
                &path(["sentry", "url"]),
                Setting::SentryUrl {
                    url: sentry.url.clone(),
                },
            );
        }
        if sentry.organization.trim().is_empty() || sentry.projects.is_empty() {
            self.report(&path(["sentry", "projects"]), Setting::SentryProjects);
        }
    }

    fn release(&mut self, c: &Config) {
        for (key, pattern) in [
            ("tag_pattern", &c.release.tag_pattern),
            ("rc_tag_pattern", &c.release.rc_tag_pattern),
        ] {
            // Syntax only: compiling (the release gate's job) costs a render's worth of time.
            if let Err(e) = regex_syntax::Parser::new().parse(pattern) {
                let detail = e.to_string();
                let last = detail
                    .lines()
                    .last()
                    .unwrap_or("invalid")
                    .trim()
                    .to_string();
                self.report(
                    &path(["release", key]),
                    Setting::TagPattern { key, reason: last },
                );
            }
        }
        self.bounded(
            path(["release", "lock_ttl_seconds"]),
            c.release.lock_ttl_seconds,
            LOCK_TTL_SECONDS,
            "lock_ttl_seconds",
        );
        self.bounded(
            path(["release", "lock_wait_seconds"]),
            c.release.lock_wait_seconds,
            LOCK_WAIT_SECONDS,
            "lock_wait_seconds",
        );
        if let Some(bucket) = &c.release.records_bucket
            && let Some(problem) = bucket_name_problem(bucket)
        {
            self.report(
                &path(["release", "records_bucket"]),
                Setting::RecordsBucket {
                    bucket: bucket.clone(),
                    problem,
                },
            );
        }
        if c.release.protected_branch.trim().is_empty() {
            self.report(
                &path(["release", "protected_branch"]),
                Setting::ProtectedBranch,
            );
        }
    }

    fn policy(&mut self, c: &Config, rule_ids: &[&str]) {
        for (i, exception) in c.policy.exceptions.iter().enumerate() {
            let base = with_index(path(["policy", "exceptions"]), i);
            if !rule_ids.contains(&exception.rule.as_str()) {
                self.report(
                    &with_key(base.clone(), "rule"),
                    Setting::PolicyRule {
                        rule: exception.rule.clone(),
                        rules: rule_ids.iter().map(|r| r.to_string()).collect(),
                    },
                );
            }
            if exception.reason.trim().len() < 10 {
                self.report(&with_key(base.clone(), "reason"), Setting::ExceptionReason);
            }
            if !exception.resource.contains('/') {
                self.report(
                    &with_key(base, "resource"),
                    Setting::ExceptionResource {
                        resource: exception.resource.clone(),
                    },
                );
            }
        }
    }
}
