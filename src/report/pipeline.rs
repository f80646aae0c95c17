//! `pipeline render`: the generated workflows and which were (or are) out of date.

use std::fmt::Write as _;

use serde::Serialize;

use super::Report;
use crate::commands::pipeline::Outcome;
use crate::exit::Exit;

#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "GeneratedFilesDocument")]
struct Json<'a> {
    check: bool,
    files: &'a [String],
    stale: &'a [String],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    diff: &'a [String],
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Json {
            check: self.check,
            files: &self.files,
            stale: &self.stale,
            diff: &self.diff,
        }
        .serialize(s)
    }
}

super::schema_as!(Outcome => Json<'static>);

impl Report for Outcome {
    fn text(&self) -> String {
        let mut out = String::new();
        if self.check {
            if self.stale.is_empty() {
                let _ = writeln!(out, "{} {} up to date", self.files.len(), self.kind.noun());
            } else {
                for d in &self.diff {
                    out.push_str(d);
                }
                let _ = writeln!(
                    out,
                    "stale: {}\n  = help: run `{}` and commit the result",
                    self.stale.join(", "),
                    self.kind.command()
                );
            }
            return out;
        }
        for f in &self.files {
            let state = if self.stale.contains(f) {
                "written"
            } else {
                "unchanged"
            };
            let _ = writeln!(out, "{state:9}  {f}");
        }
        for f in self.stale.iter().filter(|f| !self.files.contains(f)) {
            let _ = writeln!(out, "{:9}  {f}", "removed");
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!("### Generated {}\n\n", self.kind.noun());
        for f in &self.files {
            let state = if self.stale.contains(f) {
                "stale"
            } else {
                "up to date"
            };
            let _ = writeln!(out, "- `{f}`: {state}");
        }
        if !self.diff.is_empty() {
            out.push_str("\n```diff\n");
            for d in &self.diff {
                out.push_str(d);
            }
            out.push_str("```\n");
        }
        out
    }

    fn exit(&self) -> Exit {
        if self.check && !self.stale.is_empty() {
            Exit::Changes
        } else {
            Exit::Ok
        }
    }

    /// Only the check is a result worth a step summary; writing the files is not.
    fn summarize(&self) -> bool {
        self.check
    }
}
