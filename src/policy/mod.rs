//! Built-in policy rules over the rendered environment.
//!
//! Each rule reads rendered templates (long-form intrinsics: `Ref:`, `Fn::Sub:`) and the alarm
//! definitions, and returns findings with a rule id, the stack and logical resource, and a
//! fix hint. In `enforce` mode (production by default) findings block a deploy.

mod network;
mod permissions;
mod principals;

use serde::Serialize;
use yaml_serde::Value;

use crate::alarms::AlarmDefinition;
use crate::config::{Config, PolicyMode, Runtime, Tier};
use crate::render::{RenderedEnv, RenderedStack};

/// A rule: its id, and why it exists (shown by `facturactl validate --explain`).
pub struct Rule {
    pub id: &'static str,
    pub why: &'static str,
}

pub const RULES: &[Rule] = &[
    Rule {
        id: "S3_ENCRYPTION",
        why: "invoices hold personal and tax data: buckets encrypt at rest with the platform's KMS key",
    },
    Rule {
        id: "S3_PUBLIC_ACCESS",
        why: "no invoice bucket may ever be reachable from the internet: all four public access blocks on",
    },
    Rule {
        id: "S3_TLS_ONLY",
        why: "the bucket policy refuses requests that are not over TLS",
    },
    Rule {
        id: "S3_VERSIONING",
        why: "versioning lets an overwritten or deleted invoice or model artifact be recovered",
    },
    Rule {
        id: "RDS_ENCRYPTION",
        why: "the database holds validated invoice data: storage encrypted at rest",
    },
    Rule {
        id: "RDS_NOT_PUBLIC",
        why: "the database is reached only from the services' security group, never from the internet",
    },
    Rule {
        id: "SQS_ENCRYPTION",
        why: "queued messages carry invoice content: queues encrypt at rest",
    },
    Rule {
        id: "SNS_ENCRYPTION",
        why: "alert topics can carry input anomaly details: topics encrypt at rest",
    },
    Rule {
        id: "LOGS_ENCRYPTION",
        why: "service logs carry tenant and user ids: log groups use the KMS key",
    },
    Rule {
        id: "LOGS_RETENTION",
        why: "log groups without retention keep personal data forever and grow cost without bound",
    },
    Rule {
        id: "IAM_WILDCARD",
        why: "least privilege: no `Action: *`, and no write action on `Resource: *` without a condition",
    },
    Rule {
        id: "DELETION_PROTECTION",
        why: "in production a stack update or delete must not destroy data: RDS deletion protection and snapshot, Retain on buckets, keys and user pools",
    },
    Rule {
        id: "XRAY_PERMISSIONS",
        why: "a Lambda function or state machine with active tracing needs X-Ray write actions on its role: Lambda refuses to create the function without them",
    },
    Rule {
        id: "LOG_PERMISSIONS",
        why: "a function writes its logs, a state machine delivers its logs, and an ECS task's awslogs driver writes through the execution role: each needs the logs actions on its role, or the logs are lost",
    },
    Rule {
        id: "ECS_EXECUTION_PERMISSIONS",
        why: "a task whose image is in ECR or whose container has secrets starts only when its execution role may pull the image and read each secret where it is (the action on a resource that covers the secret's ARN, with kms:Decrypt for them)",
    },
    Rule {
        id: "START_PERMISSIONS",
        why: "a schedule or event rule that runs an ECS task needs ecs:RunTask and iam:PassRole for the task's roles on its target role, one that starts a state machine states:StartExecution, one that calls an API destination events:InvokeApiDestination, and a state machine that runs a task and waits for it (ecs:runTask.sync) RunTask, PassRole, StopTask, DescribeTasks and its managed events rule, or every run (or call) fails where only a metric sees it",
    },
    Rule {
        id: "ENV_KEY_PERMISSIONS",
        why: "a function whose environment is encrypted with a customer managed key fails every invocation with KMSAccessDeniedException unless its role may decrypt with that key",
    },
    Rule {
        id: "DESTINATION_PERMISSIONS",
        why: "a dead-letter queue or on-failure destination the function's role cannot send to silently drops the failed events it exists to keep",
    },
    Rule {
        id: "KMS_SERVICE_PRINCIPALS",
        why: "a service that writes into something encrypted with the platform key (logs into a log group, alarms into an alert topic, SNS into a queue) must be allowed by the key policy, or its writes are silently dropped",
    },
    Rule {
        id: "SERVICE_PRINCIPAL_CONDITIONS",
        why: "a resource policy that lets an AWS service in scopes it with aws:SourceAccount or aws:SourceArn, so another account cannot use the service to reach our resources (the confused deputy)",
    },
    Rule {
        id: "API_DEPLOYMENT_FRESH",
        why: "CloudFormation creates an API Gateway deployment only when its logical id changes: an id without the API definition's hash leaves later edits of methods and integrations off the stage",
    },
    Rule {
        id: "SHARED_FUNCTION_ROLE",
        why: "a role shared by two functions grants each what the other does: one compromised function reaches both",
    },
    Rule {
        id: "COGNITO_SES",
        why: "in production, a user pool that mails with Cognito's own sender is capped at 50 messages a day: sign-ups and password resets stop without an error anyone sees",
    },
    Rule {
        id: "ONE_OWNER",
        why: "facturactl owns the ECS services, their running revisions, the Lambda versions and the `live` alias: a template that declared one would move it back to the template's bootstrap image or code on any stack update that touched it",
    },
    Rule {
        id: "PLAIN_HTTP_LISTENER",
        why: "outside the local environment, a load balancer listener that serves plain HTTP (anything but a redirect to HTTPS) sends invoices and tokens in clear",
    },
    Rule {
        id: "TARGET_PORT_INGRESS",
        why: "a load balancer reaches its targets, and their health checks, only on a port their security group admits from the load balancer's: a target group on another port never becomes healthy and ECS rolls every deployment back",
    },
    Rule {
        id: "PRIVATE_BACKEND",
        why: "the backend is reached only through API Gateway's VPC link, so only past the Cognito authorizer: the link's network load balancer has a security group and nothing in front of the backend admits an address range, which every workload in the VPC is inside",
    },
    Rule {
        id: "ALARM_COVERAGE",
        why: "every running service has the alarms an on-call engineer needs to hear it fail",
    },
    Rule {
        id: "ALARM_CHANNEL",
        why: "an alarm that notifies a channel with no SNS topic behind it pages nobody",
    },
];

pub fn rule_ids() -> Vec<&'static str> {
    RULES.iter().map(|r| r.id).collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Blocks the deploy (enforce mode).
    Error,
    /// Reported only.
    Warning,
    /// Covered by a configured exception.
    Excepted,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Violation {
    pub rule: &'static str,
    pub level: Level,
    pub stack: String,
    pub resource: String,
    pub message: String,
    pub hint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception_reason: Option<String>,
}

/// The result of checking one environment.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PolicyReport {
    pub environment: String,
    pub mode: PolicyMode,
    pub findings: Vec<Violation>,
}

impl PolicyReport {
    pub fn blocking(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.level == Level::Error)
            .count()
    }
}

/// A finding before mode and exceptions decide its level.
pub(crate) struct Raw {
    rule: &'static str,
    stack: String,
    resource: String,
    message: String,
    hint: &'static str,
}

pub fn check(config: &Config, rendered: &RenderedEnv) -> PolicyReport {
    let mut raw = Vec::new();
    for stack in &rendered.stacks {
        for (id, resource) in stack.resources() {
            check_resource(config, stack, id, resource, &mut raw);
        }
    }
    permissions::check(rendered, &mut raw);
    principals::check(config, rendered, &mut raw);
    api_deployments(rendered, &mut raw);
    network::target_ports(rendered, &mut raw);
    network::private_backend(rendered, &mut raw);
    alarm_coverage(config, &rendered.alarms, &mut raw);
    alarm_channels(config, rendered, &mut raw);

    let mode = config.policy_mode();
    let findings = raw
        .into_iter()
        .map(|r| {
            let exception = config.policy.exceptions.iter().find(|e| {
                e.rule == r.rule
                    && (e.resource == format!("{}/{}", r.stack, r.resource)
                        || e.resource == format!("{}/*", r.stack))
            });
            let level = match (exception, mode) {
                (Some(_), _) => Level::Excepted,
                (None, PolicyMode::Enforce) => Level::Error,
                (None, PolicyMode::Warn) => Level::Warning,
            };
            Violation {
                rule: r.rule,
                level,
                stack: r.stack,
                resource: r.resource,
                message: r.message,
                hint: r.hint.to_string(),
                exception_reason: exception.map(|e| e.reason.clone()),
            }
        })
        .collect();
    PolicyReport {
        environment: rendered.environment.clone(),
        mode,
        findings,
    }
}

/// A resource of the environment, as a template names it.
pub(crate) struct Named<'a> {
    pub stack: &'a RenderedStack,
    pub id: &'a str,
    pub resource: &'a Value,
}

/// The resource a value names: `Ref` or `Fn::GetAtt` in the stack, or through the stack's
/// input, the resource another stack's output names.
pub(crate) fn referenced<'a>(
    rendered: &'a RenderedEnv,
    stack: &'a RenderedStack,
    value: &Value,
) -> Option<Named<'a>> {
    let name = value.get("Ref").and_then(Value::as_str).or_else(|| {
        value
            .get("Fn::GetAtt")
            .and_then(|a| a.get(0))
            .and_then(Value::as_str)
    })?;
    if let Some((id, resource)) = stack.resources().find(|(id, _)| *id == name) {
        return Some(Named {
            stack,
            id,
            resource,
        });
    }
    let input = stack.inputs.get(name)?;
    let source = rendered.stacks.iter().find(|s| s.name == input.stack)?;
    let output = get(&source.document, &["Outputs", &input.output, "Value"])?;
    referenced(rendered, source, output)
}

fn get<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, key| v.get(*key))
}

fn is_true(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    }
}

fn check_resource(
    config: &Config,
    stack: &RenderedStack,
    id: &str,
    resource: &Value,
    out: &mut Vec<Raw>,
) {
    let kind = resource.get("Type").and_then(Value::as_str).unwrap_or("");
    let props = resource.get("Properties").unwrap_or(&Value::Null);
    let mut site = Site { stack, id, out };
    let mut add = |rule: &'static str, message: String, hint: &'static str| {
        site.add(rule, message, hint);
    };
    let production = config.environment.tier == Tier::Production;
    let deletion_policy = resource.get("DeletionPolicy").and_then(Value::as_str);

    match kind {
        "AWS::S3::Bucket" => check_bucket(&mut add, stack, id, props, production, deletion_policy),
        "AWS::RDS::DBInstance" | "AWS::RDS::DBCluster" => {
            check_database(&mut add, id, props, production, deletion_policy);
        }
        "AWS::KMS::Key" | "AWS::Cognito::UserPool" | "AWS::DynamoDB::Table"
            if production && deletion_policy != Some("Retain") =>
        {
            add(
                "DELETION_PROTECTION",
                format!("{kind} {id} would be deleted with its stack"),
                "set DeletionPolicy: Retain in production",
            );
        }
        "AWS::Cognito::UserPool"
            if production
                && get(props, &["EmailConfiguration", "EmailSendingAccount"])
                    .and_then(Value::as_str)
                    != Some("DEVELOPER") =>
        {
            add(
                "COGNITO_SES",
                format!("user pool {id} mails with Cognito's default sender"),
                "set EmailConfiguration to EmailSendingAccount: DEVELOPER with the SES identity (stacks.auth.parameters.SesIdentityArn)",
            );
        }
        "AWS::ECS::Service" | "AWS::Lambda::Alias" | "AWS::Lambda::Version" => add(
            "ONE_OWNER",
            format!("{kind} {id} is declared by the template, but facturactl owns it"),
            "remove it from the template: facturactl creates the ECS service on its first image and the `live` alias on the first rollout (README, \"Who owns what\")",
        ),
        "AWS::ElasticLoadBalancingV2::Listener"
            if config.environment.tier != Tier::Local && serves_plain_http(props) =>
        {
            add(
                "PLAIN_HTTP_LISTENER",
                format!("listener {id} serves plain HTTP"),
                "listen on HTTPS with the environment's certificate (stacks.api.parameters.CertificateArn), and make the port 80 listener a redirect to HTTPS",
            );
        }
        "AWS::SQS::Queue"
            if props.get("KmsMasterKeyId").is_none()
                && !is_true(props.get("SqsManagedSseEnabled")) =>
        {
            add(
                "SQS_ENCRYPTION",
                format!("queue {id} is not encrypted"),
                "set KmsMasterKeyId to the platform key",
            );
        }
        "AWS::SNS::Topic" if props.get("KmsMasterKeyId").is_none() => {
            add(
                "SNS_ENCRYPTION",
                format!("topic {id} is not encrypted"),
                "set KmsMasterKeyId to the platform key",
            );
        }
        "AWS::Logs::LogGroup" => {
            if props.get("KmsKeyId").is_none() {
                add(
                    "LOGS_ENCRYPTION",
                    format!("log group {id} is not encrypted with KMS"),
                    "set KmsKeyId to the platform key's ARN",
                );
            }
            if props.get("RetentionInDays").is_none() {
                add(
                    "LOGS_RETENTION",
                    format!("log group {id} keeps logs forever"),
                    "set RetentionInDays",
                );
            }
        }
        _ => {}
    }
    for statement in policy_statements(kind, props) {
        if let Some(problem) = wildcard_problem(statement) {
            add(
                "IAM_WILDCARD",
                format!("{id}: {problem}"),
                "name the actions and the resources (ARNs) the role needs, or add a Condition",
            );
        }
    }
}

/// A listener whose protocol may be HTTP (literally, or as one branch of an `Fn::If`) and
/// whose default actions are not all redirects to HTTPS.
fn serves_plain_http(props: &Value) -> bool {
    fn may_be_http(value: Option<&Value>) -> bool {
        match value {
            Some(Value::String(p)) => p == "HTTP",
            Some(Value::Mapping(_)) => value
                .and_then(|v| v.get("Fn::If"))
                .and_then(Value::as_sequence)
                .is_some_and(|branches| branches.iter().skip(1).any(|b| may_be_http(Some(b)))),
            _ => false,
        }
    }
    let redirects = props
        .get("DefaultActions")
        .and_then(Value::as_sequence)
        .is_some_and(|actions| {
            !actions.is_empty()
                && actions.iter().all(|a| {
                    a.get("Type").and_then(Value::as_str) == Some("redirect")
                        && get(a, &["RedirectConfig", "Protocol"]).and_then(Value::as_str)
                            == Some("HTTPS")
                })
        });
    may_be_http(props.get("Protocol")) && !redirects
}

/// Where a finding is: the stack and resource it concerns, and the list it goes to.
struct Site<'a> {
    stack: &'a RenderedStack,
    id: &'a str,
    out: &'a mut Vec<Raw>,
}

impl Site<'_> {
    fn add(&mut self, rule: &'static str, message: String, hint: &'static str) {
        self.out.push(Raw {
            rule,
            stack: self.stack.name.clone(),
            resource: self.id.to_string(),
            message,
            hint,
        });
    }
}

/// A finding: rule, message, fix.
type Add<'f> = dyn FnMut(&'static str, String, &'static str) + 'f;

/// Buckets: KMS, no public access, versioning, TLS only, kept in production.
fn check_bucket(
    add: &mut Add<'_>,
    stack: &RenderedStack,
    id: &str,
    props: &Value,
    production: bool,
    deletion_policy: Option<&str>,
) {
    let kms = get(
        props,
        &["BucketEncryption", "ServerSideEncryptionConfiguration"],
    )
    .and_then(Value::as_sequence)
    .is_some_and(|rules| {
        rules.iter().any(|r| {
            get(r, &["ServerSideEncryptionByDefault", "SSEAlgorithm"])
                .and_then(Value::as_str)
                .is_some_and(|a| a.starts_with("aws:kms"))
        })
    });
    if !kms {
        add(
            "S3_ENCRYPTION",
            format!("bucket {id} is not encrypted with KMS"),
            "set BucketEncryption with SSEAlgorithm aws:kms and the platform key",
        );
    }
    let block = props.get("PublicAccessBlockConfiguration");
    let all_blocked = [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ]
    .iter()
    .all(|k| is_true(block.and_then(|b| b.get(*k))));
    if !all_blocked {
        add(
            "S3_PUBLIC_ACCESS",
            format!("bucket {id} does not block all public access"),
            "set the four PublicAccessBlockConfiguration flags to true",
        );
    }
    if get(props, &["VersioningConfiguration", "Status"]).and_then(Value::as_str) != Some("Enabled")
    {
        add(
            "S3_VERSIONING",
            format!("bucket {id} has no versioning"),
            "set VersioningConfiguration Status: Enabled",
        );
    }
    if !has_tls_only_policy(stack, id) {
        add(
            "S3_TLS_ONLY",
            format!("bucket {id} accepts requests without TLS"),
            "add a BucketPolicy denying s3:* when aws:SecureTransport is false",
        );
    }
    if production && deletion_policy != Some("Retain") {
        add(
            "DELETION_PROTECTION",
            format!("bucket {id} would be deleted with its stack"),
            "set DeletionPolicy: Retain and UpdateReplacePolicy: Retain in production",
        );
    }
}

/// Databases: encrypted, private, protected and snapshotted in production.
fn check_database(
    add: &mut Add<'_>,
    id: &str,
    props: &Value,
    production: bool,
    deletion_policy: Option<&str>,
) {
    if !is_true(props.get("StorageEncrypted")) {
        add(
            "RDS_ENCRYPTION",
            format!("database {id} is not encrypted"),
            "set StorageEncrypted: true with KmsKeyId",
        );
    }
    if is_true(props.get("PubliclyAccessible")) {
        add(
            "RDS_NOT_PUBLIC",
            format!("database {id} is publicly accessible"),
            "set PubliclyAccessible: false and keep it in private subnets",
        );
    }
    if production
        && (!is_true(props.get("DeletionProtection")) || deletion_policy != Some("Snapshot"))
    {
        add(
            "DELETION_PROTECTION",
            format!("database {id} can be deleted without a snapshot"),
            "set DeletionProtection: true and DeletionPolicy: Snapshot in production",
        );
    }
}

/// Statements of inline role policies, managed policies and policies.
fn policy_statements<'a>(kind: &str, props: &'a Value) -> Vec<&'a Value> {
    let documents: Vec<&Value> = match kind {
        "AWS::IAM::Role" | "AWS::IAM::User" | "AWS::IAM::Group" => props
            .get("Policies")
            .and_then(Value::as_sequence)
            .map(|ps| ps.iter().filter_map(|p| p.get("PolicyDocument")).collect())
            .unwrap_or_default(),
        "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy" => {
            props.get("PolicyDocument").into_iter().collect()
        }
        _ => Vec::new(),
    };
    documents
        .into_iter()
        .filter_map(|d| d.get("Statement"))
        .flat_map(|s| match s {
            Value::Sequence(items) => items.iter().collect::<Vec<_>>(),
            other => vec![other],
        })
        .collect()
}

fn strings(value: Option<&Value>) -> Vec<&str> {
    match value {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Sequence(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

const READ_PREFIXES: &[&str] = &[
    "Describe", "Get", "List", "Head", "BatchGet", "Query", "Scan", "Lookup",
];

fn wildcard_problem(statement: &Value) -> Option<String> {
    if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
        return None;
    }
    let actions = strings(statement.get("Action"));
    if let Some(a) = actions.iter().find(|a| **a == "*" || a.ends_with(":*")) {
        return Some(format!("allows every action (`{a}`)"));
    }
    let any_resource = strings(statement.get("Resource")).contains(&"*");
    if any_resource && statement.get("Condition").is_none() {
        let writes: Vec<&str> = actions
            .iter()
            .filter(|a| {
                let verb = a.split_once(':').map(|(_, v)| v).unwrap_or(a);
                !READ_PREFIXES.iter().any(|p| verb.starts_with(p)) && !permissions::star_only(a)
            })
            .copied()
            .collect();
        if !writes.is_empty() {
            return Some(format!("allows {} on every resource", writes.join(", ")));
        }
    }
    None
}

fn has_tls_only_policy(stack: &RenderedStack, bucket_id: &str) -> bool {
    stack.resources().any(|(_, r)| {
        r.get("Type").and_then(Value::as_str) == Some("AWS::S3::BucketPolicy")
            && get(r, &["Properties", "Bucket", "Ref"]).and_then(Value::as_str) == Some(bucket_id)
            && get(r, &["Properties", "PolicyDocument", "Statement"])
                .and_then(Value::as_sequence)
                .is_some_and(|statements| {
                    statements.iter().any(|s| {
                        s.get("Effect").and_then(Value::as_str) == Some("Deny")
                            && get(s, &["Condition", "Bool", "aws:SecureTransport"])
                                .is_some_and(|v| !is_true(Some(v)))
                    })
                })
    })
}

/// Every API Gateway deployment's logical id carries the hash of the API it snapshots.
fn api_deployments(rendered: &RenderedEnv, out: &mut Vec<Raw>) {
    for stack in &rendered.stacks {
        let Some(hash) = crate::render::api_definition_hash(&stack.document, &stack.parameters)
        else {
            continue;
        };
        for (id, resource) in stack.resources() {
            if resource.get("Type").and_then(Value::as_str) == Some("AWS::ApiGateway::Deployment")
                && !id.contains(&hash)
            {
                out.push(Raw {
                    rule: "API_DEPLOYMENT_FRESH",
                    stack: stack.name.clone(),
                    resource: id.to_string(),
                    message: format!(
                        "deployment {id} is not named after the API's definition ({hash}): edits of its methods would never reach the stage"
                    ),
                    hint: "name it `DeploymentApiDefinitionHash` (the renderer writes the hash in) and point the stage at it",
                });
            }
        }
    }
}

/// The alarms every service of a kind must have, by settings key.
const REQUIRED_ALARMS_ECS: &[&str] = &["ecs-cpu", "ecs-memory"];
const REQUIRED_ALARMS_LAMBDA: &[&str] = &["lambda-error-rate"];

fn alarm_coverage(config: &Config, alarms: &[AlarmDefinition], out: &mut Vec<Raw>) {
    for (name, service) in config.services.iter().filter(|(_, s)| s.enabled) {
        let required = match service.runtime() {
            Some(Runtime::Ecs(_)) => REQUIRED_ALARMS_ECS,
            Some(Runtime::Lambda(_)) => REQUIRED_ALARMS_LAMBDA,
            None => continue,
        };
        for key in required {
            let covered = alarms
                .iter()
                .any(|a| a.key == *key && a.service.as_deref() == Some(name.as_str()));
            if !covered {
                out.push(Raw {
                    rule: "ALARM_COVERAGE",
                    stack: service.stack.clone(),
                    resource: name.clone(),
                    message: format!("service {name} has no `{key}` alarm"),
                    hint: "enable the alarm's settings in [alarms] or add a definition under templates/alarms/",
                });
            }
        }
    }
}

fn alarm_channels(config: &Config, rendered: &RenderedEnv, out: &mut Vec<Raw>) {
    let topics: Vec<&str> = rendered
        .stacks
        .iter()
        .flat_map(|s| s.resources_of_type("AWS::SNS::Topic"))
        .filter_map(|(_, r)| get(r, &["Properties", "TopicName"]).and_then(Value::as_str))
        .collect();
    for alarm in &rendered.alarms {
        for channel in &alarm.channels {
            let topic = config.topic_name(channel);
            if !topics.contains(&topic.as_str()) {
                out.push(Raw {
                    rule: "ALARM_CHANNEL",
                    stack: "alarms".into(),
                    resource: alarm.name.clone(),
                    message: format!("alarm {} notifies `{channel}` but no stack creates topic {topic}", alarm.name),
                    hint: "enable the alerts stack, or make its template create a topic for every channel",
                });
            }
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    fn yaml(text: &str) -> Value {
        yaml_serde::from_str(text).unwrap()
    }

    pub(super) fn env_of(stacks: &[(&str, &str)]) -> RenderedEnv {
        RenderedEnv {
            environment: "staging".into(),
            stacks: stacks
                .iter()
                .map(|(name, body)| crate::render::RenderedStack {
                    name: (*name).to_string(),
                    stack_name: format!("facturascan-staging-{name}"),
                    template_file: format!("stacks/{name}.yaml.tera"),
                    body: (*body).to_string(),
                    document: yaml(body),
                    hash: String::new(),
                    parameters: Default::default(),
                    inputs: Default::default(),
                    depends_on: Vec::new(),
                    tags: Default::default(),
                    termination_protection: false,
                    timeout_minutes: 30,
                })
                .collect(),
            alarms: Vec::new(),
        }
    }

    #[test]
    fn wildcards() {
        assert!(
            wildcard_problem(&yaml("{Effect: Allow, Action: '*', Resource: 'arn:x'}")).is_some()
        );
        assert!(
            wildcard_problem(&yaml("{Effect: Allow, Action: 's3:*', Resource: 'arn:x'}")).is_some()
        );
        assert!(
            wildcard_problem(&yaml(
                "{Effect: Allow, Action: [s3:PutObject], Resource: '*'}"
            ))
            .is_some()
        );
        // Reads on every resource are fine, and so are conditioned writes.
        assert!(
            wildcard_problem(&yaml(
                "{Effect: Allow, Action: [ecr:GetAuthorizationToken], Resource: '*'}"
            ))
            .is_none()
        );
        assert!(
            wildcard_problem(&yaml(
                "{Effect: Allow, Action: cloudwatch:PutMetricData, Resource: '*', Condition: {StringEquals: {cloudwatch:namespace: X}}}"
            ))
            .is_none()
        );
        assert!(wildcard_problem(&yaml("{Effect: Deny, Action: '*', Resource: '*'}")).is_none());
    }

    #[test]
    fn every_rule_has_a_reason() {
        for rule in RULES {
            assert!(rule.why.len() > 20, "{}", rule.id);
        }
    }
}
