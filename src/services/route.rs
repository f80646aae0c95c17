//! The listener rule that routes an ECS service's path (`[services.<name>.ecs] path`) to
//! its two target groups, the control's and the variant's, with weights. facturactl owns
//! it (README, "Who owns what"): created on the service's first rollout, its weights moved
//! by `traffic`, so no stack update can reset a split in the middle of an experiment.

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, PathPatternConditionConfig, Rule, RuleCondition,
    Tag, TargetGroupTuple,
};

use aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata;

use crate::aws::{AwsContext, AwsError};

/// Rules are tried in priority order; these leave room below for hand-made ones.
const FIRST_PRIORITY: i32 = 100;

/// The rule and each side's target group and weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub rule: String,
    pub control: (String, i32),
    pub variant: (String, i32),
}

impl Route {
    /// The variant's share, in percent of the two weights.
    pub fn variant_percent(&self) -> f64 {
        let total = self.control.1 + self.variant.1;
        if total == 0 {
            0.0
        } else {
            f64::from(self.variant.1) * 100.0 / f64::from(total)
        }
    }
}

/// The rule routing `path` on `listener`, with the weights of `control` and `variant`.
pub async fn find(
    aws: &AwsContext,
    listener: &str,
    path: &str,
    control: &str,
    variant: &str,
) -> Result<Option<Route>, AwsError> {
    let rules = rules(aws, listener).await?;
    Ok(rules
        .iter()
        .find(|rule| routes(rule, path))
        .and_then(|rule| read(rule, control, variant)))
}

/// What [`ensure`] found or made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routed {
    /// A new rule, all traffic on the control.
    Created(Route),
    /// The rule, to the stack's two target groups, as it was.
    Existing(Route),
    /// The rule forwarded to the service's earlier target groups (the stack replaced them:
    /// a new port, or a switch from Lambda and back). The new ones are attached with weight
    /// 0 beside them, so ECS accepts them and no request moves yet; [`settle`] moves the
    /// weights once the service runs in the new groups. `old` is the rule as it was.
    Moving { old: Route },
}

/// The route, created (all traffic on the control) when the listener has none for `path`.
pub async fn ensure(
    aws: &AwsContext,
    listener: &str,
    path: &str,
    service: &str,
    control: &str,
    variant: &str,
) -> Result<Routed, AwsError> {
    let rules = rules(aws, listener).await?;
    if let Some(rule) = rules.iter().find(|rule| routes(rule, path)) {
        if let Some(route) = read(rule, control, variant) {
            return Ok(Routed::Existing(route));
        }
        return match earlier_groups(aws, rule, service).await? {
            Some(old) => {
                attach(aws, &old, control, variant).await?;
                Ok(Routed::Moving { old })
            }
            None => Err(AwsError::local(
                "CreateRule",
                None,
                format!(
                    "{path} is routed by rule {} to other target groups: remove it, then deploy again",
                    rule.rule_arn().unwrap_or("-")
                ),
            )),
        };
    }
    let taken: Vec<i32> = rules
        .iter()
        .filter_map(|r| r.priority()?.parse().ok())
        .collect();
    let priority = (FIRST_PRIORITY..)
        .find(|p| !taken.contains(p))
        .unwrap_or(FIRST_PRIORITY);
    let created = aws
        .elb
        .create_rule()
        .listener_arn(listener)
        .priority(priority)
        .conditions(
            RuleCondition::builder()
                .field("path-pattern")
                .path_pattern_config(PathPatternConditionConfig::builder().values(path).build())
                .build(),
        )
        .actions(forward(&[(control, 100), (variant, 0)]))
        .tags(
            Tag::builder()
                .key("facturactl:service")
                .value(service)
                .build(),
        )
        .send()
        .await
        .map_err(|e| AwsError::new("CreateRule", e))?;
    let rule = created
        .rules()
        .first()
        .and_then(|r| r.rule_arn())
        .unwrap_or_default()
        .to_string();
    Ok(Routed::Created(Route {
        rule,
        control: (control.to_string(), 100),
        variant: (variant.to_string(), 0),
    }))
}

/// The rule's two target groups when the rule and both groups are the service's own
/// (tagged by facturactl and by the ML stack, each group with its side): the groups an
/// earlier stack made. `None` for anything else, which is not ours to move.
async fn earlier_groups(
    aws: &AwsContext,
    rule: &Rule,
    service: &str,
) -> Result<Option<Route>, AwsError> {
    let Some(rule_arn) = rule.rule_arn() else {
        return Ok(None);
    };
    let groups: Vec<(String, i32)> = rule
        .actions()
        .iter()
        .find_map(|a| a.forward_config())
        .map(|f| {
            f.target_groups()
                .iter()
                .filter_map(|g| Some((g.target_group_arn()?.to_string(), g.weight().unwrap_or(1))))
                .collect()
        })
        .unwrap_or_default();
    if groups.len() != 2 {
        return Ok(None);
    }
    let described = aws
        .elb
        .describe_tags()
        .resource_arns(rule_arn)
        .resource_arns(&groups[0].0)
        .resource_arns(&groups[1].0)
        .send()
        .await
        .map_err(|e| AwsError::new("DescribeTags", e))?;
    let tag = |arn: &str, key: &str| {
        described
            .tag_descriptions()
            .iter()
            .find(|d| d.resource_arn() == Some(arn))
            .and_then(|d| d.tags().iter().find(|t| t.key() == Some(key)))
            .and_then(|t| t.value())
            .map(str::to_string)
    };
    let ours = |arn: &str| tag(arn, "facturactl:service").as_deref() == Some(service);
    if !ours(rule_arn) || !groups.iter().all(|(arn, _)| ours(arn)) {
        return Ok(None);
    }
    let side = |name: &str| {
        groups
            .iter()
            .find(|(arn, _)| tag(arn, "facturactl:side").as_deref() == Some(name))
            .cloned()
    };
    Ok(match (side("control"), side("variant")) {
        (Some(control), Some(variant)) => Some(Route {
            rule: rule_arn.to_string(),
            control,
            variant,
        }),
        _ => None,
    })
}

/// Forwards to the earlier groups with their weights and to the new ones with none.
async fn attach(
    aws: &AwsContext,
    old: &Route,
    control: &str,
    variant: &str,
) -> Result<(), AwsError> {
    let groups = [
        (old.control.0.as_str(), old.control.1),
        (old.variant.0.as_str(), old.variant.1),
        (control, 0),
        (variant, 0),
    ];
    modify(aws, &old.rule, &groups).await
}

/// The earlier groups' weights moved onto the new ones, then the earlier groups deleted
/// (CloudFormation could not: the rule forwarded to them; they are outside the stack now).
pub async fn settle(
    aws: &AwsContext,
    old: &Route,
    control: &str,
    variant: &str,
) -> Result<Route, AwsError> {
    let groups = [(control, old.control.1), (variant, old.variant.1)];
    modify(aws, &old.rule, &groups).await?;
    delete_groups(aws, &[&old.control.0, &old.variant.0]).await?;
    Ok(Route {
        rule: old.rule.clone(),
        control: (control.to_string(), old.control.1),
        variant: (variant.to_string(), old.variant.1),
    })
}

/// Deletes the rules of `listener` that forward to any of `groups`.
pub async fn remove_forwarding(
    aws: &AwsContext,
    listener: &str,
    groups: &[&str],
) -> Result<(), AwsError> {
    for rule in rules(aws, listener).await? {
        let forwards = rule
            .actions()
            .iter()
            .filter_map(|a| a.forward_config())
            .flat_map(|f| f.target_groups())
            .any(|g| {
                g.target_group_arn()
                    .is_some_and(|arn| groups.contains(&arn))
            });
        if forwards && let Some(arn) = rule.rule_arn() {
            aws.elb
                .delete_rule()
                .rule_arn(arn)
                .send()
                .await
                .map_err(|e| AwsError::new("DeleteRule", e))?;
        }
    }
    Ok(())
}

/// Deletes target groups; one already gone is fine.
pub async fn delete_groups(aws: &AwsContext, groups: &[&str]) -> Result<(), AwsError> {
    for arn in groups {
        let deleted = aws
            .elb
            .delete_target_group()
            .target_group_arn(*arn)
            .send()
            .await;
        match deleted {
            Ok(_) => {}
            Err(e) if e.code() == Some("TargetGroupNotFound") => {}
            Err(e) => return Err(AwsError::new("DeleteTargetGroup", e)),
        }
    }
    Ok(())
}

async fn modify(aws: &AwsContext, rule: &str, groups: &[(&str, i32)]) -> Result<(), AwsError> {
    aws.elb
        .modify_rule()
        .rule_arn(rule)
        .actions(forward(groups))
        .send()
        .await
        .map_err(|e| AwsError::new("ModifyRule", e))?;
    Ok(())
}

/// Sends `variant_percent` of the path's requests to the variant, the rest to the control.
pub async fn set(aws: &AwsContext, route: &Route, variant_percent: u32) -> Result<Route, AwsError> {
    let variant_percent = variant_percent.min(100) as i32;
    let groups = [
        (route.control.0.as_str(), 100 - variant_percent),
        (route.variant.0.as_str(), variant_percent),
    ];
    modify(aws, &route.rule, &groups).await?;
    Ok(Route {
        rule: route.rule.clone(),
        control: (route.control.0.clone(), 100 - variant_percent),
        variant: (route.variant.0.clone(), variant_percent),
    })
}

/// Deletes the rule routing `path` (before the stack whose target groups it forwards to
/// goes: a target group in use by a rule cannot be deleted). `false`: there was none.
pub async fn remove(aws: &AwsContext, listener: &str, path: &str) -> Result<bool, AwsError> {
    let rules = rules(aws, listener).await?;
    let Some(rule) = rules.iter().find(|rule| routes(rule, path)) else {
        return Ok(false);
    };
    aws.elb
        .delete_rule()
        .rule_arn(rule.rule_arn().unwrap_or_default())
        .send()
        .await
        .map_err(|e| AwsError::new("DeleteRule", e))?;
    Ok(true)
}

/// A forward to `groups` (target group ARN, weight).
fn forward(groups: &[(&str, i32)]) -> Action {
    let mut config = ForwardActionConfig::builder();
    for (arn, weight) in groups {
        config = config.target_groups(
            TargetGroupTuple::builder()
                .target_group_arn(*arn)
                .weight(*weight)
                .build(),
        );
    }
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .forward_config(config.build())
        .build()
}

async fn rules(aws: &AwsContext, listener: &str) -> Result<Vec<Rule>, AwsError> {
    let mut rules = Vec::new();
    let mut marker = None;
    loop {
        let page = aws
            .elb
            .describe_rules()
            .listener_arn(listener)
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| AwsError::new("DescribeRules", e))?;
        rules.extend(page.rules().iter().cloned());
        let next = page.next_marker().map(str::to_string);
        // A marker that does not move would page forever.
        if next.is_none() || next == marker {
            return Ok(rules);
        }
        marker = next;
    }
}

fn routes(rule: &Rule, path: &str) -> bool {
    rule.conditions().iter().any(|c| {
        c.field() == Some("path-pattern")
            && (c.values().iter().any(|v| v == path)
                || c.path_pattern_config()
                    .is_some_and(|p| p.values().iter().any(|v| v == path)))
    })
}

/// The weights of a forward to exactly our two target groups; `None` for a rule that
/// forwards elsewhere (someone else's, or changed by hand: not ours to move).
fn read(rule: &Rule, control: &str, variant: &str) -> Option<Route> {
    let groups = rule
        .actions()
        .iter()
        .find_map(|a| a.forward_config())
        .map(|f| f.target_groups())?;
    let weight = |arn: &str| {
        groups
            .iter()
            .find(|g| g.target_group_arn() == Some(arn))
            .map(|g| g.weight().unwrap_or(1))
    };
    Some(Route {
        rule: rule.rule_arn()?.to_string(),
        control: (control.to_string(), weight(control)?),
        variant: (variant.to_string(), weight(variant)?),
    })
}
