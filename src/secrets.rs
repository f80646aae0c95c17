//! Resolving secret references at the moment of use.
//!
//! The value is fetched, wrapped in [`Secret`] (which prints as `***`) and handed to the one
//! call that needs it. Errors name the reference, never a value.

use crate::aws::AwsContext;
use crate::config::{Secret, SecretRef};

/// Why a reference could not be resolved.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot read secret `{reference}`: {reason}")]
pub struct SecretError {
    pub reference: String,
    pub reason: String,
}

pub async fn resolve(aws: &AwsContext, reference: &SecretRef) -> Result<Secret, SecretError> {
    let fail = |reason: String| SecretError {
        reference: reference.to_string(),
        reason,
    };
    let value = match reference {
        // Read here, at use, because only the config knows which variable holds a secret.
        SecretRef::Env(var) => std::env::var(var)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| fail(format!("the variable {var} is not set")))?,
        SecretRef::Ssm(name) => aws
            .ssm
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| fail(crate::aws::AwsError::new("GetParameter", e).message))?
            .parameter
            .and_then(|p| p.value)
            .ok_or_else(|| fail("the parameter has no value".into()))?,
        SecretRef::SecretsManager(id) => aws
            .secrets
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| fail(crate::aws::AwsError::new("GetSecretValue", e).message))?
            .secret_string
            .ok_or_else(|| fail("the secret has no string value".into()))?,
    };
    Ok(Secret::new(value.trim().to_string()))
}
