//! The desired state of a stack: the parameters and tags it should carry, and what differs
//! from the live stack. Both a plan and a deploy decide from it.

use std::collections::{BTreeMap, BTreeSet};

use super::live::{Condition, HASH_TAG, LiveStack};
use crate::render::RenderedStack;

/// The parameters a stack should carry: template defaults, then configured values, then
/// inputs from other stacks' outputs.
pub fn desired_parameters(
    stack: &RenderedStack,
    outputs: &BTreeMap<String, BTreeMap<String, String>>,
) -> Result<BTreeMap<String, String>, MissingInput> {
    let mut params = template_defaults(stack);
    params.extend(stack.parameters.clone());
    for (param, input) in &stack.inputs {
        let value = outputs
            .get(&input.stack)
            .and_then(|o| o.get(&input.output))
            .ok_or_else(|| MissingInput {
                parameter: param.clone(),
                stack: input.stack.clone(),
                output: input.output.clone(),
            })?;
        params.insert(param.clone(), value.clone());
    }
    Ok(params)
}

/// The parameters that can be known now: those of `desired_parameters` whose inputs'
/// stacks have the output (an update's named replacements are still found with them).
pub fn known_parameters(
    stack: &RenderedStack,
    outputs: &BTreeMap<String, BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    let mut params = template_defaults(stack);
    params.extend(stack.parameters.clone());
    for (param, input) in &stack.inputs {
        if let Some(value) = outputs.get(&input.stack).and_then(|o| o.get(&input.output)) {
            params.insert(param.clone(), value.clone());
        }
    }
    params
}

/// A parameter fed by another stack's output that the stack does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingInput {
    pub parameter: String,
    pub stack: String,
    pub output: String,
}

impl std::fmt::Display for MissingInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            parameter,
            stack,
            output,
        } = self;
        write!(
            f,
            "parameter {parameter} needs output {output} of stack `{stack}`, which it does not have (deploy `{stack}` first, or check that its template declares the output)"
        )
    }
}

/// `Default` of each template parameter, as CloudFormation reports it back.
fn template_defaults(stack: &RenderedStack) -> BTreeMap<String, String> {
    stack
        .declared_parameters()
        .filter_map(|(k, v)| {
            let default = v.get("Default")?;
            let text = match default {
                yaml_serde::Value::String(s) => s.clone(),
                yaml_serde::Value::Number(n) => n.to_string(),
                yaml_serde::Value::Bool(b) => b.to_string(),
                yaml_serde::Value::Sequence(items) => items
                    .iter()
                    .filter_map(|i| {
                        i.as_str()
                            .map(str::to_string)
                            .or_else(|| i.as_i64().map(|n| n.to_string()))
                    })
                    .collect::<Vec<_>>()
                    .join(","),
                _ => return None,
            };
            Some((k.to_string(), text))
        })
        .collect()
}

/// Parameters of list types (`CommaDelimitedList`, `List<...>`), whose values are compared
/// as lists: CloudFormation may report them with other spacing (and moto as `['a', 'b']`).
fn list_parameters(stack: &RenderedStack) -> BTreeSet<&str> {
    stack
        .declared_parameters()
        .filter(|(_, v)| {
            v.get("Type")
                .and_then(|t| t.as_str())
                .is_some_and(|t| t == "CommaDelimitedList" || t.starts_with("List<"))
        })
        .map(|(k, _)| k)
        .collect()
}

fn list_items(value: &str) -> Vec<&str> {
    value
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(|item| item.trim().trim_matches(|c| c == '\'' || c == '"'))
        .filter(|item| !item.is_empty())
        .collect()
}

/// The stack's tags, with the template hash facturactl compares.
pub fn desired_tags(stack: &RenderedStack) -> BTreeMap<String, String> {
    let mut tags = stack.tags.clone();
    tags.insert(HASH_TAG.into(), stack.hash.clone());
    tags
}

/// What differs between the live stack and what we would deploy: template (by the hash
/// tag), parameters, tags, termination protection. Empty means unchanged; anything unknown
/// counts as a difference, so doubt leads to an update, never to a wrong skip.
pub fn differences(
    live: &LiveStack,
    params: &BTreeMap<String, String>,
    stack: &RenderedStack,
) -> Vec<String> {
    let mut out = Vec::new();
    if live.condition() != Condition::Stable || live.status.contains("ROLLBACK") {
        out.push(format!("status {}", live.status));
    }
    let tags = desired_tags(stack);
    if live.tags.get(HASH_TAG) != tags.get(HASH_TAG) {
        out.push("template".into());
    }
    for (key, want) in &tags {
        if key != HASH_TAG && live.tags.get(key) != Some(want) {
            out.push(format!("tag {key}"));
        }
    }
    out.extend(
        live.tags
            .keys()
            .filter(|k| !tags.contains_key(*k))
            .map(|k| format!("tag {k} (removed)")),
    );
    let lists = list_parameters(stack);
    for (key, want) in params {
        let same = match live.parameters.get(key) {
            Some(have) if lists.contains(key.as_str()) => list_items(have) == list_items(want),
            Some(have) => have == want,
            None => false,
        };
        if !same {
            out.push(format!("parameter {key}"));
        }
    }
    out.extend(
        live.parameters
            .keys()
            .filter(|k| !params.contains_key(*k))
            .map(|k| format!("parameter {k} (removed)")),
    );
    if live.termination_protection != stack.termination_protection {
        out.push("termination protection".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_values_compare_as_lists() {
        assert_eq!(list_items("a,b"), ["a", "b"]);
        assert_eq!(list_items("a, b"), ["a", "b"]);
        assert_eq!(list_items("['a', 'b']"), ["a", "b"]);
        assert!(list_items("").is_empty());
    }
}
