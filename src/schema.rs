//! JSON Schemas of `deploy.toml` and of an environment overlay, for editors.

use std::path::{Path, PathBuf};

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

/// Where `schema --write` keeps the schemas, relative to the project.
const DEPLOY_SCHEMA: &str = "schemas/deploy.schema.json";
const ENVIRONMENT_SCHEMA: &str = "schemas/environment.schema.json";

/// The hint Taplo (Even Better TOML) reads on deploy.toml's first line.
const TOML_HINT: &str = "#:schema ./schemas/deploy.schema.json";
/// The hint the YAML language server reads in an environment file.
const YAML_HINT: &str = "# yaml-language-server: $schema=../schemas/environment.schema.json";

/// A file `schema --write` keeps: what it holds now (empty when missing) and what it should.
pub struct ProjectFile {
    pub path: PathBuf,
    pub current: String,
    pub wanted: String,
}

/// The schema of every `--output json` document: where it is kept and its text. `report`
/// derives it from the commands' outcomes; this module only writes it.
pub struct OutputContract {
    pub path: String,
    pub text: String,
}

/// Every file `schema --write` keeps, each read once: the config schemas, the output
/// contract, and deploy.toml and each environment file with its editor hint as the first
/// line.
pub fn project_files(root: &Path, contract: OutputContract) -> Vec<ProjectFile> {
    let read = |path: &Path| std::fs::read_to_string(root.join(path)).ok();
    let mut files: Vec<ProjectFile> = [
        (DEPLOY_SCHEMA, SchemaFile::Deploy),
        (ENVIRONMENT_SCHEMA, SchemaFile::Environment),
    ]
    .into_iter()
    .map(|(path, file)| {
        let path = PathBuf::from(path);
        ProjectFile {
            current: read(&path).unwrap_or_default(),
            wanted: pretty(&schema(file)),
            path,
        }
    })
    .collect();
    let output = PathBuf::from(contract.path);
    files.push(ProjectFile {
        current: read(&output).unwrap_or_default(),
        wanted: contract.text,
        path: output,
    });
    let project = PathBuf::from(crate::config::PROJECT_FILE);
    if let Some(text) = read(&project) {
        files.push(ProjectFile {
            wanted: with_hint(&text, TOML_HINT, "#:schema "),
            current: text,
            path: project,
        });
    }
    let mut environments: Vec<PathBuf> =
        std::fs::read_dir(root.join(crate::config::ENVIRONMENTS_DIR))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .filter_map(|p| p.strip_prefix(root).ok().map(Path::to_path_buf))
            .collect();
    environments.sort();
    for path in environments {
        if let Some(text) = read(&path) {
            files.push(ProjectFile {
                wanted: with_hint(&text, YAML_HINT, "# yaml-language-server:"),
                current: text,
                path,
            });
        }
    }
    files
}

fn pretty(schema: &Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).unwrap_or_default();
    text.push('\n');
    text
}

/// `text` with `hint` as its first line: an existing hint (a first line starting with
/// `marker`) is replaced, otherwise the hint is inserted above everything.
fn with_hint(text: &str, hint: &str, marker: &str) -> String {
    let rest = match text.split_once('\n') {
        Some((first, rest)) if first.starts_with(marker) => rest,
        None if text.starts_with(marker) => "",
        _ => text,
    };
    format!("{hint}\n{rest}")
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
    fn hints_go_first_and_replace_a_stale_one() {
        assert_eq!(
            with_hint("a = 1\n", "#:schema x", "#:schema "),
            "#:schema x\na = 1\n"
        );
        assert_eq!(
            with_hint("#:schema old\na = 1\n", "#:schema x", "#:schema "),
            "#:schema x\na = 1\n"
        );
        assert_eq!(
            with_hint("#:schema x\n", "#:schema x", "#:schema "),
            "#:schema x\n"
        );
    }

    #[test]
    fn deploy_schema_requires_the_project() {
        let s = schema(SchemaFile::Deploy);
        assert_eq!(s["required"], serde_json::json!(["project"]));
    }
}
