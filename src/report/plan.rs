//! `plan` and `deploy --dry-run`: per stack what would change, its resources and
//! parameters, and a count.

use std::fmt::Write as _;

use serde::Serialize;

use super::{Cell, Column, Report, Table};
use crate::commands::plan::Outcome;
use crate::exit::Exit;
use crate::stacks::live::Orphan;
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

/// The stacks the configuration no longer defines, each with how to remove it.
pub(super) fn orphans_text(environment: &str, orphans: &[Orphan], markdown: bool) -> String {
    let mut out = String::new();
    for o in orphans {
        let (stack, name) = if markdown {
            (format!("`{}`", o.stack), format!("`{}`", o.stack_name))
        } else {
            (o.stack.clone(), o.stack_name.clone())
        };
        let _ = writeln!(
            out,
            "{}orphaned: {stack} ({name}, {}) is no longer in the configuration; `facturactl destroy --env {environment} --stack {}` deletes it",
            if markdown { "- " } else { "" },
            o.status,
            o.stack
        );
    }
    out
}

/// A promotion's release and artifacts, before its stacks.
fn promotion_text(plan: &Plan, markdown: bool) -> String {
    let Some(p) = &plan.promotion else {
        return String::new();
    };
    let code = |s: &str| {
        if markdown {
            format!("`{s}`")
        } else {
            s.to_string()
        }
    };
    let mut out = format!(
        "Promote {} ({}, commit {}) to {}:\n",
        code(&p.from),
        p.record,
        &p.commit[..p.commit.len().min(12)],
        code(&plan.environment)
    );
    let bullet = if markdown { "- " } else { "  " };
    for (service, artifact) in &p.artifacts {
        let _ = writeln!(out, "{bullet}{service}: {}", code(artifact));
    }
    for model in &p.pending_models {
        let _ = writeln!(
            out,
            "{bullet}model {model}: copied into the target's registry first"
        );
    }
    out.push('\n');
    out
}

/// Where the plan was saved and how to apply exactly it.
fn saved_text(plan: &Plan) -> String {
    let Some(file) = &plan.saved_to else {
        return String::new();
    };
    let apply = match &plan.promotion {
        Some(p) => format!(
            "facturactl promote --from {} --to {} --plan {file}",
            p.from, plan.environment
        ),
        None => format!("facturactl deploy --env {} --plan {file}", plan.environment),
    };
    format!("plan saved to {file} (its change sets kept); `{apply}` applies exactly it\n")
}

pub(super) fn text(plan: &Plan) -> String {
    let mut out = promotion_text(plan, false);
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
    out.push_str(&orphans_text(&plan.environment, &plan.orphaned, false));
    let _ = writeln!(
        out,
        "\nplan for `{}`: {} to create, {} to update, {} unchanged, {} blocked{}",
        plan.environment,
        plan.count(PlanAction::Create),
        plan.count(PlanAction::Update),
        plan.count(PlanAction::NoChange),
        plan.count(PlanAction::Blocked),
        match plan.orphaned.len() {
            0 => String::new(),
            n => format!(", {n} orphaned"),
        }
    );
    out.push_str(&saved_text(plan));
    out
}

/// GitHub's limit on a pull request comment's body.
pub const COMMENT_LIMIT: usize = 65_536;

/// What is kept free under the limit for the comment's marker and the truncation note.
const COMMENT_MARGIN: usize = 1_024;

/// The plan for a pull request comment: the counts, every resource change with its type
/// and replacement (in bold), parameter values from and to, the notes, and each template
/// diff folded in `<details>`; under GitHub's comment limit (diffs go first, then rows),
/// saying what was left out and where the whole plan is.
pub(super) fn markdown(plan: &Plan) -> String {
    let head = markdown_head(plan);
    let diffs: Vec<(String, String)> = plan
        .stacks
        .iter()
        .filter_map(|s| {
            let diff = s.template_diff.as_deref().filter(|d| !d.is_empty())?;
            Some((s.stack.clone(), folded_diff(&s.stack, diff)))
        })
        .collect();
    fit(head, &diffs, COMMENT_LIMIT - COMMENT_MARGIN)
}

fn markdown_head(plan: &Plan) -> String {
    let replacements = plan
        .stacks
        .iter()
        .flat_map(|s| &s.resources)
        .filter(|r| r.replacement.as_deref() == Some("True"))
        .count();
    let mut out = format!(
        "### Plan for `{}`\n\n{} to create, {} to update, {} unchanged, {} blocked",
        plan.environment,
        plan.count(PlanAction::Create),
        plan.count(PlanAction::Update),
        plan.count(PlanAction::NoChange),
        plan.count(PlanAction::Blocked)
    );
    if !plan.orphaned.is_empty() {
        let _ = write!(out, ", {} orphaned", plan.orphaned.len());
    }
    if replacements > 0 {
        let _ = write!(
            out,
            " · **{replacements} replacement{}**",
            if replacements == 1 { "" } else { "s" }
        );
    }
    out.push_str("\n\n");
    out.push_str(&promotion_text(plan, true));
    out.push_str(&resource_table(plan).markdown());
    let parameters = parameter_table(plan);
    if !parameters.is_empty() {
        out.push_str("\n**Parameters**\n\n");
        out.push_str(&parameters.markdown());
    }
    if !plan.orphaned.is_empty() {
        out.push('\n');
        out.push_str(&orphans_text(&plan.environment, &plan.orphaned, true));
    }
    for s in &plan.stacks {
        if !s.reasons.is_empty() {
            let _ = write!(
                out,
                "\n> **{}** changes because of: {}\n",
                s.stack,
                s.reasons.join(", ")
            );
        }
        if let Some(note) = &s.note {
            let _ = write!(out, "\n> **{}**: {}\n", s.stack, note.replace('\n', " "));
        }
    }
    if plan.saved_to.is_some() {
        out.push('\n');
        out.push_str(&saved_text(plan));
    }
    out
}

/// One row per resource change (a stack without any: one row for the stack).
fn resource_table(plan: &Plan) -> Table {
    let mut table = Table::new([
        Column::left("stack").code(),
        Column::left("action"),
        Column::left("resource").code(),
        Column::left("type").code(),
        Column::left("replacement"),
    ]);
    for s in &plan.stacks {
        let action = plan_action(s.action);
        if s.resources.is_empty() {
            table.row([s.stack.as_str(), action, "", "", ""]);
            continue;
        }
        for r in &s.resources {
            let replacement = match r.replacement.as_deref() {
                Some("True") => Cell::strong("REPLACEMENT"),
                Some("Conditional") => Cell::from("may be replaced"),
                _ => Cell::from(""),
            };
            table.row([
                Cell::from(s.stack.as_str()),
                Cell::from(format!(
                    "{} {}",
                    resource_sign(&r.action),
                    r.action.to_lowercase()
                )),
                Cell::from(r.logical_id.as_str()),
                Cell::from(r.resource_type.as_str()),
                replacement,
            ]);
        }
    }
    table
}

fn parameter_table(plan: &Plan) -> Table {
    let mut table = Table::new([
        Column::left("stack").code(),
        Column::left("parameter").code(),
        Column::left("from").code(),
        Column::left("to").code(),
    ]);
    for s in &plan.stacks {
        for p in &s.parameters {
            table.row([
                s.stack.as_str(),
                p.name.as_str(),
                p.from.as_deref().unwrap_or(""),
                p.to.as_str(),
            ]);
        }
    }
    table
}

fn folded_diff(stack: &str, diff: &str) -> String {
    // A fence longer than any backtick run in the diff cannot be closed by it.
    let longest = diff.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!(
        "\n<details><summary>Template diff: <code>{stack}</code></summary>\n\n{fence}diff\n{}\n{fence}\n\n</details>\n",
        diff.trim_end()
    )
}

/// The head and as many diffs as fit in `limit` characters; what did not fit is named in
/// a closing note that points at the whole plan.
fn fit(head: String, diffs: &[(String, String)], limit: usize) -> String {
    let pointer = "the job's summary and `facturactl plan -o json --diff` have the whole plan";
    if head.len() > limit {
        let cut = head[..limit]
            .rfind('\n')
            .unwrap_or_else(|| head.floor_char_boundary(limit));
        return format!(
            "{}\n\n> **Truncated** at GitHub's {COMMENT_LIMIT}-character comment limit: {pointer}.\n",
            &head[..cut]
        );
    }
    let mut out = head;
    let mut left_out = Vec::new();
    for (stack, diff) in diffs {
        if out.len() + diff.len() <= limit {
            out.push_str(diff);
        } else {
            left_out.push(format!("`{stack}`"));
        }
    }
    if !left_out.is_empty() {
        let _ = write!(
            out,
            "\n> Template diffs of {} left out (GitHub's {COMMENT_LIMIT}-character comment limit): {pointer}.\n",
            left_out.join(", ")
        );
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stacks::events::ResourceChange;
    use crate::stacks::plan::{ParameterChange, StackPlan};

    fn stack(name: &str, action: PlanAction) -> StackPlan {
        StackPlan {
            stack: name.into(),
            stack_name: format!("facturascan-staging-{name}"),
            action,
            reasons: Vec::new(),
            parameters: Vec::new(),
            resources: Vec::new(),
            template_diff: None,
            note: None,
            unreplaceable: Vec::new(),
            saved: None,
        }
    }

    fn change(action: &str, id: &str, kind: &str, replacement: Option<&str>) -> ResourceChange {
        ResourceChange {
            action: action.into(),
            logical_id: id.into(),
            resource_type: kind.into(),
            replacement: replacement.map(str::to_string),
        }
    }

    fn reviewed_plan() -> Plan {
        let mut api = stack("api", PlanAction::Update);
        api.reasons = vec!["template".into(), "parameter ApiDomainName".into()];
        api.parameters = vec![ParameterChange {
            name: "ApiDomainName".into(),
            from: Some("api.staging.facturascan.com".into()),
            to: "api-v2.staging.facturascan.com".into(),
        }];
        api.resources = vec![
            change(
                "Modify",
                "PrivateLinkBalancer",
                "AWS::ElasticLoadBalancingV2::LoadBalancer",
                Some("True"),
            ),
            change(
                "Modify",
                "ProxyMethod",
                "AWS::ApiGateway::Method",
                Some("False"),
            ),
            change("Add", "LinkSecurityGroup", "AWS::EC2::SecurityGroup", None),
        ];
        api.template_diff = Some(
            "--- deployed\n+++ rendered\n-      Name: \"facturascan-staging-api-link\"\n+      Name: \"facturascan-staging-api-nlb\"\n".into(),
        );
        let mut ml = stack("ml", PlanAction::Create);
        ml.note = Some("parameters are known once the stacks it depends on are deployed".into());
        Plan {
            environment: "staging".into(),
            stacks: vec![stack("network", PlanAction::NoChange), api, ml],
            orphaned: vec![Orphan {
                stack: "reports".into(),
                stack_name: "facturascan-staging-reports".into(),
                status: "UPDATE_COMPLETE".into(),
            }],
            promotion: None,
            saved_to: None,
        }
    }

    #[test]
    fn the_pull_request_plan_shows_replacements_values_and_diffs() {
        insta::assert_snapshot!(markdown(&reviewed_plan()));
    }

    #[test]
    fn a_plan_over_the_comment_limit_keeps_what_fits_and_says_so() {
        // Diffs first: the table stays whole, the big diff is named as left out.
        let mut plan = reviewed_plan();
        plan.stacks[1].template_diff = Some("+ line\n".repeat(20_000));
        let out = markdown(&plan);
        assert!(out.len() <= COMMENT_LIMIT, "{}", out.len());
        assert!(out.contains("**REPLACEMENT**"), "the table stays");
        assert!(out.contains("Template diffs of `api` left out"), "{out}");

        // A table over the limit is cut at a row, with the pointer.
        let mut plan = reviewed_plan();
        plan.stacks[2].resources = (0..2_000)
            .map(|i| change("Add", &format!("Queue{i}"), "AWS::SQS::Queue", None))
            .collect();
        let out = markdown(&plan);
        assert!(out.len() <= COMMENT_LIMIT, "{}", out.len());
        assert!(out.contains("**Truncated** at GitHub's 65536-character comment limit"));
        let body = &out[..out.find("\n\n> **Truncated**").expect("the note")];
        assert!(
            body.ends_with(" |"),
            "cut at a whole row: {}",
            &body[body.len() - 80..]
        );

        // A diff that holds a fence cannot close the folded block early.
        let fenced = folded_diff("api", "+ ```\n+ inner\n");
        assert!(fenced.contains("````diff"), "{fenced}");
    }
}
