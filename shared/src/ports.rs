//! The ports: what application code needs from the outside world, named for the role.
//! `aws` implements them on the AWS SDK; `fake` (feature `test-util`) in memory.

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::error::Result;
use crate::model::EventUpdate;

/// The JSON form of a binary attribute is the map `{"$binary": "<base64>"}`.
pub const BINARY_KEY: &str = "$binary";

/// A table item as a JSON map (DynamoDB maps, lists, strings, numbers, booleans and nulls).
pub type Item = Map<String, Value>;

/// lava's DynamoDB tables: items as JSON maps.
#[async_trait]
pub trait TableStore: Send + Sync {
    /// The item with this key (the key attributes only), if there is one.
    async fn get_item(&self, table: &str, key: &Item, consistent: bool) -> Result<Option<Item>>;
    /// Writes an item, replacing any item with the same key.
    async fn put_item(&self, table: &str, item: Item) -> Result<()>;
    /// Writes an item only if no item has the same `key_attribute` value; `false` if one did.
    async fn put_new_item(&self, table: &str, key_attribute: &str, item: Item) -> Result<bool>;
    /// Deletes the item with this key (no error if there is none).
    async fn delete_item(&self, table: &str, key: &Item) -> Result<()>;
    /// Every item of the table.
    async fn scan_items(&self, table: &str) -> Result<Vec<Item>>;
    /// Items of a global secondary index whose key attributes equal `keys` (hash, then range).
    async fn query_index(&self, table: &str, index: &str, keys: &[(&str, &str)]) -> Result<Vec<Item>>;
}

/// The events table: one item per run, with a log that grows by one entry per event.
#[async_trait]
pub trait EventLog: Send + Sync {
    /// Applies one write (one or more events, in order) to its run's item, creating it on the
    /// first write.
    async fn append(&self, table: &str, update: &EventUpdate) -> Result<()>;
}

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

/// SQS queues: worker, dispatch and actions queues and the sqs action's targets.
#[async_trait]
pub trait WorkQueue: Send + Sync {
    /// The URL of the queue with this name.
    async fn queue_url(&self, name: &str) -> Result<String>;
    /// Sends a message; returns its message id.
    async fn send(&self, queue_url: &str, message: &OutgoingMessage) -> Result<String>;
    /// Receives up to `max` messages, waiting up to `wait_seconds` for the first.
    async fn receive(&self, queue_url: &str, max: u32, wait_seconds: u32) -> Result<Vec<QueueMessage>>;
    /// Deletes a received message.
    async fn delete(&self, queue_url: &str, receipt_handle: &str) -> Result<()>;
    /// Keeps a received message invisible for `seconds` more (0 releases it at once).
    async fn set_visibility(&self, queue_url: &str, receipt_handle: &str, seconds: u32) -> Result<()>;
}

/// Server-side encryption for uploads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encryption {
    /// SSE-S3.
    Aes256,
    /// SSE-KMS with this key id, ARN or alias.
    Kms(String),
}

impl Encryption {
    /// The realm's KMS key (`s3_key`), else AES256.
    pub fn for_realm(realm: &crate::model::RealmEntry) -> Self {
        match &realm.s3_key {
            Some(key) if !key.is_empty() => Encryption::Kms(key.clone()),
            _ => Encryption::Aes256,
        }
    }
}

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Full key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
}

/// The result of listing a prefix.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Listing {
    /// Objects directly under the prefix (or all below it, without a delimiter), sorted by key.
    pub objects: Vec<ObjectInfo>,
    /// Sub-prefixes (with a delimiter).
    pub prefixes: Vec<String>,
}

/// S3: payloads in, job outputs out.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Uploads an object.
    async fn put_object(&self, bucket: &str, key: &str, body: Vec<u8>, encryption: &Encryption) -> Result<()>;
    /// Downloads an object.
    async fn get_object(&self, bucket: &str, key: &str) -> Result<Vec<u8>>;
    /// Lists objects under `prefix` (one level when `delimiter` is given).
    async fn list_objects(&self, bucket: &str, prefix: &str, delimiter: Option<&str>) -> Result<Listing>;
}

/// SNS topics.
#[async_trait]
pub trait TopicPublisher: Send + Sync {
    /// Publishes a message; returns the message id.
    async fn publish(&self, topic_arn: &str, subject: Option<&str>, message: &str) -> Result<String>;
}

/// An email to send.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Email {
    /// Sender address.
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
    /// Subject line.
    pub subject: String,
    /// Body.
    pub body: String,
    /// Whether the body is HTML.
    pub html: bool,
    /// SES configuration set.
    pub configuration_set: Option<String>,
    /// Reply-to addresses.
    pub reply_to: Vec<String>,
    /// SES region (otherwise the client's).
    pub region: Option<String>,
    /// Files attached (sent as a MIME message).
    pub attachments: Vec<Attachment>,
}

/// A file attached to an email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// File name shown to the recipient.
    pub name: String,
    /// MIME type.
    pub content_type: String,
    /// Contents.
    pub data: Vec<u8>,
}

/// Email through SES.
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends an email; returns the message id.
    async fn send_email(&self, email: &Email) -> Result<String>;
    /// The verified domain identities in `region` (otherwise the client's).
    async fn verified_domains(&self, region: Option<&str>) -> Result<Vec<String>>;
}

/// KMS: encryption of secure state values.
#[async_trait]
pub trait KeyService: Send + Sync {
    /// Encrypts `plaintext` with `key_id` (ARN or `alias/...`); returns the ciphertext, base64.
    async fn encrypt(&self, key_id: &str, plaintext: &[u8]) -> Result<String>;
    /// Decrypts base64 ciphertext.
    async fn decrypt(&self, ciphertext: &str) -> Result<Vec<u8>>;
}

/// Secrets: SSM parameters (decrypted) and Secrets Manager secret strings.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// The value of an SSM parameter, decrypted.
    async fn parameter(&self, name: &str) -> Result<String>;
    /// The secret string of a Secrets Manager secret.
    async fn secret(&self, secret_id: &str) -> Result<String>;
    /// Temporary credentials from STS AssumeRole (for `aws` connections with `role_arn`).
    async fn assume_role(&self, request: &AssumeRole) -> Result<TemporaryCredentials>;
    /// An ECR registry login (for `docker` connections with `registry: ecr[:<account>]`).
    async fn registry_login(&self, account_ids: &[String]) -> Result<RegistryLogin>;
}

/// An STS AssumeRole request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssumeRole {
    /// The role.
    pub role_arn: String,
    /// Session name.
    pub session_name: String,
    /// Seconds.
    pub duration_seconds: i32,
    /// External id, if the role requires one.
    pub external_id: Option<String>,
    /// Managed policies limiting the session.
    pub policy_arns: Vec<String>,
    /// An inline policy (JSON) limiting the session.
    pub policy: Option<String>,
    /// Session tags.
    pub tags: Vec<(String, String)>,
}

/// Temporary AWS credentials.
#[derive(Clone, PartialEq)]
pub struct TemporaryCredentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token.
    pub session_token: String,
}

impl std::fmt::Debug for TemporaryCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemporaryCredentials").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

/// HTTP POST of JSON to a webhook (Slack).
#[async_trait]
pub trait Webhook: Send + Sync {
    /// Posts `body` to `url`; returns the status code and response text.
    async fn post_json(&self, url: &str, body: &str) -> Result<(u16, String)>;
}

/// An event for EventBridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusEvent {
    /// Bus name (default bus when `None`).
    pub bus: Option<String>,
    /// Event source.
    pub source: String,
    /// Detail type.
    pub detail_type: String,
    /// Detail, as JSON text.
    pub detail: String,
    /// Resource ARNs.
    pub resources: Vec<String>,
}

/// EventBridge.
#[async_trait]
pub trait EventBus: Send + Sync {
    /// Puts one event (an entry the bus refused is an error).
    async fn put_event(&self, event: &BusEvent) -> Result<()>;
}

/// How an ECS task is launched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaunchType {
    /// On the cluster's EC2 capacity.
    Ec2,
    /// On Fargate.
    Fargate,
}

/// A container task to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRequest {
    /// Cluster name or ARN.
    pub cluster: String,
    /// Task definition family[:revision] or ARN.
    pub task_definition: String,
    /// The container whose command and environment are overridden.
    pub container: String,
    /// Command override (empty: the image's).
    pub command: Vec<String>,
    /// Environment overrides.
    pub environment: Vec<(String, String)>,
    /// Launch type.
    pub launch_type: LaunchType,
    /// Subnets (awsvpc networking).
    pub subnets: Vec<String>,
    /// Security groups (awsvpc networking).
    pub security_groups: Vec<String>,
}

/// A one-container task definition.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskDefinition {
    /// Family.
    pub family: String,
    /// The container's name.
    pub container: String,
    /// Its image.
    pub image: String,
    /// Memory, MiB.
    pub memory_mib: i32,
    /// CPU units (1024 per CPU).
    pub cpu_units: Option<i32>,
    /// CloudWatch Logs (`awslogs` driver): group, region and stream prefix.
    pub logs: Option<(String, String, String)>,
}

/// What a task is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskStatus {
    /// ECS `lastStatus` (`PROVISIONING`, `RUNNING`, `STOPPED`, …).
    pub last_status: String,
    /// The container's exit code once stopped.
    pub exit_code: Option<i32>,
    /// Why it stopped.
    pub stopped_reason: Option<String>,
}

/// ECS tasks (docker jobs on fleets without a Docker socket).
#[async_trait]
pub trait ContainerTasks: Send + Sync {
    /// Starts a task; returns its ARN.
    async fn run_task(&self, request: &TaskRequest) -> Result<String>;
    /// The task's status.
    async fn task_status(&self, cluster: &str, task_arn: &str) -> Result<TaskStatus>;
    /// Registers a task definition; returns its ARN.
    async fn register(&self, definition: &TaskDefinition) -> Result<String>;
    /// The messages of a CloudWatch Logs stream, oldest first (empty when there is none).
    async fn task_logs(&self, group: &str, stream: &str) -> Result<Vec<String>>;
    /// Stops a task.
    async fn stop_task(&self, cluster: &str, task_arn: &str, reason: &str) -> Result<()>;
}

/// A container to run on a Docker engine.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerSpec {
    /// Container name.
    pub name: String,
    /// Image reference (`repository:tag`).
    pub image: String,
    /// Command (`None`: the image's).
    pub command: Option<Vec<String>>,
    /// Environment, `NAME=value`.
    pub env: Vec<String>,
    /// Labels.
    pub labels: Vec<(String, String)>,
    /// Bind mounts, `host:container:mode`.
    pub binds: Vec<String>,
    /// Runtime options (the job's `host_config`, with lava's defaults).
    pub host: ContainerHost,
}

/// Container runtime options (the whitelisted `host_config` of docker jobs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerHost {
    /// `user[:group]`.
    pub user: Option<String>,
    /// Extra groups.
    pub group_add: Vec<String>,
    /// Working directory.
    pub working_dir: Option<String>,
    /// Host name.
    pub hostname: Option<String>,
    /// Domain name.
    pub domainname: Option<String>,
    /// Memory limit, bytes.
    pub memory: Option<i64>,
    /// Memory + swap limit, bytes.
    pub memory_swap: Option<i64>,
    /// Swappiness 0–100.
    pub memory_swappiness: Option<i64>,
    /// CPU limit in 1e-9 CPUs.
    pub nano_cpus: Option<i64>,
    /// Relative CPU weight.
    pub cpu_shares: Option<i64>,
    /// CFS period.
    pub cpu_period: Option<i64>,
    /// CFS quota.
    pub cpu_quota: Option<i64>,
    /// CPUs allowed.
    pub cpuset_cpus: Option<String>,
    /// Memory nodes allowed.
    pub cpuset_mems: Option<String>,
    /// Shared memory size, bytes.
    pub shm_size: Option<i64>,
    /// Network mode.
    pub network_mode: Option<String>,
    /// No networking.
    pub network_disabled: Option<bool>,
    /// Capabilities added.
    pub cap_add: Vec<String>,
    /// Capabilities dropped.
    pub cap_drop: Vec<String>,
    /// DNS servers.
    pub dns: Vec<String>,
    /// DNS options.
    pub dns_options: Vec<String>,
    /// DNS search domains.
    pub dns_search: Vec<String>,
    /// `host:ip` entries.
    pub extra_hosts: Vec<String>,
    /// Publish every exposed port.
    pub publish_all_ports: Option<bool>,
}

/// Registry credentials for a pull.
#[derive(Clone, PartialEq, Default)]
pub struct RegistryLogin {
    /// Registry server.
    pub server: String,
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: String,
}

impl std::fmt::Debug for RegistryLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryLogin")
            .field("server", &self.server)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A Docker engine (docker jobs).
#[async_trait]
pub trait ContainerEngine: Send + Sync {
    /// Whether the engine has the image.
    async fn has_image(&self, image: &str) -> Result<bool>;
    /// Pulls an image.
    async fn pull(&self, image: &str, login: Option<&RegistryLogin>) -> Result<()>;
    /// Creates and starts a container; returns its id.
    async fn start(&self, spec: &ContainerSpec) -> Result<String>;
    /// Waits for the container to exit; returns its exit code.
    async fn wait(&self, id: &str) -> Result<i64>;
    /// Kills the container.
    async fn kill(&self, id: &str) -> Result<()>;
    /// The container's combined stdout and stderr.
    async fn logs(&self, id: &str) -> Result<Vec<u8>>;
    /// Removes the container (forced).
    async fn remove(&self, id: &str) -> Result<()>;
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

/// Every port a deployable uses, built once at start-up.
#[derive(Clone)]
pub struct Ports {
    /// DynamoDB tables.
    pub tables: std::sync::Arc<dyn TableStore>,
    /// The events table.
    pub events: std::sync::Arc<dyn EventLog>,
    /// SQS.
    pub queues: std::sync::Arc<dyn WorkQueue>,
    /// S3.
    pub blobs: std::sync::Arc<dyn BlobStore>,
    /// SNS.
    pub topics: std::sync::Arc<dyn TopicPublisher>,
    /// SES.
    pub mailer: std::sync::Arc<dyn Mailer>,
    /// EventBridge.
    pub bus: std::sync::Arc<dyn EventBus>,
    /// KMS.
    pub keys: std::sync::Arc<dyn KeyService>,
    /// Slack webhooks.
    pub webhook: std::sync::Arc<dyn Webhook>,
    /// ECS tasks (docker jobs on fleets without a Docker engine).
    pub tasks: std::sync::Arc<dyn ContainerTasks>,
    /// SSM parameters and Secrets Manager.
    pub secrets: std::sync::Arc<dyn SecretStore>,
}
