//! `release check`, `status`, `history` and `unlock`: releases and the deploy lock.

use std::fmt::Write as _;

use serde::Serialize;

use super::{Column, Report, Table, short_commit};
use crate::commands::{history, status, unlock};
use crate::config::RuntimeKind;
use crate::release::gate::Accepted;
use crate::release::store::Released;

impl Report for Accepted {
    fn text(&self) -> String {
        let mut out = String::new();
        for check in &self.checks {
            let _ = writeln!(out, "ok: {check}");
        }
        let _ = writeln!(
            out,
            "release gate of `{}` passed: commit {}, tag {}",
            self.environment,
            short_commit(self.commit.as_deref()),
            self.tag.as_deref().unwrap_or("-")
        );
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!("### release gate of `{}`: passed\n\n", self.environment);
        for check in &self.checks {
            let _ = writeln!(out, "- {check}");
        }
        out
    }
}

#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "StatusDocument")]
struct StatusJson<'a> {
    environment: &'a str,
    current: Option<&'a crate::release::record::Record>,
    lock: Option<&'a crate::release::store::LockInfo>,
}

impl Serialize for status::Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        StatusJson {
            environment: &self.environment,
            current: self.current.as_ref(),
            lock: self.lock.as_ref(),
        }
        .serialize(s)
    }
}

super::schema_as!(status::Outcome => StatusJson<'static>);

impl Report for status::Outcome {
    fn text(&self) -> String {
        let locked = self
            .lock
            .as_ref()
            .map(|lock| format!("locked: {}\n", lock.describe()))
            .unwrap_or_default();
        let Some(r) = &self.current else {
            return format!(
                "`{}` has no successful release recorded\n{locked}",
                self.environment
            );
        };
        let mut out = format!(
            "`{}` runs {} ({}, {}) since {}: commit {}, by {}\n",
            self.environment,
            r.tag.as_deref().unwrap_or("an untagged commit"),
            r.action,
            r.id,
            r.at,
            short_commit(r.commit.as_deref()),
            r.who
        );
        let width = r.services.keys().map(String::len).max().unwrap_or(7).max(7);
        for (name, s) in &r.services {
            let what = match (&s.image, &s.version) {
                (Some(image), _) if s.runtime == RuntimeKind::Ecs => image.clone(),
                (_, Some(v)) => format!(
                    "version {v} (code {})",
                    s.code_sha256.as_deref().unwrap_or("?")
                ),
                _ => "-".into(),
            };
            let model = s
                .model
                .as_ref()
                .map(|m| format!(", model {m}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {name:width$}  {:6}  {what}{model}",
                s.runtime.as_str()
            );
            if let Some(split) = &s.split {
                let _ = writeln!(
                    out,
                    "  {:width$}  A/B     {}% on {}{} since {}",
                    "",
                    split.percent,
                    side_text(&split.variant),
                    split
                        .variant
                        .model
                        .as_ref()
                        .map(|m| format!(", model {m}"))
                        .unwrap_or_default(),
                    split.since
                );
            }
        }
        for (name, hash) in &r.stacks {
            let _ = writeln!(out, "  stack {name}: {}", hash.get(..19).unwrap_or(hash));
        }
        let _ = writeln!(out, "  {}", verified_text(r));
        out.push_str(&locked);
        out
    }

    fn markdown(&self) -> String {
        self.text()
    }

    fn summarize(&self) -> bool {
        false
    }
}

/// `verified: passed at T by W (3 checks)`, or why it is not.
fn verified_text(r: &crate::release::record::Record) -> String {
    let skipped = r
        .skipped_verification
        .as_ref()
        .map(|why| format!("; promoted without verification: {why}"))
        .unwrap_or_default();
    match &r.verification {
        Some(v) => format!(
            "verified: {} at {} by {} ({} checks){skipped}",
            v.result.as_str(),
            v.at,
            v.who,
            v.checks.len()
        ),
        None => format!(
            "verified: never (`facturactl verify --env {}`){skipped}",
            r.environment
        ),
    }
}

/// A record's verification in one word, for `history`.
fn verified_word(r: &crate::release::record::Record) -> &'static str {
    match (&r.verification, &r.skipped_verification) {
        (Some(v), _) => v.result.as_str(),
        (None, Some(_)) => "skipped",
        (None, None) => "-",
    }
}

/// A side of a split as `status` names it: the version, or the revision of an ECS service.
fn side_text(entry: &crate::release::record::ServiceRecord) -> String {
    match (&entry.version, &entry.task_definition) {
        (Some(v), _) => format!("version {v}"),
        (None, Some(td)) => crate::services::ecs::short(td).to_string(),
        _ => "?".to_string(),
    }
}

#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "HistoryDocument")]
struct HistoryJson<'a> {
    environment: &'a str,
    records: &'a [crate::release::record::Record],
}

impl Serialize for history::Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        HistoryJson {
            environment: &self.environment,
            records: &self.records,
        }
        .serialize(s)
    }
}

impl history::Outcome {
    fn table(&self) -> Table {
        let mut table = Table::new([
            Column::left("release").width(33),
            Column::left("action").width(8),
            Column::left("result").width(9),
            Column::left("tag").width(10),
            Column::left("commit").width(12),
            Column::left("models").width(6),
            Column::left("verified").width(8),
            Column::left("who"),
        ]);
        for r in &self.records {
            table.row([
                r.id.as_str(),
                r.action.as_str(),
                r.result.word(),
                r.tag.as_deref().unwrap_or("-"),
                short_commit(r.commit.as_deref()),
                &models_of(r),
                verified_word(r),
                r.who.as_str(),
            ]);
        }
        table
    }
}

super::schema_as!(history::Outcome => HistoryJson<'static>);

/// `scoring=fraud-scoring@3` per service that runs a model, or `-`.
fn models_of(record: &crate::release::record::Record) -> String {
    let models: Vec<String> = record
        .services
        .iter()
        .filter_map(|(service, s)| {
            let m = s.model.as_ref()?;
            Some(format!("{service}={}@{}", m.name, m.version))
        })
        .collect();
    if models.is_empty() {
        "-".into()
    } else {
        models.join(" ")
    }
}

impl Report for history::Outcome {
    fn text(&self) -> String {
        if self.records.is_empty() {
            return format!("`{}` has no deployment records\n", self.environment);
        }
        self.table().text()
    }

    fn markdown(&self) -> String {
        format!(
            "### releases of `{}`\n\n{}",
            self.environment,
            self.table().markdown()
        )
    }

    fn summarize(&self) -> bool {
        false
    }
}

#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "UnlockDocument")]
struct UnlockJson<'a> {
    environment: &'a str,
    released: Option<&'a crate::release::store::LockInfo>,
    /// Set when the lock object did not parse and was cleared: what was wrong with it.
    unreadable: Option<&'a str>,
    forced_by: &'a str,
}

impl Serialize for unlock::Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        UnlockJson {
            environment: &self.environment,
            released: match &self.released {
                Released::Lock(holder) => Some(holder),
                _ => None,
            },
            unreadable: match &self.released {
                Released::Unreadable(problem) => Some(problem),
                _ => None,
            },
            forced_by: &self.forced_by,
        }
        .serialize(s)
    }
}

super::schema_as!(unlock::Outcome => UnlockJson<'static>);

impl Report for unlock::Outcome {
    fn text(&self) -> String {
        match &self.released {
            Released::Lock(holder) => format!(
                "released the lock of `{}`: {} (recorded as forced by {})\n",
                self.environment,
                holder.describe(),
                self.forced_by
            ),
            Released::Unreadable(problem) => format!(
                "cleared the lock of `{}`, which was not a lock ({problem}) (recorded as forced by {})\n",
                self.environment, self.forced_by
            ),
            Released::Nothing => format!("`{}` was not locked\n", self.environment),
        }
    }

    fn markdown(&self) -> String {
        self.text()
    }

    fn summarize(&self) -> bool {
        false
    }
}
