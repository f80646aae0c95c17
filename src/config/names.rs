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
