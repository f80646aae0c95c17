//! `retrain MODEL`: the run and the version its output became.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::Report;
use crate::commands::retrain::Outcome;
use crate::models::ModelVersion;

#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "RetrainDocument")]
struct Json<'a> {
    environment: &'a str,
    model: &'a str,
    /// The run id: the folder of its output under `training/<model>/`.
    run: &'a str,
    /// The ECS task this command started and followed (absent with `--register`).
    #[serde(skip_serializing_if = "Option::is_none")]
    task: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_ms: Option<u64>,
    /// `s3://<models bucket>/training/<model>/<run>/`.
    output: &'a str,
    /// The version registered from the run's output (not deployed).
    version: &'a ModelVersion,
    aliases: &'a BTreeMap<String, u32>,
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Json {
            environment: &self.environment,
            model: &self.model,
            run: &self.run,
            task: self.task.as_deref(),
            duration_ms: self.duration_ms,
            output: &self.output,
            version: &self.version,
            aliases: &self.aliases,
        }
        .serialize(s)
    }
}

super::schema_as!(Outcome => Json<'static>);

fn headline(o: &Outcome) -> String {
    let ran = o
        .duration_ms
        .map(|ms| format!(" ran {:.1}s and", ms as f64 / 1000.0))
        .unwrap_or_default();
    format!(
        "training run {} of `{}`{ran} is version {} in `{}` (registered, not deployed)",
        o.run, o.model, o.version.version, o.environment
    )
}

fn details(o: &Outcome) -> Vec<(&'static str, String)> {
    let v = &o.version;
    let aliases: Vec<&str> = o
        .aliases
        .iter()
        .filter(|(_, n)| **n == v.version)
        .map(|(a, _)| a.as_str())
        .collect();
    let metrics: Vec<String> = v.metrics.iter().map(|(k, m)| format!("{k}={m}")).collect();
    let input: Vec<String> = v
        .input
        .iter()
        .map(|(k, t)| format!("{k}: {}", t.as_str()))
        .collect();
    vec![
        ("task", o.task.clone().unwrap_or_else(|| "-".into())),
        ("output", o.output.clone()),
        ("artifact", v.artifact.uri.clone()),
        ("sha256", v.artifact.sha256.clone()),
        ("metrics", metrics.join(" ")),
        ("input", input.join(", ")),
        (
            "aliases",
            if aliases.is_empty() {
                "-".into()
            } else {
                aliases.join(", ")
            },
        ),
    ]
}

impl Report for Outcome {
    fn text(&self) -> String {
        let mut out = format!("{}\n\n", headline(self));
        for (key, value) in details(self) {
            let _ = writeln!(out, "  {key:<9} {value}");
        }
        let _ = writeln!(
            out,
            "\ndeploy it with `facturactl deploy --env {} --model <service>={}`",
            self.environment, self.version.version
        );
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!("### {}\n\n| | |\n|---|---|\n", headline(self));
        for (key, value) in details(self) {
            let _ = writeln!(out, "| {key} | `{value}` |");
        }
        out
    }

    fn outputs(&self) -> Vec<(&'static str, String)> {
        vec![("model_version", self.version.version.to_string())]
    }
}
