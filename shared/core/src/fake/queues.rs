//! Queues in memory: visible and in-flight messages per queue, with the delays asked for.

use async_trait::async_trait;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use super::lock;
use crate::error::{Error, Result};
use crate::ports::{OutgoingMessage, QueueDepth, QueueMessage, WorkQueue};

#[derive(Default)]
struct FakeQueue {
    visible: VecDeque<QueueMessage>,
    in_flight: Vec<QueueMessage>,
    sent: u64,
}

/// Queues in memory. A queue exists once it has been named with [`FakeQueues::create`].
/// Delays are not modelled: a sent message is visible at once, and its delay is recorded.
#[derive(Default)]
pub struct FakeQueues {
    queues: Mutex<BTreeMap<String, FakeQueue>>,
    delays: Mutex<Vec<(String, u32)>>,
    failing_sends: Mutex<usize>,
}

impl FakeQueues {
    /// Creates a queue; its URL is `fake://<name>`.
    pub fn create(&self, name: &str) -> String {
        let url = format!("fake://{name}");
        lock(&self.queues).entry(url.clone()).or_default();
        url
    }

    /// Bodies of the messages waiting (visible) on a queue.
    pub fn bodies(&self, queue_url: &str) -> Vec<String> {
        lock(&self.queues)
            .get(queue_url)
            .map(|q| q.visible.iter().map(|m| m.body.clone()).collect())
            .unwrap_or_default()
    }

    /// The next `sends` messages sent (alone or in a batch) fail as an unreachable queue does.
    pub fn fail_next_sends(&self, sends: usize) {
        *lock(&self.failing_sends) = sends;
    }

    /// (queue URL, delay) of every message sent, in order.
    pub fn delays(&self) -> Vec<(String, u32)> {
        lock(&self.delays).clone()
    }
}

#[async_trait]
impl WorkQueue for FakeQueues {
    async fn queue_url(&self, name: &str) -> Result<String> {
        let url = format!("fake://{name}");
        if lock(&self.queues).contains_key(&url) {
            Ok(url)
        } else {
            Err(Error::NotFound { what: "queue", id: name.to_string() })
        }
    }

    async fn send(&self, queue_url: &str, message: &OutgoingMessage) -> Result<String> {
        {
            let mut failing = lock(&self.failing_sends);
            if *failing > 0 {
                *failing -= 1;
                return Err(super::timed_out("sqs", "SendMessage"));
            }
        }
        let mut queues = lock(&self.queues);
        let queue =
            queues.get_mut(queue_url).ok_or_else(|| Error::NotFound { what: "queue", id: queue_url.to_string() })?;
        queue.sent += 1;
        let id = format!("m{}", queue.sent);
        queue.visible.push_back(QueueMessage {
            message_id: id.clone(),
            receipt_handle: String::new(),
            body: message.body.clone(),
            receive_count: 0,
        });
        lock(&self.delays).push((queue_url.to_string(), message.delay_seconds));
        Ok(id)
    }

    async fn receive(&self, queue_url: &str, max: u32, _wait_seconds: u32) -> Result<Vec<QueueMessage>> {
        let mut queues = lock(&self.queues);
        let queue =
            queues.get_mut(queue_url).ok_or_else(|| Error::NotFound { what: "queue", id: queue_url.to_string() })?;
        let mut out = Vec::new();
        while out.len() < max.max(1) as usize {
            let Some(mut m) = queue.visible.pop_front() else { break };
            m.receive_count += 1;
            m.receipt_handle = format!("{}#{}", m.message_id, m.receive_count);
            queue.in_flight.push(m.clone());
            out.push(m);
        }
        Ok(out)
    }

    /// Visibility timeouts are not modelled: the same as `receive`.
    async fn receive_leased(
        &self,
        queue_url: &str,
        max: u32,
        wait: u32,
        _visibility: u32,
    ) -> Result<Vec<QueueMessage>> {
        self.receive(queue_url, max, wait).await
    }

    async fn delete(&self, queue_url: &str, receipt_handle: &str) -> Result<()> {
        if let Some(queue) = lock(&self.queues).get_mut(queue_url) {
            queue.in_flight.retain(|m| m.receipt_handle != receipt_handle);
        }
        Ok(())
    }

    async fn set_visibility(&self, queue_url: &str, receipt_handle: &str, seconds: u32) -> Result<()> {
        if seconds == 0
            && let Some(queue) = lock(&self.queues).get_mut(queue_url)
            && let Some(i) = queue.in_flight.iter().position(|m| m.receipt_handle == receipt_handle)
        {
            let m = queue.in_flight.remove(i);
            queue.visible.push_front(m);
        }
        Ok(())
    }

    async fn depth(&self, queue_url: &str) -> Result<QueueDepth> {
        let queues = lock(&self.queues);
        let queue =
            queues.get(queue_url).ok_or_else(|| Error::NotFound { what: "queue", id: queue_url.to_string() })?;
        Ok(QueueDepth {
            visible: queue.visible.len() as u64,
            not_visible: queue.in_flight.len() as u64,
            ..QueueDepth::default()
        })
    }

    async fn list_queues(&self, prefix: &str) -> Result<Vec<String>> {
        let wanted = format!("fake://{prefix}");
        Ok(lock(&self.queues).keys().filter(|url| url.starts_with(&wanted)).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fake_queue_redelivers_released_messages() {
        let queues = FakeQueues::default();
        let url = queues.create("q");
        queues.send(&url, &OutgoingMessage { body: "hello".into(), ..Default::default() }).await.unwrap();
        let first = queues.receive(&url, 1, 0).await.unwrap();
        assert!(queues.receive(&url, 1, 0).await.unwrap().is_empty(), "in flight, not visible");
        queues.set_visibility(&url, &first[0].receipt_handle, 0).await.unwrap();
        let again = queues.receive(&url, 1, 0).await.unwrap();
        assert_eq!((again[0].body.as_str(), again[0].receive_count), ("hello", 2));
    }
}
