//! The retraining audit: each rendered training schedule (`AWS::Scheduler::Schedule`)
//! against the live one (GetSchedule): present, the same expression and time zone,
//! enabled, and starting the job's task definition. The drift alarms are alarm
//! definitions, audited with the others by `audit alarms`.

use aws_sdk_scheduler::operation::get_schedule::GetScheduleOutput;
use yaml_serde::Value;

use super::{Finding, Severity};
use crate::aws::{AwsContext, AwsError};
use crate::render::RenderedEnv;

/// One schedule as the template defines it.
struct Defined<'a> {
    name: &'a str,
    expression: &'a str,
    timezone: &'a str,
    state: &'a str,
}

pub async fn schedules(aws: &AwsContext, rendered: &RenderedEnv) -> Result<Vec<Finding>, AwsError> {
    let mut findings = Vec::new();
    for stack in &rendered.stacks {
        for (_, resource) in stack.resources_of_type("AWS::Scheduler::Schedule") {
            let Some(defined) = defined(resource) else {
                continue;
            };
            match aws.scheduler.get_schedule().name(defined.name).send().await {
                Ok(live) => findings.extend(compare(&defined, &live)),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_not_found_exception()) =>
                {
                    findings.push(Finding::new(
                        Severity::High,
                        "retraining.schedule",
                        format!("schedule {}", defined.name),
                        "present",
                        "missing: no scheduled retraining runs",
                        format!("`facturactl deploy` recreates it (stack {})", stack.name),
                    ));
                }
                Err(e) => return Err(AwsError::new("GetSchedule", e)),
            }
        }
    }
    Ok(findings)
}

fn defined(resource: &Value) -> Option<Defined<'_>> {
    let props = resource.get("Properties")?;
    let text = |key: &str| props.get(key).and_then(Value::as_str);
    Some(Defined {
        name: text("Name")?,
        expression: text("ScheduleExpression")?,
        timezone: text("ScheduleExpressionTimezone").unwrap_or("UTC"),
        state: text("State").unwrap_or("ENABLED"),
    })
}

fn compare(defined: &Defined<'_>, live: &GetScheduleOutput) -> Vec<Finding> {
    let resource = format!("schedule {}", defined.name);
    // A deploy would not: CloudFormation updates what the template changes, not drift.
    let fix = "set it back to the template's value (`aws scheduler update-schedule`); a deploy leaves drift alone unless the template changes";
    let mut out = Vec::new();
    let mut differ = |field: &str, expected: &str, actual: &str| {
        if expected != actual {
            out.push(Finding::new(
                Severity::Medium,
                "retraining.schedule",
                format!("{resource} {field}"),
                expected,
                actual,
                fix,
            ));
        }
    };
    differ(
        "expression",
        defined.expression,
        live.schedule_expression().unwrap_or("-"),
    );
    differ(
        "timezone",
        defined.timezone,
        live.schedule_expression_timezone().unwrap_or("UTC"),
    );
    differ(
        "state",
        defined.state,
        live.state().map(|s| s.as_str()).unwrap_or("-"),
    );
    // The target is the run's state machine, named as the template names the schedule
    // (both `<prefix>-<model>-training`): `...:stateMachine:<name>`.
    let target = live.target().map(|t| t.arn()).unwrap_or("-");
    let machine = target
        .split_once(":stateMachine:")
        .map_or(target, |(_, name)| name);
    differ("target", defined.name, machine);
    out
}
