//! ECS Fargate services, which facturactl owns (the stack owns what is around them): each
//! revision is the stack's base task definition with the image set; the service is created
//! on its first image, updated to later revisions, and every rollout is watched until its
//! PRIMARY deployment is COMPLETED on the new revision.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use std::collections::BTreeMap;

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, ContainerDefinition, Deployment, DeploymentCircuitBreaker,
    DeploymentConfiguration, LaunchType, LoadBalancer, NetworkConfiguration, PropagateTags,
    Service, Tag, TaskDefinition,
};

use super::rollout::{
    AlarmWatch, DeploymentFailure, DeploymentState, Rollout, RolloutError, RolloutFailure,
    ServiceContext,
};
use super::route::{Route, Routed};
use crate::aws::{AwsContext, AwsError};
use crate::config::EcsService;

/// What one look at the service says about the rollout of `new_task_definition`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Done,
    Waiting(DeploymentState),
    Failed(DeploymentFailure),
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
        return Verdict::Waiting(DeploymentState::NoPrimary);
    };
    let state = primary
        .rollout_state()
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|| "UNKNOWN".into());
    let reason = primary.rollout_state_reason().unwrap_or_default();
    if primary.task_definition() != Some(new_task_definition) {
        return Verdict::Failed(DeploymentFailure::RolledBack {
            running: short(primary.task_definition().unwrap_or("?")).to_string(),
            state,
            reason: reason.to_string(),
        });
    }
    match state.as_str() {
        "FAILED" => Verdict::Failed(DeploymentFailure::Failed {
            reason: reason.to_string(),
        }),
        "COMPLETED" if running_matches(primary) => Verdict::Done,
        _ => Verdict::Waiting(DeploymentState::Rolling {
            state,
            running: primary.running_count(),
            desired: primary.desired_count(),
        }),
    }
}

fn running_matches(d: &Deployment) -> bool {
    d.running_count() == d.desired_count()
}

/// `family:revision` of a task definition ARN.
pub fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// Where facturactl runs an ECS service it owns, from the outputs of the stack that owns
/// everything around it (README, "Who owns what"): the base task definition (every setting
/// of the task but its image), and the network and load balancer the service joins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub base_task_definition: String,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub target_group: Option<String>,
    /// An A/B-capable service's variant target group and the listener its path joins.
    pub variant_target_group: Option<String>,
    pub listener: Option<String>,
    /// The image the record says the service runs: what it is created on again when it
    /// is missing (deleted by hand, or by the stack that owned it before facturactl did).
    pub recorded_image: Option<String>,
}

impl Placement {
    /// Read from the outputs the ecs-service-outputs partial declares, `None` when the
    /// stack has not declared them (it was deployed by an older template).
    pub fn from_outputs(service: &str, outputs: &BTreeMap<String, String>) -> Option<Self> {
        let id = crate::config::names::logical_id(service);
        let list = |key: &str| -> Option<Vec<String>> {
            let value = outputs.get(&format!("{id}{key}"))?;
            Some(
                value
                    .split(',')
                    .map(str::trim)
                    .map(str::to_string)
                    .collect(),
            )
        };
        Some(Self {
            base_task_definition: outputs.get(&format!("{id}BaseTaskDefinition"))?.clone(),
            subnets: list("Subnets")?,
            security_groups: list("SecurityGroups")?,
            target_group: outputs.get(&format!("{id}TargetGroup")).cloned(),
            variant_target_group: outputs.get(&format!("{id}VariantTargetGroup")).cloned(),
            listener: outputs.get(&format!("{id}Listener")).cloned(),
            recorded_image: None,
        })
    }
}

/// Makes the service run `image` (or, with none given, the image it runs now, else the one
/// the record names) on a revision of the stack's base task definition, creating the
/// service when it does not exist. `None`:
/// the service does not exist and no image was given, so nothing was created.
/// `Unchanged` when it already runs that revision's settings (nothing written).
pub async fn roll_out(
    ctx: &ServiceContext<'_>,
    ecs: &EcsService,
    placement: &Placement,
    image: Option<&str>,
    alarms: &AlarmWatch<'_>,
) -> Result<Option<Rollout>, RolloutError> {
    // First the rule: ECS refuses to create a service in a target group that no listener
    // or rule forwards to yet.
    let moving = route(ctx, ecs, placement).await?;
    let rollout = roll_out_service(ctx, ecs, placement, image, alarms).await?;
    if let Some(old) = moving {
        settle(ctx, ecs, placement, &old).await?;
    }
    Ok(rollout)
}

/// A service with a `path` gets its listener rule (control and variant target groups)
/// before it is created; an existing rule, and so a split in progress, is left as it is.
/// `Some`: the rule forwarded to the service's earlier target groups, which the stack
/// replaced; the new ones are attached beside them until the service runs in them.
async fn route(
    ctx: &ServiceContext<'_>,
    ecs: &EcsService,
    placement: &Placement,
) -> Result<Option<Route>, RolloutError> {
    let (Some(path), Some(listener), Some(control), Some(variant)) = (
        &ecs.path,
        &placement.listener,
        &placement.target_group,
        &placement.variant_target_group,
    ) else {
        return Ok(None);
    };
    match super::route::ensure(ctx.aws, listener, path, ctx.name, control, variant).await? {
        Routed::Created(_) => {
            ctx.say(&format!("routed {path} to {} (variant weight 0)", ctx.name));
            Ok(None)
        }
        Routed::Existing(_) => Ok(None),
        Routed::Moving { old } => {
            ctx.say(&format!(
                "the stack replaced {}'s target groups: the new ones are attached to the {path} rule with weight 0 until the service runs in them",
                ctx.name
            ));
            Ok(Some(old))
        }
    }
}

/// The service runs in the new control group: the `-variant` service (an experiment's)
/// moves to the new variant group, the rule's weights move onto the new groups, and the
/// earlier groups are deleted.
async fn settle(
    ctx: &ServiceContext<'_>,
    ecs: &EcsService,
    placement: &Placement,
    old: &Route,
) -> Result<(), RolloutError> {
    let (Some(control), Some(variant)) = (&placement.target_group, &placement.variant_target_group)
    else {
        return Ok(());
    };
    let variant_name = format!("{}-variant", ctx.name);
    let variant_ctx = ctx.beside(&variant_name);
    if let Some(service) = find(&variant_ctx).await? {
        move_balancer(&variant_ctx, ecs, &service, variant).await?;
    }
    let route = super::route::settle(ctx.aws, old, control, variant).await?;
    ctx.say(&format!(
        "moved the rule to the new target groups (variant {:.0}%) and deleted the earlier ones",
        route.variant_percent()
    ));
    Ok(())
}

/// Moves a running service into `target_group` on its current revision and waits for it.
async fn move_balancer(
    ctx: &ServiceContext<'_>,
    ecs: &EcsService,
    service: &Service,
    target_group: &str,
) -> Result<(), RolloutError> {
    let revision = service.task_definition().unwrap_or_default().to_string();
    let mut seen: BTreeSet<String> = service
        .events()
        .iter()
        .filter_map(|e| e.id().map(str::to_string))
        .collect();
    ctx.aws
        .ecs
        .update_service()
        .cluster(&ctx.cluster)
        .service(ctx.name)
        .task_definition(&revision)
        .set_load_balancers(balancers(ecs, ctx.name, Some(target_group)))
        .send()
        .await
        .map_err(|e| AwsError::new("UpdateService", e))?;
    let unwatched = AlarmWatch::new(ctx.aws, &[], ctx.name);
    wait(ctx, ecs, &revision, &unwatched, &mut seen).await
}

/// The load balancer entry of a service's container in `target_group`.
fn balancers(
    ecs: &EcsService,
    container: &str,
    target_group: Option<&str>,
) -> Option<Vec<LoadBalancer>> {
    match (target_group, ecs.container_port) {
        (Some(target_group), Some(port)) => Some(vec![
            LoadBalancer::builder()
                .target_group_arn(target_group)
                .container_name(container)
                .container_port(i32::from(port))
                .build(),
        ]),
        _ => None,
    }
}

/// Whether the service is in other target groups (or on another port) than `balancers`.
fn balancers_moved(service: &Service, wanted: Option<&[LoadBalancer]>) -> bool {
    let key = |b: &LoadBalancer| (b.target_group_arn().map(str::to_string), b.container_port());
    let now: Vec<_> = service.load_balancers().iter().map(key).collect();
    let wanted: Vec<_> = wanted.unwrap_or_default().iter().map(key).collect();
    !wanted.is_empty() && now != wanted
}

async fn roll_out_service(
    ctx: &ServiceContext<'_>,
    ecs: &EcsService,
    placement: &Placement,
    image: Option<&str>,
    alarms: &AlarmWatch<'_>,
) -> Result<Option<Rollout>, RolloutError> {
    let (service, base) = tokio::join!(
        find(ctx),
        task_definition(ctx, &placement.base_task_definition)
    );
    let (service, base) = (service?, base?);
    let current = match service.as_ref().and_then(Service::task_definition) {
        Some(arn) => Some(task_definition(ctx, arn).await?),
        None => None,
    };
    let old_image = current
        .as_ref()
        .and_then(|td| image_of(ctx.name, td.container_definitions()))
        .unwrap_or_default();
    let kept = (!old_image.is_empty()).then(|| old_image.clone());
    let Some(image) = image
        .map(str::to_string)
        .or(kept)
        .or_else(|| placement.recorded_image.clone())
    else {
        return Ok(None);
    };
    let containers = with_image(ctx.name, base.container_definitions(), &image)?;
    let same_revision = current
        .as_ref()
        .is_some_and(|td| same_task(td, &base, &containers));
    let base_arn = placement.base_task_definition.as_str();
    let wanted = balancers(ecs, ctx.name, placement.target_group.as_deref());
    let moved = service
        .as_ref()
        .is_some_and(|s| balancers_moved(s, wanted.as_deref()));
    if let (Some(service), true, false) = (&service, same_revision, moved) {
        let running = service.task_definition().unwrap_or_default().to_string();
        if service.desired_count() == ecs.desired_count as i32 {
            return Ok(Some(
                Rollout::unchanged(old_image, image)
                    .with_task_definition(&running)
                    .with_base(base_arn),
            ));
        }
    }
    let new_arn = match (&current, same_revision) {
        (Some(td), true) => td.task_definition_arn().unwrap_or_default().to_string(),
        _ => register(ctx, &base, containers).await?,
    };
    let from = current
        .as_ref()
        .and_then(|td| td.task_definition_arn())
        .map_or_else(|| "no service".to_string(), |arn| short(arn).to_string());
    // Events from before this update are history: only newer ones are shown.
    let mut seen: BTreeSet<String> = service
        .iter()
        .flat_map(|s| s.events())
        .filter_map(|e| e.id().map(str::to_string))
        .collect();
    if service.is_some() {
        // A service in the stack's earlier target groups moves with this deployment.
        let balancers = if moved { wanted } else { None };
        update(ctx, ecs, &new_arn, balancers).await?;
    } else {
        create(ctx, ecs, placement, &new_arn).await?;
    }
    let rollout = Rollout::changed(old_image, image.clone(), image)
        .with_task_definition(&new_arn)
        .with_base(base_arn)
        .with_detail(format!("{from} -> {}", short(&new_arn)));
    wait(ctx, ecs, &new_arn, alarms, &mut seen)
        .await
        .map(|()| Some(rollout.clone()))
        .map_err(|e| e.with_rollout(rollout))
}

/// Deletes the service (its tasks stopped), waits until ECS reports it INACTIVE (a cluster
/// with a draining service cannot be deleted), and deregisters facturactl's revisions.
/// `false`: there was no service to delete.
pub async fn remove(ctx: &ServiceContext<'_>) -> Result<bool, RolloutError> {
    let existed = find(ctx).await?.is_some();
    if existed {
        ctx.aws
            .ecs
            .delete_service()
            .cluster(&ctx.cluster)
            .service(ctx.name)
            .force(true)
            .send()
            .await
            .map_err(|e| AwsError::new("DeleteService", e))?;
        ctx.say("deleted; waiting for its tasks to stop");
        let deadline = Instant::now() + Duration::from_secs(600);
        let mut delay = ctx.poll.first;
        while find(ctx).await?.is_some() {
            if Instant::now() + delay > deadline {
                return Err(RolloutError::new(RolloutFailure::StillDraining {
                    service: ctx.name.to_string(),
                    seconds: 600,
                }));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(ctx.poll.max);
        }
    }
    deregister_revisions(ctx).await?;
    Ok(existed)
}

async fn deregister_revisions(ctx: &ServiceContext<'_>) -> Result<(), RolloutError> {
    let revisions: Vec<String> = ctx
        .aws
        .ecs
        .list_task_definitions()
        .family_prefix(family(ctx))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| AwsError::new("ListTaskDefinitions", e))?
        .into_iter()
        // The prefix also matches the stack's `-base` family, which the stack deletes.
        .filter(|arn| {
            short(arn)
                .rsplit_once(':')
                .is_some_and(|(f, _)| f == family(ctx))
        })
        .collect();
    for arn in revisions {
        ctx.aws
            .ecs
            .deregister_task_definition()
            .task_definition(&arn)
            .send()
            .await
            .map_err(|e| AwsError::new("DeregisterTaskDefinition", e))?;
    }
    Ok(())
}

/// The revision's family: facturactl's own, apart from the stack's `-base` family.
fn family(ctx: &ServiceContext<'_>) -> String {
    ctx.config.task_family(ctx.name)
}

/// The settings of `current` are those of `base` with `containers`: nothing to register.
fn same_task(
    current: &TaskDefinition,
    base: &TaskDefinition,
    containers: &[ContainerDefinition],
) -> bool {
    normalized(current.container_definitions()) == normalized(containers)
        && current.family() == base.family().map(|f| f.trim_end_matches("-base"))
        && current.cpu() == base.cpu()
        && current.memory() == base.memory()
        && current.task_role_arn() == base.task_role_arn()
        && current.execution_role_arn() == base.execution_role_arn()
        && current.runtime_platform() == base.runtime_platform()
        && current.network_mode() == base.network_mode()
}

async fn task_definition(
    ctx: &ServiceContext<'_>,
    arn: &str,
) -> Result<TaskDefinition, RolloutError> {
    ctx.aws
        .ecs
        .describe_task_definition()
        .task_definition(arn)
        .send()
        .await
        .map_err(|e| AwsError::new("DescribeTaskDefinition", e))?
        .task_definition
        .ok_or_else(|| {
            RolloutError::new(RolloutFailure::NoTaskDefinition {
                arn: arn.to_string(),
            })
        })
}

/// Registers the base's settings with `containers` in facturactl's family.
async fn register(
    ctx: &ServiceContext<'_>,
    base: &TaskDefinition,
    containers: Vec<ContainerDefinition>,
) -> Result<String, RolloutError> {
    let arn = register_revision(ctx.aws, &family(ctx), ctx.name, base, containers)
        .await?
        .ok_or_else(|| RolloutError::new(RolloutFailure::NoArn))?;
    ctx.say(&format!("registered {}", short(&arn)));
    Ok(arn)
}

/// Registers `base`'s settings with `containers` in `family`, tagged as `service`'s; the
/// new revision's ARN (`None` if ECS answered none).
pub async fn register_revision(
    aws: &AwsContext,
    family: &str,
    service: &str,
    base: &TaskDefinition,
    containers: Vec<ContainerDefinition>,
) -> Result<Option<String>, AwsError> {
    let registered = aws
        .ecs
        .register_task_definition()
        .family(family)
        .set_task_role_arn(base.task_role_arn().map(str::to_string))
        .set_execution_role_arn(base.execution_role_arn().map(str::to_string))
        .set_network_mode(base.network_mode().cloned())
        .set_requires_compatibilities(Some(base.requires_compatibilities().to_vec()))
        .set_runtime_platform(base.runtime_platform().cloned())
        .set_volumes(Some(base.volumes().to_vec()))
        .set_cpu(base.cpu().map(str::to_string))
        .set_memory(base.memory().map(str::to_string))
        .set_container_definitions(Some(containers))
        .tags(
            Tag::builder()
                .key("facturactl:service")
                .value(service)
                .build(),
        )
        .send()
        .await
        .map_err(|e| AwsError::new("RegisterTaskDefinition", e))?;
    Ok(registered
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .map(str::to_string))
}

/// The first image of a service: the service is created on it, as the config describes.
async fn create(
    ctx: &ServiceContext<'_>,
    ecs: &EcsService,
    placement: &Placement,
    task_definition: &str,
) -> Result<(), RolloutError> {
    let service = NewService {
        cluster: &ctx.cluster,
        name: ctx.name,
        container: ctx.name,
        target_group: placement.target_group.as_deref(),
        desired_count: ecs.desired_count,
    };
    create_service(ctx.aws, ecs, placement, &service, task_definition).await?;
    ctx.say(&format!("created service {} in {}", ctx.name, ctx.cluster));
    Ok(())
}

/// An ECS service to create: its name, the container the load balancer reaches, and the
/// target group it joins (the control's, or an A/B variant's).
pub struct NewService<'a> {
    pub cluster: &'a str,
    pub name: &'a str,
    pub container: &'a str,
    pub target_group: Option<&'a str>,
    pub desired_count: u32,
}

/// The private subnets and security groups a task of facturactl's runs in, with no public
/// IP (a service's, or a training run's).
pub fn private_network(
    subnets: &[String],
    security_groups: &[String],
) -> Result<NetworkConfiguration, aws_sdk_ecs::error::BuildError> {
    let awsvpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(subnets.to_vec()))
        .set_security_groups(Some(security_groups.to_vec()))
        .assign_public_ip(AssignPublicIp::Disabled)
        .build()?;
    Ok(NetworkConfiguration::builder()
        .awsvpc_configuration(awsvpc)
        .build())
}

/// CreateService on Fargate in the placement's network, with the config's deployment
/// settings, tagged as facturactl's.
pub async fn create_service(
    aws: &crate::aws::AwsContext,
    ecs: &EcsService,
    placement: &Placement,
    service: &NewService<'_>,
    task_definition: &str,
) -> Result<(), RolloutError> {
    let network = private_network(&placement.subnets, &placement.security_groups).map_err(|e| {
        RolloutError::new(RolloutFailure::Network {
            error: e.to_string(),
        })
    })?;
    let balancers = balancers(ecs, service.container, service.target_group);
    aws.ecs
        .create_service()
        .cluster(service.cluster)
        .service_name(service.name)
        .task_definition(task_definition)
        .desired_count(service.desired_count as i32)
        .launch_type(LaunchType::Fargate)
        .deployment_configuration(deployment_configuration(ecs))
        .network_configuration(network)
        .set_health_check_grace_period_seconds(
            balancers
                .as_ref()
                .map(|_| ecs.health.grace_period_seconds as i32),
        )
        .set_load_balancers(balancers)
        .enable_execute_command(false)
        .propagate_tags(PropagateTags::Service)
        .tags(
            Tag::builder()
                .key("facturactl:service")
                .value(service.name)
                .build(),
        )
        .send()
        .await
        .map_err(|e| AwsError::new("CreateService", e))?;
    Ok(())
}

async fn update(
    ctx: &ServiceContext<'_>,
    ecs: &EcsService,
    task_definition: &str,
    balancers: Option<Vec<LoadBalancer>>,
) -> Result<(), RolloutError> {
    ctx.aws
        .ecs
        .update_service()
        .cluster(&ctx.cluster)
        .service(ctx.name)
        .task_definition(task_definition)
        .desired_count(ecs.desired_count as i32)
        .set_load_balancers(balancers)
        .deployment_configuration(deployment_configuration(ecs))
        .send()
        .await
        .map_err(|e| AwsError::new("UpdateService", e))?;
    Ok(())
}

/// Rolling updates with the circuit breaker: a revision whose tasks never get healthy is
/// rolled back by ECS, which [`judge`] reports as a failure.
fn deployment_configuration(ecs: &EcsService) -> DeploymentConfiguration {
    DeploymentConfiguration::builder()
        .minimum_healthy_percent(ecs.rollout.min_healthy_percent as i32)
        .maximum_percent(ecs.rollout.max_percent as i32)
        .deployment_circuit_breaker(
            DeploymentCircuitBreaker::builder()
                .enable(true)
                .rollback(true)
                .build(),
        )
        .build()
}

/// The base's container definitions with the service's container given `image`.
fn with_image(
    name: &str,
    base: &[ContainerDefinition],
    image: &str,
) -> Result<Vec<ContainerDefinition>, RolloutError> {
    if !base.iter().any(|c| c.name() == Some(name)) {
        return Err(RolloutError::new(RolloutFailure::NoContainer {
            name: name.to_string(),
        }));
    }
    Ok(base
        .iter()
        .map(|c| {
            let mut c = c.clone();
            if c.name() == Some(name) {
                c.image = Some(image.to_string());
            }
            c
        })
        .collect())
}

/// Container definitions with environment and secrets in name order, so that order alone
/// never counts as a change.
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

/// The service, `None` when it does not exist (or was deleted).
async fn find(ctx: &ServiceContext<'_>) -> Result<Option<Service>, RolloutError> {
    let out = ctx
        .aws
        .ecs
        .describe_services()
        .cluster(&ctx.cluster)
        .services(ctx.name)
        .send()
        .await
        .map_err(|e| AwsError::new("DescribeServices", e))?;
    Ok(out
        .services()
        .iter()
        .find(|s| s.status() != Some("INACTIVE"))
        .cloned())
}

async fn describe(ctx: &ServiceContext<'_>) -> Result<Service, RolloutError> {
    find(ctx).await?.ok_or_else(|| {
        RolloutError::new(RolloutFailure::ServiceNotFound {
            service: ctx.name.to_string(),
            cluster: ctx.cluster.to_string(),
        })
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
            Verdict::Failed(failure) => {
                return Err(RolloutError::new(RolloutFailure::Deployment { failure }));
            }
            Verdict::Waiting(state) => last = state,
        }
        if started.elapsed() + delay > deadline {
            return Err(RolloutError::new(RolloutFailure::DeadlineExceeded {
                seconds: deadline.as_secs(),
                last,
            }));
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
        let Verdict::Waiting(state) = judge(&s, NEW) else {
            panic!("not waiting")
        };
        assert_eq!(state.to_string(), "IN_PROGRESS, running 1 of 2");
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
        let failure = |verdict| match verdict {
            Verdict::Failed(failure) => failure.to_string(),
            other => panic!("not a failure: {other:?}"),
        };
        assert_eq!(failure(judge(&s, NEW)), "deployment FAILED: reason");
        // Stable, complete, every task running: on the old revision, so a failure.
        let s = service(vec![deployment(
            "PRIMARY",
            OLD,
            DeploymentRolloutState::Completed,
            2,
        )]);
        assert_eq!(
            failure(judge(&s, NEW)),
            "rolled back: the PRIMARY deployment runs ocr:7 (COMPLETED): reason"
        );
    }
}
