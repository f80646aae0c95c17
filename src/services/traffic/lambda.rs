//! The split of a Lambda service: a control version and a variant behind the `live` alias
//! at a fixed share (FunctionVersion is the control, AdditionalVersionWeights the variant),
//! so what this shows is what serves traffic.

use super::metrics::{Platform, stats};
use super::moved::{Carrier, Moved};
use super::report::{TrafficError, TrafficReport};
use crate::aws::{AwsContext, AwsError};
use crate::config::Config;
use crate::services::lambda::ALIAS;

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
