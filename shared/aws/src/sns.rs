//! SNS: the [`TopicPublisher`] port.

use async_trait::async_trait;
use aws_sdk_sns::Client;

use super::aws_error;
use crate::error::Result;
use crate::ports::TopicPublisher;

/// Topics on SNS.
#[derive(Clone, Debug)]
pub struct SnsTopics {
    client: Client,
}

impl SnsTopics {
    /// Uses `client` for every call.
    pub fn new(client: Client) -> Self {
        SnsTopics { client }
    }
}

#[async_trait]
impl TopicPublisher for SnsTopics {
    async fn publish(&self, topic_arn: &str, subject: Option<&str>, message: &str) -> Result<String> {
        let out = self
            .client
            .publish()
            .topic_arn(topic_arn)
            .message(message)
            .set_subject(subject.map(str::to_string))
            .send()
            .await
            .map_err(|e| aws_error("sns", "Publish", e))?;
        Ok(out.message_id.unwrap_or_default())
    }
}
