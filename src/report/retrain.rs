//! `retrain MODEL`: the run and the version its output became.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::Report;
use crate::commands::retrain::{Outcome, PendingOutcome, RunResult};
use crate::exit::Exit;
use crate::models::ModelVersion;
use crate::models::approval::Approval;

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
    /// The version registered from the run's output (not deployed), or the existing one
    /// with the same bytes (`identical`).
    version: &'a ModelVersion,
    /// The run's bytes were `version`'s already: nothing was registered.
    identical: bool,
    /// The new version's approval (pending) and its comparison with the champion.
    #[serde(skip_serializing_if = "Option::is_none")]
    approval: Option<&'a Approval>,
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
            identical: self.approval.is_none(),
            approval: self.approval.as_ref(),
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
    let what = if o.approval.is_some() {
        "registered, pending approval, not deployed"
    } else {
        "its bytes were that version's already: nothing registered"
    };
    format!(
        "training run {} of `{}`{ran} is version {} in `{}` ({what})",
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
        (
            "champion",
            o.approval
                .as_ref()
                .and_then(|a| a.comparison.as_ref())
                .map_or_else(|| "-".into(), ToString::to_string),
        ),
        (
            "lineage",
            v.lineage.as_ref().map_or_else(
                || "-".into(),
                |l| {
                    format!(
                        "{} ({}), {} data objects",
                        l.image,
                        l.image_digest,
                        l.data.len()
                    )
                },
            ),
        ),
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
            "\nreview it: `facturactl model approve --env {env} {model} {n}` (or `reject`); deploy it with `facturactl deploy --env {env} --model {service}={n}`",
            env = self.environment,
            model = self.model,
            service = self.service,
            n = self.version.version
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

/// What became of one ended run (`retrain --register-pending`).
#[derive(Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
enum RunStatus {
    /// It is a new version.
    Registered,
    /// Its bytes were an existing version's (`version`): nothing registered.
    Identical,
    /// Its output must not become a version (exit 3).
    Refused,
    /// Its output could not be read or registered (exit 1).
    Failed,
}

#[derive(Serialize, schemars::JsonSchema)]
struct RunJson<'a> {
    run: &'a str,
    /// `s3://<models bucket>/training/<model>/<run>/`.
    output: &'a str,
    status: RunStatus,
    /// The version registered (with `registered`).
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a ModelVersion>,
    /// Why not, and what to do (with `refused` and `failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct AliasJson<'a> {
    alias: &'a str,
    /// The version it points at now (absent when it was not moved).
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<u32>,
    /// Why it was not moved.
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
}

#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "RetrainPendingDocument")]
struct PendingJson<'a> {
    environment: &'a str,
    model: &'a str,
    /// Each ended run that was not a version yet, oldest first.
    runs: Vec<RunJson<'a>>,
    /// Runs that have not written `model.json`: still running, or stopped before the end.
    unfinished: &'a [String],
    /// `--alias`, moved to the newest version registered (absent when none was).
    #[serde(skip_serializing_if = "Option::is_none")]
    alias: Option<AliasJson<'a>>,
    aliases: &'a BTreeMap<String, u32>,
}

impl Serialize for PendingOutcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let runs = self
            .runs
            .iter()
            .map(|r| {
                let (status, version, message) = match &r.result {
                    RunResult::Registered(v) => (RunStatus::Registered, Some(&**v), None),
                    RunResult::Identical(v) => (RunStatus::Identical, Some(&**v), None),
                    RunResult::Refused(m) => (RunStatus::Refused, None, Some(m.as_str())),
                    RunResult::Failed(m) => (RunStatus::Failed, None, Some(m.as_str())),
                };
                RunJson {
                    run: &r.run,
                    output: &r.output,
                    status,
                    version,
                    message,
                }
            })
            .collect();
        PendingJson {
            environment: &self.environment,
            model: &self.model,
            runs,
            unfinished: &self.unfinished,
            alias: self.alias.as_ref().map(|a| AliasJson {
                alias: &a.alias,
                version: a.result.as_ref().ok().copied(),
                message: a.result.as_ref().err().map(String::as_str),
            }),
            aliases: &self.aliases,
        }
        .serialize(s)
    }
}

super::schema_as!(PendingOutcome => PendingJson<'static>);

impl PendingOutcome {
    fn count(&self, wanted: fn(&RunResult) -> bool) -> usize {
        self.runs.iter().filter(|r| wanted(&r.result)).count()
    }

    fn registered(&self) -> Vec<u32> {
        self.runs
            .iter()
            .filter_map(|r| match &r.result {
                RunResult::Registered(v) => Some(v.version),
                _ => None,
            })
            .collect()
    }

    fn headline(&self) -> String {
        if self.runs.is_empty() {
            return format!(
                "no ended run of `{}` in `{}` waits to be registered",
                self.model, self.environment
            );
        }
        let versions: Vec<String> = self.registered().iter().map(u32::to_string).collect();
        let mut parts = vec![format!(
            "{} registered{}",
            versions.len(),
            if versions.is_empty() {
                String::new()
            } else {
                format!(" (version {})", versions.join(", "))
            }
        )];
        for (word, n) in [
            (
                "identical to a version",
                self.count(|r| matches!(r, RunResult::Identical(_))),
            ),
            (
                "refused",
                self.count(|r| matches!(r, RunResult::Refused(_))),
            ),
            ("failed", self.count(|r| matches!(r, RunResult::Failed(_)))),
        ] {
            if n > 0 {
                parts.push(format!("{n} {word}"));
            }
        }
        format!(
            "{} ended run{} of `{}` in `{}`: {} (not deployed)",
            self.runs.len(),
            if self.runs.len() == 1 { "" } else { "s" },
            self.model,
            self.environment,
            parts.join(", ")
        )
    }

    /// One line per run: `run  registered  version 4` or the reason.
    fn lines(&self) -> Vec<(String, String)> {
        let mut lines: Vec<(String, String)> = self
            .runs
            .iter()
            .map(|r| {
                let what = match &r.result {
                    RunResult::Registered(v) => {
                        format!("registered as {}, pending approval", v.pin())
                    }
                    RunResult::Identical(v) => {
                        format!("identical to {}: nothing registered", v.pin())
                    }
                    RunResult::Refused(m) => format!("refused: {m}"),
                    RunResult::Failed(m) => format!("failed: {m}"),
                };
                (r.run.clone(), what)
            })
            .collect();
        lines.extend(self.unfinished.iter().map(|run| {
            (
                run.clone(),
                "unfinished: no model.json yet (running, or stopped before the end)".to_string(),
            )
        }));
        if let Some(alias) = &self.alias {
            let what = match &alias.result {
                Ok(v) => format!("alias {} -> version {v}", alias.alias),
                Err(m) => format!("alias {} not moved: {m}", alias.alias),
            };
            lines.push(("alias".into(), what));
        }
        lines
    }
}

impl Report for PendingOutcome {
    fn text(&self) -> String {
        let mut out = format!("{}\n", self.headline());
        let lines = self.lines();
        if !lines.is_empty() {
            out.push('\n');
        }
        let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (run, what) in lines {
            let _ = writeln!(out, "  {run:<width$}  {what}");
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!("### {}\n\n", self.headline());
        let lines = self.lines();
        if !lines.is_empty() {
            out.push_str("| run | result |\n|---|---|\n");
            for (run, what) in lines {
                let _ = writeln!(out, "| `{run}` | {} |", what.replace('|', "\\|"));
            }
        }
        out
    }

    fn exit(&self) -> Exit {
        let failed = self.count(|r| matches!(r, RunResult::Failed(_))) > 0
            || self.alias.as_ref().is_some_and(|a| a.result.is_err());
        if failed {
            Exit::Error
        } else if self.count(|r| matches!(r, RunResult::Refused(_))) > 0 {
            Exit::Refused
        } else {
            Exit::Ok
        }
    }

    fn outputs(&self) -> Vec<(&'static str, String)> {
        let versions: Vec<String> = self.registered().iter().map(u32::to_string).collect();
        vec![("model_versions", versions.join(","))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::retrain::{AliasMove, PendingRun};

    fn version(n: u32) -> ModelVersion {
        serde_json::from_value(serde_json::json!({
            "name": "fraud-scoring", "version": n,
            "artifact": {"uri": "s3://m/registry/fraud-scoring/blobs/9c1e", "bucket": "m",
                         "key": "registry/fraud-scoring/blobs/9c1e",
                         "sha256": "9c1e5f0a7b3d2c4e6f8a", "size": 3},
            "input": {"total": "number"},
            "registered_at": "2026-12-03T03:00:00Z", "registered_by": "ci (retrain)"
        }))
        .expect("a version document")
    }

    fn run(id: &str, result: RunResult) -> PendingRun {
        PendingRun {
            run: id.into(),
            output: format!("s3://m/training/fraud-scoring/{id}/"),
            result,
        }
    }

    #[test]
    fn each_run_is_reported_and_the_worst_result_is_the_exit() {
        let mut outcome = PendingOutcome {
            environment: "staging".into(),
            model: "fraud-scoring".into(),
            runs: vec![
                run("0f3a", RunResult::Registered(Box::new(version(2)))),
                run("1b2c", RunResult::Refused("`total` is string".into())),
            ],
            unfinished: vec!["2d4e".into()],
            alias: Some(AliasMove {
                alias: "candidate".into(),
                result: Ok(2),
            }),
            aliases: BTreeMap::new(),
        };
        let text = outcome.text();
        let headline = "2 ended runs of `fraud-scoring` in `staging`: 1 registered (version 2), 1 refused (not deployed)\n\n";
        assert!(text.starts_with(headline), "{text}");
        for line in [
            "  0f3a   registered as fraud-scoring v2 (9c1e5f0a7b3d), pending approval\n",
            "  1b2c   refused: `total` is string\n",
            "  2d4e   unfinished: no model.json yet (running, or stopped before the end)\n",
            "  alias  alias candidate -> version 2\n",
        ] {
            assert!(text.contains(line), "{line:?} in {text}");
        }
        assert_eq!(outcome.exit(), Exit::Refused);
        assert_eq!(outcome.outputs(), vec![("model_versions", "2".to_string())]);

        outcome
            .runs
            .push(run("3f5a", RunResult::Failed("AccessDenied".into())));
        assert_eq!(outcome.exit(), Exit::Error, "a failure outweighs a refusal");
        outcome
            .runs
            .retain(|r| matches!(r.result, RunResult::Registered(_)));
        assert_eq!(outcome.exit(), Exit::Ok);
        outcome.alias = Some(AliasMove {
            alias: "candidate".into(),
            result: Err("AccessDenied".into()),
        });
        assert_eq!(
            outcome.exit(),
            Exit::Error,
            "an alias not moved is a failure"
        );

        outcome.runs.clear();
        outcome.alias = None;
        assert!(
            outcome.text().starts_with(
                "no ended run of `fraud-scoring` in `staging` waits to be registered\n"
            ),
            "{}",
            outcome.text()
        );
    }
}
