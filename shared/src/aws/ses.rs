//! SES v2: the [`Mailer`] port.

use async_trait::async_trait;
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

use super::aws_error;
use crate::error::{Error, Result};
use crate::ports::{Email, Mailer};

/// Email through SES v2.
#[derive(Clone, Debug)]
pub struct SesMailer {
    client: Client,
}

impl SesMailer {
    /// Uses `client` for every call.
    pub fn new(client: Client) -> Self {
        SesMailer { client }
    }
}

fn content(text: &str) -> Result<Content> {
    Content::builder().data(text).charset("UTF-8").build().map_err(|e| Error::config("email", e.to_string()))
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send_email(&self, email: &Email) -> Result<String> {
        let body = if email.html {
            Body::builder().html(content(&email.body)?).build()
        } else {
            Body::builder().text(content(&email.body)?).build()
        };
        let message = Message::builder().subject(content(&email.subject)?).body(body).build();
        let out = self
            .client
            .send_email()
            .from_email_address(&email.from)
            .destination(Destination::builder().set_to_addresses(Some(email.to.clone())).build())
            .content(EmailContent::builder().simple(message).build())
            .set_configuration_set_name(email.configuration_set.clone())
            .send()
            .await
            .map_err(|e| aws_error("sesv2", "SendEmail", e))?;
        Ok(out.message_id.unwrap_or_default())
    }
}
