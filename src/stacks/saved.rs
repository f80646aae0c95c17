//! Saved plans: `plan --save FILE` keeps the change sets it made and writes what each stack
//! was planned from; `deploy --plan FILE` (and `promote --plan FILE`) executes exactly those
//! change sets, after checking that nothing moved since (Terraform's `plan -out` and
//! `apply PLAN`; SAM's `--no-execute-changeset`). What "moved" means, stack by stack:
//! - the stack itself: its status, last operation, parameters, tags or outputs differ from
//!   when it was planned (another deploy, an operator, a rollback);
//! - the configuration: the template or the parameters the deploy would send now differ
//!   from the ones the change set was made with (a commit, a model pinned since);
//! - the change set: gone, or no longer executable (CloudFormation deletes a stack's other
//!   change sets when one is executed, and marks them OBSOLETE when the stack changes).
//!
//! A stack whose inputs come from a stack the same plan changes is checked again just
//! before its change set runs: if the outputs it takes changed when that stack was applied,
//! it stops there (the stacks already applied are reported as such). A stack whose inputs
//! come from a stack the plan creates has no change set (none can be made before those
//! outputs exist): its template is what was reviewed and is checked, its inputs are
//! "known after apply", as Terraform says, and the deploy creates or updates it then.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::live::{Condition, LiveStack};
use crate::aws::{AwsContext, AwsError};
use crate::render::{RenderedEnv, RenderedStack};

/// The file format's version: a file of another version is refused, never guessed at.
pub const FORMAT: u32 = 1;

/// A plan as `plan --save` wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SavedPlan {
    pub format: u32,
    pub environment: String,
    pub account_id: String,
    pub region: String,
    /// RFC 3339, when the plan was made.
    pub created_at: String,
    /// A promotion's plan: the source environment's release it promotes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion: Option<PlannedPromotion>,
    pub stacks: Vec<SavedStack>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlannedPromotion {
    pub from: String,
    /// The source's record the promotion takes its artifacts from.
    pub record: String,
}

/// One stack of a saved plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SavedStack {
    pub stack: String,
    pub stack_name: String,
    /// `sha256:<hex>` of the template body the change set was made with.
    pub template_sha256: String,
    /// `sha256:<hex>` of the parameters it was made with (names and values, sorted).
    pub parameters_sha256: String,
    /// The stack as it was ([`LiveStack::fingerprint`]); absent for a stack to create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<String>,
    /// The change set to execute (its ARN); absent when the stack does not change, or
    /// when its inputs are known only after the apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_set: Option<String>,
    /// Its inputs come from outputs of stacks this plan creates (Terraform's "known after
    /// apply"): the template is checked, then the deploy creates or updates the stack
    /// with the values those stacks then have. `parameters_sha256` is empty.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inputs_after_apply: bool,
}

/// Why a saved plan cannot be executed now: nothing has been changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Moved {
    /// The plan is for another environment, account or region.
    OtherTarget { planned: String, now: String },
    /// The stack changed since it was planned.
    Stack { stack: String, what: String },
    /// What would be deployed now is not what was planned.
    Configuration { stack: String, what: Planned },
    /// A stack the plan does not hold, or holds but the configuration no longer defines.
    Stacks {
        planned: Vec<String>,
        now: Vec<String>,
    },
    /// The change set cannot be executed.
    ChangeSet { stack: String, status: String },
    /// A promotion's source runs another release than the one planned.
    Source {
        from: String,
        planned: String,
        now: String,
    },
}

impl std::fmt::Display for Moved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::OtherTarget { planned, now } => {
                write!(f, "the plan is for {planned}, this run is for {now}")
            }
            Self::Stack { stack, what } => {
                write!(f, "stack `{stack}` changed since the plan: {what}")
            }
            Self::Configuration { stack, what } => {
                let what = match what {
                    Planned::Template => "template",
                    Planned::Parameters => "parameters",
                };
                write!(
                    f,
                    "the {what} of `{stack}` {} (the configuration or a pinned model changed since)",
                    if what == "template" {
                        "is not the planned one"
                    } else {
                        "are not the planned ones"
                    }
                )
            }
            Self::Stacks { planned, now } => write!(
                f,
                "the plan holds the stacks {}, the configuration defines {}",
                planned.join(", "),
                now.join(", ")
            ),
            Self::ChangeSet { stack, status } => {
                write!(
                    f,
                    "the change set of `{stack}` cannot be executed ({status})"
                )
            }
            Self::Source { from, planned, now } => {
                write!(f, "`{from}` runs {now} now, the plan promotes {planned}")
            }
        }
    }
}

/// What a change set was made from, besides the stack's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Planned {
    Template,
    Parameters,
}

/// Why a plan cannot be saved: a stack the deploy could not execute as planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsavable {
    pub stack: String,
    pub why: String,
}

/// `sha256:<hex>` of a set of parameters, as a change set is made with them.
pub fn parameters_hash(params: &BTreeMap<String, String>) -> String {
    crate::render::content_hash(&serde_json::to_string(params).unwrap_or_default())
}

/// The entry of `stack` made with `params` against `live`, with its change set if any.
pub fn entry(
    stack: &RenderedStack,
    params: &BTreeMap<String, String>,
    live: Option<&LiveStack>,
    change_set: Option<String>,
) -> SavedStack {
    SavedStack {
        stack: stack.name.clone(),
        stack_name: stack.stack_name.clone(),
        template_sha256: crate::render::content_hash(&stack.body),
        parameters_sha256: parameters_hash(params),
        live: live.map(LiveStack::fingerprint),
        change_set,
        inputs_after_apply: false,
    }
}

/// The entry of `stack` (as rendered, before any input is known) whose inputs come from
/// stacks the plan creates: no change set can be made for it before they exist.
pub fn after_apply(stack: &RenderedStack, live: Option<&LiveStack>) -> SavedStack {
    SavedStack {
        stack: stack.name.clone(),
        stack_name: stack.stack_name.clone(),
        template_sha256: crate::render::content_hash(&stack.body),
        parameters_sha256: String::new(),
        live: live.map(LiveStack::fingerprint),
        change_set: None,
        inputs_after_apply: true,
    }
}

impl SavedPlan {
    /// Reads a plan file: a file that is not one, or of another format, is refused.
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
        let plan: Self = serde_json::from_str(&text)
            .map_err(|e| format!("line {}, column {}: {e}", e.line(), e.column()))?;
        if plan.format != FORMAT {
            return Err(format!(
                "format {} (this facturactl reads format {FORMAT})",
                plan.format
            ));
        }
        Ok(plan)
    }

    /// Writes the plan whole or not at all (a temporary file renamed over it).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(".partial");
        std::fs::write(&temporary, format!("{text}\n"))?;
        std::fs::rename(&temporary, path)
    }

    /// Each stack's entry, by the stack's name in the configuration.
    pub fn by_stack(&self) -> BTreeMap<String, SavedStack> {
        self.stacks
            .iter()
            .map(|s| (s.stack.clone(), s.clone()))
            .collect()
    }

    /// Checks, read-only, that the plan can be executed as it was approved: the same
    /// target, the same stacks in the same state, the same templates and parameters, and
    /// change sets still executable. Returns the replacements and deletions its change
    /// sets hold (what a confirmation lists).
    pub async fn check(
        &self,
        aws: &AwsContext,
        account_id: &str,
        rendered: &RenderedEnv,
    ) -> Result<Vec<String>, CheckError> {
        let planned_target = format!("{} ({} {})", self.environment, self.account_id, self.region);
        let now_target = format!("{} ({account_id} {})", rendered.environment, aws.region);
        if planned_target != now_target {
            return Err(Moved::OtherTarget {
                planned: planned_target,
                now: now_target,
            }
            .into());
        }
        let planned: Vec<String> = self.stacks.iter().map(|s| s.stack.clone()).collect();
        let now: Vec<String> = rendered.stacks.iter().map(|s| s.name.clone()).collect();
        if planned != now {
            return Err(Moved::Stacks { planned, now }.into());
        }
        let live = super::live::all(&aws.cloudformation).await?;
        let outputs = super::live::outputs_by_stack(rendered, &live);
        for (saved, stack) in self.stacks.iter().zip(&rendered.stacks) {
            let current = live.get(&stack.stack_name);
            check_stack(saved, stack, current, &outputs)?;
        }
        // The change sets, all at once: each must still be executable.
        let described = futures_util::future::join_all(self.with_change_sets().filter_map(|s| {
            s.change_set
                .as_ref()
                .map(|id| describe(aws, s.stack.clone(), s.stack_name.clone(), id.clone()))
        }))
        .await;
        let mut destructive = Vec::new();
        for (result, saved) in described.into_iter().zip(self.with_change_sets()) {
            destructive.extend(super::events::destructive(&saved.stack, &result?));
        }
        Ok(destructive)
    }

    fn with_change_sets(&self) -> impl Iterator<Item = &SavedStack> {
        self.stacks.iter().filter(|s| s.change_set.is_some())
    }
}

/// One stack: its state and what the deploy would send now, against the plan.
fn check_stack(
    saved: &SavedStack,
    stack: &RenderedStack,
    current: Option<&LiveStack>,
    outputs: &BTreeMap<String, BTreeMap<String, String>>,
) -> Result<(), Moved> {
    let moved = |what: String| Moved::Stack {
        stack: stack.name.clone(),
        what,
    };
    match (&saved.live, current) {
        (Some(fingerprint), Some(live)) if *fingerprint != live.fingerprint() => {
            return Err(moved(format!("it is {} now", live.status)));
        }
        (Some(_), None) => return Err(moved("it was deleted".into())),
        // To create: only the review stack its change set made may be there.
        (None, Some(live))
            if saved.change_set.is_none() || live.condition() != Condition::ReviewOnly =>
        {
            return Err(moved(format!("it exists now ({})", live.status)));
        }
        _ => {}
    }
    if saved.inputs_after_apply {
        if crate::render::content_hash(&stack.body) != saved.template_sha256 {
            return Err(Moved::Configuration {
                stack: stack.name.clone(),
                what: Planned::Template,
            });
        }
        return Ok(());
    }
    // Nothing is applied yet: the outputs it takes are the ones it was planned with.
    let Ok(params) = super::desired::desired_parameters(stack, outputs) else {
        return Err(Moved::Configuration {
            stack: stack.name.clone(),
            what: Planned::Parameters,
        });
    };
    let restamped = crate::render::restamp_api(stack, &params);
    let stack = restamped.as_ref().unwrap_or(stack);
    if crate::render::content_hash(&stack.body) != saved.template_sha256 {
        return Err(Moved::Configuration {
            stack: stack.name.clone(),
            what: Planned::Template,
        });
    }
    if parameters_hash(&params) != saved.parameters_sha256 {
        return Err(Moved::Configuration {
            stack: stack.name.clone(),
            what: Planned::Parameters,
        });
    }
    Ok(())
}

/// A kept change set, still executable: its resource changes.
async fn describe(
    aws: &AwsContext,
    stack: String,
    stack_name: String,
    id: String,
) -> Result<Vec<super::events::ResourceChange>, CheckError> {
    let out = aws
        .cloudformation
        .describe_change_set()
        .stack_name(&stack_name)
        .change_set_name(&id)
        .send()
        .await;
    let out = match out {
        Ok(out) => out,
        Err(e) => {
            let error = AwsError::new("DescribeChangeSet", e);
            if error.code.as_deref() == Some("ChangeSetNotFound") {
                return Err(Moved::ChangeSet {
                    stack,
                    status: "deleted".into(),
                }
                .into());
            }
            return Err(error.into());
        }
    };
    let status = out
        .status()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default();
    let execution = out
        .execution_status()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default();
    if status != "CREATE_COMPLETE" || execution != "AVAILABLE" {
        return Err(Moved::ChangeSet {
            stack,
            status: format!("{status}, {execution}"),
        }
        .into());
    }
    Ok(super::events::resource_changes(out.changes()))
}

/// Deletes the change sets of `stacks` that were kept (and the review stack a kept CREATE
/// change set made), best effort: a plan that is not saved leaves nothing behind.
pub async fn discard(aws: &AwsContext, stacks: &[SavedStack]) {
    let cfn = &aws.cloudformation;
    let deletions = stacks.iter().filter_map(|s| {
        let id = s.change_set.as_ref()?;
        Some(async move {
            let _ = cfn
                .delete_change_set()
                .stack_name(&s.stack_name)
                .change_set_name(id)
                .send()
                .await;
            if s.live.is_none() {
                let _ = cfn.delete_stack().stack_name(&s.stack_name).send().await;
            }
        })
    });
    futures_util::future::join_all(deletions).await;
}

/// A check that found the plan moved, or could not read what it compares.
#[derive(Debug)]
pub enum CheckError {
    Moved(Moved),
    Aws(AwsError),
}

impl From<Moved> for CheckError {
    fn from(m: Moved) -> Self {
        Self::Moved(m)
    }
}

impl From<AwsError> for CheckError {
    fn from(e: AwsError) -> Self {
        Self::Aws(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> SavedPlan {
        SavedPlan {
            format: FORMAT,
            environment: "production".into(),
            account_id: "345678901234".into(),
            region: "eu-west-1".into(),
            created_at: "2026-12-06T10:00:00Z".into(),
            promotion: None,
            stacks: vec![SavedStack {
                stack: "auth".into(),
                stack_name: "facturascan-production-auth".into(),
                template_sha256: "sha256:aa".into(),
                parameters_sha256: parameters_hash(&BTreeMap::new()),
                live: Some("sha256:bb".into()),
                change_set: Some(
                    "arn:aws:cloudformation:eu-west-1:345678901234:changeSet/x/y".into(),
                ),
                inputs_after_apply: false,
            }],
        }
    }

    #[test]
    fn a_plan_file_reads_back_as_written_and_anything_else_is_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("p.json");
        plan().write(&path).expect("written");
        assert_eq!(SavedPlan::read(&path), Ok(plan()));
        assert!(!dir.path().join("p.json.partial").exists());
        let text = std::fs::read_to_string(&path).expect("read");
        std::fs::write(&path, text.replace("\"format\": 1", "\"format\": 2")).expect("w");
        assert!(SavedPlan::read(&path).is_err_and(|e| e.contains("format 2")));
        std::fs::write(&path, "{\"format\": 1, \"extra\": true}").expect("w");
        assert!(SavedPlan::read(&path).is_err_and(|e| e.contains("line 1")));
        assert!(SavedPlan::read(&dir.path().join("missing.json")).is_err());
    }

    #[test]
    fn parameters_hash_over_names_and_values() {
        let one = BTreeMap::from([("A".to_string(), "1".to_string())]);
        let other = BTreeMap::from([("A".to_string(), "2".to_string())]);
        assert_ne!(parameters_hash(&one), parameters_hash(&other));
        assert_eq!(parameters_hash(&one), parameters_hash(&one.clone()));
    }
}
