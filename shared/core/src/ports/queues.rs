//! Queue ports: SQS messages sent and received, and a message as a Lambda function receives it.

use async_trait::async_trait;

use crate::error::Result;

/// A message to send to a queue.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OutgoingMessage {
    /// Body text.
    pub body: String,
    /// SQS delay (0..=900 seconds).
    pub delay_seconds: u32,
    /// FIFO message group id.
    pub group_id: Option<String>,
    /// FIFO deduplication id.
    pub dedup_id: Option<String>,
    /// String message attributes (e.g. why a message was dead-lettered).
    pub attributes: Vec<(String, String)>,
}

/// A message received from a queue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueMessage {
    /// SQS message id.
    pub message_id: String,
    /// Handle to delete it or change its visibility.
    pub receipt_handle: String,
    /// Body text.
    pub body: String,
    /// How many times it has been received (`ApproximateReceiveCount`).
    pub receive_count: u32,
}

/// A queue's approximate message counts (`ApproximateNumberOfMessages` and
/// `ApproximateNumberOfMessagesNotVisible`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueDepth {
    /// Messages waiting to be received.
    pub visible: u64,
    /// Messages received and not yet deleted (in flight).
    pub not_visible: u64,
    /// The queue's visibility timeout in seconds, where known.
    pub visibility_timeout: Option<u64>,
    /// How long the queue keeps a message, in seconds, where known.
    pub retention: Option<u64>,
}

/// SQS queues: worker, dispatch and actions queues and the sqs action's targets.
#[async_trait]
pub trait WorkQueue: Send + Sync {
    /// The URL of the queue with this name.
    async fn queue_url(&self, name: &str) -> Result<String>;
    /// Sends a message; returns its message id.
    async fn send(&self, queue_url: &str, message: &OutgoingMessage) -> Result<String>;
    /// Sends messages (body and delay) in batches of ten; for each message in order, `None`
    /// when it was sent or why it was not. `Err` only when no batch could be sent at all.
    async fn send_batch(&self, queue_url: &str, messages: &[OutgoingMessage]) -> Result<Vec<Option<String>>> {
        let mut outcomes = Vec::with_capacity(messages.len());
        for message in messages {
            outcomes.push(self.send(queue_url, message).await.err().map(|e| e.to_string()));
        }
        Ok(outcomes)
    }
    /// Receives up to `max` messages, waiting up to `wait_seconds` for the first.
    async fn receive(&self, queue_url: &str, max: u32, wait_seconds: u32) -> Result<Vec<QueueMessage>>;
    /// Receives like [`WorkQueue::receive`], each message invisible to other receivers for
    /// `visibility_seconds` (instead of the queue's default) unless extended, released or deleted.
    async fn receive_leased(
        &self,
        queue_url: &str,
        max: u32,
        wait_seconds: u32,
        visibility_seconds: u32,
    ) -> Result<Vec<QueueMessage>>;
    /// Deletes a received message.
    async fn delete(&self, queue_url: &str, receipt_handle: &str) -> Result<()>;
    /// Keeps a received message invisible for `seconds` more (0 releases it at once).
    async fn set_visibility(&self, queue_url: &str, receipt_handle: &str, seconds: u32) -> Result<()>;
    /// The queue's approximate message counts.
    async fn depth(&self, queue_url: &str) -> Result<QueueDepth>;
    /// The URLs of the queues whose names start with `prefix`.
    async fn list_queues(&self, prefix: &str) -> Result<Vec<String>>;
}

/// A queue message as a Lambda function receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// SQS message id (the batch item identifier).
    pub message_id: String,
    /// Body.
    pub body: String,
    /// How many times it has been received (1 on first delivery).
    pub receive_count: u32,
}
