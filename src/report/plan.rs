//! `plan` and `deploy --dry-run`: per stack what would change, its resources and
//! parameters, and a count.

use std::fmt::Write as _;

use serde::Serialize;

use super::{Column, Report, Table};
use crate::commands::plan::Outcome;
use crate::exit::Exit;
use crate::stacks::plan::{Plan, PlanAction};

fn plan_action(action: PlanAction) -> &'static str {
    match action {
        PlanAction::Create => "create",
        PlanAction::Update => "update",
        PlanAction::NoChange => "no change",
        PlanAction::Blocked => "blocked",
    }
}

fn resource_sign(action: &str) -> &'static str {
    match action {
        "Add" => "+",
        "Remove" => "-",
        _ => "~",
    }
}

pub(super) fn text(plan: &Plan) -> String {
    let mut out = String::new();
    for s in &plan.stacks {
        let _ = writeln!(out, "{}: {}", s.stack, plan_action(s.action));
        if !s.reasons.is_empty() {
            let _ = writeln!(out, "  because: {}", s.reasons.join(", "));
        }
        for p in &s.parameters {
            let from = p.from.as_deref().unwrap_or("(unset)");
            let _ = writeln!(out, "  parameter {}: {from} -> {}", p.name, p.to);
        }
        for r in &s.resources {
            let replacement = match r.replacement.as_deref() {
                Some("True") => " (REPLACEMENT)",
                Some("Conditional") => " (may be replaced)",
                _ => "",
            };
            let _ = writeln!(
                out,
                "  {} {} {}{replacement}",
                resource_sign(&r.action),
                r.logical_id,
                r.resource_type
            );
        }
        if let Some(note) = &s.note {
            let _ = writeln!(out, "  note: {note}");
        }
        if let Some(diff) = s.template_diff.as_deref().filter(|d| !d.is_empty()) {
            for line in diff.lines() {
                let _ = writeln!(out, "  {line}");
            }
        }
    }
    let _ = writeln!(
        out,
        "\nplan for `{}`: {} to create, {} to update, {} unchanged, {} blocked",
        plan.environment,
        plan.count(PlanAction::Create),
        plan.count(PlanAction::Update),
        plan.count(PlanAction::NoChange),
        plan.count(PlanAction::Blocked)
    );
    out
}

pub(super) fn markdown(plan: &Plan) -> String {
    let mut table = Table::new([
        Column::left("stack"),
        Column::left("action"),
        Column::left("resources"),
        Column::left("parameters"),
    ]);
    for s in &plan.stacks {
        let resources: Vec<String> = s
            .resources
            .iter()
            .map(|r| format!("{} `{}`", resource_sign(&r.action), r.logical_id))
            .collect();
        let parameters: Vec<String> = s
            .parameters
            .iter()
            .map(|p| format!("`{}`", p.name))
            .collect();
        table.row([
            s.stack.clone(),
            plan_action(s.action).to_string(),
            resources.join("<br>"),
            parameters.join(", "),
        ]);
    }
    format!(
        "### Plan for `{}`\n\n{}",
        plan.environment,
        table.markdown()
    )
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.plan.serialize(s)
    }
}

super::schema_as!(Outcome => crate::stacks::plan::Plan);

impl Report for Outcome {
    fn text(&self) -> String {
        text(&self.plan)
    }

    fn markdown(&self) -> String {
        markdown(&self.plan)
    }

    fn exit(&self) -> Exit {
        if self.detailed_exitcode && self.plan.has_changes() {
            Exit::Changes
        } else {
            Exit::Ok
        }
    }

    fn outputs(&self) -> Vec<(&'static str, String)> {
        let changed: Vec<&str> = self
            .plan
            .stacks
            .iter()
            .filter(|s| s.action != PlanAction::NoChange)
            .map(|s| s.stack.as_str())
            .collect();
        let result = if self.plan.has_changes() {
            "changes"
        } else {
            "succeeded"
        };
        vec![
            ("environment", self.plan.environment.clone()),
            ("changed-stacks", changed.join(",")),
            ("result", result.to_string()),
        ]
    }
}
