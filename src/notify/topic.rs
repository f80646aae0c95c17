//! Notifications through AWS: SNS topics (email subscribers, AWS Chatbot) and SES.

use super::Notice;
use super::message;
use crate::aws::AwsContext;
use crate::aws::AwsError;

/// Publishes to a channel's topic. The SDK retries throttling and 5xx itself (the
/// environment's retry settings), so one call is one attempt here.
pub async fn publish(
    aws: &AwsContext,
    topic_arn: &str,
    subject: Option<&str>,
    body: &str,
) -> Result<u32, (u32, String)> {
    aws.sns
        .publish()
        .topic_arn(topic_arn)
        .set_subject(subject.map(str::to_string))
        .message(body)
        .send()
        .await
        .map(|_| 1)
        .map_err(|e| {
            let error = AwsError::new("Publish", e);
            let topic = topic_arn.rsplit(':').next().unwrap_or(topic_arn);
            match error.code.as_deref() {
                Some("NotFound") => (
                    1,
                    format!("the topic {topic} does not exist: deploy the alerts stack first"),
                ),
                _ => (1, error.to_string()),
            }
        })
}

/// Sends the notice as an email through SES, from a verified sender.
pub async fn send_email(
    aws: &AwsContext,
    from: &str,
    to: &[String],
    notice: &Notice,
) -> Result<u32, (u32, String)> {
    use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
    let content = |text: String| Content::builder().data(text).charset("UTF-8").build();
    let (Ok(subject), Ok(text)) = (
        content(message::subject(notice)),
        content(message::plain_text(notice)),
    ) else {
        return Err((0, "cannot build the email".into()));
    };
    aws.ses
        .send_email()
        .from_email_address(from)
        .destination(
            Destination::builder()
                .set_to_addresses(Some(to.to_vec()))
                .build(),
        )
        .content(
            EmailContent::builder()
                .simple(
                    Message::builder()
                        .subject(subject)
                        .body(Body::builder().text(text).build())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .map(|_| 1)
        .map_err(|e| (1, AwsError::new("SendEmail", e).to_string()))
}
