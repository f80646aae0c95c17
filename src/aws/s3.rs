//! S3 calls every store of the tool makes the same way: listing a prefix page by page,
//! writing a JSON document, and telling a missing object or a failed precondition apart.

use aws_sdk_s3::primitives::ByteStream;
use serde::Serialize;

pub type S3Error<E> = aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>;

pub fn is_precondition_failed<E>(e: &S3Error<E>) -> bool
where
    E: aws_sdk_s3::error::ProvideErrorMetadata,
{
    use aws_sdk_s3::error::ProvideErrorMetadata;
    matches!(
        e.code(),
        Some("PreconditionFailed" | "ConditionalRequestConflict")
    ) || matches!(e, aws_sdk_s3::error::SdkError::ServiceError(s) if s.raw().status().as_u16() == 412)
}

/// Every key under `prefix`, page after page, in S3's order.
pub async fn list_keys(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<String>, S3Error<aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Error>> {
    let objects = list_objects(s3, bucket, prefix).await?;
    Ok(objects.into_iter().map(|(key, _)| key).collect())
}

/// Every object under `prefix` as (key, last modified in epoch seconds), page after page,
/// in S3's order.
pub async fn list_objects(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<(String, i64)>, S3Error<aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Error>>
{
    let mut objects = Vec::new();
    let mut token = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token.clone())
            .send()
            .await?;
        objects.extend(page.contents().iter().filter_map(|o| {
            let modified = o.last_modified().map_or(0, |t| t.secs());
            Some((o.key()?.to_string(), modified))
        }));
        let next = page.next_continuation_token().map(str::to_string);
        // A token that does not move would page forever: what was listed is all there is.
        if next.is_none() || next == token {
            return Ok(objects);
        }
        token = next;
    }
}

pub fn is_missing<E>(e: &S3Error<E>) -> bool
where
    E: aws_sdk_s3::error::ProvideErrorMetadata,
{
    use aws_sdk_s3::error::ProvideErrorMetadata;
    matches!(e.code(), Some("NoSuchKey" | "NotFound" | "NoSuchBucket"))
        || matches!(e, aws_sdk_s3::error::SdkError::ServiceError(s) if s.raw().status().as_u16() == 404)
}

/// Writes `value` as a JSON object (`application/json`), pretty-printed so a person can
/// read it in the console.
pub async fn put_json(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    value: &impl Serialize,
) -> Result<(), S3Error<aws_sdk_s3::operation::put_object::PutObjectError>> {
    let body = serde_json::to_vec_pretty(value).unwrap_or_default();
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/json")
        .body(ByteStream::from(body))
        .send()
        .await?;
    Ok(())
}
