//! The names of an environment's AWS resources, in one place: every module that names a
//! stack, cluster, function, topic, bucket or alarm prefix asks the config here, so the
//! templates, the rollouts, the audits and the notifications can never disagree.

use super::Config;

impl Config {
    /// `<project>-<env>`: the prefix of every resource name, the ECS cluster's name, and
    /// the owner tag of the alarms the tool manages.
    pub fn prefix(&self) -> String {
        format!("{}-{}", self.project.name, self.environment.name)
    }

    /// The CloudFormation stack name of a config stack.
    pub fn stack_name(&self, stack: &str) -> String {
        format!("{}-{stack}", self.prefix())
    }

    /// The ECS cluster the environment's services run in.
    pub fn cluster_name(&self) -> String {
        self.prefix()
    }

    /// The task definition family of an ECS service's revisions (facturactl's; the stack's
    /// base task definition is `<family>-base`).
    pub fn task_family(&self, service: &str) -> String {
        format!("{}-{service}", self.prefix())
    }

    /// The Lambda function (or ECS service) name of a config service.
    pub fn service_resource_name(&self, service: &str) -> String {
        format!("{}-{service}", self.prefix())
    }

    /// The SNS topic the alerts stack creates for a notification channel.
    pub fn topic_name(&self, channel: &str) -> String {
        format!("{}-alerts-{channel}", self.prefix())
    }

    /// The Slack forwarder Lambda the alerts stack creates for a Slack channel.
    pub fn forwarder_name(&self, channel: &str) -> String {
        format!("{}-slack-{channel}", self.prefix())
    }

    /// The ARN of [`Config::topic_name`].
    pub fn topic_arn(&self, channel: &str) -> String {
        format!(
            "arn:aws:sns:{}:{}:{}",
            self.environment.region,
            self.environment.account_id,
            self.topic_name(channel)
        )
    }

    /// The CloudWatch namespace of the platform's own metrics: what the templates give the
    /// services as METRICS_NAMESPACE and grant them PutMetricData on.
    pub fn metrics_namespace(&self) -> String {
        format!("FacturaScan360/{}", self.environment.name)
    }

    /// The storage stack's models bucket: the S3 model registry of this environment.
    pub fn models_bucket(&self) -> String {
        self.bucket("models")
    }

    /// A storage stack bucket by purpose (`raw`, `processed`, `models`).
    pub fn bucket(&self, purpose: &str) -> String {
        format!(
            "{}-{purpose}-{}",
            self.prefix(),
            self.environment.account_id
        )
    }

    /// The services that serve `model` (validation wants exactly one).
    pub fn model_servers<'a>(
        &'a self,
        model: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a super::Service)> + 'a {
        self.services
            .iter()
            .filter(move |(_, svc)| svc.model.as_ref().is_some_and(|m| m.name == model))
    }

    /// The ECS task definition family of a model's training job.
    pub fn training_family(&self, model: &str) -> String {
        format!("{}-{model}-training", self.prefix())
    }

    /// The ECR repositories this environment's registry stack declares: each enabled ECS
    /// service's, and the training job's of each model a service here serves.
    pub fn repositories(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .services
            .values()
            .filter(|s| s.enabled)
            .filter_map(|s| s.ecs.as_ref().map(|e| e.repository.clone()))
            .collect();
        for (model, settings) in &self.models {
            if let Some(retraining) = &settings.retraining
                && self.model_servers(model).any(|(_, s)| s.enabled)
            {
                names.push(retraining.job.repository.clone());
            }
        }
        names.sort();
        names.dedup();
        names
    }

    /// The bucket holding this environment's records and locks.
    pub fn records_bucket(&self) -> String {
        self.release.records_bucket.clone().unwrap_or_else(|| {
            format!("{}-releases-{}", self.prefix(), self.environment.account_id)
        })
    }
}

/// A name made usable as a CloudFormation logical id: `ops-email` is `OpsEmail` (the
/// templates' `logical_id` filter).
pub fn logical_id(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The environment variables a service finds its model in (templates/stacks/ml.yaml.tera).
pub const MODEL_URI_VARIABLE: &str = "MODEL_URI";
pub const MODEL_SHA256_VARIABLE: &str = "MODEL_SHA256";

/// The stack parameters that carry a service's model to its template (`MODEL_URI`,
/// `MODEL_SHA256` in the service's environment): `<Service>ModelUri`, `<Service>ModelSha256`.
pub fn model_parameter_names(service: &str) -> (String, String) {
    let id = logical_id(service);
    (format!("{id}ModelUri"), format!("{id}ModelSha256"))
}

/// Aliases and model names: lowercase letters, digits, `-` and `_`, starting with a letter.
pub fn is_alias(text: &str) -> bool {
    text.len() <= 64
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        // `v1` names version 1 wherever a reference is read (`model show m v1`, `--model
        // s=v1`): an alias of that shape could never be reached. MLflow refuses such
        // aliases, and `latest`, for the same reason.
        && version_digits(text).is_none()
        && text != "latest"
}

/// The number of a version reference (`3`, `v3`), if `text` is shaped like one.
pub fn version_digits(text: &str) -> Option<&str> {
    let bare = text.strip_prefix('v').unwrap_or(text);
    (!bare.is_empty() && bare.bytes().all(|b| b.is_ascii_digit())).then_some(bare)
}
