//! Notifications recorded in memory: SNS publishes, SES emails and EventBridge events in
//! `FakeNotices`, Slack posts in `FakeWebhook`.

use async_trait::async_trait;
use std::sync::Mutex;

use super::lock;
use crate::error::{Error, Result};
use crate::ports::{BusEvent, Email, EventBus, Mailer, SmtpSender, SmtpServer, TopicPublisher, Webhook};

/// Everything published, sent or put, recorded in order.
#[derive(Default)]
pub struct FakeNotices {
    /// (topic, subject, message) of each publish.
    pub published: Mutex<Vec<(String, Option<String>, String)>>,
    /// Each email sent.
    pub emails: Mutex<Vec<Email>>,
    /// Each event put.
    pub events: Mutex<Vec<BusEvent>>,
    /// (server, email) of each email sent through SMTP.
    pub smtp: Mutex<Vec<(SmtpServer, Email)>>,
    /// Verified SES domains.
    pub domains: Mutex<Vec<String>>,
    /// When set, every publish fails with an SNS error of this kind.
    pub publish_error: Mutex<Option<crate::error::Retry>>,
}

#[async_trait]
impl TopicPublisher for FakeNotices {
    async fn publish(&self, topic_arn: &str, subject: Option<&str>, message: &str) -> Result<String> {
        if let Some(retry) = *lock(&self.publish_error) {
            return Err(Error::Aws {
                service: "sns",
                operation: "Publish",
                code: Some("Throttling".into()),
                message: "Rate exceeded".into(),
                retry,
                source: None,
            });
        }
        let mut published = lock(&self.published);
        published.push((topic_arn.into(), subject.map(str::to_string), message.into()));
        Ok(format!("p{}", published.len()))
    }
}

#[async_trait]
impl Mailer for FakeNotices {
    async fn send_email(&self, email: &Email) -> Result<String> {
        let mut emails = lock(&self.emails);
        emails.push(email.clone());
        Ok(format!("e{}", emails.len()))
    }

    async fn verified_domains(&self, _region: Option<&str>) -> Result<Vec<String>> {
        Ok(lock(&self.domains).clone())
    }
}

#[async_trait]
impl EventBus for FakeNotices {
    async fn put_event(&self, event: &BusEvent) -> Result<()> {
        lock(&self.events).push(event.clone());
        Ok(())
    }
}

/// Webhook posts recorded in memory; every post gets `status`.
pub struct FakeWebhook {
    /// (url, body) of each post.
    pub posts: Mutex<Vec<(String, String)>>,
    /// The status code returned.
    pub status: Mutex<u16>,
}

impl Default for FakeWebhook {
    fn default() -> Self {
        FakeWebhook { posts: Mutex::new(Vec::new()), status: Mutex::new(200) }
    }
}

#[async_trait]
impl Webhook for FakeWebhook {
    async fn post_json(&self, url: &str, body: &str) -> Result<(u16, String)> {
        lock(&self.posts).push((url.into(), body.into()));
        Ok((*lock(&self.status), "ok".into()))
    }
}

#[async_trait]
impl SmtpSender for FakeNotices {
    async fn send_smtp(&self, server: &SmtpServer, email: &Email) -> Result<String> {
        let mut sent = lock(&self.smtp);
        sent.push((server.clone(), email.clone()));
        Ok(format!("250 queued as s{}", sent.len()))
    }
}
