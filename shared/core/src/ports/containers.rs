//! Container ports: ECS tasks and a Docker engine, with the task and container descriptions.

use async_trait::async_trait;

use crate::error::Result;
pub use crate::model::ContainerHost;
use crate::ports::RegistryLogin;

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
    /// How many tasks of an ECS service are running (`runningCount`).
    async fn running_tasks(&self, cluster: &str, service: &str) -> Result<u64>;
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
