//! Rules about AWS services acting on the platform's resources:
//!
//! - `KMS_SERVICE_PRINCIPALS`: a service that writes into something encrypted with the
//!   platform key (CloudWatch Logs into a log group, CloudWatch alarms into an alert topic,
//!   SNS into a queue) must be allowed by the key policy, or its writes are dropped.
//! - `SERVICE_PRINCIPAL_CONDITIONS`: a resource policy that lets a service principal in
//!   (key, topic, queue and bucket policies, Lambda permissions) scopes it to this account
//!   or source with `aws:SourceAccount`/`aws:SourceArn` (the confused-deputy guard). Trust
//!   policies of roles are not judged here. EventBridge is exempt in key policies: AWS does
//!   not send those keys with its KMS requests, so the condition would drop every event.

use yaml_serde::Value;

use super::{Raw, get, strings};
use crate::config::Config;
use crate::render::{RenderedEnv, RenderedStack};

/// Condition keys that tie a service principal to this account or a source of ours.
const SCOPING_KEYS: &[&str] = &[
    "aws:SourceAccount",
    "aws:SourceArn",
    "aws:SourceOwner",
    "aws:SourceOrgID",
    "kms:EncryptionContext:aws:logs:arn",
];

pub(super) fn check(config: &Config, rendered: &RenderedEnv, out: &mut Vec<Raw>) {
    for stack in &rendered.stacks {
        for (id, resource) in stack.resources() {
            conditions(stack, id, resource, out);
        }
    }
    for writer in writers(config, rendered) {
        key_allows(rendered, &writer, out);
    }
}

fn push(
    out: &mut Vec<Raw>,
    rule: &'static str,
    stack: &RenderedStack,
    id: &str,
    message: String,
    hint: &'static str,
) {
    out.push(Raw {
        rule,
        stack: stack.name.clone(),
        resource: id.to_string(),
        message,
        hint,
    });
}

/// SERVICE_PRINCIPAL_CONDITIONS on one resource.
fn conditions(stack: &RenderedStack, id: &str, resource: &Value, out: &mut Vec<Raw>) {
    let kind = resource.get("Type").and_then(Value::as_str).unwrap_or("");
    let props = resource.get("Properties").unwrap_or(&Value::Null);
    let hint = "add a Condition with aws:SourceAccount (this account) or aws:SourceArn (the resources that may act)";
    if kind == "AWS::Lambda::Permission" {
        let principal = props.get("Principal").and_then(Value::as_str).unwrap_or("");
        if principal.ends_with(".amazonaws.com")
            && props.get("SourceArn").is_none()
            && props.get("SourceAccount").is_none()
        {
            push(
                out,
                "SERVICE_PRINCIPAL_CONDITIONS",
                stack,
                id,
                format!("{id} lets {principal} invoke the function from any account"),
                "set SourceArn (or SourceAccount) on the permission",
            );
        }
        return;
    }
    let document = match kind {
        "AWS::KMS::Key" => props.get("KeyPolicy"),
        "AWS::SNS::TopicPolicy" | "AWS::SQS::QueuePolicy" | "AWS::S3::BucketPolicy" => {
            props.get("PolicyDocument")
        }
        _ => None,
    };
    for statement in document.map(statements).unwrap_or_default() {
        if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
            continue;
        }
        for service in services(statement) {
            let exempt = kind == "AWS::KMS::Key" && service.starts_with("events.");
            if exempt || scoped(statement) {
                continue;
            }
            let sid = statement
                .get("Sid")
                .and_then(Value::as_str)
                .unwrap_or("a statement");
            push(
                out,
                "SERVICE_PRINCIPAL_CONDITIONS",
                stack,
                id,
                format!("{id}: {sid} lets {service} in for any account"),
                hint,
            );
        }
    }
}

fn statements(document: &Value) -> Vec<&Value> {
    match document.get("Statement") {
        Some(Value::Sequence(items)) => items.iter().collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    }
}

/// The service principals of a statement, as written (`logs.${AWS::Region}.amazonaws.com`
/// inside an Fn::Sub counts as `logs.<region>.amazonaws.com`).
fn services(statement: &Value) -> Vec<String> {
    let Some(service) = get(statement, &["Principal", "Service"]) else {
        return Vec::new();
    };
    let items: Vec<&Value> = match service {
        Value::Sequence(items) => items.iter().collect(),
        one => vec![one],
    };
    items
        .into_iter()
        .filter_map(|v| {
            v.as_str()
                .or_else(|| v.get("Fn::Sub").and_then(Value::as_str))
        })
        .map(|s| s.replace("${AWS::Region}", "<region>"))
        .collect()
}

fn scoped(statement: &Value) -> bool {
    let Some(Value::Mapping(operators)) = statement.get("Condition") else {
        return false;
    };
    operators.values().any(|keys| match keys {
        Value::Mapping(keys) => keys
            .keys()
            .filter_map(Value::as_str)
            .any(|k| SCOPING_KEYS.iter().any(|s| s.eq_ignore_ascii_case(k))),
        _ => false,
    })
}

/// A service that writes into a resource encrypted with a key of the rendered stacks.
struct Writer<'a> {
    service: &'static str,
    stack: &'a RenderedStack,
    id: &'a str,
    /// The resource's key reference (`KmsKeyId`, `KmsMasterKeyId`).
    key: &'a Value,
}

/// Who writes into which encrypted resource: CloudWatch Logs into every encrypted log
/// group, CloudWatch alarms into the encrypted alert topics that alarms notify, SNS into
/// the encrypted queues it delivers to.
fn writers<'a>(config: &Config, rendered: &'a RenderedEnv) -> Vec<Writer<'a>> {
    let alarm_topics: Vec<String> = rendered
        .alarms
        .iter()
        .flat_map(|a| a.channels.iter())
        .map(|c| config.topic_name(c))
        .collect();
    let mut found = Vec::new();
    for stack in &rendered.stacks {
        let subscribed_queues: Vec<&str> = stack
            .resources()
            .filter(|(_, r)| {
                r.get("Type").and_then(Value::as_str) == Some("AWS::SNS::Subscription")
            })
            .filter(|(_, r)| {
                get(r, &["Properties", "Protocol"]).and_then(Value::as_str) == Some("sqs")
            })
            .filter_map(|(_, r)| referenced(get(r, &["Properties", "Endpoint"])?))
            .collect();
        for (id, resource) in stack.resources() {
            let props = resource.get("Properties").unwrap_or(&Value::Null);
            let (service, key) = match resource.get("Type").and_then(Value::as_str) {
                Some("AWS::Logs::LogGroup") => ("logs", props.get("KmsKeyId")),
                Some("AWS::SNS::Topic")
                    if props
                        .get("TopicName")
                        .and_then(Value::as_str)
                        .is_some_and(|n| alarm_topics.iter().any(|t| t == n)) =>
                {
                    ("cloudwatch", props.get("KmsMasterKeyId"))
                }
                Some("AWS::SQS::Queue") if subscribed_queues.contains(&id) => {
                    ("sns", props.get("KmsMasterKeyId"))
                }
                _ => continue,
            };
            if let Some(key) = key {
                found.push(Writer {
                    service,
                    stack,
                    id,
                    key,
                });
            }
        }
    }
    found
}

/// KMS_SERVICE_PRINCIPALS for one writer: the key's policy allows the service to use it.
fn key_allows(rendered: &RenderedEnv, writer: &Writer<'_>, out: &mut Vec<Raw>) {
    let Some((key_stack, key_id, key)) = resolve(rendered, writer.stack, writer.key) else {
        return; // an AWS managed key or one from outside: not ours to judge
    };
    if key.get("Type").and_then(Value::as_str) != Some("AWS::KMS::Key") {
        return;
    }
    let needed: &[&str] = if writer.service == "logs" {
        &["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"]
    } else {
        &["kms:Decrypt", "kms:GenerateDataKey"]
    };
    let policy = get(key, &["Properties", "KeyPolicy"])
        .map(statements)
        .unwrap_or_default();
    let allowed = policy.iter().any(|s| {
        s.get("Effect").and_then(Value::as_str) == Some("Allow")
            && services(s)
                .iter()
                .any(|p| p.split('.').next() == Some(writer.service))
            && needed.iter().all(|a| {
                strings(s.get("Action"))
                    .iter()
                    .any(|p| super::permissions::glob(p, a))
            })
    });
    if !allowed {
        push(
            out,
            "KMS_SERVICE_PRINCIPALS",
            writer.stack,
            writer.id,
            format!(
                "{} is encrypted with {key_stack}/{key_id}, whose key policy does not let {} use it ({})",
                writer.id,
                writer.service,
                needed.join(", ")
            ),
            "add a key policy statement for the service principal with those actions, scoped by aws:SourceAccount/aws:SourceArn (logs: kms:EncryptionContext:aws:logs:arn)",
        );
    }
}

/// The logical id a value references in its stack: `Ref X` or `Fn::GetAtt [X, ...]`.
fn referenced(value: &Value) -> Option<&str> {
    if let Some(id) = value.get("Ref").and_then(Value::as_str) {
        return Some(id);
    }
    match value.get("Fn::GetAtt")? {
        Value::Sequence(items) => items.first()?.as_str(),
        Value::String(s) => s.split('.').next(),
        _ => None,
    }
}

/// The resource a reference names: in the same stack, or through a parameter fed by
/// another stack's output. (stack name, logical id, resource).
fn resolve<'a>(
    rendered: &'a RenderedEnv,
    stack: &'a RenderedStack,
    value: &Value,
) -> Option<(&'a str, &'a str, &'a Value)> {
    let id = referenced(value)?;
    if let Some((rid, resource)) = stack.resources().find(|(rid, _)| *rid == id) {
        return Some((&stack.name, rid, resource));
    }
    let source = stack.inputs.get(id)?;
    let upstream = rendered.stacks.iter().find(|s| s.name == source.stack)?;
    let output = get(&upstream.document, &["Outputs", &source.output, "Value"])?;
    let target = referenced(output)?;
    let (rid, resource) = upstream.resources().find(|(rid, _)| *rid == target)?;
    Some((&upstream.name, rid, resource))
}
