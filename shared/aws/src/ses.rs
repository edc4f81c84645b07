//! SES v2: the [`Mailer`] port. Plain emails are sent as simple content; emails with
//! attachments as a raw MIME message.

use async_trait::async_trait;
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::config::Region;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, IdentityType, Message, RawMessage};

use super::aws_error;
use crate::error::{Error, Result};
use crate::ports::{Email, Mailer};

/// Email through SES v2.
#[derive(Clone, Debug)]
pub struct SesMailer {
    client: Client,
}

impl SesMailer {
    /// Uses `client` for every call (and its configuration, in another region, when asked).
    pub fn new(client: Client) -> Self {
        SesMailer { client }
    }

    fn client_for(&self, region: Option<&str>) -> Client {
        match region {
            Some(r) if self.client.config().region().map(|x| x.as_ref()) != Some(r) => {
                Client::from_conf(self.client.config().to_builder().region(Region::new(r.to_string())).build())
            }
            _ => self.client.clone(),
        }
    }
}

fn content(text: &str) -> Result<Content> {
    Content::builder().data(text).charset("UTF-8").build().map_err(|e| Error::unexpected("email", e.to_string()))
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send_email(&self, email: &Email) -> Result<String> {
        let content = if email.attachments.is_empty() {
            let body = if email.html {
                Body::builder().html(content(&email.body)?).build()
            } else {
                Body::builder().text(content(&email.body)?).build()
            };
            EmailContent::builder()
                .simple(Message::builder().subject(content(&email.subject)?).body(body).build())
                .build()
        } else {
            let raw = RawMessage::builder()
                .data(Blob::new(lava_core::mime::message(email)?.formatted()))
                .build()
                .map_err(|e| Error::unexpected("email", e.to_string()))?;
            EmailContent::builder().raw(raw).build()
        };
        let out = self
            .client_for(email.region.as_deref())
            .send_email()
            .from_email_address(&email.from)
            .destination(
                Destination::builder()
                    .set_to_addresses(Some(email.to.clone()))
                    .set_cc_addresses((!email.cc.is_empty()).then(|| email.cc.clone()))
                    .set_bcc_addresses((!email.bcc.is_empty()).then(|| email.bcc.clone()))
                    .build(),
            )
            .set_reply_to_addresses((!email.reply_to.is_empty()).then(|| email.reply_to.clone()))
            .content(content)
            .set_configuration_set_name(email.configuration_set.clone())
            .send()
            .await
            .map_err(|e| aws_error("sesv2", "SendEmail", e))?;
        Ok(out.message_id.unwrap_or_default())
    }

    async fn verified_domains(&self, region: Option<&str>) -> Result<Vec<String>> {
        let client = self.client_for(region);
        let mut domains = Vec::new();
        let mut token = None;
        loop {
            let out = client
                .list_email_identities()
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| aws_error("sesv2", "ListEmailIdentities", e))?;
            for identity in out.email_identities.unwrap_or_default() {
                if identity.identity_type == Some(IdentityType::Domain) && identity.sending_enabled {
                    domains.extend(identity.identity_name);
                }
            }
            token = out.next_token;
            if token.is_none() {
                return Ok(domains);
            }
        }
    }
}
