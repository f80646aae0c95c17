//! The wiring between the config and the rendered templates, checked offline before any AWS
//! call: what CloudFormation would only refuse mid-deploy, after other stacks changed.
//!
//! - every `inputs` entry reads an output the upstream template declares;
//! - every parameter and input names a parameter the template declares, and every template
//!   parameter without a default gets a value;
//! - parameter values meet the template's own constraints (AllowedValues, AllowedPattern,
//!   MinLength/MaxLength, MinValue/MaxValue, Number and list types);
//! - every template declares at least one resource;
//! - stack tags fit AWS's limits (50 per stack, keys 128 and values 256 characters, the
//!   tag character set, no reserved `aws:` prefix);
//! - CIDR-shaped parameter values are CIDR blocks (octets, prefix, no host bits), and
//!   parameters named `...Cidr`/`...Cidrs` hold them;
//! - the names the templates give resources fit the limits of their service (a load
//!   balancer's 32 characters are the first a long project name breaks);
//! - a service that declares a model has a stack template that takes the model's
//!   parameters (`<Service>ModelUri`, `<Service>ModelSha256`), or `deploy --model` would set
//!   parameters CloudFormation refuses.
//!
//! Errors name the config line that set the value (file, line, column) and say what was
//! expected, like the rest of config validation.

use yaml_serde::Value;

use crate::config::source::{PathSegment, path};
use crate::config::{ConfigError, ConfigErrors, LoadedConfig};
use crate::render::{RenderedEnv, RenderedStack};

mod problem;

use problem::{CidrProblem, Invalid, Violation};

/// AWS's limits on the tags of a stack (CloudFormation propagates them to resources).
const MAX_TAGS: usize = 50;
const MAX_TAG_KEY: usize = 128;
const MAX_TAG_VALUE: usize = 256;

pub fn check(loaded: &LoadedConfig, rendered: &RenderedEnv) -> Result<(), ConfigErrors> {
    let mut errors = project_tags(loaded);
    for stack in &rendered.stacks {
        let mut site = Site {
            loaded,
            stack: &stack.name,
            errors: &mut errors,
        };
        resources(&mut site, stack);
        outputs_read(&mut site, stack, rendered);
        parameters(&mut site, stack);
        tags(&mut site, stack);
        resource_names(&mut site, stack);
    }
    model_parameters(loaded, rendered, &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ConfigErrors(errors))
    }
}

/// Where errors of one stack go, located at its keys in the config.
struct Site<'a> {
    loaded: &'a LoadedConfig,
    stack: &'a str,
    errors: &'a mut Vec<ConfigError>,
}

impl Site<'_> {
    fn at(&self, keys: &[&str]) -> Vec<PathSegment> {
        let mut at = path(["stacks", self.stack]);
        at.extend(keys.iter().map(|k| PathSegment::Key((*k).to_string())));
        at
    }

    fn report(&mut self, keys: &[&str], problem: Invalid) {
        let origin = self.loaded.sources.locate(&self.at(keys));
        self.errors.push(ConfigError::new(origin, problem));
    }
}

fn model_parameters(loaded: &LoadedConfig, rendered: &RenderedEnv, errors: &mut Vec<ConfigError>) {
    let config = &loaded.config;
    for (service, svc) in config.services.iter().filter(|(_, s)| s.enabled) {
        if svc.model.is_none() {
            continue;
        }
        let Some(stack) = rendered.stacks.iter().find(|s| s.name == svc.stack) else {
            continue; // a disabled stack with an enabled service: config validation says so
        };
        let declared = names(section(stack, "Parameters"));
        let (uri, sha) = crate::config::names::model_parameter_names(service);
        let missing: Vec<&String> = [&uri, &sha]
            .into_iter()
            .filter(|p| !declared.contains(p))
            .collect();
        if missing.is_empty() {
            continue;
        }
        let origin = loaded.sources.locate(&path(["services", service, "model"]));
        let missing = missing.into_iter().cloned().collect();
        errors.push(ConfigError::new(
            origin,
            Invalid::ModelParameters {
                service: service.clone(),
                template: stack.template_file.clone(),
                stack: stack.name.clone(),
                missing,
                uri,
                sha,
            },
        ));
    }
}

fn section<'v>(stack: &'v RenderedStack, name: &str) -> Option<&'v yaml_serde::Mapping> {
    stack.document.get(name).and_then(Value::as_mapping)
}

fn names(map: Option<&yaml_serde::Mapping>) -> Vec<String> {
    map.map(|m| {
        m.keys()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    })
    .unwrap_or_default()
}

fn resources(site: &mut Site<'_>, stack: &RenderedStack) {
    if section(stack, "Resources").is_none_or(yaml_serde::Mapping::is_empty) {
        site.report(
            &["template"],
            Invalid::NoResources {
                template: stack.template_file.clone(),
                stack: stack.name.clone(),
            },
        );
    }
}

fn outputs_read(site: &mut Site<'_>, stack: &RenderedStack, rendered: &RenderedEnv) {
    for (param, input) in &stack.inputs {
        let Some(upstream) = rendered.stacks.iter().find(|s| s.name == input.stack) else {
            continue; // a disabled or unknown stack: config validation says so
        };
        let declared = names(section(upstream, "Outputs"));
        if !declared.contains(&input.output) {
            site.report(
                &["inputs", param],
                Invalid::UndeclaredOutput {
                    parameter: param.clone(),
                    stack: input.stack.clone(),
                    output: input.output.clone(),
                    declared,
                },
            );
        }
    }
}

fn parameters(site: &mut Site<'_>, stack: &RenderedStack) {
    let declared = section(stack, "Parameters");
    let declared_names = names(declared);
    let given = stack
        .parameters
        .keys()
        .map(|k| ("parameters", k))
        .chain(stack.inputs.keys().map(|k| ("inputs", k)));
    for (table, name) in given {
        if !declared_names.contains(name) {
            site.report(
                &[table, name],
                Invalid::UnknownParameter {
                    name: name.clone(),
                    template: stack.template_file.clone(),
                    declared: declared_names.clone(),
                },
            );
        }
    }
    for (name, spec) in declared.into_iter().flatten() {
        let Some(name) = name.as_str() else { continue };
        let set = stack.parameters.contains_key(name) || stack.inputs.contains_key(name);
        if !set && spec.get("Default").is_none() {
            site.report(
                &[],
                Invalid::ParameterWithoutValue {
                    name: name.to_string(),
                    template: stack.template_file.clone(),
                },
            );
        }
        if let Some(value) = stack.parameters.get(name)
            && let Some(violation) = violation(spec, value).or_else(|| cidr_violation(name, value))
        {
            site.report(
                &["parameters", name],
                Invalid::ParameterValue {
                    name: name.to_string(),
                    value: value.clone(),
                    violation,
                    constraints: constraint_text(spec),
                },
            );
        }
    }
}

/// The first constraint of `spec` that `value` breaks, as a phrase.
fn violation(spec: &Value, value: &str) -> Option<Violation> {
    let kind = spec.get("Type").and_then(Value::as_str).unwrap_or("String");
    let is_list = kind.starts_with("List<") || kind == "CommaDelimitedList";
    let items: Vec<&str> = if is_list {
        value.split(',').map(str::trim).collect()
    } else {
        vec![value]
    };
    for item in items {
        if let Some(problem) = item_violation(spec, kind, item) {
            return Some(problem);
        }
    }
    None
}

fn item_violation(spec: &Value, kind: &str, item: &str) -> Option<Violation> {
    if (kind == "Number" || kind == "List<Number>") && item.parse::<f64>().is_err() {
        return Some(Violation::NotANumber);
    }
    if let Some(allowed) = spec.get("AllowedValues").and_then(Value::as_sequence) {
        let allowed: Vec<String> = allowed.iter().filter_map(scalar).collect();
        if !allowed.iter().any(|a| a == item) {
            return Some(Violation::NotAllowed { allowed });
        }
    }
    if let Some(pattern) = spec.get("AllowedPattern").and_then(Value::as_str) {
        // CloudFormation matches the whole value.
        let anchored = format!("^(?:{pattern})$");
        if let Ok(re) = regex::Regex::new(&anchored)
            && !re.is_match(item)
        {
            return Some(Violation::Pattern {
                pattern: pattern.to_string(),
            });
        }
    }
    let length = item.chars().count() as f64;
    let number = item.parse::<f64>().ok();
    let bounds = [
        ("MinLength", length, true),
        ("MaxLength", length, false),
        ("MinValue", number.unwrap_or(f64::NAN), true),
        ("MaxValue", number.unwrap_or(f64::NAN), false),
    ];
    for (key, actual, minimum) in bounds {
        let Some(limit) = spec
            .get(key)
            .and_then(scalar)
            .and_then(|l| l.parse::<f64>().ok())
        else {
            continue;
        };
        if actual.is_nan() {
            continue;
        }
        if (minimum && actual < limit) || (!minimum && actual > limit) {
            return Some(Violation::Bound {
                key,
                limit: limit.to_string(),
            });
        }
    }
    None
}

/// CloudFormation's constraints say nothing of CIDR arithmetic, and EC2 refuses a block
/// with host bits set or an octet over 255 only when the VPC or subnet is created.
fn cidr_violation(name: &str, value: &str) -> Option<Violation> {
    let named_cidr = name.ends_with("Cidr") || name.ends_with("Cidrs");
    for item in value.split(',').map(str::trim) {
        let shaped = item.contains('/')
            && item
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == '/');
        if !(named_cidr || shaped) {
            continue;
        }
        if let Err(problem) = parse_cidr(item) {
            return Some(Violation::Cidr {
                item: item.to_string(),
                problem,
            });
        }
    }
    None
}

/// An IPv4 CIDR block, as EC2 takes it: four octets, a prefix of 0 to 32, host bits zero.
fn parse_cidr(text: &str) -> Result<(), CidrProblem> {
    let (address, prefix) = text.split_once('/').ok_or(CidrProblem::NoPrefix)?;
    let octets: Vec<u32> = address
        .split('.')
        .map(|o| {
            o.parse::<u32>()
                .ok()
                .filter(|n| *n <= 255 && !(o.len() > 1 && o.starts_with('0')))
        })
        .collect::<Option<_>>()
        .filter(|v: &Vec<u32>| v.len() == 4)
        .ok_or_else(|| CidrProblem::Octets {
            address: address.to_string(),
        })?;
    let prefix: u32 =
        prefix
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| CidrProblem::Prefix {
                prefix: prefix.to_string(),
            })?;
    let bits = octets.iter().fold(0u32, |acc, o| (acc << 8) | o);
    let host = if prefix == 32 { 0 } else { u32::MAX >> prefix };
    if bits & host != 0 {
        let [a, b, c, d] = (bits & !host).to_be_bytes();
        return Err(CidrProblem::HostBits {
            network: format!("{a}.{b}.{c}.{d}/{prefix}"),
        });
    }
    Ok(())
}

/// The name property of each resource type whose name AWS limits, and the limit
/// (CreateLoadBalancer and CreateTargetGroup: 32; IAM CreateRole and Lambda: 64; SQS and
/// Step Functions: 80; RDS instance identifiers: 63; S3 buckets: 63).
const NAME_LIMITS: &[(&str, &str, usize)] = &[
    ("AWS::ElasticLoadBalancingV2::LoadBalancer", "Name", 32),
    ("AWS::ElasticLoadBalancingV2::TargetGroup", "Name", 32),
    ("AWS::IAM::Role", "RoleName", 64),
    ("AWS::IAM::ManagedPolicy", "ManagedPolicyName", 128),
    ("AWS::Lambda::Function", "FunctionName", 64),
    ("AWS::SQS::Queue", "QueueName", 80),
    ("AWS::SNS::Topic", "TopicName", 256),
    ("AWS::StepFunctions::StateMachine", "StateMachineName", 80),
    ("AWS::Cognito::UserPool", "UserPoolName", 128),
    ("AWS::ECS::Cluster", "ClusterName", 255),
    ("AWS::ECS::TaskDefinition", "Family", 255),
    ("AWS::RDS::DBInstance", "DBInstanceIdentifier", 63),
    ("AWS::S3::Bucket", "BucketName", 63),
    ("AWS::ECR::Repository", "RepositoryName", 256),
    ("AWS::Events::Rule", "Name", 64),
    ("AWS::Logs::LogGroup", "LogGroupName", 512),
];

fn resource_names(site: &mut Site<'_>, stack: &RenderedStack) {
    for (id, resource) in section(stack, "Resources").into_iter().flatten() {
        let kind = resource.get("Type").and_then(Value::as_str).unwrap_or("");
        let Some((kind, property, limit)) = NAME_LIMITS.iter().find(|(t, ..)| *t == kind) else {
            continue;
        };
        // Only literal names: a name built with !Sub or !Join is CloudFormation's to judge.
        let Some(name) = resource
            .get("Properties")
            .and_then(|p| p.get(*property))
            .and_then(Value::as_str)
        else {
            continue;
        };
        let length = name.chars().count();
        if length > *limit {
            site.report(
                &["template"],
                Invalid::NameTooLong {
                    id: id.as_str().unwrap_or("?").to_string(),
                    stack: stack.name.clone(),
                    name: name.to_string(),
                    length,
                    property,
                    limit: *limit,
                    kind,
                },
            );
        }
    }
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The template's constraints on a parameter, for the error's `expected`.
fn constraint_text(spec: &Value) -> String {
    let keys = [
        "Type",
        "AllowedValues",
        "AllowedPattern",
        "MinLength",
        "MaxLength",
        "MinValue",
        "MaxValue",
    ];
    let parts: Vec<String> = keys
        .iter()
        .filter_map(|k| {
            let v = spec.get(*k)?;
            let text = match v {
                Value::Sequence(items) => items
                    .iter()
                    .filter_map(scalar)
                    .collect::<Vec<_>>()
                    .join(" | "),
                other => scalar(other)?,
            };
            Some(format!("{k} {text}"))
        })
        .collect();
    if let Some(description) = spec.get("ConstraintDescription").and_then(Value::as_str) {
        format!("{} ({description})", parts.join(", "))
    } else {
        parts.join(", ")
    }
}

fn tags(site: &mut Site<'_>, stack: &RenderedStack) {
    if stack.tags.len() > MAX_TAGS {
        site.report(
            &["tags"],
            Invalid::TooManyTags {
                stack: stack.name.clone(),
                count: stack.tags.len(),
                max: MAX_TAGS,
            },
        );
    }
    // Project tags are judged once, where they are written (`project_tags`).
    let project = &site.loaded.config.project.tags;
    for (key, value) in &stack.tags {
        if project.get(key) != Some(value) && !tag_fits(key, value) {
            site.report(
                &["tags", key],
                Invalid::Tag {
                    key: key.clone(),
                    limits: tag_limits(),
                },
            );
        }
    }
}

/// The project's tags, which every stack carries: each too long is one error at its line.
fn project_tags(loaded: &LoadedConfig) -> Vec<ConfigError> {
    loaded
        .config
        .project
        .tags
        .iter()
        .filter(|(key, value)| !tag_fits(key, value))
        .map(|(key, _)| {
            let origin = loaded.sources.locate(&path(["project", "tags", key]));
            ConfigError::new(
                origin,
                Invalid::Tag {
                    key: key.clone(),
                    limits: tag_limits(),
                },
            )
        })
        .collect()
}

/// AWS's tag rules (the `Tag` type of the resource references): keys of 1 to 128 and
/// values of up to 256 letters, digits, spaces and `_ . : / = + - @`, and neither may
/// start with `aws:`, which AWS reserves.
fn tag_fits(key: &str, value: &str) -> bool {
    let allowed = |text: &str| {
        text.chars()
            .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c))
    };
    let reserved = |text: &str| text.to_ascii_lowercase().starts_with("aws:");
    (1..=MAX_TAG_KEY).contains(&key.chars().count())
        && value.chars().count() <= MAX_TAG_VALUE
        && allowed(key)
        && allowed(value)
        && !reserved(key)
        && !reserved(value)
}

fn tag_limits() -> String {
    format!(
        "keys of 1 to {MAX_TAG_KEY} and values of at most {MAX_TAG_VALUE} letters, digits, spaces and `_ . : / = + - @`, not starting with `aws:`"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> Value {
        yaml_serde::from_str(yaml).expect("yaml")
    }

    #[test]
    fn cidr_blocks_are_checked_as_ec2_would() {
        assert_eq!(parse_cidr("10.40.0.0/16"), Ok(()));
        assert_eq!(parse_cidr("0.0.0.0/0"), Ok(()));
        assert_eq!(parse_cidr("10.40.1.7/32"), Ok(()));
        assert!(
            parse_cidr("10.40.1.0/16")
                .unwrap_err()
                .to_string()
                .contains("`10.40.0.0/16`")
        );
        assert!(
            parse_cidr("10.400.0.0/16")
                .unwrap_err()
                .to_string()
                .contains("octets")
        );
        assert!(
            parse_cidr("10.40.0.0/33")
                .unwrap_err()
                .to_string()
                .contains("prefix")
        );
        assert!(
            parse_cidr("10.40.0.0")
                .unwrap_err()
                .to_string()
                .contains("no `/prefix`")
        );
        assert!(cidr_violation("VpcCidr", "vpc").is_some());
        assert!(cidr_violation("PublicSubnetCidrs", "10.40.0.0/20, 10.40.16.1/20").is_some());
        assert_eq!(cidr_violation("Name", "a/b"), None);
    }

    #[test]
    fn tags_follow_aws_rules() {
        assert!(tag_fits("app", "facturascan360"));
        assert!(tag_fits("cost-center", "FS 360/ops@team"));
        assert!(!tag_fits("aws:created", "x"));
        assert!(!tag_fits("app", "AWS:x"));
        assert!(!tag_fits("", "x"));
        assert!(!tag_fits("app", "a#b"));
        assert!(!tag_fits(&"k".repeat(129), "x"));
        assert!(!tag_fits("k", &"v".repeat(257)));
    }

    #[test]
    fn values_are_judged_by_the_templates_own_constraints() {
        let number = spec("{Type: Number, MinValue: 20, MaxValue: 100}");
        assert_eq!(violation(&number, "50"), None);
        assert_eq!(
            violation(&number, "10").map(|v| v.to_string()),
            Some("breaks MinValue 20".into())
        );
        assert_eq!(violation(&number, "ten"), Some(Violation::NotANumber));
        let pattern = spec(r#"{Type: String, AllowedPattern: 'db\.[a-z0-9]+\.[a-z0-9]+'}"#);
        assert_eq!(violation(&pattern, "db.t4g.micro"), None);
        assert!(violation(&pattern, "t4g.micro").is_some());
        // The whole value must match, as CloudFormation matches it.
        assert!(violation(&pattern, "xdb.t4g.micro").is_some());
        let allowed = spec("{Type: String, AllowedValues: [a, b]}");
        assert_eq!(violation(&allowed, "b"), None);
        assert_eq!(
            violation(&allowed, "c").map(|v| v.to_string()),
            Some("is not one of a, b".into())
        );
        let list = spec("{Type: CommaDelimitedList, AllowedPattern: '10\\..*'}");
        assert_eq!(violation(&list, "10.0.0.0/20, 10.1.0.0/20"), None);
        assert!(violation(&list, "10.0.0.0/20,192.168.0.0/24").is_some());
    }
}
