//! The wiring between the config and the rendered templates, checked offline before any AWS
//! call: what CloudFormation would only refuse mid-deploy, after other stacks changed.
//!
//! - every `inputs` entry reads an output the upstream template declares;
//! - every parameter and input names a parameter the template declares, and every template
//!   parameter without a default gets a value;
//! - parameter values meet the template's own constraints (AllowedValues, AllowedPattern,
//!   MinLength/MaxLength, MinValue/MaxValue, Number and list types);
//! - every template declares at least one resource;
//! - stack tags fit AWS's limits (50 per stack, keys 128 and values 256 characters).
//!
//! Errors name the config line that set the value (file, line, column) and say what was
//! expected, like the rest of config validation.

use serde_yaml::Value;

use crate::config::source::{PathSegment, path};
use crate::config::{ConfigError, ConfigErrors, LoadedConfig};
use crate::render::{RenderedEnv, RenderedStack};

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
    }
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

    fn report(&mut self, keys: &[&str], message: String, expected: &str, help: &str) {
        let origin = self.loaded.sources.locate(&self.at(keys));
        self.errors.push(
            ConfigError::new(origin, message)
                .expected(expected)
                .help(help),
        );
    }
}

fn section<'v>(stack: &'v RenderedStack, name: &str) -> Option<&'v serde_yaml::Mapping> {
    stack.document.get(name).and_then(Value::as_mapping)
}

fn names(map: Option<&serde_yaml::Mapping>) -> Vec<String> {
    map.map(|m| {
        m.keys()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    })
    .unwrap_or_default()
}

fn resources(site: &mut Site<'_>, stack: &RenderedStack) {
    if section(stack, "Resources").is_none_or(serde_yaml::Mapping::is_empty) {
        site.report(
            &["template"],
            format!(
                "template `{}` renders no resources for `{}`",
                stack.template_file, stack.name
            ),
            "at least one resource (CloudFormation refuses an empty template)",
            "check the template's conditions and loops for this environment, or disable the stack",
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
                format!(
                    "input `{param}` reads `{}.{}`, which the `{}` template does not declare",
                    input.stack, input.output, input.stack
                ),
                &format!("one of its outputs: {}", declared.join(", ")),
                "fix the output name, or declare the output in the upstream template",
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
                format!(
                    "`{name}` is not a parameter of template `{}`",
                    stack.template_file
                ),
                &format!("one of: {}", declared_names.join(", ")),
                "fix the name, or declare the parameter in the template",
            );
        }
    }
    for (name, spec) in declared.into_iter().flatten() {
        let Some(name) = name.as_str() else { continue };
        let set = stack.parameters.contains_key(name) || stack.inputs.contains_key(name);
        if !set && spec.get("Default").is_none() {
            site.report(
                &[],
                format!(
                    "template `{}` needs a value for parameter `{name}`",
                    stack.template_file
                ),
                &format!("`{name}` in this stack's parameters or inputs"),
                "set it, or give the template parameter a Default",
            );
        }
        if let Some(value) = stack.parameters.get(name)
            && let Some(problem) = violation(spec, value)
        {
            site.report(
                &["parameters", name],
                format!("parameter `{name}` = {value:?} {problem}"),
                &constraint_text(spec),
                "change the value, or the template's constraint if it is wrong",
            );
        }
    }
}

/// The first constraint of `spec` that `value` breaks, as a phrase.
fn violation(spec: &Value, value: &str) -> Option<String> {
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

fn item_violation(spec: &Value, kind: &str, item: &str) -> Option<String> {
    if (kind == "Number" || kind == "List<Number>") && item.parse::<f64>().is_err() {
        return Some("is not a number".into());
    }
    if let Some(allowed) = spec.get("AllowedValues").and_then(Value::as_sequence) {
        let allowed: Vec<String> = allowed.iter().filter_map(scalar).collect();
        if !allowed.iter().any(|a| a == item) {
            return Some(format!("is not one of {}", allowed.join(", ")));
        }
    }
    if let Some(pattern) = spec.get("AllowedPattern").and_then(Value::as_str) {
        // CloudFormation matches the whole value.
        let anchored = format!("^(?:{pattern})$");
        if let Ok(re) = regex::Regex::new(&anchored)
            && !re.is_match(item)
        {
            return Some(format!("does not match the pattern {pattern}"));
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
            return Some(format!("breaks {key} {limit}"));
        }
    }
    None
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
            format!(
                "`{}` would carry {} tags (project, stack and facturactl's own)",
                stack.name,
                stack.tags.len()
            ),
            &format!("at most {MAX_TAGS} tags per resource"),
            "drop tags from [project.tags] or the stack's tags",
        );
    }
    // Project tags are judged once, where they are written (`project_tags`).
    let project = &site.loaded.config.project.tags;
    for (key, value) in &stack.tags {
        if project.get(key) != Some(value) && !tag_fits(key, value) {
            site.report(
                &["tags", key],
                format!("tag `{key}` is longer than AWS allows"),
                &tag_limits(),
                "shorten it",
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
            ConfigError::new(origin, format!("tag `{key}` is longer than AWS allows"))
                .expected(tag_limits())
                .help("shorten it")
        })
        .collect()
}

fn tag_fits(key: &str, value: &str) -> bool {
    key.chars().count() <= MAX_TAG_KEY && value.chars().count() <= MAX_TAG_VALUE
}

fn tag_limits() -> String {
    format!("keys of at most {MAX_TAG_KEY} and values of at most {MAX_TAG_VALUE} characters")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> Value {
        serde_yaml::from_str(yaml).expect("yaml")
    }

    #[test]
    fn values_are_judged_by_the_templates_own_constraints() {
        let number = spec("{Type: Number, MinValue: 20, MaxValue: 100}");
        assert_eq!(violation(&number, "50"), None);
        assert_eq!(violation(&number, "10"), Some("breaks MinValue 20".into()));
        assert_eq!(violation(&number, "ten"), Some("is not a number".into()));
        let pattern = spec(r#"{Type: String, AllowedPattern: 'db\.[a-z0-9]+\.[a-z0-9]+'}"#);
        assert_eq!(violation(&pattern, "db.t4g.micro"), None);
        assert!(violation(&pattern, "t4g.micro").is_some());
        // The whole value must match, as CloudFormation matches it.
        assert!(violation(&pattern, "xdb.t4g.micro").is_some());
        let allowed = spec("{Type: String, AllowedValues: [a, b]}");
        assert_eq!(violation(&allowed, "b"), None);
        assert_eq!(violation(&allowed, "c"), Some("is not one of a, b".into()));
        let list = spec("{Type: CommaDelimitedList, AllowedPattern: '10\\..*'}");
        assert_eq!(violation(&list, "10.0.0.0/20, 10.1.0.0/20"), None);
        assert!(violation(&list, "10.0.0.0/20,192.168.0.0/24").is_some());
    }
}
