//! Notification ports: SNS topics, SES email, Slack webhooks and EventBridge.

use async_trait::async_trait;

use crate::error::Result;

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
    /// Recipients on the Cc: line.
    pub cc: Vec<String>,
    /// Recipients on no line (Bcc).
    pub bcc: Vec<String>,
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

/// How an SMTP session is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SmtpSecurity {
    /// STARTTLS when the server offers it (the connection's `tls` is false or absent).
    #[default]
    Opportunistic,
    /// STARTTLS, which the server must offer (`tls: true`, as the original means it).
    StartTls,
    /// TLS from the first byte (`implicit_tls: true`, beyond the original).
    Implicit,
}

/// An SMTP server, as an `email` connection with subtype `smtp` names it.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpServer {
    /// Host name (also the name its TLS certificate must carry).
    pub host: String,
    /// Port.
    pub port: u16,
    /// How the session is protected.
    pub security: SmtpSecurity,
    /// Credentials may go over a session that is not encrypted (the connection says so
    /// explicitly); otherwise a user makes STARTTLS required.
    pub insecure_auth: bool,
    /// The user to log in as (none: no AUTH).
    pub user: Option<String>,
    /// The user's password.
    pub password: Option<String>,
}

impl std::fmt::Debug for SmtpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpServer")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("insecure_auth", &self.insecure_auth)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "********"))
            .finish()
    }
}

/// Email through an SMTP server.
#[async_trait]
pub trait SmtpSender: Send + Sync {
    /// Sends `email` through `server`; returns the server's acceptance text.
    async fn send_smtp(&self, server: &SmtpServer, email: &Email) -> Result<String>;
}
