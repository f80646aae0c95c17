//! `--output json` as a contract: the JSON Schema of every command's document, generated
//! from the types that write it (each report's `JsonSchema` mirrors its `Serialize`), with
//! the envelope every document shares. `schema --write` keeps them in `schemas/output.schema.json`;
//! `schema --check` (CI) and a unit test catch a change that was not written.

use schemars::SchemaGenerator;
use schemars::generate::SchemaSettings;
use serde_json::{Value, json};

use super::{ErrorReport, PrintedSchema, SCHEMA_VERSION};
use crate::commands as c;

/// Declares every `--output json` document once: its variant, the name its `command`
/// field (and `--output-of`, and the run's logs) use, and the schema of its outcome.
macro_rules! documents {
    ($( $(#[$attr:meta])* $variant:ident = $name:literal => $outcome:expr ),* $(,)?) => {
        /// A command whose `--output json` document has a schema; named as the document's
        /// `command` field names it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
        pub enum Document {
            $( $(#[$attr])* #[value(name = $name)] $variant, )*
        }

        impl Document {
            /// The document's `command` field: `deploy`, `audit.drift`, ...
            pub fn command(self) -> &'static str {
                match self {
                    $( Self::$variant => $name, )*
                }
            }

            /// The schema of the outcome's own keys: the type the command's report
            /// serializes.
            fn outcome(self, generator: &mut SchemaGenerator) -> schemars::Schema {
                match self {
                    $( Self::$variant => ($outcome)(generator), )*
                }
            }
        }
    };
}

/// The schema of `T`, as the outcome of a document.
fn outcome<T: schemars::JsonSchema>(generator: &mut SchemaGenerator) -> schemars::Schema {
    generator.subschema_for::<T>()
}

documents! {
    Validate = "validate" => outcome::<c::validate::Outcome>,
    Render = "render" => outcome::<c::render::Outcome>,
    Plan = "plan" => outcome::<c::plan::Outcome>,
    Deploy = "deploy" => outcome::<c::deploy::Outcome>,
    Destroy = "destroy" => outcome::<c::guarded::Deployed>,
    Bootstrap = "bootstrap" => outcome::<c::guarded::Deployed>,
    Promote = "promote" => outcome::<c::deploy::Outcome>,
    Rollback = "rollback" => outcome::<c::guarded::Deployed>,
    AlarmsPlan = "alarms.plan" => outcome::<c::alarms::Outcome>,
    AlarmsApply = "alarms.apply" => outcome::<c::alarms::Outcome>,
    AuditDrift = "audit.drift" => outcome::<c::audit::Outcome>,
    AuditAlarms = "audit.alarms" => outcome::<c::audit::Outcome>,
    ReleaseCheck = "release.check" => outcome::<crate::release::gate::Accepted>,
    Status = "status" => outcome::<c::status::Outcome>,
    Outputs = "outputs" => outcome::<c::outputs::Outcome>,
    Preflight = "preflight" => outcome::<c::preflight::Outcome>,
    History = "history" => outcome::<c::history::Outcome>,
    Unlock = "unlock" => outcome::<c::unlock::Outcome>,
    Verify = "verify" => outcome::<c::verify::Outcome>,
    TrafficShow = "traffic.show" => outcome::<crate::services::traffic::TrafficReport>,
    TrafficChange = "traffic.change" => outcome::<crate::services::traffic::TrafficReport>,
    TrafficEvaluate = "traffic.evaluate" => outcome::<crate::services::traffic::TrafficReport>,
    PipelineRender = "pipeline.render" => outcome::<c::pipeline::Outcome>,
    ConfigShow = "config.show" => outcome::<c::config_show::Outcome>,
    Notify = "notify" => outcome::<c::notify::Outcome>,
    // A printed schema's keys sit beside the envelope's; `--write`/`--check` report the
    // files they looked at.
    Schema = "schema" => |generator: &mut SchemaGenerator| schemars::json_schema!({
        "anyOf": [
            generator.subschema_for::<c::pipeline::Outcome>(),
            generator.subschema_for::<PrintedSchema>(),
        ]
    }),
    ModelRegister = "model.register" => outcome::<c::model::Outcome>,
    ModelList = "model.list" => outcome::<c::model::Outcome>,
    ModelShow = "model.show" => outcome::<c::model::Outcome>,
    ModelAlias = "model.alias" => outcome::<c::model::Outcome>,
    ModelApproval = "model.approval" => outcome::<c::model::Outcome>,
    Retrain = "retrain" => outcome::<c::retrain::Outcome>,
    RetrainPending = "retrain.pending" => outcome::<c::retrain::PendingOutcome>,
    // A command line that did not parse: nothing ran, there is no outcome, only the error
    // document.
    Arguments = "arguments" => |_: &mut SchemaGenerator| schemars::json_schema!(false),
}

/// The statuses of an outcome (`super::exit_result`); `error` is the error document's.
const STATUSES: [&str; 6] = [
    "succeeded",
    "changes",
    "warning",
    "refused",
    "failed",
    "interrupted",
];

impl Document {
    pub fn all() -> &'static [Self] {
        <Self as clap::ValueEnum>::value_variants()
    }

    /// The document a command prints, by its `command` field.
    pub fn named(command: &str) -> Option<Self> {
        Self::all().iter().copied().find(|d| d.command() == command)
    }
}

/// The JSON Schema of what `facturactl <command> --output json` prints on stdout.
pub fn schema(document: Document) -> Value {
    let mut generator = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    let mut schema = shape(document, &mut generator);
    let command = document.command().replace('.', " ");
    let header = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": format!("facturactl {command} --output json"),
        "description": format!("The document `facturactl {command} --output json` prints on stdout. {VERSIONING}"),
    });
    finish(&mut schema, header, &mut generator);
    schema
}

/// One schema for every document (`schemas/output.schema.json`): the branch of the
/// document's `command` applies.
fn combined() -> Value {
    let mut generator = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    let branches: Vec<Value> = Document::all()
        .iter()
        .map(|&d| {
            json!({
                "if": { "properties": { "command": { "const": d.command() } } },
                "then": shape(d, &mut generator),
            })
        })
        .collect();
    let commands: Vec<&str> = Document::all().iter().map(|d| d.command()).collect();
    let mut schema = json!({
        "type": "object",
        "required": ["schema_version", "command", "status"],
        "properties": { "command": { "enum": commands } },
        "allOf": branches,
    });
    let header = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "facturactl --output json",
        "description": format!("Every document facturactl prints on stdout with `--output json`; `command` says which. {VERSIONING}"),
    });
    finish(&mut schema, header, &mut generator);
    schema
}

/// Where `schema --write` keeps the combined schema, relative to the project.
const OUTPUT_SCHEMA: &str = "schemas/output.schema.json";

const VERSIONING: &str = "`schema_version` is raised when a field is removed, renamed or \
                          changes meaning; new fields keep it.";

/// The envelope every document shares, then the outcome's keys, or the error document's
/// when it is one (`kind` and `message`, status `error` or `refused`).
fn shape(document: Document, generator: &mut SchemaGenerator) -> Value {
    let outcome = document.outcome(generator);
    let error = generator.subschema_for::<ErrorReport>();
    let mut statuses: Vec<&str> = STATUSES.to_vec();
    statuses.push("error");
    json!({
        "type": "object",
        "required": ["schema_version", "command", "status"],
        "properties": {
            "schema_version": {
                "description": "The version of the documents' shape.",
                "const": SCHEMA_VERSION,
            },
            "command": { "const": document.command() },
            "status": {
                "description": "The outcome (`succeeded`, `changes`, `warning`, `refused`, \
                                `failed`, `interrupted`, as the exit code says), or `error` \
                                when the command failed before an outcome (`refused` when a \
                                gate refused it, exit 3).",
                "enum": statuses,
            },
        },
        // An error document is told by its shape (`kind` and `message`), not by its status
        // alone: a refusal's is `refused`, as a refused outcome's.
        "if": {
            "anyOf": [
                { "properties": { "status": { "const": "error" } } },
                {
                    "required": ["kind", "message"],
                    "properties": { "status": { "const": "refused" } },
                },
            ],
        },
        "then": error,
        "else": outcome,
    })
}

/// `header`'s keys first, then the schema's, then the definitions it refers to.
fn finish(schema: &mut Value, header: Value, generator: &mut SchemaGenerator) {
    let mut document = serde_json::Map::new();
    for part in [header, schema.take()] {
        if let Value::Object(fields) = part {
            document.extend(fields);
        }
    }
    document.insert(
        "$defs".into(),
        Value::Object(generator.take_definitions(true)),
    );
    *schema = Value::Object(document);
}

/// The combined schema as `schema --write` writes it.
pub fn file() -> crate::schema::OutputContract {
    let mut text = serde_json::to_string_pretty(&combined()).unwrap_or_default();
    text.push('\n');
    crate::schema::OutputContract {
        path: OUTPUT_SCHEMA.into(),
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_document_names_its_command_as_clap_does() {
        for &document in Document::all() {
            let value = clap::ValueEnum::to_possible_value(&document).expect("a value");
            assert_eq!(value.get_name(), document.command());
        }
    }

    #[test]
    fn errors_and_outcomes_are_told_apart_by_status() {
        let s = schema(Document::Deploy);
        assert_eq!(s["then"]["$ref"], "#/$defs/ErrorDocument");
        assert_eq!(s["else"]["$ref"], "#/$defs/DeployOutcome");
        assert_eq!(s["properties"]["command"]["const"], "deploy");
        assert_eq!(s["properties"]["schema_version"]["const"], SCHEMA_VERSION);
    }

    /// The committed schemas are the snapshot: a change to a report's shape fails here
    /// until `facturactl schema --write` records it (and, when a field was removed,
    /// renamed or changed meaning, `SCHEMA_VERSION` is raised).
    #[test]
    fn committed_output_schemas_match_the_reports() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let crate::schema::OutputContract { path, text: wanted } = file();
        let current = std::fs::read_to_string(root.join(&path)).unwrap_or_default();
        assert!(
            current == wanted,
            "output schemas changed; run `facturactl schema --write` (and raise \
             SCHEMA_VERSION if a field was removed or renamed):\n{}",
            crate::pipeline::diff(std::path::Path::new(&path), &current, &wanted)
        );
    }
}
