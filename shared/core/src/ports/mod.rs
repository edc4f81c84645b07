//! The ports: what application code needs from the outside world, named for the role.
//! `aws` implements them on the AWS SDK; `fake` (feature `test-util`) in memory.

mod absent;
mod blobs;
mod containers;
mod metrics;
mod notify;
mod queues;
mod secrets;
mod tables;

use std::sync::Arc;

pub use absent::Absent;
pub use blobs::{BlobStore, BucketSecurity, ByteChunks, Encryption, Listing, ObjectInfo, Upload};
pub use containers::{
    ContainerEngine, ContainerHost, ContainerSpec, ContainerTasks, LaunchType, TaskDefinition, TaskRequest, TaskStatus,
};
pub use metrics::{Datum, MetricSink, MetricUnit};
pub use notify::{
    Attachment, BusEvent, Email, EventBus, Mailer, SmtpSecurity, SmtpSender, SmtpServer, TopicPublisher, Webhook,
};
pub use queues::{Incoming, OutgoingMessage, QueueDepth, QueueMessage, WorkQueue};
pub use secrets::{
    AssumeRole, DbCredentials, DbCredentialsRequest, KeyService, RegistryLogin, SecretStore, TemporaryCredentials,
};
pub use tables::{BINARY_KEY, EventLog, Item, KeyRange, RangeQuery, TableStore, query_optional_index};

/// Every port a deployable uses, built once at start-up.
#[derive(Clone)]
pub struct Ports {
    /// DynamoDB tables.
    pub tables: Arc<dyn TableStore>,
    /// The events table.
    pub events: Arc<dyn EventLog>,
    /// SQS.
    pub queues: Arc<dyn WorkQueue>,
    /// S3.
    pub blobs: Arc<dyn BlobStore>,
    /// SNS.
    pub topics: Arc<dyn TopicPublisher>,
    /// SES.
    pub mailer: Arc<dyn Mailer>,
    /// EventBridge.
    pub bus: Arc<dyn EventBus>,
    /// KMS.
    pub keys: Arc<dyn KeyService>,
    /// Slack webhooks.
    pub webhook: Arc<dyn Webhook>,
    /// SMTP servers (`email` connections with subtype `smtp`).
    pub smtp: Arc<dyn SmtpSender>,
    /// ECS tasks (docker jobs on fleets without a Docker engine).
    pub tasks: Arc<dyn ContainerTasks>,
    /// SSM parameters and Secrets Manager.
    pub secrets: Arc<dyn SecretStore>,
    /// CloudWatch metrics.
    pub metrics: Arc<dyn MetricSink>,
}
