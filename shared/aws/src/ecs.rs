//! ECS: the [`ContainerTasks`] port.

use async_trait::async_trait;
use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, ContainerOverride, KeyValuePair, LaunchType as EcsLaunchType,
    NetworkConfiguration, TaskOverride,
};

use super::aws_error;
use crate::error::{Error, Result};
use crate::ports::{ContainerTasks, LaunchType, TaskDefinition, TaskRequest, TaskStatus};

/// Tasks on ECS.
#[derive(Clone, Debug)]
pub struct EcsTasks {
    client: Client,
    logs: aws_sdk_cloudwatchlogs::Client,
}

impl EcsTasks {
    /// ECS calls through `client`, task logs through `logs`.
    pub fn new(client: Client, logs: aws_sdk_cloudwatchlogs::Client) -> Self {
        EcsTasks { client, logs }
    }
}

#[async_trait]
impl ContainerTasks for EcsTasks {
    async fn run_task(&self, request: &TaskRequest) -> Result<String> {
        let environment: Vec<KeyValuePair> =
            request.environment.iter().map(|(k, v)| KeyValuePair::builder().name(k).value(v).build()).collect();
        let container = ContainerOverride::builder()
            .name(&request.container)
            .set_command((!request.command.is_empty()).then(|| request.command.clone()))
            .set_environment(Some(environment))
            .build();
        let network = (!request.subnets.is_empty()).then(|| {
            let vpc = AwsVpcConfiguration::builder()
                .set_subnets(Some(request.subnets.clone()))
                .set_security_groups(Some(request.security_groups.clone()))
                .assign_public_ip(AssignPublicIp::Disabled)
                .build()
                .expect("subnets are set");
            NetworkConfiguration::builder().awsvpc_configuration(vpc).build()
        });
        let launch_type = match request.launch_type {
            LaunchType::Ec2 => EcsLaunchType::Ec2,
            LaunchType::Fargate => EcsLaunchType::Fargate,
        };
        let out = self
            .client
            .run_task()
            .cluster(&request.cluster)
            .task_definition(&request.task_definition)
            .launch_type(launch_type)
            .overrides(TaskOverride::builder().container_overrides(container).build())
            .set_network_configuration(network)
            .send()
            .await
            .map_err(|e| aws_error("ecs", "RunTask", e))?;
        if let Some(failure) = out.failures().first() {
            return Err(Error::Aws {
                service: "ecs",
                operation: "RunTask",
                code: failure.reason().map(str::to_string),
                message: format!("task not started: {}", failure.reason().unwrap_or("no reason given")),
                retry: crate::Retry::Transient,
                source: None,
            });
        }
        out.tasks()
            .first()
            .and_then(|t| t.task_arn())
            .map(str::to_string)
            .ok_or_else(|| Error::unexpected("ecs", "RunTask returned no task"))
    }

    async fn task_status(&self, cluster: &str, task_arn: &str) -> Result<TaskStatus> {
        let out = self
            .client
            .describe_tasks()
            .cluster(cluster)
            .tasks(task_arn)
            .send()
            .await
            .map_err(|e| aws_error("ecs", "DescribeTasks", e))?;
        let task = out.tasks().first().ok_or_else(|| Error::NotFound { what: "task", id: task_arn.to_string() })?;
        Ok(TaskStatus {
            last_status: task.last_status().unwrap_or_default().to_string(),
            exit_code: task.containers().first().and_then(|c| c.exit_code()),
            stopped_reason: task.stopped_reason().filter(|r| !r.is_empty()).map(str::to_string),
        })
    }

    async fn register(&self, definition: &TaskDefinition) -> Result<String> {
        let logs = definition.logs.as_ref().map(|(group, region, prefix)| {
            aws_sdk_ecs::types::LogConfiguration::builder()
                .log_driver(aws_sdk_ecs::types::LogDriver::Awslogs)
                .options("awslogs-group", group)
                .options("awslogs-region", region)
                .options("awslogs-stream-prefix", prefix)
                .build()
                .expect("the log driver is set")
        });
        let container = aws_sdk_ecs::types::ContainerDefinition::builder()
            .name(&definition.container)
            .image(&definition.image)
            .memory(definition.memory_mib)
            .essential(true)
            .set_cpu(definition.cpu_units)
            .set_log_configuration(logs)
            .build();
        let out = self
            .client
            .register_task_definition()
            .family(&definition.family)
            .container_definitions(container)
            .send()
            .await
            .map_err(|e| aws_error("ecs", "RegisterTaskDefinition", e))?;
        out.task_definition
            .and_then(|t| t.task_definition_arn)
            .ok_or_else(|| Error::unexpected(definition.family.clone(), "RegisterTaskDefinition returned no ARN"))
    }

    async fn task_logs(&self, group: &str, stream: &str) -> Result<Vec<String>> {
        let mut messages = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = match self
                .logs
                .get_log_events()
                .log_group_name(group)
                .log_stream_name(stream)
                .start_from_head(true)
                .set_next_token(token.clone())
                .send()
                .await
            {
                Ok(out) => out,
                Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => {
                    return Ok(messages);
                }
                Err(e) => return Err(aws_error("logs", "GetLogEvents", e)),
            };
            let before = messages.len();
            messages.extend(out.events().iter().filter_map(|e| e.message().map(str::to_string)));
            let next = out.next_forward_token().map(str::to_string);
            if messages.len() == before || next.is_none() || next == token {
                return Ok(messages);
            }
            token = next;
        }
    }

    async fn stop_task(&self, cluster: &str, task_arn: &str, reason: &str) -> Result<()> {
        self.client
            .stop_task()
            .cluster(cluster)
            .task(task_arn)
            .reason(reason)
            .send()
            .await
            .map_err(|e| aws_error("ecs", "StopTask", e))?;
        Ok(())
    }

    async fn running_tasks(&self, cluster: &str, service: &str) -> Result<u64> {
        let out = self
            .client
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send()
            .await
            .map_err(|e| aws_error("ecs", "DescribeServices", e))?;
        match out.services().first() {
            Some(found) => Ok(found.running_count().max(0) as u64),
            None => Err(Error::NotFound { what: "ECS service", id: format!("{cluster}/{service}") }),
        }
    }
}
