//! `plan`: what deploying now would do to each stack, from change sets that are created,
//! read and deleted again (nothing is applied).

use super::template::{self, TemplateBucket};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_cloudformation::types::{Capability, ChangeSetType, Parameter};
use serde::Serialize;

use super::desired::{desired_parameters, desired_tags, differences};
use super::events::ResourceChange;
use super::live::{self, Condition};
use crate::aws::AwsContext;
use crate::aws::AwsError;
use crate::render::{RenderedEnv, RenderedStack};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanAction {
    Create,
    Update,
    NoChange,
    /// The stack is in a state a deploy would refuse or wait for.
    Blocked,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ParameterChange {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    pub to: String,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct StackPlan {
    pub stack: String,
    pub stack_name: String,
    pub action: PlanAction,
    /// What differs (template, parameter X, tag Y...), for updates.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<ParameterChange>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_diff: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Replacements CloudFormation would refuse: resources whose custom name stays while a
    /// change requires a new resource. A deploy of this stack would fail and roll back.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreplaceable: Vec<super::replacements::NamedReplacement>,
    /// What `plan --save` keeps of it (the change set left for `deploy --plan`); `None`
    /// when it was not asked, or when this stack could not be executed as planned.
    #[serde(skip)]
    pub saved: Option<super::saved::SavedStack>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Plan {
    pub environment: String,
    pub stacks: Vec<StackPlan>,
    /// Stacks of this environment the configuration no longer defines (a change:
    /// `--detailed-exitcode` counts them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub orphaned: Vec<super::live::Orphan>,
    /// A promotion's plan (`promote --dry-run`): the release and the artifacts it applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promotion: Option<PlannedRelease>,
    /// Where the plan was saved (`--save FILE`): `deploy --plan FILE` applies exactly it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saved_to: Option<String>,
}

/// What a promotion would apply besides its stacks.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PlannedRelease {
    pub from: String,
    /// The source's record it promotes.
    pub record: String,
    pub commit: String,
    /// Each service's artifact: an image digest, or a package's CodeSha256.
    pub artifacts: BTreeMap<String, String>,
    /// Models the promotion copies into the target's registry first (planned where the
    /// copy will be: the registry is content-addressed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pending_models: Vec<String>,
}

impl Plan {
    /// The replacements and deletions a plan would make, one line each.
    pub fn destructive_changes(&self) -> Vec<String> {
        self.stacks
            .iter()
            .flat_map(|s| super::events::destructive(&s.stack, &s.resources))
            .collect()
    }

    pub fn has_changes(&self) -> bool {
        self.stacks.iter().any(|s| s.action != PlanAction::NoChange) || !self.orphaned.is_empty()
    }

    /// What `plan --save` keeps of each stack: every stack must be executable as planned
    /// (no input waiting for a stack not yet deployed, none busy, none CloudFormation
    /// would refuse to replace).
    pub fn saved(&self) -> Result<Vec<super::saved::SavedStack>, super::saved::Unsavable> {
        self.stacks
            .iter()
            .map(|s| {
                let unsavable = |why: String| super::saved::Unsavable {
                    stack: s.stack.clone(),
                    why,
                };
                if !s.unreplaceable.is_empty() || s.action == PlanAction::Blocked {
                    return Err(unsavable(s.note.clone().unwrap_or_default()));
                }
                s.saved.clone().ok_or_else(|| {
                    unsavable(format!(
                        "cannot be planned whole: {}",
                        s.note.as_deref().unwrap_or("no change set")
                    ))
                })
            })
            .collect()
    }

    /// The change sets this plan kept, to delete when it is not saved after all.
    pub fn kept(&self) -> Vec<super::saved::SavedStack> {
        self.stacks.iter().filter_map(|s| s.saved.clone()).collect()
    }

    pub fn count(&self, action: PlanAction) -> usize {
        self.stacks.iter().filter(|s| s.action == action).count()
    }
}

/// How a plan is made.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlanOptions<'a> {
    pub only: Option<&'a BTreeSet<String>>,
    /// Each stack's template diff.
    pub diff: bool,
    /// Keep the change sets (`plan --save`): each stack's [`StackPlan::saved`] names its.
    pub keep: bool,
}

pub async fn plan(
    aws: &AwsContext,
    rendered: &RenderedEnv,
    options: PlanOptions<'_>,
    templates: &TemplateBucket,
) -> Result<Plan, AwsError> {
    let (only, with_diff) = (options.only, options.diff);
    let live = live::all(&aws.cloudformation).await?;
    let outputs = live::outputs_by_stack(rendered, &live);
    let selected = rendered
        .stacks
        .iter()
        .filter(|s| only.is_none_or(|o| o.contains(&s.name)));
    // Plans are independent of each other: ask for all of them at once.
    let plans = futures_util::future::join_all(selected.map(|stack| {
        let live = live.get(&stack.stack_name);
        plan_stack(
            aws,
            stack,
            live,
            &outputs,
            (with_diff, options.keep),
            templates,
        )
    }))
    .await;
    Ok(Plan {
        environment: rendered.environment.clone(),
        stacks: plans.into_iter().collect::<Result<_, _>>()?,
        orphaned: live::orphans_of(rendered, &live),
        promotion: None,
        saved_to: None,
    })
}

async fn plan_stack(
    aws: &AwsContext,
    stack: &RenderedStack,
    live: Option<&live::LiveStack>,
    outputs: &BTreeMap<String, BTreeMap<String, String>>,
    (with_diff, keep): (bool, bool),
    templates: &TemplateBucket,
) -> Result<StackPlan, AwsError> {
    let params = desired_parameters(stack, outputs);
    // The API deployment's id over the inputs' values too, as the deploy will send it.
    let restamped = params
        .as_ref()
        .ok()
        .and_then(|p| crate::render::restamp_api(stack, p));
    let stack = restamped.as_ref().unwrap_or(stack);
    let masked = masked_parameters(stack);
    let mut plan = StackPlan {
        stack: stack.name.clone(),
        stack_name: stack.stack_name.clone(),
        action: PlanAction::NoChange,
        reasons: Vec::new(),
        parameters: Vec::new(),
        resources: Vec::new(),
        template_diff: None,
        note: None,
        unreplaceable: Vec::new(),
        saved: None,
    };
    let Some(live) = live else {
        plan.action = PlanAction::Create;
        match &params {
            Ok(params) => {
                let kind = ChangeSetType::Create;
                let (resources, kept) =
                    change_set(aws, stack, params, kind, templates, keep).await?;
                plan.resources = resources;
                plan.saved = keep.then(|| super::saved::entry(stack, params, None, kept));
            }
            Err(_) => {
                plan.note = Some("parameters are known once the stacks it depends on are deployed: resources listed from the template".into());
                plan.resources = template_resources(stack);
                plan.saved = keep.then(|| super::saved::after_apply(stack, None));
            }
        }
        if with_diff {
            plan.template_diff = Some(diff("", &stack.body));
        }
        return Ok(plan);
    };
    if live.condition() != Condition::Stable {
        plan.action = PlanAction::Blocked;
        plan.note = Some(format!(
            "{} is {}: a deploy would wait for it or refuse",
            live.name, live.status
        ));
        return Ok(plan);
    }
    let Ok(params) = params else {
        // No change set without every parameter; what the templates alone say is still
        // said: the replacements CloudFormation would refuse, and the diff.
        plan.action = PlanAction::Update;
        plan.note = Some("an input comes from a stack that does not have the output yet".into());
        plan.saved = keep.then(|| super::saved::after_apply(stack, Some(live)));
        let known = super::desired::known_parameters(stack, outputs);
        let deployed = deployed_template(aws, stack).await?;
        unreplaceable(&mut plan, &deployed, live, stack, &known);
        if with_diff {
            plan.template_diff = Some(diff(&deployed, &stack.body));
        }
        return Ok(plan);
    };
    plan.reasons = differences(live, &params, stack);
    if plan.reasons.is_empty() {
        plan.saved = keep.then(|| super::saved::entry(stack, &params, Some(live), None));
        return Ok(plan);
    }
    plan.action = PlanAction::Update;
    plan.parameters = params
        .iter()
        .filter(|(k, v)| live.parameters.get(*k) != Some(*v))
        .map(|(k, v)| {
            let mask = |value: &str| {
                if masked.contains(k.as_str()) {
                    "****".to_string()
                } else {
                    value.to_string()
                }
            };
            ParameterChange {
                name: k.clone(),
                from: live.parameters.get(k).map(|f| mask(f)),
                to: mask(v),
            }
        })
        .collect();
    // The deployed template: named replacements CloudFormation would refuse (found here,
    // not in the change set, which does not say so), and the diff when asked.
    let (changes, deployed) = tokio::join!(
        change_set(aws, stack, &params, ChangeSetType::Update, templates, keep),
        deployed_template(aws, stack)
    );
    let (resources, kept) = changes?;
    plan.resources = resources;
    plan.saved = keep.then(|| super::saved::entry(stack, &params, Some(live), kept));
    let deployed = deployed?;
    unreplaceable(&mut plan, &deployed, live, stack, &params);
    if with_diff {
        plan.template_diff = Some(diff(&deployed, &stack.body));
    }
    Ok(plan)
}

async fn deployed_template(aws: &AwsContext, stack: &RenderedStack) -> Result<String, AwsError> {
    let deployed = aws
        .cloudformation
        .get_template()
        .stack_name(&stack.stack_name)
        .send()
        .await
        .map_err(|e| AwsError::new("GetTemplate", e))?;
    Ok(deployed.template_body().unwrap_or_default().to_string())
}

/// The named replacements CloudFormation would refuse (found from the templates: a change
/// set does not say so), the first one named in the plan's note.
fn unreplaceable(
    plan: &mut StackPlan,
    deployed: &str,
    live: &live::LiveStack,
    stack: &RenderedStack,
    params: &BTreeMap<String, String>,
) {
    plan.unreplaceable =
        super::replacements::named(deployed, &live.parameters, &stack.body, params);
    if let Some(first) = plan.unreplaceable.first() {
        plan.note = Some(format!(
            "CloudFormation cannot replace {} `{}` while it keeps its name {}: a deploy would fail and roll back. Change its name in the template (or remove it), then deploy",
            first.resource_type, first.logical_id, first.name
        ));
    }
}

/// Creates a change set, reads its resource changes, and deletes it again (with the
/// placeholder stack a CREATE change set makes), unless it is to be `kept` (and has
/// changes to execute): then its id comes back too.
async fn change_set(
    aws: &AwsContext,
    stack: &RenderedStack,
    params: &BTreeMap<String, String>,
    kind: ChangeSetType,
    templates: &TemplateBucket,
    keep: bool,
) -> Result<(Vec<ResourceChange>, Option<String>), AwsError> {
    let cfn = &aws.cloudformation;
    let (body, url) = template::body_or_url(aws, templates, stack).await?;
    let name = format!(
        "facturactl-plan-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let created = cfn
        .create_change_set()
        .stack_name(&stack.stack_name)
        .change_set_name(&name)
        .change_set_type(kind.clone())
        .set_template_body(body)
        .set_template_url(url)
        .set_parameters(Some(
            params
                .iter()
                .map(|(k, v)| {
                    Parameter::builder()
                        .parameter_key(k)
                        .parameter_value(v)
                        .build()
                })
                .collect(),
        ))
        .set_tags(Some(
            desired_tags(stack)
                .iter()
                .map(|(k, v)| {
                    aws_sdk_cloudformation::types::Tag::builder()
                        .key(k)
                        .value(v)
                        .build()
                })
                .collect(),
        ))
        .capabilities(Capability::CapabilityIam)
        .capabilities(Capability::CapabilityNamedIam)
        .send()
        .await
        .map_err(|e| AwsError::new("CreateChangeSet", e));
    let created = match created {
        Ok(created) => created,
        // What only masked values or tags differed in: CloudFormation makes a change set
        // that fails ("didn't contain changes"); moto refuses the call with these words.
        // Either way there is nothing to execute.
        Err(e) if e.message.contains("No updates are to be performed") => {
            return Ok((Vec::new(), None));
        }
        Err(e) => return Err(e),
    };
    let id = created.id().unwrap_or(&name).to_string();
    let described = wait_for_change_set(aws, &stack.stack_name, &id).await;
    let executable = described
        .as_ref()
        .is_ok_and(|d| d.status().map(|s| s.as_str()) == Some("CREATE_COMPLETE"));
    if keep && executable {
        let described = described?;
        return Ok((
            super::events::resource_changes(described.changes()),
            Some(id),
        ));
    }
    // Clean up whatever happened: a plan leaves nothing behind.
    let _ = cfn
        .delete_change_set()
        .stack_name(&stack.stack_name)
        .change_set_name(&id)
        .send()
        .await;
    if kind == ChangeSetType::Create {
        let _ = cfn
            .delete_stack()
            .stack_name(&stack.stack_name)
            .send()
            .await;
    }
    let described = described?;
    Ok((super::events::resource_changes(described.changes()), None))
}

async fn wait_for_change_set(
    aws: &AwsContext,
    stack_name: &str,
    id: &str,
) -> Result<aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput, AwsError>
{
    let mut delay = Duration::from_millis(200);
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    loop {
        let out = aws
            .cloudformation
            .describe_change_set()
            .stack_name(stack_name)
            .change_set_name(id)
            .send()
            .await
            .map_err(|e| AwsError::new("DescribeChangeSet", e))?;
        let status = out
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default();
        if status == "CREATE_COMPLETE" {
            return Ok(out);
        }
        if status == "FAILED" {
            // "The submitted information didn't contain changes": tags or masked values only.
            return Ok(out);
        }
        if std::time::Instant::now() >= deadline {
            return Err(AwsError::local(
                "DescribeChangeSet",
                None,
                format!("change set for {stack_name} still {status} after 5 minutes"),
            ));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 3 / 2).min(Duration::from_secs(5));
    }
}

fn masked_parameters(stack: &RenderedStack) -> BTreeSet<&str> {
    stack
        .declared_parameters()
        .filter(|(_, v)| {
            v.get("NoEcho")
                .is_some_and(|n| n.as_bool() == Some(true) || n.as_str() == Some("true"))
        })
        .map(|(k, _)| k)
        .collect()
}

fn template_resources(stack: &RenderedStack) -> Vec<ResourceChange> {
    stack
        .resources()
        .map(|(id, r)| ResourceChange {
            action: "Add".into(),
            logical_id: id.to_string(),
            resource_type: r
                .get("Type")
                .and_then(|t| t.as_str())
                .unwrap_or_default()
                .to_string(),
            replacement: None,
        })
        .collect()
}

/// A unified diff of two templates, each normalised first (parsed, keys sorted, printed the
/// same way), so that key order, quoting and whitespace never show.
pub fn diff(deployed: &str, rendered: &str) -> String {
    let before = normalise(deployed);
    let after = normalise(rendered);
    similar::TextDiff::from_lines(&before, &after)
        .unified_diff()
        .context_radius(3)
        .header("deployed", "rendered")
        .to_string()
}

fn normalise(template: &str) -> String {
    if template.trim().is_empty() {
        return String::new();
    }
    match yaml_serde::from_str::<serde_json::Value>(template) {
        Ok(value) => yaml_serde::to_string(&sorted(value)).unwrap_or_default(),
        Err(_) => template.to_string(),
    }
}

fn sorted(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let ordered: BTreeMap<String, serde_json::Value> =
                map.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            serde_json::Value::Object(ordered.into_iter().collect())
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(sorted).collect())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffs_ignore_key_order_quoting_and_whitespace() {
        let deployed = r#"{"Resources": {"B": {"Type": "AWS::SNS::Topic"}, "A": {"Type": "AWS::SQS::Queue"}}}"#;
        let rendered =
            "Resources:\n  A:\n    Type: 'AWS::SQS::Queue'\n  B:   { Type: AWS::SNS::Topic }\n";
        let text = diff(deployed, rendered);
        assert!(
            !text
                .lines()
                .any(|l| l.starts_with('+') && !l.starts_with("+++")),
            "{text}"
        );
        let changed = rendered.replace("AWS::SNS::Topic", "AWS::SNS::Subscription");
        let text = diff(deployed, &changed);
        assert!(text.contains("-    Type: AWS::SNS::Topic"), "{text}");
        assert!(text.contains("+    Type: AWS::SNS::Subscription"), "{text}");
    }
}
