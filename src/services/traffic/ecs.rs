//! A/B splits of an ECS service with a `path`: the control service and its `<name>-variant`
//! twin, each registered in its own target group, weighed by the listener rule facturactl
//! owns (`services::route`). Each side's requests, 5xx and p95 come from the load
//! balancer's per-target-group metrics; the prediction measures from the service's own,
//! with its task definition revision (`family:revision`) as the `Version`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::metrics::{Platform, stats};
use super::moved::{Carrier, Moved};
use aws_sdk_ecs::types::KeyValuePair;

use super::report::{ModelVariables, Side, TrafficError, TrafficReport, VariantFailure};
use crate::aws::{AwsContext, AwsError};
use crate::config::names::{MODEL_SHA256_VARIABLE, MODEL_URI_VARIABLE};
use crate::config::{Config, EcsService};
use crate::services::ecs::{NewService, Placement, create_service, register_revision, short};
use crate::services::route::{self, Route};

/// Where one ECS service's experiment lives.
struct Experiment<'a> {
    service: &'a str,
    ecs: &'a EcsService,
    cluster: String,
    placement: Placement,
    path: &'a str,
    listener: String,
    control_group: String,
    variant_group: String,
    /// Whether the service declares a model (each side shows the one it runs).
    models: bool,
}

fn carrier(service: &str) -> Carrier {
    Carrier::Ecs {
        service: service.to_string(),
    }
}

/// The variant's service: the control's name with `-variant`.
fn variant_name(service: &str) -> String {
    format!("{service}-variant")
}

/// A running service's task definition ARN and desired count, and since when it runs
/// that revision (its PRIMARY deployment's start).
struct Running {
    task_definition: String,
    desired: i32,
    since: Option<std::time::SystemTime>,
}

async fn locate<'a>(
    aws: &AwsContext,
    config: &'a Config,
    service: &'a str,
) -> Result<Experiment<'a>, TrafficError> {
    let svc = &config.services[service];
    let ecs = svc.ecs.as_ref().expect("an ECS service");
    let path = ecs.path.as_deref().expect("a routed service");
    let stack = config.stack_name(&svc.stack);
    let missing = |what: &str| -> TrafficError {
        AwsError::local(
            "DescribeStacks",
            None,
            format!("stack {stack} has no {what}: deploy the service first"),
        )
        .into()
    };
    let live = crate::stacks::live::one(&aws.cloudformation, &stack)
        .await?
        .ok_or_else(|| missing("deployment"))?;
    let placement = Placement::from_outputs(service, &live.outputs)
        .ok_or_else(|| missing("service outputs"))?;
    let (Some(listener), Some(control_group), Some(variant_group)) = (
        placement.listener.clone(),
        placement.target_group.clone(),
        placement.variant_target_group.clone(),
    ) else {
        return Err(missing("listener or target groups"));
    };
    Ok(Experiment {
        service,
        ecs,
        cluster: config.cluster_name(),
        placement,
        path,
        listener,
        control_group,
        variant_group,
        models: svc.model.is_some(),
    })
}

async fn running(
    aws: &AwsContext,
    cluster: &str,
    names: &[String],
) -> Result<BTreeMap<String, Running>, AwsError> {
    let out = aws
        .ecs
        .describe_services()
        .cluster(cluster)
        .set_services(Some(names.to_vec()))
        .send()
        .await
        .map_err(|e| AwsError::new("DescribeServices", e))?;
    Ok(out
        .services()
        .iter()
        .filter(|s| s.status() == Some("ACTIVE"))
        .filter_map(|s| {
            Some((
                s.service_name()?.to_string(),
                Running {
                    task_definition: s.task_definition()?.to_string(),
                    desired: s.desired_count(),
                    since: s
                        .deployments()
                        .iter()
                        .find(|d| d.status() == Some("PRIMARY"))
                        .and_then(|d| d.created_at())
                        .and_then(|t| std::time::SystemTime::try_from(*t).ok()),
                },
            ))
        })
        .collect())
}

/// The route and the two services, as they are.
async fn state(
    aws: &AwsContext,
    x: &Experiment<'_>,
) -> Result<(Route, Running, Option<Running>), TrafficError> {
    let route = route::find(aws, &x.listener, x.path, &x.control_group, &x.variant_group)
        .await?
        .ok_or_else(|| {
            AwsError::local(
                "DescribeRules",
                None,
                format!(
                    "no rule routes {} to {}: deploy the service (its first rollout creates it)",
                    x.path, x.service
                ),
            )
        })?;
    let mut services = running(
        aws,
        &x.cluster,
        &[x.service.to_string(), variant_name(x.service)],
    )
    .await?;
    let control = services.remove(x.service).ok_or_else(|| {
        AwsError::local(
            "DescribeServices",
            None,
            format!("{} does not run: deploy it first", x.service),
        )
    })?;
    let variant = services
        .remove(&variant_name(x.service))
        .filter(|v| v.desired > 0);
    Ok((route, control, variant))
}

/// The MODEL_SHA256 a revision's container runs with ("" when it has none).
async fn model_of(aws: &AwsContext, task_definition: &str) -> Result<String, AwsError> {
    Ok(image_and_model(aws, task_definition).await?.1)
}

/// A revision's first container image, and the MODEL_SHA256 it runs with ("" without).
pub(super) async fn image_and_model(
    aws: &AwsContext,
    task_definition: &str,
) -> Result<(Option<String>, String), AwsError> {
    let described = aws
        .ecs
        .describe_task_definition()
        .task_definition(task_definition)
        .send()
        .await
        .map_err(|e| AwsError::new("DescribeTaskDefinition", e))?;
    let containers = described
        .task_definition()
        .map(|td| td.container_definitions())
        .unwrap_or_default();
    let image = containers
        .first()
        .and_then(|c| c.image())
        .map(str::to_string);
    let model = containers
        .iter()
        .flat_map(|c| c.environment())
        .find(|kv| kv.name() == Some(crate::config::names::MODEL_SHA256_VARIABLE))
        .and_then(|kv| kv.value())
        .unwrap_or_default()
        .to_string();
    Ok((image, model))
}

/// `app/<name>/<id>` of the listener's load balancer, `targetgroup/<name>/<id>` of a
/// target group: the dimensions the load balancer's metrics carry.
fn dimension(arn: &str, marker: &str) -> String {
    let tail = arn.split(':').next_back().unwrap_or(arn);
    let tail = tail.strip_prefix("listener/").unwrap_or(tail);
    match marker {
        "app" => tail.split('/').take(3).collect::<Vec<_>>().join("/"),
        _ => tail.to_string(),
    }
}

pub async fn show(
    aws: &AwsContext,
    config: &Config,
    service: &str,
    window: super::Window,
) -> Result<TrafficReport, TrafficError> {
    let x = locate(aws, config, service).await?;
    let (route, control, variant) = state(aws, &x).await?;
    // A target group's figures are its revision's only from when that revision took over
    // (a deploy during the experiment replaces the control's): both sides are read from
    // the later of those starts, so no earlier revision's requests are credited.
    let revisions = std::iter::once(&control).chain(variant.as_ref());
    let window = window.not_before(revisions.filter_map(|r| r.since).max());
    let share = route.variant_percent() / 100.0;
    let mut sides = vec![(short(&control.task_definition).to_string(), 1.0 - share)];
    if let Some(v) = &variant {
        sides.push((short(&v.task_definition).to_string(), share));
    }
    let load_balancer = dimension(&x.listener, "app");
    let groups = [
        dimension(&x.control_group, "targetgroup"),
        dimension(&x.variant_group, "targetgroup"),
    ];
    let platform = Platform::Balancer {
        load_balancer: &load_balancer,
        target_groups: [&groups[0], &groups[1]],
    };
    let namespace = config.metrics_namespace();
    let mut stats = stats(aws, &platform, (&namespace, service), &sides, window)
        .await?
        .into_iter();
    let mut control_side: Side = stats.next().expect("the control side");
    let mut variant_side = stats.next();
    if x.models {
        let revisions = std::iter::once((&mut control_side, &control))
            .chain(variant_side.as_mut().zip(variant.as_ref()));
        for (side, running) in revisions {
            side.model_sha256 = Some(model_of(aws, &running.task_definition).await?);
        }
    }
    Ok(TrafficReport::of(
        config,
        service,
        format!("{}/{service}", x.cluster),
        window.minutes,
        (control_side, variant_side),
    ))
}

/// Runs revision `variant` (`7` or `family:7`) as the variant service and routes `percent`
/// (1 to 99, checked by `traffic::set`) of the path's requests to it.
pub async fn set(
    aws: &AwsContext,
    config: &Config,
    service: &str,
    variant: &str,
    percent: u32,
) -> Result<Moved, TrafficError> {
    let x = locate(aws, config, service).await?;
    let (route, control, _) = state(aws, &x).await?;
    let family = config.task_family(service);
    let wanted = if variant.contains(':') {
        variant.to_string()
    } else {
        format!("{family}:{variant}")
    };
    if short(&control.task_definition) == wanted {
        return Err(TrafficError::AlreadyControl(wanted));
    }
    let revision = aws
        .ecs
        .describe_task_definition()
        .task_definition(&wanted)
        .send()
        .await
        .map_err(|e| TrafficError::NoSuchVersion {
            variant: wanted.clone(),
            function: family.clone(),
            error: AwsError::new("DescribeTaskDefinition", e),
        })?
        .task_definition
        .and_then(|td| td.task_definition_arn)
        .unwrap_or_else(|| wanted.clone());
    run_variant(aws, &x, &revision, control.desired.max(1)).await?;
    // No request is moved to a variant that cannot serve it: its deployment must complete
    // and its targets pass their health checks first; one that does not is scaled back
    // to zero and the split stays as it was.
    if let Err(not_ready) = ready(aws, &x, &revision).await {
        update(aws, &x, &variant_name(service), None, Some(0)).await?;
        return Err(TrafficError::Variant {
            service: service.to_string(),
            failure: not_ready,
        });
    }
    route::set(aws, &route, percent).await?;
    Ok(Moved::Set {
        carrier: carrier(service),
        variant: revision,
        percent,
        control: control.task_definition,
    })
}

/// Registers a revision of the control's (same image and settings) whose containers run
/// `model`; returns it as `family:revision`.
pub async fn revision_with_model(
    aws: &AwsContext,
    config: &Config,
    service: &str,
    model: &ModelVariables,
) -> Result<String, TrafficError> {
    let failed = |failure: VariantFailure| TrafficError::Variant {
        service: service.to_string(),
        failure,
    };
    let x = locate(aws, config, service).await?;
    let (_, control, _) = state(aws, &x).await?;
    let base = aws
        .ecs
        .describe_task_definition()
        .task_definition(&control.task_definition)
        .send()
        .await
        .map_err(|e| AwsError::new("DescribeTaskDefinition", e))?
        .task_definition
        .ok_or(failed(VariantFailure::NoRevision))?;
    let mut takes_model = false;
    let containers = base
        .container_definitions()
        .iter()
        .cloned()
        .map(|mut c| {
            let names = [MODEL_URI_VARIABLE, MODEL_SHA256_VARIABLE];
            let env = c.environment.get_or_insert_with(Vec::new);
            if env
                .iter()
                .any(|kv| kv.name() == Some(MODEL_SHA256_VARIABLE))
            {
                takes_model = true;
                env.retain(|kv| !names.iter().any(|n| kv.name() == Some(*n)));
                for (name, value) in names.into_iter().zip([&model.uri, &model.sha256]) {
                    env.push(KeyValuePair::builder().name(name).value(value).build());
                }
            }
            c
        })
        .collect();
    if !takes_model {
        return Err(failed(VariantFailure::NoModelVariable {
            task_definition: short(&control.task_definition).to_string(),
        }));
    }
    let family = config.task_family(service);
    let arn = register_revision(aws, &family, service, &base, containers)
        .await?
        .ok_or(failed(VariantFailure::NoRevision))?;
    Ok(short(&arn).to_string())
}

/// Waits until the variant service's deployment of `revision` completed and the variant
/// target group's targets settled healthy (none still `initial`); within the service's
/// rollout deadline. Read-only.
async fn ready(aws: &AwsContext, x: &Experiment<'_>, revision: &str) -> Result<(), VariantFailure> {
    let deadline = Duration::from_secs(u64::from(x.ecs.rollout.deadline_seconds));
    let started = Instant::now();
    let poll = crate::services::rollout::PollPacing::default();
    let mut delay = poll.first;
    let name = variant_name(x.service);
    loop {
        let state = variant_state(aws, x, &name, revision).await?;
        match state {
            Readiness::Ready => return Ok(()),
            Readiness::Unhealthy(reasons) => {
                return Err(VariantFailure::Unhealthy {
                    service: name,
                    reasons,
                });
            }
            Readiness::Failed(reason) => return Err(VariantFailure::Update { reason }),
            Readiness::Waiting(what) if started.elapsed() + delay > deadline => {
                return Err(VariantFailure::NotReady {
                    service: name,
                    seconds: deadline.as_secs(),
                    last: what,
                });
            }
            Readiness::Waiting(_) => {}
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(poll.max);
    }
}

/// What one look at the variant says.
enum Readiness {
    Ready,
    Waiting(String),
    /// Targets that failed their health checks: each target and the load balancer's reason.
    Unhealthy(Vec<String>),
    Failed(String),
}

async fn variant_state(
    aws: &AwsContext,
    x: &Experiment<'_>,
    name: &str,
    revision: &str,
) -> Result<Readiness, VariantFailure> {
    let aws_failed = |e: AwsError| VariantFailure::Update {
        reason: e.to_string(),
    };
    let described = aws
        .ecs
        .describe_services()
        .cluster(&x.cluster)
        .services(name)
        .send()
        .await
        .map_err(|e| aws_failed(AwsError::new("DescribeServices", e)))?;
    let Some(service) = described.services().first() else {
        return Ok(Readiness::Waiting(
            "the variant service is not there yet".into(),
        ));
    };
    let wanted = service.task_definition().unwrap_or(revision).to_string();
    match crate::services::ecs::judge(service, &wanted) {
        crate::services::ecs::Verdict::Done => {}
        crate::services::ecs::Verdict::Failed(failure) => {
            return Ok(Readiness::Failed(failure.to_string()));
        }
        crate::services::ecs::Verdict::Waiting(state) => {
            return Ok(Readiness::Waiting(state.to_string()));
        }
    }
    let health = aws
        .elb
        .describe_target_health()
        .target_group_arn(&x.variant_group)
        .send()
        .await
        .map_err(|e| aws_failed(AwsError::new("DescribeTargetHealth", e)))?;
    let mut healthy = 0;
    let mut unhealthy = Vec::new();
    let mut settling = 0;
    for target in health.target_health_descriptions() {
        let id = target
            .target()
            .and_then(|t| t.id())
            .unwrap_or("?")
            .to_string();
        let state = target.target_health();
        match state.and_then(|h| h.state()).map(|s| s.as_str()) {
            Some("healthy") => healthy += 1,
            Some("unhealthy") => unhealthy.push(format!(
                "{id}: {}",
                state
                    .and_then(|h| h.description().or(h.reason().map(|r| r.as_str())))
                    .unwrap_or("failed its health checks")
            )),
            // initial, draining, unused, unavailable: not settled yet.
            _ => settling += 1,
        }
    }
    Ok(if !unhealthy.is_empty() {
        Readiness::Unhealthy(unhealthy)
    } else if healthy > 0 && settling == 0 {
        Readiness::Ready
    } else {
        Readiness::Waiting(format!(
            "{healthy} healthy target(s), {settling} not settled"
        ))
    })
}

/// The variant service on `task_definition`, created in the variant target group the
/// first time.
async fn run_variant(
    aws: &AwsContext,
    x: &Experiment<'_>,
    task_definition: &str,
    desired: i32,
) -> Result<(), TrafficError> {
    let name = variant_name(x.service);
    let exists = running(aws, &x.cluster, std::slice::from_ref(&name))
        .await?
        .contains_key(&name);
    if exists {
        return update(aws, x, &name, Some(task_definition), Some(desired)).await;
    }
    let new = NewService {
        cluster: &x.cluster,
        name: &name,
        container: x.service,
        target_group: Some(&x.variant_group),
        desired_count: desired as u32,
    };
    create_service(aws, x.ecs, &x.placement, &new, task_definition)
        .await
        .map_err(|e| TrafficError::Aws(AwsError::local("CreateService", None, e.to_string())))
}

/// The variant's revision becomes the control's, with all the requests; the variant
/// service is scaled to zero.
pub async fn promote(
    aws: &AwsContext,
    config: &Config,
    service: &str,
) -> Result<Moved, TrafficError> {
    let x = locate(aws, config, service).await?;
    let (route, control, variant) = state(aws, &x).await?;
    let Some(variant) = variant else {
        return Err(TrafficError::NoVariant {
            service: service.to_string(),
            control: short(&control.task_definition).to_string(),
        });
    };
    update(aws, &x, service, Some(&variant.task_definition), None).await?;
    route::set(aws, &route, 0).await?;
    stop_variant(aws, &x).await?;
    Ok(Moved::Promoted {
        carrier: carrier(service),
        variant: variant.task_definition,
        retired: control.task_definition,
    })
}

/// All requests back on the control; the variant service scaled to zero.
pub async fn abort(
    aws: &AwsContext,
    config: &Config,
    service: &str,
) -> Result<Moved, TrafficError> {
    let x = locate(aws, config, service).await?;
    let (route, control, variant) = state(aws, &x).await?;
    route::set(aws, &route, 0).await?;
    if variant.is_some() {
        stop_variant(aws, &x).await?;
    }
    Ok(Moved::Aborted {
        carrier: carrier(service),
        variant: variant.map(|v| v.task_definition),
        control: control.task_definition,
    })
}

async fn stop_variant(aws: &AwsContext, x: &Experiment<'_>) -> Result<(), TrafficError> {
    update(aws, x, &variant_name(x.service), None, Some(0)).await
}

/// UpdateService of one side: its revision, its task count, or both.
async fn update(
    aws: &AwsContext,
    x: &Experiment<'_>,
    service: &str,
    task_definition: Option<&str>,
    desired: Option<i32>,
) -> Result<(), TrafficError> {
    aws.ecs
        .update_service()
        .cluster(&x.cluster)
        .service(service)
        .set_task_definition(task_definition.map(str::to_string))
        .set_desired_count(desired)
        .send()
        .await
        .map_err(|e| AwsError::new("UpdateService", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::dimension;

    #[test]
    fn load_balancer_metric_dimensions_come_from_the_arns() {
        let listener = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/facturascan-api/50dc6c495c0c9188/f2f7dc8efc522ab2";
        assert_eq!(
            dimension(listener, "app"),
            "app/facturascan-api/50dc6c495c0c9188"
        );
        let group = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/ml-Scori-1ABC/6d0ecf831eec9f09";
        assert_eq!(
            dimension(group, "targetgroup"),
            "targetgroup/ml-Scori-1ABC/6d0ecf831eec9f09"
        );
    }
}
