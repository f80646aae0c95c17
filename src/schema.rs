//! JSON Schemas of `deploy.toml` and of an environment overlay, for editors.

use serde_json::Value;

use crate::config::Config;

/// Which file a schema describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemaFile {
    /// `deploy.toml`.
    Deploy,
    /// `environments/<env>.yaml`.
    Environment,
}

pub fn schema(file: SchemaFile) -> Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(Config)).unwrap_or(Value::Null);
    match file {
        SchemaFile::Deploy => {
            set_title(&mut schema, "deploy.toml of facturactl");
            // deploy.toml may leave `environment` to the overlays.
            remove_required(&mut schema, "environment");
        }
        SchemaFile::Environment => {
            set_title(
                &mut schema,
                "environments/<env>.yaml of facturactl (an overlay of deploy.toml)",
            );
            // An overlay sets only what differs: nothing is required but the environment.
            strip_required(&mut schema);
            if let Some(obj) = schema.as_object_mut() {
                obj.insert("required".into(), serde_json::json!(["environment"]));
            }
        }
    }
    schema
}

fn set_title(schema: &mut Value, title: &str) {
    if let Some(obj) = schema.as_object_mut() {
        obj.insert("title".into(), Value::String(title.into()));
    }
}

fn remove_required(schema: &mut Value, key: &str) {
    if let Some(required) = schema.get_mut("required").and_then(Value::as_array_mut) {
        required.retain(|k| k != key);
    }
}

fn strip_required(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("required");
            map.values_mut().for_each(strip_required);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_required),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_schema_requires_only_the_environment() {
        let s = schema(SchemaFile::Environment);
        assert_eq!(s["required"], serde_json::json!(["environment"]));
        let text = s.to_string();
        assert!(text.contains("\"additionalProperties\":false"));
        assert_eq!(text.matches("\"required\"").count(), 1);
    }

    #[test]
    fn deploy_schema_requires_the_project() {
        let s = schema(SchemaFile::Deploy);
        assert_eq!(s["required"], serde_json::json!(["project"]));
    }
}
