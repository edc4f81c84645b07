//! ECS tasks in memory: requests and definitions recorded, every task ending as a test says.

use async_trait::async_trait;
use std::sync::Mutex;

use super::lock;
use crate::error::Result;
use crate::ports::{ContainerTasks, TaskDefinition, TaskRequest, TaskStatus};

/// ECS tasks in memory: each task runs to the exit code set with [`FakeTasks::finish_with`].
#[derive(Default)]
pub struct FakeTasks {
    /// Every request, in order.
    pub requests: Mutex<Vec<TaskRequest>>,
    /// Each registered definition.
    pub definitions: Mutex<Vec<TaskDefinition>>,
    /// The log lines every task has.
    pub logs: Mutex<Vec<String>>,
    /// (task, reason) of each stop.
    pub stopped: Mutex<Vec<(String, String)>>,
    /// The exit code tasks stop with (`None`: they keep running).
    pub exit_code: Mutex<Option<i32>>,
    /// Running tasks per `cluster/service`.
    pub services: Mutex<std::collections::BTreeMap<String, u64>>,
}

impl FakeTasks {
    /// Makes every task stop with this exit code.
    pub fn finish_with(&self, code: i32) {
        *lock(&self.exit_code) = Some(code);
    }
}

#[async_trait]
impl ContainerTasks for FakeTasks {
    async fn run_task(&self, request: &TaskRequest) -> Result<String> {
        let mut requests = lock(&self.requests);
        requests.push(request.clone());
        Ok(format!("arn:fake:ecs:task/{}", requests.len()))
    }

    async fn task_status(&self, _cluster: &str, task_arn: &str) -> Result<TaskStatus> {
        if lock(&self.stopped).iter().any(|(arn, _)| arn == task_arn) {
            return Ok(TaskStatus {
                last_status: "STOPPED".into(),
                exit_code: None,
                stopped_reason: Some("stopped by lava".into()),
            });
        }
        Ok(match *lock(&self.exit_code) {
            Some(code) => TaskStatus { last_status: "STOPPED".into(), exit_code: Some(code), stopped_reason: None },
            None => TaskStatus { last_status: "RUNNING".into(), exit_code: None, stopped_reason: None },
        })
    }

    async fn register(&self, definition: &TaskDefinition) -> Result<String> {
        let mut definitions = lock(&self.definitions);
        definitions.push(definition.clone());
        Ok(format!("arn:fake:ecs:task-definition/{}:{}", definition.family, definitions.len()))
    }

    async fn task_logs(&self, _group: &str, _stream: &str) -> Result<Vec<String>> {
        Ok(lock(&self.logs).clone())
    }

    async fn stop_task(&self, _cluster: &str, task_arn: &str, reason: &str) -> Result<()> {
        lock(&self.stopped).push((task_arn.to_string(), reason.to_string()));
        Ok(())
    }

    async fn running_tasks(&self, cluster: &str, service: &str) -> Result<u64> {
        let name = format!("{cluster}/{service}");
        lock(&self.services)
            .get(&name)
            .copied()
            .ok_or_else(|| crate::error::Error::NotFound { what: "ECS service", id: name })
    }
}
