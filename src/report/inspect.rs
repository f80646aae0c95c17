//! The commands that look at the project without AWS: `config show`, `render`, `validate`
//! (and `--explain`), `schema`.

use std::fmt::Write as _;

use serde::Serialize;

use super::{Column, Report, Table};
use crate::commands::{config_show, render, validate};
use crate::config::PolicyMode;
use crate::exit::Exit;
use crate::policy::Level;

#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "ConfigDocument")]
struct ConfigJson<'a> {
    environment: &'a str,
    config: &'a crate::config::Config,
}

impl Serialize for config_show::Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ConfigJson {
            environment: &self.environment,
            config: &self.config,
        }
        .serialize(s)
    }
}

super::schema_as!(config_show::Outcome => ConfigJson<'static>);

impl Report for config_show::Outcome {
    fn text(&self) -> String {
        let yaml = yaml_serde::to_string(&self.config).unwrap_or_default();
        format!(
            "# effective configuration of `{}` (deploy.toml + environments/{}.yaml)\n{yaml}",
            self.environment, self.environment
        )
    }

    fn markdown(&self) -> String {
        format!(
            "### Configuration of `{}`\n\n```yaml\n{}```\n",
            self.environment,
            yaml_serde::to_string(&self.config).unwrap_or_default()
        )
    }

    fn summarize(&self) -> bool {
        false
    }
}

#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "RenderDocument")]
struct RenderJson<'a> {
    environment: &'a str,
    rendered: &'a crate::render::RenderedEnv,
    #[serde(skip_serializing_if = "Option::is_none")]
    out_dir: Option<String>,
    files_written: usize,
}

impl Serialize for render::Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        RenderJson {
            environment: &self.environment,
            rendered: &self.rendered,
            out_dir: self.out_dir.as_ref().map(|d| d.display().to_string()),
            files_written: self.files_written,
        }
        .serialize(s)
    }
}

impl render::Outcome {
    fn table(&self) -> Table {
        let width = self.rendered.stacks.iter().map(|s| s.name.len()).max();
        let mut table = Table::new([
            Column::left("stack").width(width.unwrap_or(5)),
            Column::left("template").width(40).code(),
            Column::left("hash").code(),
        ]);
        for s in &self.rendered.stacks {
            table.row([
                s.name.as_str(),
                s.template_file.as_str(),
                s.hash.get(..19).unwrap_or(&s.hash),
            ]);
        }
        table
    }
}

super::schema_as!(render::Outcome => RenderJson<'static>);

impl Report for render::Outcome {
    fn text(&self) -> String {
        let mut out = self.table().text();
        let _ = writeln!(
            out,
            "{} stacks, {} alarms rendered for `{}`",
            self.rendered.stacks.len(),
            self.rendered.alarms.len(),
            self.environment
        );
        if let Some(dir) = &self.out_dir {
            let _ = writeln!(
                out,
                "{} files written to {}",
                self.files_written,
                dir.display()
            );
        }
        out
    }

    fn markdown(&self) -> String {
        format!(
            "### Rendered `{}`\n\n{}\n{} alarms.\n",
            self.environment,
            self.table().markdown(),
            self.rendered.alarms.len()
        )
    }

    fn summarize(&self) -> bool {
        false
    }
}

/// `validate --rules`: the policy rules.
#[derive(Serialize, schemars::JsonSchema)]
struct RulesDocument {
    rules: Vec<RuleJson>,
}

#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "Rule")]
struct RuleJson {
    id: &'static str,
    why: &'static str,
}

/// `validate`: what was checked and the policy's findings.
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "ValidateDocument")]
struct ValidatedJson<'a> {
    environment: &'a str,
    stacks: usize,
    alarms: usize,
    policy: &'a crate::policy::PolicyReport,
    blocking: usize,
}

impl Serialize for validate::Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Rules(rules) => RulesDocument {
                rules: rules
                    .iter()
                    .map(|&(id, why)| RuleJson { id, why })
                    .collect(),
            }
            .serialize(s),
            Self::Validated(v) => ValidatedJson {
                environment: &v.environment,
                stacks: v.stacks,
                alarms: v.alarms,
                policy: &v.policy,
                blocking: v.blocking,
            }
            .serialize(s),
        }
    }
}

impl schemars::JsonSchema for validate::Outcome {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ValidateOutcome".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        super::either_schema::<ValidatedJson<'static>, RulesDocument>(generator)
    }
}

impl Report for validate::Outcome {
    fn text(&self) -> String {
        match self {
            Self::Rules(rules) => rules
                .iter()
                .map(|(id, why)| format!("{id:20} {why}\n"))
                .collect(),
            Self::Validated(v) => validated_text(v),
        }
    }

    fn markdown(&self) -> String {
        match self {
            Self::Rules(rules) => {
                let mut table = Table::new([Column::left("rule").code(), Column::left("why")]);
                for (id, why) in rules {
                    table.row([*id, *why]);
                }
                table.markdown()
            }
            Self::Validated(v) => validated_markdown(v),
        }
    }

    fn exit(&self) -> Exit {
        match self {
            Self::Validated(v) if v.blocking > 0 => Exit::Refused,
            _ => Exit::Ok,
        }
    }

    fn summarize(&self) -> bool {
        matches!(self, Self::Validated(_))
    }
}

fn level_word(level: Level) -> &'static str {
    match level {
        Level::Error => "error",
        Level::Warning => "warning",
        Level::Excepted => "excepted",
    }
}

fn validated_text(v: &validate::Validated) -> String {
    let mut out = String::new();
    for f in &v.policy.findings {
        let _ = writeln!(
            out,
            "{}[{}]: {}\n  --> {}/{}\n  = help: {}",
            level_word(f.level),
            f.rule,
            f.message,
            f.stack,
            f.resource,
            f.hint
        );
        if let Some(reason) = &f.exception_reason {
            let _ = writeln!(out, "  = exception: {reason}");
        }
    }
    let verdict = if v.blocking > 0 { "refused" } else { "ok" };
    let mode = match v.policy.mode {
        PolicyMode::Enforce => "enforce",
        PolicyMode::Warn => "warn",
    };
    let _ = writeln!(
        out,
        "{verdict}: `{}` config valid, {} stacks and {} alarms rendered, {} policy findings ({} blocking, mode {mode})",
        v.environment,
        v.stacks,
        v.alarms,
        v.policy.findings.len(),
        v.blocking,
    );
    out
}

fn validated_markdown(v: &validate::Validated) -> String {
    let verdict = if v.blocking > 0 { "refused" } else { "passed" };
    let mut out = format!(
        "### Validation of `{}`: {verdict}\n\n{} stacks, {} alarms, {} findings ({} blocking).\n",
        v.environment,
        v.stacks,
        v.alarms,
        v.policy.findings.len(),
        v.blocking
    );
    if !v.policy.findings.is_empty() {
        let mut table = Table::new([
            Column::left("level"),
            Column::left("rule").code(),
            Column::left("resource").code(),
            Column::left("finding"),
            Column::left("fix"),
        ]);
        for f in &v.policy.findings {
            table.row([
                level_word(f.level).to_string(),
                f.rule.to_string(),
                format!("{}/{}", f.stack, f.resource),
                f.message.clone(),
                f.hint.to_string(),
            ]);
        }
        out.push('\n');
        out.push_str(&table.markdown());
    }
    out
}

/// A schema document, printed as it is.
pub struct PrintedSchema(pub serde_json::Value);

impl Serialize for PrintedSchema {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

super::schema_as!(PrintedSchema => serde_json::Value);

impl Report for PrintedSchema {
    fn text(&self) -> String {
        let mut text = serde_json::to_string_pretty(&self.0).unwrap_or_default();
        text.push('\n');
        text
    }

    fn markdown(&self) -> String {
        self.text()
    }

    fn summarize(&self) -> bool {
        false
    }
}
