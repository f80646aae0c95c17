//! The template renderer with arbitrary variables: the local environment with tags, service
//! environment variables, email addresses and a Slack channel name taken from the input.
//! Whatever the config validator accepts must render to valid templates: a value that
//! breaks a template's YAML is either refused by validation (with file and line) or
//! escaped by the template, never an invalid template.
#![no_main]

use std::path::Path;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use yaml_serde::{Mapping, Value};

/// Each variable is replaced only when present, so one odd value is tried against an
/// otherwise valid environment (a config with every value random almost never validates).
#[derive(Arbitrary, Debug)]
struct Variables {
    tags: Option<Vec<(String, String)>>,
    ocr_environment: Option<Vec<(String, String)>>,
    emails: Option<Vec<String>>,
    slack_channel: Option<String>,
    vpc_cidr: Option<String>,
}

const PROJECT: &str = include_str!("../../deploy.toml");
const LOCAL: &str = include_str!("../../environments/local.yaml");

fn set(map: &mut Value, path: &[&str], value: Value) {
    let mut at = map;
    for key in &path[..path.len() - 1] {
        let Value::Mapping(m) = at else { return };
        at = m
            .entry(Value::from(*key))
            .or_insert_with(|| Value::Mapping(Mapping::new()));
    }
    if let Value::Mapping(m) = at {
        m.insert(Value::from(path[path.len() - 1]), value);
    }
}

fn pairs(items: &[(String, String)]) -> Value {
    Value::Mapping(
        items
            .iter()
            .map(|(k, v)| (Value::from(k.as_str()), Value::from(v.as_str())))
            .collect(),
    )
}

fuzz_target!(|v: Variables| {
    let Ok(mut overlay) = yaml_serde::from_str::<Value>(LOCAL) else {
        return;
    };
    if let Some(tags) = &v.tags {
        set(&mut overlay, &["project", "tags"], pairs(tags));
    }
    if let Some(environment) = &v.ocr_environment {
        set(
            &mut overlay,
            &["services", "ocr", "ecs", "environment"],
            pairs(environment),
        );
    }
    if let Some(emails) = &v.emails {
        set(
            &mut overlay,
            &["channels", "email", "ops-email", "addresses"],
            Value::Sequence(emails.iter().map(|e| Value::from(e.as_str())).collect()),
        );
    }
    if let Some(channel) = &v.slack_channel {
        set(
            &mut overlay,
            &["channels", "slack", "dev-monitoring", "channel"],
            Value::from(channel.as_str()),
        );
    }
    if let Some(cidr) = &v.vpc_cidr {
        set(
            &mut overlay,
            &["stacks", "network", "parameters", "VpcCidr"],
            Value::from(cidr.as_str()),
        );
    }
    let Ok(text) = yaml_serde::to_string(&overlay) else {
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let rule_ids = facturactl::policy::rule_ids();
    let Ok(loaded) = facturactl::config::from_texts(&root, "local", PROJECT, &text, &rule_ids)
    else {
        return;
    };
    if let Err(e) = facturactl::render::render(&loaded) {
        panic!("a valid config failed to render: {e}\n--- overlay\n{text}");
    }
});
