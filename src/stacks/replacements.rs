//! Replacements CloudFormation cannot make: an update that must replace a resource whose
//! physical name the template sets, and keeps, fails ("CloudFormation cannot update a stack
//! when a custom-named resource requires replacing") and rolls the stack back. `plan` finds
//! each one from the deployed template and the new one, before a deploy would fail on it.
//!
//! Which property changes replace which types: `named_replacements.json` (from the
//! CloudFormation resource reference), which the local emulator reads too
//! (scripts/stack_rules.py).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Deserialize)]
struct Rule {
    /// The property holding the resource's physical name.
    name: String,
    /// The properties whose change replaces the resource (besides the name itself, whose
    /// change replaces it under a new name, which CloudFormation can do).
    replace: Vec<String>,
}

static RULES: LazyLock<BTreeMap<String, Rule>> = LazyLock::new(|| {
    let all: BTreeMap<String, Value> =
        serde_json::from_str(include_str!("named_replacements.json")).unwrap_or_default();
    all.into_iter()
        .filter(|(k, _)| !k.starts_with('_'))
        .filter_map(|(k, v)| Some((k, serde_json::from_value(v).ok()?)))
        .collect()
});

/// A resource the update would have to replace under the name it keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct NamedReplacement {
    pub logical_id: String,
    pub resource_type: String,
    /// Its physical name, as the template sets it.
    pub name: String,
    /// The properties whose change requires the replacement.
    pub properties: Vec<String>,
}

/// The named replacements an update from `deployed` (with its parameters) to `desired`
/// would need. A template that does not parse finds none (CloudFormation refuses it
/// itself).
pub fn named(
    deployed: &str,
    deployed_parameters: &BTreeMap<String, String>,
    desired: &str,
    desired_parameters: &BTreeMap<String, String>,
) -> Vec<NamedReplacement> {
    let (Some(old), Some(new)) = (parse(deployed), parse(desired)) else {
        return Vec::new();
    };
    let old_values = with_defaults(&old, deployed_parameters);
    let new_values = with_defaults(&new, desired_parameters);
    let Some(resources) = new["Resources"].as_object() else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for (logical_id, resource) in resources {
        let before = &old["Resources"][logical_id];
        let kind = resource["Type"].as_str().unwrap_or_default();
        let Some(rule) = RULES.get(kind) else {
            continue;
        };
        if before["Type"].as_str() != Some(kind) {
            continue;
        }
        let property = |r: &Value, values: &BTreeMap<String, String>, p: &str| {
            resolve(&r["Properties"][p], values)
        };
        let name = property(resource, &new_values, &rule.name);
        if name.is_null() || name != property(before, &old_values, &rule.name) {
            continue; // no custom name, or a new one: the replacement can be created
        }
        let changed: Vec<String> = rule
            .replace
            .iter()
            .filter(|p| property(resource, &new_values, p) != property(before, &old_values, p))
            .cloned()
            .collect();
        if !changed.is_empty() {
            found.push(NamedReplacement {
                logical_id: logical_id.clone(),
                resource_type: kind.to_string(),
                name: name
                    .as_str()
                    .map_or_else(|| name.to_string(), str::to_string),
                properties: changed,
            });
        }
    }
    found
}

fn parse(body: &str) -> Option<Value> {
    serde_json::from_str(body)
        .ok()
        .or_else(|| yaml_serde::from_str(body).ok())
}

/// The template's parameter defaults, overridden by the values given.
fn with_defaults(template: &Value, given: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut values: BTreeMap<String, String> = template["Parameters"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, spec)| {
            let default = &spec["Default"];
            let text = match default {
                Value::Null => return None,
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Some((k.clone(), text))
        })
        .collect();
    values.extend(given.iter().map(|(k, v)| (k.clone(), v.clone())));
    values
}

/// A property value with the parameters put in (`Ref`, `Fn::Sub`); other intrinsic
/// functions are compared as written.
fn resolve(value: &Value, parameters: &BTreeMap<String, String>) -> Value {
    match value {
        Value::Object(map) if map.len() == 1 => match map.iter().next() {
            Some((key, Value::String(name))) if key == "Ref" && parameters.contains_key(name) => {
                Value::String(parameters[name].clone())
            }
            Some((key, Value::String(text))) if key == "Fn::Sub" => {
                Value::String(substitute(text, parameters))
            }
            _ => resolve_each(map, parameters),
        },
        Value::Object(map) => resolve_each(map, parameters),
        Value::Array(items) => Value::Array(items.iter().map(|v| resolve(v, parameters)).collect()),
        other => other.clone(),
    }
}

/// Each value of a map, resolved.
fn resolve_each(
    map: &serde_json::Map<String, Value>,
    parameters: &BTreeMap<String, String>,
) -> Value {
    Value::Object(
        map.iter()
            .map(|(k, v)| (k.clone(), resolve(v, parameters)))
            .collect(),
    )
}

/// `${Name}` replaced by the parameter's value; pseudo parameters and attributes stay.
fn substitute(text: &str, parameters: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = &after[..end];
        match parameters.get(name) {
            Some(value) => out.push_str(value),
            None => out.push_str(&rest[start..start + 2 + end + 1]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(scheme: &str, name: &str) -> String {
        format!(
            r#"{{"Parameters": {{"Env": {{"Type": "String", "Default": "staging"}}}},
            "Resources": {{"LoadBalancer": {{"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
              "Properties": {{"Name": {{"Fn::Sub": "{name}"}}, "Scheme": "{scheme}"}}}}}}}}"#
        )
    }

    fn none() -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    #[test]
    fn a_scheme_change_under_the_same_name_cannot_be_made() {
        let found = named(
            &template("internet-facing", "facturascan-${Env}-api"),
            &none(),
            &template("internal", "facturascan-${Env}-api"),
            &none(),
        );
        assert_eq!(
            found,
            [NamedReplacement {
                logical_id: "LoadBalancer".into(),
                resource_type: "AWS::ElasticLoadBalancingV2::LoadBalancer".into(),
                name: "facturascan-staging-api".into(),
                properties: vec!["Scheme".into()],
            }]
        );
    }

    #[test]
    fn a_new_name_or_an_unchanged_scheme_is_fine() {
        let old = template("internet-facing", "facturascan-${Env}-api");
        let renamed = template("internal", "facturascan-${Env}-api-int");
        assert!(named(&old, &none(), &renamed, &none()).is_empty());
        assert!(named(&old, &none(), &old, &none()).is_empty());
        // The same text, but a parameter moves the name: a new name.
        let production: BTreeMap<String, String> = [("Env".into(), "production".into())].into();
        let internal = template("internal", "facturascan-${Env}-api");
        assert!(named(&old, &none(), &internal, &production).is_empty());
    }

    #[test]
    fn a_resource_without_a_name_is_replaced_freely() {
        let old = r#"{"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"FifoQueue": false}}}}"#;
        let new = r#"{"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"FifoQueue": true}}}}"#;
        assert!(named(old, &none(), new, &none()).is_empty());
        let old_named = old.replace("\"FifoQueue\"", "\"QueueName\": \"q.fifo\", \"FifoQueue\"");
        let new_named = new.replace("\"FifoQueue\"", "\"QueueName\": \"q.fifo\", \"FifoQueue\"");
        assert_eq!(named(&old_named, &none(), &new_named, &none()).len(), 1);
    }

    #[test]
    fn yaml_templates_are_read_and_the_table_parses() {
        let old = "Resources:\n  G:\n    Type: AWS::EC2::SecurityGroup\n    Properties:\n      GroupName: g\n      GroupDescription: one\n";
        let new = old.replace("one", "two");
        assert_eq!(
            named(old, &none(), &new, &none())[0].properties,
            ["GroupDescription"]
        );
        assert!(RULES.len() >= 10, "the table parses");
    }
}
