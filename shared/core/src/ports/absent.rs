//! A port a deployable does not reach. A Lambda function links only the AWS clients its
//! handlers use (a smaller zip and a faster cold start); its other ports are `Absent`, and a
//! call to one fails with an error naming the service, so a handler that starts to need one
//! fails its first test instead of going unnoticed.

use async_trait::async_trait;

use super::{
    AssumeRole, BlobStore, BusEvent, ContainerTasks, Datum, Email, Encryption, EventBus, KeyService, Listing, Mailer,
    MetricSink, RegistryLogin, SecretStore, SmtpSender, SmtpServer, TaskDefinition, TaskRequest, TaskStatus,
    TemporaryCredentials, TopicPublisher, Webhook,
};
use crate::error::{Error, Result};

/// A service this deployable does not reach; its name is in every error.
#[derive(Debug, Clone, Copy)]
pub struct Absent(pub &'static str);

impl Absent {
    fn refuse<T>(&self) -> Result<T> {
        Err(Error::Unexpected(format!("{} is not reachable from this deployable (its client is not built in)", self.0)))
    }
}

#[async_trait]
impl BlobStore for Absent {
    async fn put_object(&self, _bucket: &str, _key: &str, _body: Vec<u8>, _encryption: &Encryption) -> Result<()> {
        self.refuse()
    }
    async fn get_object(&self, _bucket: &str, _key: &str) -> Result<Vec<u8>> {
        self.refuse()
    }
    async fn list_objects(&self, _bucket: &str, _prefix: &str, _delimiter: Option<&str>) -> Result<Listing> {
        self.refuse()
    }
}

#[async_trait]
impl TopicPublisher for Absent {
    async fn publish(&self, _topic_arn: &str, _subject: Option<&str>, _message: &str) -> Result<String> {
        self.refuse()
    }
}

#[async_trait]
impl Mailer for Absent {
    async fn send_email(&self, _email: &Email) -> Result<String> {
        self.refuse()
    }
    async fn verified_domains(&self, _region: Option<&str>) -> Result<Vec<String>> {
        self.refuse()
    }
}

#[async_trait]
impl EventBus for Absent {
    async fn put_event(&self, _event: &BusEvent) -> Result<()> {
        self.refuse()
    }
}

#[async_trait]
impl Webhook for Absent {
    async fn post_json(&self, _url: &str, _body: &str) -> Result<(u16, String)> {
        self.refuse()
    }
}

#[async_trait]
impl KeyService for Absent {
    async fn encrypt(&self, _key_id: &str, _plaintext: &[u8]) -> Result<String> {
        self.refuse()
    }
    async fn decrypt(&self, _ciphertext: &str) -> Result<Vec<u8>> {
        self.refuse()
    }
}

#[async_trait]
impl ContainerTasks for Absent {
    async fn run_task(&self, _request: &TaskRequest) -> Result<String> {
        self.refuse()
    }
    async fn task_status(&self, _cluster: &str, _task_arn: &str) -> Result<TaskStatus> {
        self.refuse()
    }
    async fn register(&self, _definition: &TaskDefinition) -> Result<String> {
        self.refuse()
    }
    async fn task_logs(&self, _group: &str, _stream: &str) -> Result<Vec<String>> {
        self.refuse()
    }
    async fn stop_task(&self, _cluster: &str, _task_arn: &str, _reason: &str) -> Result<()> {
        self.refuse()
    }
    async fn running_tasks(&self, _cluster: &str, _service: &str) -> Result<u64> {
        self.refuse()
    }
}

#[async_trait]
impl SecretStore for Absent {
    async fn parameter(&self, _name: &str) -> Result<String> {
        self.refuse()
    }
    async fn secret(&self, _secret_id: &str) -> Result<String> {
        self.refuse()
    }
    async fn assume_role(&self, _request: &AssumeRole) -> Result<TemporaryCredentials> {
        self.refuse()
    }
    async fn registry_login(&self, _account_ids: &[String]) -> Result<RegistryLogin> {
        self.refuse()
    }
}

#[async_trait]
impl MetricSink for Absent {
    async fn put(&self, _namespace: &str, _data: &[Datum]) -> Result<()> {
        self.refuse()
    }
}

#[async_trait]
impl SmtpSender for Absent {
    async fn send_smtp(&self, _server: &SmtpServer, _email: &Email) -> Result<String> {
        self.refuse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_call_names_the_absent_service() {
        let sns = Absent("SNS");
        let e = sns.publish("arn", None, "m").await.unwrap_err();
        assert_eq!(e.to_string(), "SNS is not reachable from this deployable (its client is not built in)");
        assert!(Absent("ECS").task_status("cluster", "task").await.is_err());
    }
}
