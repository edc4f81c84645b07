//! The composition root: which adapters each deployable's ports are made of. The worker and the
//! CLI get every AWS adapter (feature `fleet`); the dispatch and s3trigger functions only
//! DynamoDB, SQS and KMS, the actions function those and what actions send through (feature
//! `actions`), so no other SDK client is compiled into a function (a shorter build, a smaller
//! zip, a faster cold start).

use std::sync::Arc;

#[cfg(feature = "fleet")]
use crate::aws::{Clients, CloudWatchMetrics, EcsTasks};
use crate::aws::{DynamoTables, KmsKeys, SdkConfig, SqsQueues, function_options, sdk_config};
#[cfg(feature = "actions")]
use crate::aws::{EventBridgeBus, S3Blobs, SesMailer, SnsTopics, SsmParameters};
use crate::ports::{Absent, Ports};
#[cfg(feature = "actions")]
use crate::{ports::Webhook, smtp::SmtpClient, webhook::HttpWebhook};

/// Every port over `clients`; `webhook` posts to Slack.
#[cfg(feature = "fleet")]
pub fn ports(clients: &Clients, webhook: Arc<dyn Webhook>) -> Ports {
    let tables = Arc::new(DynamoTables::new(clients.dynamodb.clone()));
    Ports {
        tables: tables.clone(),
        events: tables,
        queues: Arc::new(SqsQueues::new(clients.sqs.clone())),
        blobs: Arc::new(S3Blobs::new(clients.s3.clone())),
        topics: Arc::new(SnsTopics::new(clients.sns.clone())),
        mailer: Arc::new(SesMailer::new(clients.ses.clone())),
        bus: Arc::new(EventBridgeBus::new(clients.events.clone())),
        keys: Arc::new(KmsKeys::new(clients.kms.clone())),
        webhook,
        smtp: Arc::new(SmtpClient),
        tasks: Arc::new(EcsTasks::new(clients.ecs.clone(), clients.logs.clone())),
        secrets: Arc::new(clients.secrets()),
        metrics: Arc::new(CloudWatchMetrics::new(clients.cloudwatch.clone())),
    }
}

/// The ports of the dispatch and s3trigger functions: DynamoDB, SQS and KMS (state values).
/// Every other port is [`Absent`].
pub fn function_ports(config: &SdkConfig) -> Ports {
    let tables = Arc::new(DynamoTables::from_config(config));
    Ports {
        tables: tables.clone(),
        events: tables,
        queues: Arc::new(SqsQueues::from_config(config)),
        keys: Arc::new(KmsKeys::from_config(config)),
        blobs: Arc::new(Absent("S3")),
        topics: Arc::new(Absent("SNS")),
        mailer: Arc::new(Absent("SES")),
        bus: Arc::new(Absent("EventBridge")),
        webhook: Arc::new(Absent("Slack webhooks")),
        smtp: Arc::new(Absent("SMTP")),
        tasks: Arc::new(Absent("ECS")),
        secrets: Arc::new(Absent("SSM, Secrets Manager and STS")),
        metrics: Arc::new(Absent("CloudWatch")),
    }
}

/// The ports of the actions function: those of [`function_ports`], and S3, SNS, SES and
/// EventBridge, `webhook` for Slack, SMTP, and SSM parameters (SMTP passwords). ECS, Secrets
/// Manager, STS and ECR stay out.
#[cfg(feature = "actions")]
pub fn actions_ports(config: &SdkConfig, webhook: Arc<dyn Webhook>) -> Ports {
    Ports {
        blobs: Arc::new(S3Blobs::from_config(config)),
        topics: Arc::new(SnsTopics::from_config(config)),
        mailer: Arc::new(SesMailer::from_config(config)),
        bus: Arc::new(EventBridgeBus::from_config(config)),
        webhook,
        smtp: Arc::new(SmtpClient),
        secrets: Arc::new(SsmParameters::from_config(config)),
        ..function_ports(config)
    }
}

/// [`function_ports`] with a function's configuration ([`function_options`]).
pub async fn load_function_ports() -> Ports {
    function_ports(&sdk_config(&function_options()).await)
}

/// [`actions_ports`] with a function's configuration and Slack webhooks over HTTPS.
#[cfg(feature = "actions")]
pub async fn load_actions_ports() -> Ports {
    actions_ports(&sdk_config(&function_options()).await, Arc::new(HttpWebhook::new()))
}
