//! SQS: the [`WorkQueue`] port.

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};

use super::aws_error;
use crate::error::{Error, Result};
use crate::ports::{OutgoingMessage, QueueDepth, QueueMessage, WorkQueue};

/// Queues on SQS.
#[derive(Clone, Debug)]
pub struct SqsQueues {
    client: Client,
    /// Queue URLs found so far: a queue's URL follows from its name, account and region, so it
    /// never changes while the process runs (a missing queue is asked about again).
    urls: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>,
}

impl SqsQueues {
    /// Uses `client` for every call.
    pub fn new(client: Client) -> Self {
        SqsQueues { client, urls: Default::default() }
    }

    fn known_urls(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, String>> {
        self.urls.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// ReceiveMessage with the receive count, and a visibility timeout when one is given.
    async fn receive_with(
        &self,
        queue_url: &str,
        max: u32,
        wait_seconds: u32,
        visibility_seconds: Option<u32>,
    ) -> Result<Vec<QueueMessage>> {
        #[allow(deprecated)] // the older attribute form, for emulators that predate the new one
        let request = self.client.receive_message().attribute_names(QueueAttributeName::All);
        // A long poll answers only after its wait: its attempt may take that much longer.
        let attempt = self.client.config().timeout_config().and_then(|t| t.operation_attempt_timeout());
        let wait = wait_seconds.min(20);
        let timeouts = aws_sdk_sqs::config::timeout::TimeoutConfig::builder()
            .operation_attempt_timeout(
                attempt.unwrap_or(super::DEFAULT_CALL_TIMEOUT) + std::time::Duration::from_secs(wait.into()),
            )
            .build();
        let out = request
            .queue_url(queue_url)
            .set_visibility_timeout(visibility_seconds.map(|v| v.min(crate::model::limits::SQS_MAX_VISIBILITY) as i32))
            .max_number_of_messages(max.clamp(1, 10) as i32)
            .wait_time_seconds(wait as i32)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .customize()
            .config_override(aws_sdk_sqs::config::Builder::default().timeout_config(timeouts))
            .send()
            .await
            .map_err(|e| aws_error("sqs", "ReceiveMessage", e))?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let receive_count = m
                    .attributes
                    .as_ref()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1);
                QueueMessage {
                    message_id: m.message_id.unwrap_or_default(),
                    receipt_handle: m.receipt_handle.unwrap_or_default(),
                    body: m.body.unwrap_or_default(),
                    receive_count,
                }
            })
            .collect())
    }
}

#[async_trait]
impl WorkQueue for SqsQueues {
    async fn queue_url(&self, name: &str) -> Result<String> {
        if let Some(url) = self.known_urls().get(name) {
            return Ok(url.clone());
        }
        // A missing queue keeps SQS's answer (the original's text for it, which alerts match).
        let out = self
            .client
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .map_err(|e| aws_error("sqs", "GetQueueUrl", e))?;
        let url = out.queue_url.ok_or_else(|| Error::NotFound { what: "queue", id: name.to_string() })?;
        self.known_urls().insert(name.to_string(), url.clone());
        Ok(url)
    }

    async fn send(&self, queue_url: &str, message: &OutgoingMessage) -> Result<String> {
        let mut request = self.client.send_message();
        for (name, value) in &message.attributes {
            let attribute = aws_sdk_sqs::types::MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| Error::unexpected(name.clone(), e.to_string()))?;
            request = request.message_attributes(name, attribute);
        }
        let out = request
            .queue_url(queue_url)
            .message_body(&message.body)
            .delay_seconds(message.delay_seconds as i32)
            .set_message_group_id(message.group_id.clone())
            .set_message_deduplication_id(message.dedup_id.clone())
            .send()
            .await
            .map_err(|e| aws_error("sqs", "SendMessage", e))?;
        Ok(out.message_id.unwrap_or_default())
    }

    async fn send_batch(&self, queue_url: &str, messages: &[OutgoingMessage]) -> Result<Vec<Option<String>>> {
        use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
        let mut outcomes: Vec<Option<String>> = vec![None; messages.len()];
        let mut sent_any = false;
        let mut last_error = None;
        for (chunk_index, chunk) in messages.chunks(10).enumerate() {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(&m.body)
                        .delay_seconds(m.delay_seconds as i32)
                        .build()
                        .map_err(|e| Error::unexpected("SendMessageBatch entry", e.to_string()))
                })
                .collect::<Result<Vec<_>>>()?;
            let base = chunk_index * 10;
            match self.client.send_message_batch().queue_url(queue_url).set_entries(Some(entries)).send().await {
                Ok(out) => {
                    sent_any = true;
                    for failed in out.failed() {
                        if let Ok(i) = failed.id().parse::<usize>() {
                            outcomes[base + i] =
                                Some(format!("{}: {}", failed.code(), failed.message().unwrap_or_default()));
                        }
                    }
                }
                Err(e) => {
                    let error = aws_error("sqs", "SendMessageBatch", e);
                    for outcome in &mut outcomes[base..base + chunk.len()] {
                        *outcome = Some(error.to_string());
                    }
                    last_error = Some(error);
                }
            }
        }
        match last_error {
            Some(e) if !sent_any => Err(e),
            _ => Ok(outcomes),
        }
    }

    async fn receive(&self, queue_url: &str, max: u32, wait_seconds: u32) -> Result<Vec<QueueMessage>> {
        self.receive_with(queue_url, max, wait_seconds, None).await
    }

    async fn receive_leased(&self, queue_url: &str, max: u32, wait: u32, visibility: u32) -> Result<Vec<QueueMessage>> {
        self.receive_with(queue_url, max, wait, Some(visibility)).await
    }

    async fn delete(&self, queue_url: &str, receipt_handle: &str) -> Result<()> {
        self.client
            .delete_message()
            .queue_url(queue_url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(|e| aws_error("sqs", "DeleteMessage", e))?;
        Ok(())
    }

    async fn set_visibility(&self, queue_url: &str, receipt_handle: &str, seconds: u32) -> Result<()> {
        self.client
            .change_message_visibility()
            .queue_url(queue_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(seconds.min(43_200) as i32)
            .send()
            .await
            .map_err(|e| aws_error("sqs", "ChangeMessageVisibility", e))?;
        Ok(())
    }

    async fn depth(&self, queue_url: &str) -> Result<QueueDepth> {
        use QueueAttributeName as Name;
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(Name::ApproximateNumberOfMessages)
            .attribute_names(Name::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(Name::VisibilityTimeout)
            .attribute_names(Name::MessageRetentionPeriod)
            .send()
            .await
            .map_err(|e| aws_error("sqs", "GetQueueAttributes", e))?;
        let count = |name: Name| out.attributes().and_then(|a| a.get(&name)).and_then(|v| v.parse::<u64>().ok());
        Ok(QueueDepth {
            visible: count(Name::ApproximateNumberOfMessages).unwrap_or_default(),
            not_visible: count(Name::ApproximateNumberOfMessagesNotVisible).unwrap_or_default(),
            visibility_timeout: count(Name::VisibilityTimeout),
            retention: count(Name::MessageRetentionPeriod),
        })
    }

    async fn list_queues(&self, prefix: &str) -> Result<Vec<String>> {
        let mut urls = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .list_queues()
                .queue_name_prefix(prefix)
                .max_results(1000)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| aws_error("sqs", "ListQueues", e))?;
            urls.extend(out.queue_urls().iter().cloned());
            match out.next_token {
                Some(next) if !next.is_empty() => token = Some(next),
                _ => return Ok(urls),
            }
        }
    }
}
