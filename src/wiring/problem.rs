//! What the wiring check finds, as data; the words are written here.

use std::fmt;

use crate::config::diagnostic::Problem;

/// The first constraint of a template parameter that a value breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    NotANumber,
    NotAllowed {
        allowed: Vec<String>,
    },
    Pattern {
        pattern: String,
    },
    /// `MinLength`, `MaxLength`, `MinValue` or `MaxValue`.
    Bound {
        key: &'static str,
        limit: String,
    },
    Cidr {
        item: String,
        problem: CidrProblem,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotANumber => f.write_str("is not a number"),
            Self::NotAllowed { allowed } => write!(f, "is not one of {}", allowed.join(", ")),
            Self::Pattern { pattern } => write!(f, "does not match the pattern {pattern}"),
            Self::Bound { key, limit } => write!(f, "breaks {key} {limit}"),
            Self::Cidr { item, problem } => write!(f, "has `{item}`, which {problem}"),
        }
    }
}

/// Why a text is not a CIDR block EC2 takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CidrProblem {
    NoPrefix,
    Octets {
        address: String,
    },
    Prefix {
        prefix: String,
    },
    /// Host bits set: the block it most likely meant.
    HostBits {
        network: String,
    },
}

impl fmt::Display for CidrProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoPrefix => f.write_str("is not a CIDR block (no `/prefix`)"),
            Self::Octets { address } => {
                write!(f, "has `{address}`, not four octets of 0 to 255")
            }
            Self::Prefix { prefix } => write!(f, "has prefix `/{prefix}`, not 0 to 32"),
            Self::HostBits { network } => {
                write!(f, "sets host bits (the block is `{network}`)")
            }
        }
    }
}

#[derive(Debug)]
pub enum Invalid {
    NoResources {
        template: String,
        stack: String,
    },
    UndeclaredOutput {
        parameter: String,
        stack: String,
        output: String,
        declared: Vec<String>,
    },
    UnknownParameter {
        name: String,
        template: String,
        declared: Vec<String>,
    },
    ParameterWithoutValue {
        name: String,
        template: String,
    },
    /// `constraints` is the template's own statement of them, for `expected`.
    ParameterValue {
        name: String,
        value: String,
        violation: Violation,
        constraints: String,
    },
    NameTooLong {
        id: String,
        stack: String,
        name: String,
        length: usize,
        property: &'static str,
        limit: usize,
        kind: &'static str,
    },
    TooManyTags {
        stack: String,
        count: usize,
        max: usize,
    },
    /// `limits` is AWS's tag rules, as `tag_limits` states them.
    Tag {
        key: String,
        limits: String,
    },
    ModelParameters {
        service: String,
        template: String,
        stack: String,
        missing: Vec<String>,
        uri: String,
        sha: String,
    },
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoResources { template, stack } => {
                write!(
                    f,
                    "template `{template}` renders no resources for `{stack}`"
                )
            }
            Self::UndeclaredOutput {
                parameter,
                stack,
                output,
                ..
            } => write!(
                f,
                "input `{parameter}` reads `{stack}.{output}`, which the `{stack}` template does not declare"
            ),
            Self::UnknownParameter { name, template, .. } => {
                write!(f, "`{name}` is not a parameter of template `{template}`")
            }
            Self::ParameterWithoutValue { name, template } => {
                write!(
                    f,
                    "template `{template}` needs a value for parameter `{name}`"
                )
            }
            Self::ParameterValue {
                name,
                value,
                violation,
                ..
            } => {
                write!(f, "parameter `{name}` = {value:?} {violation}")
            }
            Self::NameTooLong {
                id,
                stack,
                name,
                length,
                ..
            } => write!(
                f,
                "`{id}` in stack `{stack}` would be named `{name}` ({length} characters)"
            ),
            Self::TooManyTags { stack, count, .. } => write!(
                f,
                "`{stack}` would carry {count} tags (project, stack and facturactl's own)"
            ),
            Self::Tag { key, .. } => write!(f, "tag `{key}` breaks AWS's tag rules"),
            Self::ModelParameters {
                service,
                template,
                missing,
                ..
            } => write!(
                f,
                "service `{service}` declares a model, but template `{template}` has no parameter {}",
                missing
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        }
    }
}

impl Problem for Invalid {
    fn expected(&self) -> Option<String> {
        Some(match self {
            Self::NoResources { .. } => {
                "at least one resource (CloudFormation refuses an empty template)".into()
            }
            Self::UndeclaredOutput { declared, .. } => {
                format!("one of its outputs: {}", declared.join(", "))
            }
            Self::UnknownParameter { declared, .. } => format!("one of: {}", declared.join(", ")),
            Self::ParameterWithoutValue { name, .. } => {
                format!("`{name}` in this stack's parameters or inputs")
            }
            Self::ParameterValue { constraints, .. } => constraints.clone(),
            Self::NameTooLong {
                property,
                limit,
                kind,
                ..
            } => {
                format!("a {property} of at most {limit} characters ({kind})")
            }
            Self::TooManyTags { max, .. } => format!("at most {max} tags per resource"),
            Self::Tag { limits, .. } => limits.clone(),
            Self::ModelParameters {
                stack, uri, sha, ..
            } => {
                format!("parameters `{uri}` and `{sha}` in the `{stack}` template")
            }
        })
    }

    fn help(&self) -> Option<String> {
        Some(
            match self {
                Self::NoResources { .. } => "check the template's conditions and loops for this environment, or disable the stack",
                Self::UndeclaredOutput { .. } => {
                    "fix the output name, or declare the output in the upstream template"
                }
                Self::UnknownParameter { .. } => {
                    "fix the name, or declare the parameter in the template"
                }
                Self::ParameterWithoutValue { .. } => {
                    "set it, or give the template parameter a Default"
                }
                Self::ParameterValue { .. } => {
                    "change the value, or the template's constraint if it is wrong"
                }
                Self::NameTooLong { .. } => "shorten `project.name` (every name starts with `<project>-<env>`) or the name in the template",
                Self::TooManyTags { .. } => "drop tags from [project.tags] or the stack's tags",
                Self::Tag { .. } => "change the tag to fit AWS's tag rules",
                Self::ModelParameters { .. } => "declare them (String, Default \"\") and pass them to the service as MODEL_URI and MODEL_SHA256, as templates/stacks/ml.yaml.tera does",
            }
            .into(),
        )
    }
}
