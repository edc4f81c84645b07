//! In-memory implementations of every port, for tests of the deployables (feature `test-util`).
//! They hold state, so tests assert outcomes ("the queue now has one message"), not calls.

mod blobs;
mod metrics;
mod notices;
mod queues;
mod secrets;
mod tables;
mod tasks;

use std::sync::{Arc, Mutex, MutexGuard};

use crate::names::ResourceNames;
use crate::ports::Ports;

pub use blobs::FakeBlobs;
pub use metrics::FakeMetrics;
pub use notices::{FakeNotices, FakeWebhook};
pub use queues::FakeQueues;
pub use secrets::{FakeKeys, FakeSecrets};
pub use tables::{FakeEventLog, FakeTables};
pub use tasks::FakeTasks;

/// The error of an AWS call that timed out (transient), as a fake told to fail returns it.
pub(crate) fn timed_out(service: &'static str, operation: &'static str) -> crate::error::Error {
    crate::error::Error::Aws {
        service,
        operation,
        code: None,
        message: "request has timed out (fake)".into(),
        retry: crate::error::Retry::Transient,
        source: None,
    }
}

/// Locks a fake's state, poisoned or not (a test that panicked holding it has already failed).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Every port in memory for one realm, with typed handles to look inside.
pub struct FakePorts {
    /// Tables.
    pub tables: Arc<FakeTables>,
    /// Events.
    pub events: Arc<FakeEventLog>,
    /// Queues.
    pub queues: Arc<FakeQueues>,
    /// S3.
    pub blobs: Arc<FakeBlobs>,
    /// SNS, SES and EventBridge.
    pub notices: Arc<FakeNotices>,
    /// Slack.
    pub webhook: Arc<FakeWebhook>,
    /// SSM and Secrets Manager.
    pub secrets: Arc<FakeSecrets>,
    /// ECS.
    pub tasks: Arc<FakeTasks>,
    /// CloudWatch metrics.
    pub metrics: Arc<FakeMetrics>,
}

impl FakePorts {
    /// Empty tables for `names`' realm, no queues, no objects.
    pub fn for_realm(names: &ResourceNames) -> Self {
        FakePorts {
            tables: Arc::new(FakeTables::for_realm(names)),
            events: Arc::default(),
            queues: Arc::default(),
            blobs: Arc::default(),
            notices: Arc::default(),
            webhook: Arc::default(),
            secrets: Arc::default(),
            tasks: Arc::default(),
            metrics: Arc::default(),
        }
    }

    /// The ports over these fakes.
    pub fn ports(&self) -> Ports {
        Ports {
            tables: self.tables.clone(),
            events: self.events.clone(),
            queues: self.queues.clone(),
            blobs: self.blobs.clone(),
            topics: self.notices.clone(),
            mailer: self.notices.clone(),
            bus: self.notices.clone(),
            keys: Arc::new(FakeKeys),
            webhook: self.webhook.clone(),
            smtp: self.notices.clone(),
            tasks: self.tasks.clone(),
            secrets: self.secrets.clone(),
            metrics: self.metrics.clone(),
        }
    }
}
