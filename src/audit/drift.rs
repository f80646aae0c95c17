//! The drift audit: stacks (missing, extra, template changed, CloudFormation drift),
//! services changed out of band (ECS task definition, image, count, deployment settings;
//! Lambda alias, weights, code, configuration), and the alarm audit.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_cloudformation::types::{StackDriftDetectionStatus, StackResourceDriftStatus};

use super::{AuditReport, Finding, Severity};
use crate::aws::AwsContext;
use crate::aws::AwsError;
use crate::config::{Config, Runtime};
use crate::release::record::Record;
use crate::render::RenderedEnv;

/// Drift detections run at once, at most.
const CONCURRENT_DETECTIONS: usize = 8;
/// DescribeServices takes ten services per call.
const SERVICES_PER_CALL: usize = 10;

#[derive(Debug, Clone)]
pub struct DriftOptions {
    /// Only these stacks (CloudFormation drift detection included).
    pub only: Option<BTreeSet<String>>,
    /// How long one stack's drift detection may take.
    pub detection_timeout: Duration,
    pub poll_first: Duration,
}

impl Default for DriftOptions {
    fn default() -> Self {
        Self {
            only: None,
            detection_timeout: Duration::from_secs(300),
            poll_first: Duration::from_millis(500),
        }
    }
}

pub async fn stacks(
    aws: &AwsContext,
    config: &Config,
    rendered: &RenderedEnv,
    options: &DriftOptions,
    report: &mut AuditReport,
) -> Result<(), AwsError> {
    let live = crate::stacks::live::all(&aws.cloudformation).await?;
    // Each stack's outputs by its config name: the inputs a deploy gave the others.
    let outputs: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>> =
        rendered
            .stacks
            .iter()
            .filter_map(|s| Some((s.name.clone(), live.get(&s.stack_name)?.outputs.clone())))
            .collect();
    let wanted = |name: &str| options.only.as_ref().is_none_or(|o| o.contains(name));
    let mut detect = Vec::new();
    for stack in rendered.stacks.iter().filter(|s| wanted(&s.name)) {
        let resource = format!("stack {}", stack.name);
        let Some(found) = live.get(&stack.stack_name) else {
            report.findings.push(Finding::new(
                Severity::High,
                "stack.missing",
                resource,
                "deployed",
                "missing",
                "`facturactl deploy` creates it",
            ));
            continue;
        };
        let deployed = found
            .tags
            .get(crate::stacks::live::HASH_TAG)
            .cloned()
            .unwrap_or_default();
        // As the deploy stamped it: the API deployment's id over the inputs' values too.
        let restamped = crate::stacks::desired::desired_parameters(stack, &outputs)
            .ok()
            .and_then(|params| crate::render::restamp_api(stack, &params));
        let stack = restamped.as_ref().unwrap_or(stack);
        if deployed != stack.hash {
            report.findings.push(Finding::new(
                Severity::Medium,
                "stack.template",
                resource.clone(),
                stack.hash.clone(),
                if deployed.is_empty() { "no template hash tag".into() } else { deployed },
                "`facturactl plan --diff` shows the difference; deploy to apply the rendered template",
            ));
        }
        detect.push(stack.stack_name.clone());
    }
    if options.only.is_none() {
        let prefix = format!("{}-", config.prefix());
        let declared: BTreeSet<&str> = rendered
            .stacks
            .iter()
            .map(|s| s.stack_name.as_str())
            .collect();
        for (name, stack) in &live {
            let ours = stack.tags.get("facturactl:project") == Some(&config.project.name)
                && name.starts_with(&prefix);
            if ours && !declared.contains(name.as_str()) {
                report.findings.push(Finding::new(
                    Severity::Medium,
                    "stack.extra",
                    format!("stack {name}"),
                    "absent (not declared or disabled)",
                    format!("present ({})", stack.status),
                    "delete it if it is no longer used, or declare it again in deploy.toml",
                ));
            }
        }
    }
    cloudformation_drift(aws, &detect, options, report).await;
    Ok(())
}

/// CloudFormation's own drift detection, all stacks at once (bounded), polled with backoff.
/// Where the API does not offer it, a note says so and the rest of the audit goes on.
async fn cloudformation_drift(
    aws: &AwsContext,
    stacks: &[String],
    options: &DriftOptions,
    report: &mut AuditReport,
) {
    // One stack first: an endpoint that does not offer detection (the emulator, a
    // restricted role) says so once, instead of once per stack.
    let Some((first, rest)) = stacks.split_first() else {
        return;
    };
    match detect_one(aws, first, options).await {
        Ok(findings) => report.findings.extend(findings),
        Err(Unavailable::NotOffered(note)) => {
            report.not_run(
                format!("cloudformation drift of {} stacks", stacks.len()),
                note,
            );
            return;
        }
        Err(Unavailable::Failed(note)) => {
            report.not_run(format!("cloudformation drift of {first}"), note);
        }
    }
    for batch in rest.chunks(CONCURRENT_DETECTIONS) {
        let runs = batch.iter().map(|s| detect_one(aws, s, options));
        for (stack, result) in batch.iter().zip(futures_util::future::join_all(runs).await) {
            match result {
                Ok(findings) => report.findings.extend(findings),
                Err(Unavailable::NotOffered(note) | Unavailable::Failed(note)) => {
                    report.not_run(format!("cloudformation drift of {stack}"), note);
                }
            }
        }
    }
}

/// Why a stack's drift is unknown.
enum Unavailable {
    /// The endpoint refused to start a detection at all.
    NotOffered(String),
    /// A detection started but gave no answer.
    Failed(String),
}

impl From<String> for Unavailable {
    fn from(note: String) -> Self {
        Self::Failed(note)
    }
}

async fn detect_one(
    aws: &AwsContext,
    stack: &str,
    options: &DriftOptions,
) -> Result<Vec<Finding>, Unavailable> {
    let cfn = &aws.cloudformation;
    let started = cfn
        .detect_stack_drift()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| {
            Unavailable::NotOffered(format!(
                "drift detection not offered here ({})",
                AwsError::new("DetectStackDrift", e).message
            ))
        })?;
    let id = started
        .stack_drift_detection_id()
        .unwrap_or_default()
        .to_string();
    let status = wait_for_detection(aws, &id, options).await?;
    if status.stack_drift_status() == Some(&aws_sdk_cloudformation::types::StackDriftStatus::InSync)
    {
        return Ok(Vec::new());
    }
    resource_drifts(aws, stack).await
}

/// Polls a drift detection (backing off to 10 s) until it ends, fails, or runs out of time.
async fn wait_for_detection(
    aws: &AwsContext,
    id: &str,
    options: &DriftOptions,
) -> Result<
    aws_sdk_cloudformation::operation::describe_stack_drift_detection_status::DescribeStackDriftDetectionStatusOutput,
    Unavailable,
>{
    let cfn = &aws.cloudformation;
    let deadline = tokio::time::Instant::now() + options.detection_timeout;
    let mut delay = options.poll_first;
    loop {
        let status = cfn
            .describe_stack_drift_detection_status()
            .stack_drift_detection_id(id)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "drift detection status unknown ({})",
                    AwsError::new("DescribeStackDriftDetectionStatus", e).message
                )
            })?;
        match status.detection_status() {
            Some(StackDriftDetectionStatus::DetectionInProgress) | None => {}
            Some(StackDriftDetectionStatus::DetectionFailed) => {
                return Err(Unavailable::Failed(format!(
                    "drift detection failed: {}",
                    status
                        .detection_status_reason()
                        .unwrap_or("no reason given")
                )));
            }
            _ => return Ok(status),
        }
        if tokio::time::Instant::now() + delay > deadline {
            return Err(Unavailable::Failed(format!(
                "drift detection did not finish within {} s",
                options.detection_timeout.as_secs()
            )));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

/// The modified and deleted resources of a drifted stack, one finding each.
async fn resource_drifts(aws: &AwsContext, stack: &str) -> Result<Vec<Finding>, Unavailable> {
    let cfn = &aws.cloudformation;
    let short = stack.to_string();
    let mut findings = Vec::new();
    let mut pages = cfn
        .describe_stack_resource_drifts()
        .stack_name(stack)
        .stack_resource_drift_status_filters(StackResourceDriftStatus::Modified)
        .stack_resource_drift_status_filters(StackResourceDriftStatus::Deleted)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            format!(
                "drift details unavailable ({})",
                AwsError::new("DescribeStackResourceDrifts", e).message
            )
        })?;
        for drift in page.stack_resource_drifts() {
            let resource = format!(
                "{short}/{} ({})",
                drift.logical_resource_id().unwrap_or("?"),
                drift.resource_type().unwrap_or("?")
            );
            match drift.stack_resource_drift_status() {
                Some(StackResourceDriftStatus::Deleted) => findings.push(Finding::new(
                    Severity::High,
                    "stack.resource_deleted",
                    resource,
                    "present",
                    "deleted outside CloudFormation",
                    "deploy the stack again (CloudFormation recreates it only if the template changes: `facturactl plan --diff` first)",
                )),
                _ => {
                    for diff in drift.property_differences() {
                        findings.push(Finding::new(
                            Severity::Medium,
                            "stack.resource_modified",
                            format!("{resource} {}", diff.property_path().unwrap_or("?")),
                            diff.expected_value().unwrap_or_default(),
                            diff.actual_value().unwrap_or_default(),
                            "undo the change in the console, or make it in the template and deploy",
                        ));
                    }
                }
            }
        }
    }
    Ok(findings)
}

/// Services against the last deployment record and the config: ECS in batches of ten per
/// DescribeServices, Lambda aliases and configurations concurrently.
pub async fn services(
    aws: &AwsContext,
    config: &Config,
    rendered: &RenderedEnv,
    record: Option<&Record>,
    report: &mut AuditReport,
) -> Result<(), AwsError> {
    let mut ecs = Vec::new();
    let mut lambdas = Vec::new();
    for (name, service) in config.services.iter().filter(|(_, s)| s.enabled) {
        let entry = record.and_then(|r| r.services.get(name));
        match (service.runtime(), entry) {
            // Audited against the config even when no rollout was recorded.
            (Some(Runtime::Ecs(e)), entry) => ecs.push((name.as_str(), e, entry)),
            (Some(Runtime::Lambda(l)), Some(entry)) => lambdas.push((name.as_str(), l, entry)),
            _ => report.notes.push(format!(
                "service {name}: never rolled out (not in the deployment record): its version was not compared"
            )),
        }
    }
    let cluster = config.cluster_name();
    for batch in ecs.chunks(SERVICES_PER_CALL) {
        let described = aws
            .ecs
            .describe_services()
            .cluster(&cluster)
            .set_services(Some(batch.iter().map(|(n, _, _)| n.to_string()).collect()))
            .send()
            .await
            .map_err(|e| AwsError::new("DescribeServices", e))?;
        let checks = batch.iter().map(|(name, settings, entry)| {
            let live = described
                .services()
                .iter()
                .find(|s| s.service_name() == Some(*name))
                .cloned();
            ecs_service(aws, name, settings, *entry, live)
        });
        for (findings, note) in futures_util::future::try_join_all(checks).await? {
            report.findings.extend(findings);
            report.notes.extend(note);
        }
    }
    let checks = lambdas.iter().map(|(name, settings, entry)| {
        lambda_service(aws, config, rendered, name, settings, entry)
    });
    for findings in futures_util::future::try_join_all(checks).await? {
        report.findings.extend(findings);
    }
    Ok(())
}

/// One ECS service against the config (count, cpu, memory, environment, rollout
/// settings) and the record (revision, image); a note when it was never created.
async fn ecs_service(
    aws: &AwsContext,
    name: &str,
    settings: &crate::config::EcsService,
    entry: Option<&crate::release::record::ServiceRecord>,
    live: Option<aws_sdk_ecs::types::Service>,
) -> Result<(Vec<Finding>, Option<String>), AwsError> {
    let resource = format!("service {name}");
    let Some(live) = live.filter(|s| s.status() != Some("INACTIVE")) else {
        if entry.is_none() {
            let note = format!("service {name}: not created yet (no image deployed)");
            return Ok((Vec::new(), Some(note)));
        }
        return Ok((
            vec![Finding::new(
                Severity::High,
                "ecs.missing",
                resource,
                "running",
                "missing",
                format!("deploy its image again: `facturactl deploy --image {name}=<image>`"),
            )],
            None,
        ));
    };
    let mut findings = Vec::new();
    let td = live.task_definition().unwrap_or_default();
    if let Some(recorded) = entry.and_then(|e| e.task_definition.as_ref())
        && recorded != td
    {
        findings.push(Finding::new(
            Severity::High,
            "ecs.task_definition",
            resource.clone(),
            crate::services::ecs::short(recorded),
            crate::services::ecs::short(td),
            "deploy again (or `facturactl rollback`) to return to the recorded revision",
        ));
    }
    let running = aws
        .ecs
        .describe_task_definition()
        .task_definition(td)
        .send()
        .await
        .map_err(|e| AwsError::new("DescribeTaskDefinition", e))?
        .task_definition;
    if let Some(running) = &running {
        findings.extend(task_settings(&resource, name, settings, entry, running));
    }
    if let Some(pin) = entry.and_then(|e| e.model.as_ref()) {
        findings.extend(model_bytes(aws, &resource, pin).await?);
    }
    if live.desired_count() != settings.desired_count as i32 {
        findings.push(Finding::new(
            Severity::Medium,
            "ecs.desired_count",
            resource.clone(),
            settings.desired_count.to_string(),
            live.desired_count().to_string(),
            "set desired_count in the environment file if the new count is right, then deploy",
        ));
    }
    if let Some(dc) = live.deployment_configuration() {
        findings.extend(deployment_settings(&resource, settings, dc));
    }
    Ok((findings, None))
}

/// The running revision's image against the record, and its cpu, memory and environment
/// against the config.
fn task_settings(
    resource: &str,
    name: &str,
    settings: &crate::config::EcsService,
    entry: Option<&crate::release::record::ServiceRecord>,
    running: &aws_sdk_ecs::types::TaskDefinition,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let container = running
        .container_definitions()
        .iter()
        .find(|c| c.name() == Some(name));
    let image = container.and_then(|c| c.image());
    if let (Some(recorded), Some(image)) = (entry.and_then(|e| e.image.as_deref()), image)
        && recorded != image
    {
        findings.push(Finding::new(
            Severity::High,
            "ecs.image",
            resource.to_string(),
            recorded,
            image,
            "deploy the recorded image again, or deploy the new one through the pipeline so it is recorded",
        ));
    }
    let sizes = [
        ("ecs.cpu", settings.cpu.to_string(), running.cpu()),
        ("ecs.memory", settings.memory.to_string(), running.memory()),
    ];
    for (rule, expected, actual) in sizes {
        if let Some(actual) = actual
            && actual != expected
        {
            findings.push(Finding::new(
                Severity::Medium,
                rule,
                resource.to_string(),
                &expected,
                actual,
                "deploy to apply the config (the image that runs is kept)",
            ));
        }
    }
    let live_env: BTreeMap<&str, &str> = container
        .map(|c| c.environment())
        .unwrap_or_default()
        .iter()
        .filter_map(|kv| Some((kv.name()?, kv.value().unwrap_or_default())))
        .collect();
    if let Some(pin) = entry.and_then(|e| e.model.as_ref()) {
        let var = |key: &str| live_env.get(key).copied();
        findings.extend(model_finding(
            (resource, name),
            pin,
            var(crate::config::names::MODEL_URI_VARIABLE),
            var(crate::config::names::MODEL_SHA256_VARIABLE),
        ));
    }
    for (key, expected) in &settings.environment {
        let actual = live_env.get(key.as_str()).copied();
        if actual != Some(expected.as_str()) {
            findings.push(Finding::new(
                Severity::Medium,
                "ecs.environment",
                resource.to_string(),
                format!("{key}={expected}"),
                actual.map_or_else(|| format!("{key} unset"), |a| format!("{key}={a}")),
                "deploy to apply the config (the image that runs is kept)",
            ));
        }
    }
    findings
}

/// The model a service runs (the MODEL_URI and MODEL_SHA256 of its live version or
/// revision) against the one its record pins.
fn model_finding(
    (resource, service): (&str, &str),
    pin: &crate::models::ModelPin,
    uri: Option<&str>,
    sha256: Option<&str>,
) -> Option<Finding> {
    if uri == Some(pin.uri.as_str()) && sha256 == Some(pin.sha256.as_str()) {
        return None;
    }
    Some(Finding::new(
        Severity::High,
        "model.live",
        format!("{resource} model"),
        format!("{pin}: {}", pin.uri),
        format!(
            "{} (sha256 {})",
            uri.unwrap_or("no MODEL_URI"),
            sha256.unwrap_or("-")
        ),
        format!(
            "deploy the recorded model again (`facturactl deploy --model {service}={}`), or roll back",
            pin.version
        ),
    ))
}

/// The bytes behind the recorded model's URI, hashed as the service would load them (the
/// object's current version), against the pin: an overwrite, or a delete and a new upload,
/// changes what the next cold start loads without any deploy.
async fn model_bytes(
    aws: &AwsContext,
    resource: &str,
    pin: &crate::models::ModelPin,
) -> Result<Option<Finding>, AwsError> {
    let found = match crate::models::hash_current(aws, &pin.uri).await {
        Ok(Some(sha)) if sha == pin.sha256 => return Ok(None),
        Ok(None) => return Ok(None),
        Ok(Some(sha)) => format!("sha256 {sha}"),
        Err(crate::models::ModelError::Aws(e)) => return Err(e),
        Err(e) => e.to_string(),
    };
    Ok(Some(Finding::new(
        Severity::High,
        "model.bytes",
        format!("{resource} model"),
        format!("{}: sha256 {}", pin.uri, pin.sha256),
        found,
        "the registered bytes changed under the live MODEL_URI: restore the registered object version, or deploy a registered version again",
    )))
}

/// The rollout settings of an ECS service against the declared ones.
fn deployment_settings(
    resource: &str,
    settings: &crate::config::EcsService,
    dc: &aws_sdk_ecs::types::DeploymentConfiguration,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let pairs = [
        (
            "minimum healthy percent",
            settings.rollout.min_healthy_percent as i32,
            dc.minimum_healthy_percent(),
        ),
        (
            "maximum percent",
            settings.rollout.max_percent as i32,
            dc.maximum_percent(),
        ),
    ];
    for (what, expected, actual) in pairs {
        if let Some(actual) = actual
            && actual != expected
        {
            findings.push(Finding::new(
                Severity::Medium,
                "ecs.deployment",
                format!("{resource} {what}"),
                expected.to_string(),
                actual.to_string(),
                "deploy the stack again to restore the declared deployment settings",
            ));
        }
    }
    if let Some(breaker) = dc.deployment_circuit_breaker()
        && !(breaker.enable() && breaker.rollback())
    {
        findings.push(Finding::new(
            Severity::High,
            "ecs.deployment",
            format!("{resource} circuit breaker"),
            "enabled with rollback",
            format!(
                "enable={} rollback={}",
                breaker.enable(),
                breaker.rollback()
            ),
            "deploy the stack again: failed rollouts must roll back by themselves",
        ));
    }
    findings
}

async fn lambda_service(
    aws: &AwsContext,
    config: &Config,
    rendered: &RenderedEnv,
    name: &str,
    settings: &crate::config::LambdaService,
    entry: &crate::release::record::ServiceRecord,
) -> Result<Vec<Finding>, AwsError> {
    let function = config.service_resource_name(name);
    let resource = format!("service {name}");
    let mut findings = Vec::new();
    let Some(alias) = crate::services::lambda::alias(aws, &function).await? else {
        return Ok(vec![Finding::new(
            Severity::High,
            "lambda.alias",
            resource,
            "alias live",
            "missing",
            "deploy the service again",
        )]);
    };
    let version = alias.version.clone();
    if let Some(recorded) = &entry.version
        && recorded != &version
    {
        findings.push(Finding::new(
            Severity::High,
            "lambda.alias",
            resource.clone(),
            format!("live -> version {recorded}"),
            format!("live -> version {version}"),
            "`facturactl rollback --to <release>` or deploy again; move aliases only through facturactl",
        ));
    }
    let weights: BTreeMap<String, f64> = alias.weights.into_iter().collect();
    let ab = settings.rollout.strategy == crate::config::Strategy::Ab;
    if let Some(split) = &entry.split {
        // A recorded experiment is desired state: its variant at its share.
        findings.extend(split_finding(&resource, split, &weights));
    } else if !weights.is_empty() && !ab {
        findings.push(Finding::new(
            Severity::High,
            "lambda.weights",
            resource.clone(),
            "no additional version weights",
            format!("{weights:?}"),
            "`facturactl traffic abort` removes them",
        ));
    }
    let config_of = |qualifier: &str| {
        aws.lambda
            .get_function_configuration()
            .function_name(&function)
            .qualifier(qualifier)
            .send()
    };
    let running = config_of(&version)
        .await
        .map_err(|e| AwsError::new("GetFunctionConfiguration", e))?;
    if let (Some(recorded), Some(actual)) = (&entry.code_sha256, running.code_sha256())
        && recorded != actual
    {
        findings.push(Finding::new(
            Severity::High,
            "lambda.code",
            resource.clone(),
            recorded.clone(),
            actual.to_string(),
            "deploy the recorded package again",
        ));
    }
    if let Some(pin) = &entry.model {
        let env = running.environment().and_then(|e| e.variables());
        let var = |key: &str| env.and_then(|v| v.get(key)).map(String::as_str);
        findings.extend(model_finding(
            (&resource, name),
            pin,
            var(crate::config::names::MODEL_URI_VARIABLE),
            var(crate::config::names::MODEL_SHA256_VARIABLE),
        ));
        findings.extend(model_bytes(aws, &resource, pin).await?);
    }
    let latest = config_of("$LATEST")
        .await
        .map_err(|e| AwsError::new("GetFunctionConfiguration", e))?;
    findings.extend(lambda_configuration(
        &resource, settings, rendered, &function, &latest,
    ));
    Ok(findings)
}

/// The alias's weights against the recorded split: the variant's version at its share.
fn split_finding(
    resource: &str,
    split: &crate::release::record::SplitRecord,
    weights: &BTreeMap<String, f64>,
) -> Option<Finding> {
    let variant = split.variant.version.as_deref().unwrap_or("?");
    let expected = f64::from(split.percent) / 100.0;
    let matches = weights.len() == 1
        && weights
            .get(variant)
            .is_some_and(|w| (w - expected).abs() < 1e-6);
    (!matches).then(|| {
        Finding::new(
            Severity::High,
            "lambda.weights",
            resource.to_string(),
            format!("version {variant} at {}%", split.percent),
            format!("{weights:?}"),
            "change the split only through `facturactl traffic`, which records it; `traffic set` restores the recorded one",
        )
    })
}

/// A function's memory, timeout and environment keys against the declared ones.
fn lambda_configuration(
    resource: &str,
    settings: &crate::config::LambdaService,
    rendered: &RenderedEnv,
    function: &str,
    latest: &aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let pairs = [
        ("memory_mb", settings.memory_mb as i32, latest.memory_size()),
        (
            "timeout_seconds",
            settings.timeout_seconds as i32,
            latest.timeout(),
        ),
    ];
    for (what, expected, actual) in pairs {
        if let Some(actual) = actual
            && actual != expected
        {
            findings.push(Finding::new(
                Severity::Medium,
                "lambda.configuration",
                format!("{resource} {what}"),
                expected.to_string(),
                actual.to_string(),
                "deploy the stack again, or change the setting in the environment file",
            ));
        }
    }
    let expected_keys = rendered_environment_keys(rendered, function);
    let actual_keys: BTreeSet<String> = latest
        .environment()
        .and_then(|e| e.variables())
        .map(|v| v.keys().cloned().collect())
        .unwrap_or_default();
    if let Some(expected_keys) = expected_keys
        && expected_keys != actual_keys
    {
        findings.push(Finding::new(
            Severity::Medium,
            "lambda.environment",
            format!("{resource} environment keys"),
            expected_keys.into_iter().collect::<Vec<_>>().join(", "),
            actual_keys.into_iter().collect::<Vec<_>>().join(", "),
            "deploy the stack again, or declare the variable in the service's environment",
        ));
    }
    findings
}

/// The environment variable names the rendered templates give a function.
fn rendered_environment_keys(rendered: &RenderedEnv, function: &str) -> Option<BTreeSet<String>> {
    rendered.stacks.iter().find_map(|stack| {
        stack
            .resources_of_type("AWS::Lambda::Function")
            .find_map(|(_, resource)| {
                let props = &resource["Properties"];
                (props["FunctionName"].as_str() == Some(function)).then(|| {
                    props["Environment"]["Variables"]
                        .as_mapping()
                        .map(|m| {
                            m.keys()
                                .filter_map(|k| k.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default()
                })
            })
    })
}
