//! Rules that tie what a resource does to the permissions its role needs, across stacks:
//! a function's `Role: { Ref: LambdaRoleArn }` is followed through the stack's inputs to
//! the output of the stack that creates the role, and to the role's policies there.
//!
//! Actions are compared, and where the judged resource names what it uses (the secrets an
//! ECS task injects, a function's or task's log group, a dead-letter queue or destination),
//! that resource's ARN against the resources the role is granted the action on; only roles
//! that can be found offline are judged (a role passed in from outside the rendered stacks
//! is not), and only names written as plain strings can be compared.

use yaml_serde::Value;

use super::{Raw, get, is_true, strings};
use crate::render::{RenderedEnv, RenderedStack};

const XRAY_WRITE: &[&str] = &["xray:PutTraceSegments", "xray:PutTelemetryRecords"];
const XRAY_STATES: &[&str] = &[
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
];
const LOG_WRITE: &[&str] = &["logs:CreateLogStream", "logs:PutLogEvents"];
/// What Step Functions needs to deliver a state machine's logs to CloudWatch Logs.
const LOG_DELIVERY: &[&str] = &[
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
];
/// What Step Functions needs to run an ECS task and wait for it (`ecs:runTask.sync`): the
/// start, the roles, the stop of a task whose state timed out, and the managed rule it hears
/// the task stop by.
const RUN_TASK_SYNC: &[&str] = &[
    "ecs:RunTask",
    "iam:PassRole",
    "ecs:StopTask",
    "ecs:DescribeTasks",
    "events:PutTargets",
    "events:PutRule",
    "events:DescribeRule",
];
const ECR_PULL: &[&str] = &[
    "ecr:GetAuthorizationToken",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
];

/// Actions IAM grants only on `Resource: "*"` (no resource-level permissions): a wildcard
/// resource is the only way to allow them, so IAM_WILDCARD does not count it.
pub(super) fn star_only(action: &str) -> bool {
    XRAY_STATES.contains(&action)
        || LOG_DELIVERY.contains(&action)
        || action == "ecr:GetAuthorizationToken"
}

pub(super) fn check(rendered: &RenderedEnv, out: &mut Vec<Raw>) {
    let roles = Roles { rendered };
    shared_function_roles(&roles, out);
    for stack in &rendered.stacks {
        for (id, resource) in stack.resources() {
            let props = resource.get("Properties").unwrap_or(&Value::Null);
            let site = Site { stack, id, out };
            match resource.get("Type").and_then(Value::as_str) {
                Some("AWS::Lambda::Function") => function(&roles, site, props),
                Some("AWS::StepFunctions::StateMachine") => state_machine(&roles, site, props),
                Some("AWS::ECS::TaskDefinition") => task_definition(&roles, site, props),
                Some("AWS::Lambda::EventInvokeConfig") => invoke_config(&roles, site, props),
                Some("AWS::Scheduler::Schedule") => {
                    ecs_targets(&roles, site, props.get("Target").into_iter())
                }
                Some("AWS::Events::Rule") => ecs_targets(
                    &roles,
                    site,
                    props
                        .get("Targets")
                        .and_then(Value::as_sequence)
                        .into_iter()
                        .flatten(),
                ),
                _ => {}
            }
        }
    }
}

/// Every function has a role of its own: a role shared by two functions grants each what
/// the other does, and one compromised function reaches both.
fn shared_function_roles(roles: &Roles<'_>, out: &mut Vec<Raw>) {
    let mut users: std::collections::BTreeMap<(String, String), Vec<(String, String)>> =
        std::collections::BTreeMap::new();
    for stack in &roles.rendered.stacks {
        for (id, resource) in stack.resources() {
            if resource.get("Type").and_then(Value::as_str) != Some("AWS::Lambda::Function") {
                continue;
            }
            let role = get(resource, &["Properties", "Role"]).and_then(|r| roles.resolve(stack, r));
            if let Some(role) = role {
                users
                    .entry((role.stack.to_string(), role.id.to_string()))
                    .or_default()
                    .push((stack.name.clone(), id.to_string()));
            }
        }
    }
    for ((role_stack, role_id), functions) in users.into_iter().filter(|(_, f)| f.len() > 1) {
        let names: Vec<String> = functions.iter().map(|(s, f)| format!("{s}/{f}")).collect();
        for (stack, function) in functions {
            out.push(Raw {
                rule: "SHARED_FUNCTION_ROLE",
                stack,
                resource: function,
                message: format!(
                    "role {role_stack}/{role_id} is shared by {}",
                    names.join(", ")
                ),
                hint: "give each function its own role in the security stack, with what that function does",
            });
        }
    }
}

/// The resource being judged and where findings go.
struct Site<'a> {
    stack: &'a RenderedStack,
    id: &'a str,
    out: &'a mut Vec<Raw>,
}

impl Site<'_> {
    /// A finding when `role` lacks any of `needed`.
    fn require(
        &mut self,
        rule: &'static str,
        role: Option<&Role<'_>>,
        needed: &[&str],
        why: &str,
        hint: &'static str,
    ) {
        let Some(role) = role else { return };
        let missing: Vec<&str> = needed.iter().filter(|a| !role.allows(a)).copied().collect();
        if missing.is_empty() {
            return;
        }
        self.out.push(Raw {
            rule,
            stack: self.stack.name.clone(),
            resource: self.id.to_string(),
            message: format!(
                "{} {why}, but its role {}/{} does not allow {}",
                self.id,
                role.stack,
                role.id,
                missing.join(", ")
            ),
            hint,
        });
    }
}

/// What `require_on` says of a resource the role may not act on, and its fix.
const ELSEWHERE: (&str, &str) = (
    "uses",
    "widen the role's statement to the resource, or name the resource under the pattern the role is granted (security stack)",
);

impl Site<'_> {
    /// A finding when `role` grants `action` (a missing action is `require`'s finding),
    /// but not on `arn`, the resource the judged resource uses: AWS refuses the call.
    /// `how` says what the judged resource does with it (`uses`, `injects the secret`).
    fn require_on(
        &mut self,
        rule: &'static str,
        role: Option<&Role<'_>>,
        action: &str,
        arn: Option<String>,
        (how, hint): (&str, &'static str),
    ) {
        let (Some(role), Some(arn)) = (role, arn) else {
            return;
        };
        if !role.allows(action) || role.allows_on(action, &arn) {
            return;
        }
        self.out.push(Raw {
            rule,
            stack: self.stack.name.clone(),
            resource: self.id.to_string(),
            message: format!(
                "{} {how} {arn}, but its role {}/{} allows {action} only on {}",
                self.id,
                role.stack,
                role.id,
                role.resources_of(action).join(", ")
            ),
            hint,
        });
    }
}

/// The ARN of the queue, topic or log group a value names (`Ref` or `Fn::GetAtt`) in the
/// stack, written as the roles write ARNs (`${AWS::Partition}`, `${AWS::Region}`,
/// `${AWS::AccountId}` left as they are); for a log group, a stream in it (what
/// logs:PutLogEvents is authorized on). `None` when the name is not a plain string.
fn named_arn(stack: &RenderedStack, value: &Value) -> Option<String> {
    let id =
        value
            .get("Ref")
            .and_then(Value::as_str)
            .or_else(|| match value.get("Fn::GetAtt")? {
                Value::Sequence(items) => items.first()?.as_str(),
                Value::String(s) => s.split('.').next(),
                _ => None,
            })?;
    let resource = stack.document.get("Resources")?.get(id)?;
    let props = resource.get("Properties")?;
    let name = |key: &str| props.get(key).and_then(Value::as_str);
    let region = "${AWS::Partition}:{}:${AWS::Region}:${AWS::AccountId}";
    let prefix = |service: &str| format!("arn:{}", region.replace("{}", service));
    match resource.get("Type").and_then(Value::as_str)? {
        "AWS::SQS::Queue" => Some(format!("{}:{}", prefix("sqs"), name("QueueName")?)),
        "AWS::SNS::Topic" => Some(format!("{}:{}", prefix("sns"), name("TopicName")?)),
        "AWS::Logs::LogGroup" => Some(format!(
            "{}:log-group:{}:log-stream:stream",
            prefix("logs"),
            name("LogGroupName")?
        )),
        _ => None,
    }
}

fn function(roles: &Roles<'_>, mut site: Site<'_>, props: &Value) {
    let role = props.get("Role").and_then(|r| roles.resolve(site.stack, r));
    if get(props, &["TracingConfig", "Mode"]).and_then(Value::as_str) == Some("Active") {
        site.require(
            "XRAY_PERMISSIONS",
            role.as_ref(),
            XRAY_WRITE,
            "traces actively",
            "add xray:PutTraceSegments and xray:PutTelemetryRecords (Resource \"*\") to the role",
        );
    }
    site.require(
        "LOG_PERMISSIONS",
        role.as_ref(),
        LOG_WRITE,
        "writes logs",
        "allow logs:CreateLogStream and logs:PutLogEvents on the function's log group",
    );
    let log_group = get(props, &["LoggingConfig", "LogGroup"]);
    let log_arn = log_group.and_then(|g| named_arn(site.stack, g));
    site.require_on(
        "LOG_PERMISSIONS",
        role.as_ref(),
        "logs:PutLogEvents",
        log_arn,
        ELSEWHERE,
    );
    if let Some(key) = props.get("KmsKeyArn") {
        site.require(
            "ENV_KEY_PERMISSIONS",
            role.as_ref(),
            &["kms:Decrypt"],
            "keeps its environment under a customer managed key",
            "allow kms:Decrypt on the key (Lambda cannot start the function otherwise: KMSAccessDeniedException)",
        );
        env_key(roles, &mut site, role.as_ref(), key);
    }
    if let Some(target) = get(props, &["DeadLetterConfig", "TargetArn"]) {
        let needed = send_action(site.stack, target);
        site.require(
            "DESTINATION_PERMISSIONS",
            role.as_ref(),
            &[needed],
            "sends failed events to a dead-letter target",
            "allow the role to send to the dead-letter queue or topic (and kms:GenerateDataKey for its key)",
        );
        site.require_on(
            "DESTINATION_PERMISSIONS",
            role.as_ref(),
            needed,
            named_arn(site.stack, target),
            ELSEWHERE,
        );
    }
}

/// The key a function's environment is encrypted with, against the keys its role may
/// decrypt with: the action on another key is as good as none.
fn env_key(roles: &Roles<'_>, site: &mut Site<'_>, role: Option<&Role<'_>>, key: &Value) {
    let (Some(role), Some(key)) = (role, super::referenced(roles.rendered, site.stack, key)) else {
        return;
    };
    let arn = "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/00000000-0000-0000-0000-000000000000";
    if !role.allows("kms:Decrypt")
        || role.allows_on_resource("kms:Decrypt", (&key.stack.name, key.id), arn)
    {
        return;
    }
    site.out.push(Raw {
        rule: "ENV_KEY_PERMISSIONS",
        stack: site.stack.name.clone(),
        resource: site.id.to_string(),
        message: format!(
            "{} keeps its environment under key {}/{}, but its role {}/{} may decrypt with other keys only",
            site.id, key.stack.name, key.id, role.stack, role.id
        ),
        hint: "allow kms:Decrypt on the key the function's KmsKeyArn names (Lambda cannot start the function otherwise: KMSAccessDeniedException)",
    });
}

fn state_machine(roles: &Roles<'_>, mut site: Site<'_>, props: &Value) {
    let role = props
        .get("RoleArn")
        .and_then(|r| roles.resolve(site.stack, r));
    if is_true(get(props, &["TracingConfiguration", "Enabled"])) {
        site.require(
            "XRAY_PERMISSIONS",
            role.as_ref(),
            XRAY_STATES,
            "traces with X-Ray",
            "add xray:PutTraceSegments, xray:PutTelemetryRecords, xray:GetSamplingRules and xray:GetSamplingTargets (Resource \"*\") to the role",
        );
    }
    let definition = props.get("DefinitionString").or(props.get("Definition"));
    if mentions(definition, "ecs:runTask.sync") {
        site.require(
            "START_PERMISSIONS",
            role.as_ref(),
            RUN_TASK_SYNC,
            "runs an ECS task and waits for it (ecs:runTask.sync)",
            "allow ecs:RunTask on the task definition, iam:PassRole for its roles, ecs:StopTask and ecs:DescribeTasks on the cluster's tasks, and events:PutTargets, events:PutRule, events:DescribeRule on rule/StepFunctionsGetEventsForECSTaskRule",
        );
    }
    if props.get("LoggingConfiguration").is_some() {
        site.require(
            "LOG_PERMISSIONS",
            role.as_ref(),
            LOG_DELIVERY,
            "delivers its logs to CloudWatch Logs",
            "add the logs:*LogDelivery, logs:PutResourcePolicy, logs:DescribeResourcePolicies and logs:DescribeLogGroups actions (Resource \"*\") to the role",
        );
    }
}

fn task_definition(roles: &Roles<'_>, mut site: Site<'_>, props: &Value) {
    let role = props
        .get("ExecutionRoleArn")
        .and_then(|r| roles.resolve(site.stack, r));
    let containers = props
        .get("ContainerDefinitions")
        .and_then(Value::as_sequence)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let awslogs = containers.iter().any(|c| {
        get(c, &["LogConfiguration", "LogDriver"]).and_then(Value::as_str) == Some("awslogs")
    });
    if awslogs {
        site.require(
            "LOG_PERMISSIONS",
            role.as_ref(),
            LOG_WRITE,
            "logs through the awslogs driver",
            "allow logs:CreateLogStream and logs:PutLogEvents on the task's log group to the execution role",
        );
        for group in containers
            .iter()
            .filter_map(|c| get(c, &["LogConfiguration", "Options", "awslogs-group"]))
        {
            let arn = named_arn(site.stack, group);
            site.require_on(
                "LOG_PERMISSIONS",
                role.as_ref(),
                "logs:PutLogEvents",
                arn,
                ELSEWHERE,
            );
        }
    }
    if containers
        .iter()
        .any(|c| mentions(c.get("Image"), ".dkr.ecr."))
    {
        site.require(
            "ECS_EXECUTION_PERMISSIONS",
            role.as_ref(),
            ECR_PULL,
            "runs an image from ECR",
            "allow ecr:GetAuthorizationToken (Resource \"*\"), ecr:BatchGetImage and ecr:GetDownloadUrlForLayer on the repositories to the execution role",
        );
    }
    let secrets: Vec<&Value> = containers
        .iter()
        .filter_map(|c| c.get("Secrets").and_then(Value::as_sequence))
        .flatten()
        .filter_map(|s| s.get("ValueFrom"))
        .collect();
    secret_resources(&mut site, role.as_ref(), &secrets);
    let mut needed = Vec::new();
    if secrets
        .iter()
        .any(|v| mentions(Some(v), ":ssm:") || mentions(Some(v), ":parameter/"))
    {
        needed.push("ssm:GetParameters");
    }
    if secrets
        .iter()
        .any(|v| mentions(Some(v), ":secretsmanager:"))
    {
        needed.push("secretsmanager:GetSecretValue");
    }
    if !needed.is_empty() {
        needed.push("kms:Decrypt");
        site.require(
            "ECS_EXECUTION_PERMISSIONS",
            role.as_ref(),
            &needed,
            "injects secrets into its containers",
            "allow the execution role to read the secrets (ssm:GetParameters, secretsmanager:GetSecretValue) and kms:Decrypt with their key",
        );
    }
}

/// Each secret's ARN against the resources the execution role may read it on: a secret
/// outside them stops every task with ResourceInitializationError (the action alone is
/// not enough).
fn secret_resources(site: &mut Site<'_>, role: Option<&Role<'_>>, secrets: &[&Value]) {
    for arn in secrets.iter().filter_map(|v| arn_text(v)) {
        let action = if arn.contains(":secretsmanager:") {
            "secretsmanager:GetSecretValue"
        } else if arn.contains(":ssm:") || arn.contains(":parameter/") {
            "ssm:GetParameters"
        } else {
            continue;
        };
        site.require_on(
            "ECS_EXECUTION_PERMISSIONS",
            role,
            action,
            Some(arn.to_string()),
            (
                "injects the secret",
                "name secrets under the prefix the execution role may read (facturascan/<env>/ in Secrets Manager, /facturascan/<env>/ in Parameter Store), or widen the role's statement to the secret",
            ),
        );
    }
}

/// A schedule or rule that runs an ECS task does so with its target's role: RunTask, and
/// PassRole for the task's roles (ECS refuses the task otherwise, and the run is lost with
/// only a failed-invocation metric to show for it).
fn ecs_targets<'v>(
    roles: &Roles<'_>,
    mut site: Site<'_>,
    targets: impl Iterator<Item = &'v Value>,
) {
    for target in targets {
        let role = || {
            target
                .get("RoleArn")
                .and_then(|r| roles.resolve(site.stack, r))
        };
        if target.get("EcsParameters").is_some() {
            let role = role();
            site.require(
                "START_PERMISSIONS",
                role.as_ref(),
                &["ecs:RunTask", "iam:PassRole"],
                "starts an ECS task",
                "allow ecs:RunTask on the task definition (conditioned on ecs:cluster) and iam:PassRole on the task's execution and task roles (iam:PassedToService ecs-tasks.amazonaws.com)",
            );
        } else if is_resource_of(
            site.stack,
            target.get("Arn"),
            "AWS::StepFunctions::StateMachine",
        ) {
            let role = role();
            site.require(
                "START_PERMISSIONS",
                role.as_ref(),
                &["states:StartExecution"],
                "starts a state machine",
                "give the target a role that allows states:StartExecution on the state machine",
            );
        } else if is_api_destination(site.stack, target.get("Arn")) {
            // An API destination is invoked with the target's role, never without one.
            let role = role();
            site.require(
                "START_PERMISSIONS",
                role.as_ref(),
                &["events:InvokeApiDestination"],
                "calls an API destination",
                "give the target a role that allows events:InvokeApiDestination on the destination's ARN (api-destination/<name>/*)",
            );
        }
    }
}

/// Whether `arn` is `Ref` or `Fn::GetAtt` of a resource of `kind` in the stack.
fn is_resource_of(stack: &RenderedStack, arn: Option<&Value>, kind: &str) -> bool {
    let id = arn.and_then(|a| {
        a.get("Ref").and_then(Value::as_str).or_else(|| {
            a.get("Fn::GetAtt")
                .and_then(Value::as_sequence)
                .and_then(|parts| parts.first())
                .and_then(Value::as_str)
        })
    });
    id.and_then(|id| stack.document.get("Resources")?.get(id)?.get("Type"))
        .and_then(Value::as_str)
        == Some(kind)
}

/// Whether `arn` is `Fn::GetAtt` of an `AWS::Events::ApiDestination` of the stack.
fn is_api_destination(stack: &RenderedStack, arn: Option<&Value>) -> bool {
    let id = arn
        .and_then(|a| a.get("Fn::GetAtt"))
        .and_then(Value::as_sequence)
        .and_then(|parts| parts.first())
        .and_then(Value::as_str);
    id.and_then(|id| stack.document.get("Resources")?.get(id)?.get("Type"))
        .and_then(Value::as_str)
        == Some("AWS::Events::ApiDestination")
}

/// An on-failure (or on-success) destination of asynchronous invocations is sent to with
/// the function's execution role.
fn invoke_config(roles: &Roles<'_>, mut site: Site<'_>, props: &Value) {
    let Some(function) = function_resource(site.stack, props.get("FunctionName")) else {
        return;
    };
    let role = get(function, &["Properties", "Role"]).and_then(|r| roles.resolve(site.stack, r));
    for kind in ["OnFailure", "OnSuccess"] {
        if let Some(target) = get(props, &["DestinationConfig", kind, "Destination"]) {
            let needed = send_action(site.stack, target);
            site.require(
                "DESTINATION_PERMISSIONS",
                role.as_ref(),
                &[needed],
                "sends asynchronous results to a destination",
                "allow the function's role to send to the destination (sqs:SendMessage, sns:Publish, lambda:InvokeFunction or events:PutEvents)",
            );
            site.require_on(
                "DESTINATION_PERMISSIONS",
                role.as_ref(),
                needed,
                named_arn(site.stack, target),
                ELSEWHERE,
            );
        }
    }
}

/// The function a `FunctionName` names in the same stack (`Ref` to it).
fn function_resource<'a>(stack: &'a RenderedStack, name: Option<&Value>) -> Option<&'a Value> {
    let id = name?.get("Ref")?.as_str()?;
    stack.document.get("Resources")?.get(id)
}

/// The action that sends to a target: by the type of the resource it references in the
/// stack, else by the service in its ARN.
fn send_action(stack: &RenderedStack, target: &Value) -> &'static str {
    let referenced = target
        .get("Fn::GetAtt")
        .and_then(|g| match g {
            Value::Sequence(items) => items.first().and_then(Value::as_str),
            Value::String(s) => s.split('.').next(),
            _ => None,
        })
        .or_else(|| target.get("Ref").and_then(Value::as_str))
        .and_then(|id| stack.document.get("Resources")?.get(id))
        .and_then(|r| r.get("Type"))
        .and_then(Value::as_str);
    let text = yaml_serde::to_string(target).unwrap_or_default();
    match referenced {
        Some("AWS::SQS::Queue") => "sqs:SendMessage",
        Some("AWS::SNS::Topic") => "sns:Publish",
        Some("AWS::Lambda::Function") => "lambda:InvokeFunction",
        _ if text.contains(":sns:") => "sns:Publish",
        _ if text.contains(":lambda:") => "lambda:InvokeFunction",
        _ if text.contains(":events:") => "events:PutEvents",
        _ => "sqs:SendMessage",
    }
}

/// Whether a value, as text, contains `needle` (an image URI, an ARN built with Fn::Sub).
fn mentions(value: Option<&Value>, needle: &str) -> bool {
    value.is_some_and(|v| {
        yaml_serde::to_string(v)
            .unwrap_or_default()
            .contains(needle)
    })
}

/// A role found in the rendered stacks, with what its policies' Allow statements grant.
struct Role<'a> {
    stack: &'a str,
    id: &'a str,
    grants: Vec<Grant>,
}

/// One Allow statement: its action patterns and its resource patterns, each as the
/// template writes it (a string, or the text of its `Fn::Sub`; `*` for any other
/// intrinsic, which cannot be read offline), and each resource as far as it names one of
/// the environment's resources (`Ref`/`Fn::GetAtt`, through the stack's inputs).
struct Grant {
    actions: Vec<String>,
    resources: Vec<String>,
    names: Vec<ResourceName>,
}

/// A statement's resource, as a resource of the environment when it names one.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ResourceName {
    /// A pattern written out (`*`, an ARN with wildcards).
    Pattern(String),
    /// A resource of a stack: (stack, logical id).
    Resource(String, String),
    /// An intrinsic that cannot be followed offline: it may name anything.
    Unknown,
}

impl Role<'_> {
    /// Whether an Allow statement names `action`, exactly or by a wildcard pattern.
    fn allows(&self, action: &str) -> bool {
        self.grants
            .iter()
            .any(|g| g.actions.iter().any(|pattern| glob(pattern, action)))
    }

    /// Whether an Allow statement grants `action` on `resource` (written as the template
    /// writes ARNs: `${AWS::Partition}` and the like stay as they are on both sides).
    fn allows_on(&self, action: &str, resource: &str) -> bool {
        self.grants.iter().any(|g| {
            g.actions.iter().any(|pattern| glob(pattern, action))
                && g.resources.iter().any(|pattern| glob(pattern, resource))
        })
    }

    /// Whether an Allow statement grants `action` on the stack resource `target`: by
    /// naming it, by a written pattern that covers `arn` (its ARN's shape), or by an
    /// intrinsic that cannot be read.
    fn allows_on_resource(&self, action: &str, target: (&str, &str), arn: &str) -> bool {
        self.grants.iter().any(|g| {
            g.actions.iter().any(|pattern| glob(pattern, action))
                && g.names.iter().any(|name| match name {
                    ResourceName::Pattern(pattern) => glob(pattern, arn),
                    ResourceName::Resource(stack, id) => (stack.as_str(), id.as_str()) == target,
                    ResourceName::Unknown => true,
                })
        })
    }

    /// The resource patterns `action` is granted on, for a message.
    fn resources_of(&self, action: &str) -> Vec<&str> {
        self.grants
            .iter()
            .filter(|g| g.actions.iter().any(|pattern| glob(pattern, action)))
            .flat_map(|g| g.resources.iter().map(String::as_str))
            .collect()
    }
}

/// A resource or ARN as text: a string, or the string of `Fn::Sub`; `None` for anything
/// else (a `Ref`, a `GetAtt`, a `Join`: not readable offline).
fn arn_text(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s),
        other => match other.get("Fn::Sub")? {
            Value::String(s) => Some(s),
            Value::Sequence(items) => items.first()?.as_str(),
            _ => None,
        },
    }
}

/// Case-insensitive match of an IAM action pattern (`*` and `?` wildcards).
pub(super) fn glob(pattern: &str, action: &str) -> bool {
    fn inner(p: &[u8], a: &[u8]) -> bool {
        match (p.first(), a.first()) {
            (None, None) => true,
            (Some(b'*'), _) => inner(&p[1..], a) || (!a.is_empty() && inner(p, &a[1..])),
            (Some(b'?'), Some(_)) => inner(&p[1..], &a[1..]),
            (Some(x), Some(y)) if x.eq_ignore_ascii_case(y) => inner(&p[1..], &a[1..]),
            _ => false,
        }
    }
    inner(pattern.as_bytes(), action.as_bytes())
}

/// Finds roles across the rendered stacks.
struct Roles<'a> {
    rendered: &'a RenderedEnv,
}

impl<'a> Roles<'a> {
    /// The role a `Role`/`RoleArn` value names: `Fn::GetAtt [X, Arn]` in the same stack, or
    /// `Ref` to a parameter fed by another stack's output that is such a GetAtt there.
    fn resolve(&self, stack: &'a RenderedStack, value: &Value) -> Option<Role<'a>> {
        if let Some(id) = getatt_arn(value) {
            return self.role(stack, id);
        }
        let parameter = value.get("Ref")?.as_str()?;
        let source = stack.inputs.get(parameter)?;
        let upstream = self
            .rendered
            .stacks
            .iter()
            .find(|s| s.name == source.stack)?;
        let output = get(&upstream.document, &["Outputs", &source.output, "Value"])?;
        self.role(upstream, getatt_arn(output)?)
    }

    fn role(&self, stack: &'a RenderedStack, id: &str) -> Option<Role<'a>> {
        let (id, resource) = stack.resources().find(|(rid, _)| *rid == id)?;
        if resource.get("Type").and_then(Value::as_str) != Some("AWS::IAM::Role") {
            return None;
        }
        let mut grants = Vec::new();
        let inline = get(resource, &["Properties", "Policies"])
            .and_then(Value::as_sequence)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let attached = stack.resources().filter_map(|(_, r)| {
            let kind = r.get("Type").and_then(Value::as_str)?;
            let attaches = matches!(kind, "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy")
                && get(r, &["Properties", "Roles"])
                    .and_then(Value::as_sequence)
                    .is_some_and(|roles| {
                        roles
                            .iter()
                            .any(|x| x.get("Ref").and_then(Value::as_str) == Some(id))
                    });
            attaches.then(|| r.get("Properties")).flatten()
        });
        for document in inline
            .iter()
            .chain(attached)
            .filter_map(|p| p.get("PolicyDocument"))
        {
            let name = |value: &Value| match arn_text(value) {
                Some(text) => ResourceName::Pattern(text.to_string()),
                None => match super::referenced(self.rendered, stack, value) {
                    Some(found) => {
                        ResourceName::Resource(found.stack.name.clone(), found.id.to_string())
                    }
                    None => ResourceName::Unknown,
                },
            };
            grants.extend(allow_statements(document, &name));
        }
        Some(Role {
            stack: &stack.name,
            id,
            grants,
        })
    }
}

/// `X` of `{ "Fn::GetAtt": [X, Arn] }` or `{ "Fn::GetAtt": "X.Arn" }`.
fn getatt_arn(value: &Value) -> Option<&str> {
    match value.get("Fn::GetAtt")? {
        Value::Sequence(items) if items.get(1).and_then(Value::as_str) == Some("Arn") => {
            items.first()?.as_str()
        }
        Value::String(s) => s.strip_suffix(".Arn"),
        _ => None,
    }
}

/// A policy document's Allow statements, each with its actions and resources (`name`
/// follows a resource value to the environment's resource it names).
fn allow_statements(document: &Value, name: &dyn Fn(&Value) -> ResourceName) -> Vec<Grant> {
    let statements = match document.get("Statement") {
        Some(Value::Sequence(items)) => items.iter().collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    };
    statements
        .into_iter()
        .filter(|s| s.get("Effect").and_then(Value::as_str) == Some("Allow"))
        .map(|s| {
            let resources = match s.get("Resource") {
                Some(Value::Sequence(items)) => items.iter().collect(),
                Some(one) => vec![one],
                None => Vec::new(),
            };
            Grant {
                actions: strings(s.get("Action"))
                    .into_iter()
                    .map(str::to_string)
                    .collect(),
                names: resources.iter().map(|r| name(r)).collect(),
                resources: resources
                    .into_iter()
                    .map(|r| arn_text(r).unwrap_or("*").to_string())
                    .collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn action_patterns_match_as_iam_does() {
        assert!(glob("xray:PutTraceSegments", "xray:PutTraceSegments"));
        assert!(glob("xray:Put*", "xray:PutTelemetryRecords"));
        assert!(glob("XRAY:puttracesegments", "xray:PutTraceSegments"));
        assert!(glob("*", "logs:PutLogEvents"));
        assert!(!glob("xray:Get*", "xray:PutTraceSegments"));
        assert!(!glob("logs:PutLogEvents", "logs:PutLogEventsX"));
    }
}
