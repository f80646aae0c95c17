//! ECS Fargate rolling updates: a new task definition revision with only the image (and the
//! configured environment, secrets, cpu and memory) changed, the service updated, and the
//! rollout watched until its PRIMARY deployment is COMPLETED on the new revision.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use aws_sdk_ecs::types::{ContainerDefinition, Deployment, KeyValuePair, Secret, Service};

use super::{AlarmWatch, Rollout, RolloutError, ServiceContext};
use crate::aws::AwsError;
use crate::config::{EcsService, SecretRef};
use crate::progress::Progress;

/// What one look at the service says about the rollout of `new_task_definition`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Done,
    Waiting(String),
    Failed(String),
}

/// Judges a DescribeServices snapshot. ECS makes the new deployment PRIMARY at once; a
/// circuit-breaker rollback makes the old revision PRIMARY again, so a PRIMARY on any other
/// revision means the new one was rolled back, however stable the service looks.
pub fn judge(service: &Service, new_task_definition: &str) -> Verdict {
    let Some(primary) = service
        .deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"))
    else {
        return Verdict::Waiting("no PRIMARY deployment yet".into());
    };
    let state = primary
        .rollout_state()
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|| "UNKNOWN".into());
    let reason = primary.rollout_state_reason().unwrap_or_default();
    if primary.task_definition() != Some(new_task_definition) {
        return Verdict::Failed(format!(
            "rolled back: the PRIMARY deployment runs {} ({state}){}",
            short(primary.task_definition().unwrap_or("?")),
            if reason.is_empty() {
                String::new()
            } else {
                format!(": {reason}")
            }
        ));
    }
    match state.as_str() {
        "FAILED" => Verdict::Failed(format!("deployment FAILED: {reason}")),
        "COMPLETED" if running_matches(primary) => Verdict::Done,
        _ => Verdict::Waiting(format!(
            "{state}, running {} of {}",
            primary.running_count(),
            primary.desired_count()
        )),
    }
}

fn running_matches(d: &Deployment) -> bool {
    d.running_count() == d.desired_count()
}

/// `family:revision` of a task definition ARN.
pub fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// Rolls `image_uri` out to the service; `Unchanged` when it already runs it with the
/// configured settings (nothing written).
pub async fn roll_out(
    ctx: &ServiceContext<'_>,
    ecs: &EcsService,
    image_uri: &str,
    alarms: &AlarmWatch<'_>,
) -> Result<Rollout, RolloutError> {
    let aws = ctx.aws;
    let service = describe(ctx).await?;
    let current_arn = service
        .task_definition()
        .ok_or_else(|| RolloutError::new(format!("service {} has no task definition", ctx.name)))?
        .to_string();
    let current = aws
        .ecs
        .describe_task_definition()
        .task_definition(&current_arn)
        .send()
        .await
        .map_err(|e| AwsError::new("DescribeTaskDefinition", e))?
        .task_definition
        .ok_or_else(|| RolloutError::new(format!("task definition {current_arn} not found")))?;
    let containers = desired_containers(ctx, current.container_definitions(), ecs, image_uri)?;
    let cpu = ecs.cpu.to_string();
    let memory = ecs.memory.to_string();
    let old_image = image_of(ctx.name, current.container_definitions()).unwrap_or_default();
    if containers == normalized(current.container_definitions())
        && current.cpu() == Some(cpu.as_str())
        && current.memory() == Some(memory.as_str())
    {
        return Ok(
            Rollout::unchanged(old_image.clone(), old_image).with_task_definition(&current_arn)
        );
    }
    let registered = aws
        .ecs
        .register_task_definition()
        .family(current.family().unwrap_or(ctx.name))
        .set_task_role_arn(current.task_role_arn().map(str::to_string))
        .set_execution_role_arn(current.execution_role_arn().map(str::to_string))
        .set_network_mode(current.network_mode().cloned())
        .set_requires_compatibilities(Some(current.requires_compatibilities().to_vec()))
        .set_runtime_platform(current.runtime_platform().cloned())
        .set_volumes(Some(current.volumes().to_vec()))
        .cpu(cpu)
        .memory(memory)
        .set_container_definitions(Some(containers))
        .send()
        .await
        .map_err(|e| AwsError::new("RegisterTaskDefinition", e))?;
    let new_arn = registered
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .ok_or_else(|| RolloutError::new("RegisterTaskDefinition returned no ARN".into()))?
        .to_string();
    ctx.progress.send(Progress::ServiceEvent {
        service: ctx.name.to_string(),
        message: format!("registered {}; updating the service", short(&new_arn)),
    });
    // Events from before this update are history: only newer ones are shown.
    let mut seen: BTreeSet<String> = service
        .events()
        .iter()
        .filter_map(|e| e.id().map(str::to_string))
        .collect();
    aws.ecs
        .update_service()
        .cluster(&ctx.cluster)
        .service(ctx.name)
        .task_definition(&new_arn)
        .send()
        .await
        .map_err(|e| AwsError::new("UpdateService", e))?;
    let rollout = Rollout::changed(old_image, image_uri.to_string(), image_uri.to_string())
        .with_task_definition(&new_arn)
        .with_detail(format!("{} -> {}", short(&current_arn), short(&new_arn)));
    wait(ctx, ecs, &new_arn, alarms, &mut seen)
        .await
        .map(|()| rollout.clone())
        .map_err(|e| e.with_rollout(rollout))
}

/// The container definitions of the new revision: the current ones, with the service's
/// container given the new image and the configured environment and secrets.
fn desired_containers(
    ctx: &ServiceContext<'_>,
    current: &[ContainerDefinition],
    ecs: &EcsService,
    image_uri: &str,
) -> Result<Vec<ContainerDefinition>, RolloutError> {
    let name = ctx.name;
    if !current.iter().any(|c| c.name() == Some(name)) {
        return Err(RolloutError::new(format!(
            "the task definition has no container named `{name}`"
        )));
    }
    Ok(current
        .iter()
        .map(|c| {
            if c.name() != Some(name) {
                return c.clone();
            }
            let mut environment: Vec<KeyValuePair> = c
                .environment()
                .iter()
                .filter(|kv| kv.name().is_none_or(|n| !ecs.environment.contains_key(n)))
                .cloned()
                .collect();
            environment.extend(
                ecs.environment
                    .iter()
                    .map(|(k, v)| KeyValuePair::builder().name(k).value(v).build()),
            );
            environment.sort_by(|a, b| a.name().cmp(&b.name()));
            let mut secrets: Vec<Secret> = ecs
                .secrets
                .iter()
                .filter_map(|(key, reference)| {
                    Secret::builder()
                        .name(key)
                        .value_from(secret_arn(ctx, reference)?)
                        .build()
                        .ok()
                })
                .collect();
            secrets.sort_by(|a, b| a.name().cmp(b.name()));
            let mut c = c.clone();
            c.image = Some(image_uri.to_string());
            c.environment = Some(environment);
            c.secrets = (!secrets.is_empty()).then_some(secrets);
            c
        })
        .collect())
}

/// The ARN ECS injects a configured secret from (as the template writes it).
fn secret_arn(ctx: &ServiceContext<'_>, reference: &SecretRef) -> Option<String> {
    let env = &ctx.config.environment;
    match reference {
        SecretRef::Ssm(path) => Some(format!(
            "arn:aws:ssm:{}:{}:parameter{path}",
            env.region, env.account_id
        )),
        SecretRef::SecretsManager(name) => Some(format!(
            "arn:aws:secretsmanager:{}:{}:secret:{name}",
            env.region, env.account_id
        )),
        // Refused by validation for ECS: the task cannot read the deployer's variables.
        SecretRef::Env(_) => None,
    }
}

/// Container definitions with environment and secrets in name order, as
/// [`desired_containers`] writes them, so that order alone never counts as a change.
fn normalized(containers: &[ContainerDefinition]) -> Vec<ContainerDefinition> {
    containers
        .iter()
        .map(|c| {
            let mut c = c.clone();
            if let Some(env) = c.environment.as_mut() {
                env.sort_by(|a, b| a.name().cmp(&b.name()));
            }
            if let Some(secrets) = c.secrets.as_mut() {
                secrets.sort_by(|a, b| a.name().cmp(b.name()));
            }
            if c.secrets.as_ref().is_some_and(Vec::is_empty) {
                c.secrets = None;
            }
            c
        })
        .collect()
}

fn image_of(name: &str, containers: &[ContainerDefinition]) -> Option<String> {
    containers
        .iter()
        .find(|c| c.name() == Some(name))
        .and_then(|c| c.image())
        .map(str::to_string)
}

async fn describe(ctx: &ServiceContext<'_>) -> Result<Service, RolloutError> {
    let out = ctx
        .aws
        .ecs
        .describe_services()
        .cluster(&ctx.cluster)
        .services(ctx.name)
        .send()
        .await
        .map_err(|e| AwsError::new("DescribeServices", e))?;
    out.services()
        .iter()
        .find(|s| s.status() != Some("INACTIVE"))
        .cloned()
        .ok_or_else(|| {
            RolloutError::new(format!(
                "service {} not found in cluster {}: deploy its stack first",
                ctx.name, ctx.cluster
            ))
        })
}

/// Polls until the rollout ends or the deadline passes, showing new service events, the
/// reasons of stopped tasks and alarm changes once each.
async fn wait(
    ctx: &ServiceContext<'_>,
    ecs: &EcsService,
    new_arn: &str,
    alarms: &AlarmWatch<'_>,
    seen: &mut BTreeSet<String>,
) -> Result<(), RolloutError> {
    let deadline = Duration::from_secs(u64::from(ecs.rollout.deadline_seconds));
    let started = Instant::now();
    let mut delay = ctx.poll.first;
    let mut last;
    let mut alarm_states = std::collections::BTreeMap::new();
    loop {
        let service = describe(ctx).await?;
        let mut fresh: Vec<_> = service
            .events()
            .iter()
            .filter(|e| e.id().is_some_and(|id| !seen.contains(id)))
            .collect();
        fresh.reverse(); // ECS lists newest first
        for event in fresh {
            seen.insert(event.id().unwrap_or_default().to_string());
            ctx.say(event.message().unwrap_or_default());
        }
        stopped_tasks(ctx, new_arn, seen).await?;
        for (alarm, state) in alarms.states().await? {
            if alarm_states.get(&alarm) != Some(&state) {
                ctx.say(&format!("alarm {alarm} is {state}"));
                alarm_states.insert(alarm, state);
            }
        }
        match judge(&service, new_arn) {
            Verdict::Done => return Ok(()),
            Verdict::Failed(reason) => return Err(RolloutError::new(reason)),
            Verdict::Waiting(state) => last = state,
        }
        if started.elapsed() + delay > deadline {
            return Err(RolloutError::new(format!(
                "not finished within {} s (deadline_seconds): {last}",
                deadline.as_secs()
            )));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(ctx.poll.max);
    }
}

/// Shows why tasks of the new revision stopped (image pull errors, failed health checks).
async fn stopped_tasks(
    ctx: &ServiceContext<'_>,
    new_arn: &str,
    seen: &mut BTreeSet<String>,
) -> Result<(), RolloutError> {
    let listed = ctx
        .aws
        .ecs
        .list_tasks()
        .cluster(&ctx.cluster)
        .service_name(ctx.name)
        .desired_status(aws_sdk_ecs::types::DesiredStatus::Stopped)
        .send()
        .await
        .map_err(|e| AwsError::new("ListTasks", e))?;
    let arns: Vec<String> = listed
        .task_arns()
        .iter()
        .filter(|a| !seen.contains(*a))
        .take(100)
        .cloned()
        .collect();
    if arns.is_empty() {
        return Ok(());
    }
    let tasks = ctx
        .aws
        .ecs
        .describe_tasks()
        .cluster(&ctx.cluster)
        .set_tasks(Some(arns))
        .send()
        .await
        .map_err(|e| AwsError::new("DescribeTasks", e))?;
    for task in tasks.tasks() {
        let arn = task.task_arn().unwrap_or_default().to_string();
        seen.insert(arn.clone());
        if task.task_definition_arn() == Some(new_arn) {
            ctx.say(&format!(
                "task {} stopped: {}",
                arn.rsplit('/').next().unwrap_or(&arn),
                task.stopped_reason().unwrap_or("no reason given")
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::types::DeploymentRolloutState;

    fn deployment(
        status: &str,
        td: &str,
        state: DeploymentRolloutState,
        running: i32,
    ) -> Deployment {
        Deployment::builder()
            .status(status)
            .task_definition(td)
            .rollout_state(state)
            .rollout_state_reason("reason")
            .desired_count(2)
            .running_count(running)
            .build()
    }

    fn service(deployments: Vec<Deployment>) -> Service {
        Service::builder()
            .set_deployments(Some(deployments))
            .build()
    }

    const NEW: &str = "arn:aws:ecs:eu-west-1:1:task-definition/ocr:8";
    const OLD: &str = "arn:aws:ecs:eu-west-1:1:task-definition/ocr:7";

    #[test]
    fn completed_on_the_new_revision_with_all_tasks_running_is_done() {
        let s = service(vec![deployment(
            "PRIMARY",
            NEW,
            DeploymentRolloutState::Completed,
            2,
        )]);
        assert_eq!(judge(&s, NEW), Verdict::Done);
    }

    #[test]
    fn in_progress_or_short_of_tasks_waits() {
        let s = service(vec![
            deployment("PRIMARY", NEW, DeploymentRolloutState::InProgress, 1),
            deployment("ACTIVE", OLD, DeploymentRolloutState::Completed, 2),
        ]);
        assert_eq!(
            judge(&s, NEW),
            Verdict::Waiting("IN_PROGRESS, running 1 of 2".into())
        );
        let s = service(vec![deployment(
            "PRIMARY",
            NEW,
            DeploymentRolloutState::Completed,
            1,
        )]);
        assert!(matches!(judge(&s, NEW), Verdict::Waiting(_)));
    }

    #[test]
    fn failed_and_rolled_back_are_failures() {
        let s = service(vec![deployment(
            "PRIMARY",
            NEW,
            DeploymentRolloutState::Failed,
            0,
        )]);
        assert_eq!(
            judge(&s, NEW),
            Verdict::Failed("deployment FAILED: reason".into())
        );
        // Stable, complete, every task running: on the old revision, so a failure.
        let s = service(vec![deployment(
            "PRIMARY",
            OLD,
            DeploymentRolloutState::Completed,
            2,
        )]);
        assert_eq!(
            judge(&s, NEW),
            Verdict::Failed(
                "rolled back: the PRIMARY deployment runs ocr:7 (COMPLETED): reason".into()
            )
        );
    }
}
