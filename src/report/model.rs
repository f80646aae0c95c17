//! `model register|list|show|alias`: the versions of one model and its aliases.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::{Column, Report, Table};
use crate::commands::model::{Action, Outcome};
use crate::models::ModelVersion;
use crate::models::approval::{Approval, ApprovalState, state_of};

#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "ModelDocument")]
struct Json<'a> {
    environment: &'a str,
    model: &'a str,
    /// `s3://<models bucket>`.
    registry: &'a str,
    /// Registered, resolved (hash checked) or listed, ascending.
    versions: &'a [ModelVersion],
    /// Listed versions that cannot serve a service, each with why.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    unusable: &'a [crate::models::Unusable],
    /// Each alias and the version it points at.
    aliases: &'a BTreeMap<String, u32>,
    /// The approval of each version listed that has one (by number; the others are
    /// pending), with its comparison with the champion.
    approvals: &'a BTreeMap<u32, Approval>,
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Json {
            environment: &self.environment,
            model: &self.model,
            registry: &self.registry,
            versions: &self.versions,
            unusable: &self.unusable,
            aliases: &self.aliases,
            approvals: &self.approvals,
        }
        .serialize(s)
    }
}

super::schema_as!(Outcome => Json<'static>);

/// `champion, candidate` for one version.
fn aliases_of(outcome: &Outcome, version: u32) -> String {
    let names: Vec<&str> = outcome
        .aliases
        .iter()
        .filter(|(_, v)| **v == version)
        .map(|(a, _)| a.as_str())
        .collect();
    if names.is_empty() {
        "-".into()
    } else {
        names.join(", ")
    }
}

fn metrics(version: &ModelVersion) -> String {
    let shown: Vec<String> = version
        .metrics
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if shown.is_empty() {
        "-".into()
    } else {
        shown.join(" ")
    }
}

/// What a reviewer reads: the decision, the comparison with the champion, the lineage.
fn review(outcome: &Outcome, v: &ModelVersion) -> String {
    let mut out = String::new();
    let approval = outcome.approvals.get(&v.version);
    match approval {
        Some(a) if a.state != ApprovalState::Pending => {
            let reason = a
                .reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "approval: {} by {} at {}{reason}",
                a.state.as_str(),
                a.by,
                a.at
            );
        }
        _ => {
            let _ = writeln!(out, "approval: pending");
        }
    }
    if let Some(c) = approval.and_then(|a| a.comparison.as_ref()) {
        let _ = writeln!(out, "champion: {c}");
    }
    if let Some(l) = &v.lineage {
        let _ = writeln!(
            out,
            "lineage: run {} on {} ({}), {} data objects under {}",
            l.run,
            l.image,
            l.image_digest,
            l.data.len(),
            l.data_uri
        );
    }
    out
}

fn table(outcome: &Outcome) -> Table {
    let mut table = Table::new([
        Column::right("version").width(7),
        Column::left("aliases").width(9),
        Column::left("approval").width(8),
        Column::left("sha256").code(),
        Column::left("metrics"),
        Column::left("registered").width(20),
    ]);
    for v in &outcome.versions {
        table.row([
            v.version.to_string(),
            aliases_of(outcome, v.version),
            state_of(outcome.approvals.get(&v.version))
                .as_str()
                .to_string(),
            v.artifact.sha256.get(..12).unwrap_or_default().to_string(),
            metrics(v),
            format!("{} by {}", v.registered_at, v.registered_by),
        ]);
    }
    table
}

fn headline(outcome: &Outcome) -> String {
    let first = outcome.versions.first();
    match (outcome.action, first) {
        (Action::Registered, Some(v)) => format!(
            "registered `{}` version {} in {} ({} bytes, sha256 {})",
            outcome.model, v.version, outcome.registry, v.artifact.size, v.artifact.sha256
        ),
        (Action::Shown, Some(v)) => format!(
            "`{}` version {}: {} (object version {}), sha256 {} verified",
            outcome.model,
            v.version,
            v.artifact.uri,
            v.artifact.version_id.as_deref().unwrap_or("-"),
            v.artifact.sha256
        ),
        (Action::Approved | Action::Rejected, Some(v)) => format!(
            "`{}` version {} is {} in {}",
            outcome.model,
            v.version,
            state_of(outcome.approvals.get(&v.version)).as_str(),
            outcome.registry
        ),
        (Action::Aliased, Some(v)) => format!(
            "`{}` version {} is now {}",
            outcome.model,
            v.version,
            aliases_of(outcome, v.version)
        ),
        _ => format!(
            "`{}` in {}: {} versions",
            outcome.model,
            outcome.registry,
            outcome.versions.len()
        ),
    }
}

impl Report for Outcome {
    fn text(&self) -> String {
        let mut out = format!("{}\n\n", headline(self));
        out.push_str(&table(self).text());
        for u in &self.unusable {
            let _ = writeln!(out, "version {} cannot serve: {}", u.version, u.problem);
        }
        if let (Action::Shown | Action::Registered, Some(v)) = (self.action, self.versions.first())
        {
            let fields: Vec<String> = v
                .input
                .iter()
                .map(|(k, t)| format!("{k}: {}", t.as_str()))
                .collect();
            let _ = writeln!(out, "\ninput: {}", fields.join(", "));
        }
        if let (Action::Shown | Action::Approved | Action::Rejected, Some(v)) =
            (self.action, self.versions.first())
        {
            out.push_str(&review(self, v));
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!("### {}\n\n{}", headline(self), table(self).markdown());
        for u in &self.unusable {
            let _ = writeln!(out, "- version {} cannot serve: {}", u.version, u.problem);
        }
        out
    }

    fn summarize(&self) -> bool {
        self.action != Action::Listed
    }
}
