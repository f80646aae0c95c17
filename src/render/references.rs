//! What CloudFormation refuses in a template's structure, found offline: a `Ref`,
//! `Fn::GetAtt` or `Fn::Sub` naming something the template does not define ("Unresolved
//! resource dependencies"), and a resource type that exists in no region ("Unrecognized
//! resource types"). Without this check, each shows only when the change set is created.

use std::collections::BTreeSet;

use yaml_serde::Value;

/// Every CloudFormation resource type of any region, from the pinned cfn-lint's schemas
/// (`scripts/resource-types` writes it; a test keeps it in step with cfn-lint).
const RESOURCE_TYPES: &str = include_str!("resource_types.txt");

/// The types, split once per process (the file is sorted, so a lookup is a binary search).
fn resource_types() -> &'static [&'static str] {
    static TYPES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    TYPES.get_or_init(|| RESOURCE_TYPES.lines().collect())
}

/// The pseudo parameters every template may `Ref`.
const PSEUDO: [&str; 8] = [
    "AWS::AccountId",
    "AWS::NotificationARNs",
    "AWS::NoValue",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::URLSuffix",
];

/// A structural mistake, naming what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// `Ref` (or a `${Name}` of `Fn::Sub`) to no parameter, resource or pseudo parameter.
    Undefined {
        function: &'static str,
        name: String,
    },
    /// `Fn::GetAtt` (or a `${Name.Attribute}` of `Fn::Sub`) on no resource.
    NoResource {
        function: &'static str,
        name: String,
    },
    UnknownType {
        resource: String,
        kind: String,
    },
}

impl Problem {
    pub fn message(&self) -> String {
        match self {
            Self::Undefined { function, name } => format!(
                "`{function}` names `{name}`, which is no parameter or resource of the template"
            ),
            Self::NoResource { function, name } => {
                format!("`{function}` names `{name}`, which is no resource of the template")
            }
            Self::UnknownType { resource, kind } => {
                format!(
                    "resource `{resource}` has the type `{kind}`, which CloudFormation does not know"
                )
            }
        }
    }

    /// The text to look for in the template source to find the line.
    pub fn needle(&self) -> &str {
        match self {
            Self::Undefined { name, .. } | Self::NoResource { name, .. } => name,
            Self::UnknownType { kind, .. } => kind,
        }
    }

    pub fn help(&self) -> &'static str {
        match self {
            Self::Undefined { .. } | Self::NoResource { .. } => {
                "fix the name, or declare the parameter or resource (a value from another stack comes through `inputs`)"
            }
            Self::UnknownType { .. } => {
                "check the type's spelling against the CloudFormation resource reference (AWS::Service::Resource)"
            }
        }
    }
}

/// The first structural mistake of a rendered template, if any.
pub fn check(document: &Value) -> Option<Problem> {
    let names = |section: &str| -> BTreeSet<String> {
        document
            .get(section)
            .and_then(Value::as_mapping)
            .map(|m| {
                m.keys()
                    .filter_map(|k| k.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let resources = names("Resources");
    let mut defined = names("Parameters");
    defined.extend(resources.iter().cloned());
    defined.extend(PSEUDO.iter().map(|p| (*p).to_string()));
    let scope = Scope {
        defined: &defined,
        resources: &resources,
    };
    unknown_type(document).or_else(|| {
        ["Resources", "Outputs", "Conditions"]
            .iter()
            .find_map(|s| document.get(*s).and_then(|v| scope.walk(v)))
    })
}

fn unknown_type(document: &Value) -> Option<Problem> {
    let resources = document.get("Resources")?.as_mapping()?;
    resources.iter().find_map(|(name, resource)| {
        let kind = resource.get("Type")?.as_str()?;
        let known = kind.starts_with("Custom::")
            || kind.ends_with("::MODULE")
            || resource_types().binary_search(&kind).is_ok();
        (!known).then(|| Problem::UnknownType {
            resource: name.as_str().unwrap_or_default().to_string(),
            kind: kind.to_string(),
        })
    })
}

struct Scope<'a> {
    defined: &'a BTreeSet<String>,
    resources: &'a BTreeSet<String>,
}

impl Scope<'_> {
    fn walk(&self, value: &Value) -> Option<Problem> {
        match value {
            Value::Mapping(map) => {
                if map.len() == 1
                    && let Some((key, argument)) = map.iter().next()
                    && let Some(function) = key.as_str()
                    && let Some(problem) = self.function(function, argument)
                {
                    return Some(problem);
                }
                map.values().find_map(|v| self.walk(v))
            }
            Value::Sequence(items) => items.iter().find_map(|v| self.walk(v)),
            Value::Tagged(tagged) => self.walk(&tagged.value),
            _ => None,
        }
    }

    fn function(&self, function: &str, argument: &Value) -> Option<Problem> {
        match function {
            "Ref" => {
                let name = argument.as_str()?;
                (!self.defined.contains(name)).then(|| Problem::Undefined {
                    function: "Ref",
                    name: name.to_string(),
                })
            }
            "Fn::GetAtt" => {
                let name = match argument {
                    Value::Sequence(parts) => parts.first()?.as_str()?.to_string(),
                    Value::String(dotted) => dotted.split('.').next()?.to_string(),
                    _ => return None,
                };
                (!self.resources.contains(&name)).then_some(Problem::NoResource {
                    function: "Fn::GetAtt",
                    name,
                })
            }
            "Fn::Sub" => {
                let (text, variables) = match argument {
                    Value::String(text) => (text.as_str(), None),
                    Value::Sequence(parts) => (parts.first()?.as_str()?, parts.get(1)),
                    _ => return None,
                };
                let local: BTreeSet<&str> = variables
                    .and_then(Value::as_mapping)
                    .map(|m| m.keys().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                sub_variables(text)
                    .into_iter()
                    .find_map(|variable| self.sub_variable(variable, &local))
            }
            _ => None,
        }
    }

    fn sub_variable(&self, variable: &str, local: &BTreeSet<&str>) -> Option<Problem> {
        if local.contains(variable) || self.defined.contains(variable) {
            return None;
        }
        match variable.split_once('.') {
            // `${Resource.Attribute}`: GetAtt's short form.
            Some((resource, _)) if !variable.starts_with("AWS::") => {
                (!self.resources.contains(resource)).then(|| Problem::NoResource {
                    function: "Fn::Sub",
                    name: resource.to_string(),
                })
            }
            _ => Some(Problem::Undefined {
                function: "Fn::Sub",
                name: variable.to_string(),
            }),
        }
    }
}

/// The names a value `Ref`s or substitutes (`Fn::Sub`), anywhere inside it.
pub(super) fn referenced_names(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Mapping(map) => {
            for (key, inner) in map {
                if key.as_str() == Some("Ref")
                    && let Some(name) = inner.as_str()
                {
                    out.insert(name.to_string());
                }
                // `${Name}` of a `Fn::Sub`, in its string or its `[string, variables]` form.
                let sub = match inner {
                    Value::Sequence(parts) => parts.first(),
                    other => Some(other),
                };
                if key.as_str() == Some("Fn::Sub")
                    && let Some(text) = sub.and_then(Value::as_str)
                {
                    out.extend(sub_variables(text).into_iter().map(str::to_string));
                }
                referenced_names(inner, out);
            }
        }
        Value::Sequence(items) => items.iter().for_each(|v| referenced_names(v, out)),
        Value::Tagged(tagged) => referenced_names(&tagged.value, out),
        _ => {}
    }
}

/// The `${Name}` variables of a `Fn::Sub` string; `${!Literal}` is text, not a variable.
fn sub_variables(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let inner = after[..end].trim();
        if !inner.starts_with('!') && !inner.is_empty() {
            out.push(inner);
        }
        rest = &after[end + 1..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Value {
        yaml_serde::from_str(text).unwrap()
    }

    const BASE: &str =
        "Parameters:\n  Env: {Type: String}\nResources:\n  Queue:\n    Type: AWS::SQS::Queue\n";

    fn with(extra: &str) -> Option<Problem> {
        check(&yaml(&format!("{BASE}{extra}")))
    }

    #[test]
    fn references_to_what_the_template_defines_pass() {
        assert_eq!(
            with("  Topic:\n    Type: AWS::SNS::Topic\n    Properties:\n      TopicName: {Ref: Env}\n      Tags:\n        - Key: a\n          Value: {'Fn::GetAtt': [Queue, Arn]}\n        - Key: b\n          Value: {'Fn::Sub': '${Env}-${Queue.QueueName}-${AWS::Region}-${!Literal}-${X}'}\n        - Key: c\n          Value: {'Fn::Sub': ['${X}', {X: {Ref: Queue}}]}\nOutputs:\n  Arn:\n    Value: {'Fn::GetAtt': Queue.Arn}\n").map(|p| p.message()),
            Some("`Fn::Sub` names `X`, which is no parameter or resource of the template".into()),
            "only the last `${{X}}` (no variable map) is undefined"
        );
        assert_eq!(with("  Custom:\n    Type: Custom::Anything\n"), None);
    }

    #[test]
    fn references_to_undefined_names_are_found() {
        assert_eq!(
            with("Outputs:\n  A:\n    Value: {Ref: Enviroment}\n"),
            Some(Problem::Undefined {
                function: "Ref",
                name: "Enviroment".into()
            })
        );
        assert_eq!(
            with("Outputs:\n  A:\n    Value: {'Fn::GetAtt': [Queu, Arn]}\n"),
            Some(Problem::NoResource {
                function: "Fn::GetAtt",
                name: "Queu".into()
            })
        );
        assert_eq!(
            with("Outputs:\n  A:\n    Value: {'Fn::GetAtt': Env.Arn}\n"),
            Some(Problem::NoResource {
                function: "Fn::GetAtt",
                name: "Env".into()
            }),
            "a parameter has no attributes"
        );
        assert_eq!(
            with("Outputs:\n  A:\n    Value: {'Fn::Sub': '${Topic.Arn}'}\n"),
            Some(Problem::NoResource {
                function: "Fn::Sub",
                name: "Topic".into()
            })
        );
        assert_eq!(
            with("Outputs:\n  A:\n    Value: {'Fn::Sub': '${AWS::Regoin}'}\n"),
            Some(Problem::Undefined {
                function: "Fn::Sub",
                name: "AWS::Regoin".into()
            })
        );
    }

    #[test]
    fn unknown_resource_types_are_found() {
        assert_eq!(
            with("  Bucket:\n    Type: AWS::S3::Buckett\n"),
            Some(Problem::UnknownType {
                resource: "Bucket".into(),
                kind: "AWS::S3::Buckett".into()
            })
        );
        assert!(resource_types().binary_search(&"AWS::ECS::Service").is_ok());
        assert!(
            resource_types().is_sorted(),
            "a binary search needs the file sorted"
        );
    }
}
