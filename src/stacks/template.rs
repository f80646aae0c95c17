//! How a template reaches CloudFormation, within the limits AWS enforces: inline up to
//! 51,200 bytes (the TemplateBody limit of CreateStack, UpdateStack and CreateChangeSet);
//! above that from an S3 object in the environment's own bucket, named by its content
//! hash, so a retried or repeated deploy uploads nothing new. Templates over the S3 limit
//! are refused offline when rendering (`render::MAX_TEMPLATE_BYTES`).

use crate::aws::{AwsContext, AwsError};
use crate::render::RenderedStack;

/// CloudFormation's limit on a template sent in the request.
const MAX_BODY_BYTES: usize = 51_200;

/// The bucket that holds templates too large to send inline (the release bucket).
#[derive(Debug, Clone, Default)]
pub struct TemplateBucket {
    pub name: String,
    pub region: String,
}

impl TemplateBucket {
    /// Where an environment's templates too large to send inline are kept: its release
    /// bucket.
    pub fn of(config: &crate::config::Config) -> Self {
        Self {
            name: config.records_bucket(),
            region: config.environment.region.clone(),
        }
    }
}

/// Where CloudFormation reads one stack's template from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// In the request (TemplateBody).
    Body,
    /// An S3 object (TemplateURL).
    Url(String),
}

/// Whether a stack's template is too large to send inline.
pub fn needs_url(stack: &RenderedStack) -> bool {
    stack.body.len() > MAX_BODY_BYTES
}

/// The object key of a template: its content hash, so the same bytes are one object.
pub fn key(stack: &RenderedStack) -> String {
    format!(
        "templates/{}.yaml",
        stack.hash.trim_start_matches("sha256:")
    )
}

/// The template's source, uploading it first when it must go by URL (once: an object that
/// is already there is not written again).
pub async fn source(
    aws: &AwsContext,
    bucket: &TemplateBucket,
    stack: &RenderedStack,
) -> Result<Source, AwsError> {
    if !needs_url(stack) {
        return Ok(Source::Body);
    }
    let key = key(stack);
    let present = aws
        .s3
        .head_object()
        .bucket(&bucket.name)
        .key(&key)
        .send()
        .await
        .is_ok();
    if !present {
        aws.s3
            .put_object()
            .bucket(&bucket.name)
            .key(&key)
            .content_type("application/x-yaml")
            .body(stack.body.clone().into_bytes().into())
            .customize()
            .config_override(crate::aws::s3_transfer())
            .send()
            .await
            .map_err(|e| AwsError::new("PutObject", e))?;
    }
    // The regional virtual-hosted URL: CloudFormation reads it with the caller's rights.
    Ok(Source::Url(format!(
        "https://{}.s3.{}.amazonaws.com/{key}",
        bucket.name, bucket.region
    )))
}

/// (TemplateBody, TemplateURL) for a request: exactly one is set.
pub async fn body_or_url(
    aws: &AwsContext,
    bucket: &TemplateBucket,
    stack: &RenderedStack,
) -> Result<(Option<String>, Option<String>), AwsError> {
    Ok(match source(aws, bucket, stack).await? {
        Source::Body => (Some(stack.body.clone()), None),
        Source::Url(url) => (None, Some(url)),
    })
}

/// A ClientRequestToken for one operation on one stack in one run. The SDK sends the same
/// input on every retry, so a retry after a lost answer is recognised by CloudFormation as
/// the same request: no `AlreadyExistsException`, no second operation. AWS allows 1 to 128
/// characters of `[a-zA-Z0-9][-a-zA-Z0-9]*`; the stack name is hashed to keep within both.
pub fn request_token(run: &str, operation: &str, stack_name: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(stack_name.as_bytes());
    let stack: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    let run: String = run
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(32)
        .collect();
    format!("facturactl-{operation}-{run}-{stack}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_valid_distinct_and_stable_for_a_retry() {
        let run = "7f59c3cf-00d2-40c7-b2ff-e75db0987002";
        let a = request_token(run, "create", "facturascan-production-network");
        assert_eq!(
            a,
            request_token(run, "create", "facturascan-production-network")
        );
        assert_ne!(
            a,
            request_token(run, "create", "facturascan-production-auth")
        );
        assert_ne!(
            a,
            request_token(run, "update", "facturascan-production-network")
        );
        assert_ne!(
            a,
            request_token("another-run", "create", "facturascan-production-network")
        );
        for token in [
            a,
            request_token(&"x".repeat(300), "delete", &"s".repeat(128)),
        ] {
            assert!(token.len() <= 128, "{token}");
            assert!(
                token
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric())
            );
            assert!(
                token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
                "{token}"
            );
        }
    }
}
