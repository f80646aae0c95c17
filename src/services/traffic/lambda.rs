//! The split of a Lambda service: a control version and a variant behind the `live` alias
//! at a fixed share (FunctionVersion is the control, AdditionalVersionWeights the variant),
//! so what this shows is what serves traffic.

use super::metrics::{Platform, stats};
use super::moved::{Carrier, Moved};
use std::collections::HashMap;

use aws_sdk_lambda::types::Environment;

use super::report::{ModelVariables, TrafficError, TrafficReport, VariantFailure};
use crate::aws::{AwsContext, AwsError};
use crate::config::Config;
use crate::config::names::{MODEL_SHA256_VARIABLE, MODEL_URI_VARIABLE};
use crate::services::lambda::ALIAS;
use crate::services::lambda::identity_of;
use crate::services::rollout::PollPacing;

/// (control version, variant (version, share 0..1)) of the alias.
async fn split(
    aws: &AwsContext,
    function: &str,
) -> Result<(String, Option<(String, f64)>), TrafficError> {
    match crate::services::lambda::alias(aws, function).await? {
        Some(alias) => Ok((alias.version, alias.weights.into_iter().next())),
        None => Err(AwsError::local(
            "GetAlias",
            Some("ResourceNotFoundException"),
            format!("{function} has no `{ALIAS}` alias: deploy the service first"),
        )
        .into()),
    }
}

/// The split and each side's figures over `window`.
pub(super) async fn show(
    aws: &AwsContext,
    config: &Config,
    service: &str,
    function: String,
    window: super::Window,
) -> Result<TrafficReport, TrafficError> {
    let (control, variant) = split(aws, &function).await?;
    let variant_share = variant.as_ref().map_or(0.0, |(_, s)| *s);
    let mut sides = vec![(control, 1.0 - variant_share)];
    if let Some((version, share)) = variant {
        sides.push((version, share));
    }
    let namespace = config.metrics_namespace();
    let stats = stats(
        aws,
        &Platform::Lambda {
            function: &function,
        },
        (&namespace, service),
        &sides,
        window,
    )
    .await?;
    let mut stats = stats.into_iter();
    let mut control = stats.next().expect("the control side");
    let mut variant = stats.next();
    if config
        .services
        .get(service)
        .is_some_and(|s| s.model.is_some())
    {
        for side in std::iter::once(&mut control).chain(variant.as_mut()) {
            side.model_sha256 = Some(
                crate::services::lambda::identity_of(aws, &function, &side.version)
                    .await?
                    .model,
            );
        }
    }
    Ok(TrafficReport::of(
        config,
        service,
        function,
        window.minutes,
        (control, variant),
    ))
}

/// Routes `percent` of the alias's traffic to `variant` (a published version).
pub(super) async fn set(
    aws: &AwsContext,
    function: String,
    variant: &str,
    percent: u32,
) -> Result<Moved, TrafficError> {
    let (control, _) = split(aws, &function).await?;
    if control == variant {
        return Err(TrafficError::AlreadyControl(variant.to_string()));
    }
    aws.lambda
        .get_function_configuration()
        .function_name(&function)
        .qualifier(variant)
        .send()
        .await
        .map_err(|e| TrafficError::NoSuchVersion {
            variant: variant.to_string(),
            function: function.clone(),
            error: AwsError::new("GetFunctionConfiguration", e),
        })?;
    route(aws, &function, &control, Some((variant, percent))).await?;
    Ok(Moved::Set {
        carrier: Carrier::Lambda,
        variant: variant.to_string(),
        percent,
        control,
    })
}

/// Publishes a version that runs the control's code with `model`: `$LATEST` (the
/// control's code, checked) is given the model's variables, published, and given its own
/// back, so it stays what the stack describes. Returns the version.
pub(super) async fn publish_with_model(
    aws: &AwsContext,
    service: &str,
    function: String,
    model: &ModelVariables,
) -> Result<String, TrafficError> {
    let failed = |failure: VariantFailure| TrafficError::Variant {
        service: service.to_string(),
        failure,
    };
    let (control, _) = split(aws, &function).await?;
    let control_code = identity_of(aws, &function, &control).await?.code;
    let latest = aws
        .lambda
        .get_function_configuration()
        .function_name(&function)
        .send()
        .await
        .map_err(|e| AwsError::new("GetFunctionConfiguration", e))?;
    let latest_code = latest.code_sha256().unwrap_or_default();
    if latest_code != control_code {
        return Err(failed(VariantFailure::CodeMoved {
            function,
            latest: latest_code.to_string(),
            control: control_code,
        }));
    }
    let own: HashMap<String, String> = latest
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default();
    let mut variant = own.clone();
    variant.insert(MODEL_URI_VARIABLE.into(), model.uri.clone());
    variant.insert(MODEL_SHA256_VARIABLE.into(), model.sha256.clone());
    set_variables(aws, &function, variant)
        .await
        .map_err(|reason| failed(VariantFailure::Update { reason }))?;
    let published = aws
        .lambda
        .publish_version()
        .function_name(&function)
        .code_sha256(&control_code)
        .description(format!(
            "facturactl: {} on version {control}'s code",
            model.label
        ))
        .send()
        .await
        .map_err(|e| AwsError::new("PublishVersion", e));
    // Put back whatever happened to the publish: $LATEST is the stack's.
    let restored = set_variables(aws, &function, own).await;
    let version = published?.version().unwrap_or_default().to_string();
    restored.map_err(|reason| {
        failed(VariantFailure::NotRestored {
            function: function.clone(),
            version: version.clone(),
            reason,
        })
    })?;
    Ok(version)
}

/// `$LATEST`'s environment variables, replaced whole, once the update settled.
async fn set_variables(
    aws: &AwsContext,
    function: &str,
    variables: HashMap<String, String>,
) -> Result<(), String> {
    aws.lambda
        .update_function_configuration()
        .function_name(function)
        .environment(
            Environment::builder()
                .set_variables(Some(variables))
                .build(),
        )
        .send()
        .await
        .map_err(|e| AwsError::new("UpdateFunctionConfiguration", e).to_string())?;
    crate::services::lambda::settled(aws, function, &PollPacing::default())
        .await
        .map_err(|e| e.to_string())
}

/// The variant becomes the control, with all the traffic.
pub(super) async fn promote(
    aws: &AwsContext,
    service: &str,
    function: String,
) -> Result<Moved, TrafficError> {
    let (control, variant) = split(aws, &function).await?;
    let Some((variant, _)) = variant else {
        return Err(TrafficError::NoVariant {
            service: service.to_string(),
            control,
        });
    };
    route(aws, &function, &variant, None).await?;
    Ok(Moved::Promoted {
        carrier: Carrier::Lambda,
        variant,
        retired: control,
    })
}

/// The experiment ends: all traffic back on the control.
pub(super) async fn abort(aws: &AwsContext, function: String) -> Result<Moved, TrafficError> {
    let (control, variant) = split(aws, &function).await?;
    route(aws, &function, &control, None).await?;
    Ok(Moved::Aborted {
        carrier: Carrier::Lambda,
        variant: variant.map(|(v, _)| v),
        control,
    })
}

async fn route(
    aws: &AwsContext,
    function: &str,
    primary: &str,
    variant: Option<(&str, u32)>,
) -> Result<(), TrafficError> {
    Ok(crate::services::lambda::route(aws, function, primary, variant).await?)
}
