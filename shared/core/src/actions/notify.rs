//! The `email` and `slack` actions.

use serde_json::{Map, Value, json};

use super::{ActionFailure, ActionResult, ActionServices, Run, first_chars};
use crate::config::keys;
use crate::model::action::{EmailAction, SlackAction};
use crate::model::{ConnectionEntry, ConnectionType};
use crate::ports::{Attachment, Email, SmtpSecurity, SmtpServer};

fn string_or_list(value: Option<&Value>, key: &str) -> Result<Vec<String>, ActionFailure> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| ActionFailure::bad(format!("{key} must be a string or a list of strings")))
            })
            .collect(),
        Some(_) => Err(ActionFailure::bad(format!("{key} must be a string or a list of strings"))),
    }
}

/// The connector's HTML test: `^\s*(<html|<!DOCTYPE\s+html)`, any case.
fn connector_html(body: &str) -> bool {
    let lower = body.trim_start().to_ascii_lowercase();
    lower.starts_with("<html")
        || lower
            .strip_prefix("<!doctype")
            .is_some_and(|r| r.starts_with(char::is_whitespace) && r.trim_start().starts_with("html"))
}

/// An email through an `email` (or legacy `ses`) connection, its texts final (not rendered):
/// what the email action with `email_conn` and `lava email` send.
#[derive(Debug, Clone, Default)]
pub struct ConnectionEmail {
    /// The connection.
    pub conn_id: String,
    /// Recipients on the To: line.
    pub to: Vec<String>,
    /// Recipients on the Cc: line.
    pub cc: Vec<String>,
    /// Recipients on no line.
    pub bcc: Vec<String>,
    /// Reply-to addresses, after the connection's own.
    pub reply_to: Vec<String>,
    /// Sender (else the connection's `from`, else `SES_FROM`).
    pub from: Option<String>,
    /// Subject line.
    pub subject: String,
    /// Body: HTML when it starts `<html` or `<!DOCTYPE html` (any case).
    pub body: String,
    /// Files to attach: local paths or `s3://` locations.
    pub attachments: Vec<String>,
}

/// A Slack message through a `slack` connection: what the slack action and `lava slack` send.
/// Unset options take the connection's values.
#[derive(Debug, Clone, Default)]
pub struct ConnectionSlack {
    /// The connection.
    pub conn_id: String,
    /// The message (its first 3000 characters).
    pub message: String,
    /// Subject (its first 250 characters).
    pub subject: Option<String>,
    /// Sender.
    pub from: Option<String>,
    /// `block`, `attachment` or `plain`.
    pub style: Option<String>,
    /// The bar colour of the attachment style.
    pub colour: Option<String>,
    /// Text before the message (e.g. `<!here>`).
    pub preamble: Option<String>,
}

impl ActionServices {
    async fn connection(&self, conn_id: &str, types: &[ConnectionType]) -> Result<ConnectionEntry, ActionFailure> {
        let conn = self.catalog.connection(conn_id).await.map_err(|e| match e {
            crate::error::Error::NotFound { .. } => ActionFailure::bad(format!("{conn_id}: No such connection")),
            other => other.into(),
        })?;
        if conn.enabled != Some(true) {
            return Err(ActionFailure::bad(format!("Connection {conn_id}: Not enabled")));
        }
        if !types.contains(&conn.kind()) {
            let expected: Vec<&str> = types.iter().map(ConnectionType::name).collect();
            return Err(ActionFailure::bad(format!(
                "Connection {conn_id}: type {} cannot be used here (expected {})",
                conn.conn_type,
                expected.join(" or ")
            )));
        }
        Ok(conn)
    }

    /// The SMTP server of an `email` connection with subtype `smtp`: `host`, `port` (25, or
    /// 465 with `tls` or `implicit_tls`, as the original's default), `tls` (STARTTLS, as the
    /// original means it), `implicit_tls`, `insecure_auth`, and `user` with `password` (an SSM
    /// parameter's name).
    async fn smtp_server(&self, conn_id: &str, conn: &ConnectionEntry) -> Result<SmtpServer, ActionFailure> {
        let bad = |reason: String| ActionFailure::bad(format!("Connection {conn_id}: {reason}"));
        let text = |k: &str| match conn.fields.get(k) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let host = text("host").ok_or_else(|| bad("host is required for smtp".into()))?;
        let flag = |key: &str| match conn.fields.get(key) {
            None | Some(Value::Null) => Ok(false),
            Some(v) => crate::model::values::parse_config_bool(v).map_err(|e| bad(format!("{key}: {e}"))),
        };
        let security = match (flag("implicit_tls")?, flag("tls")?) {
            (true, _) => SmtpSecurity::Implicit,
            (false, true) => SmtpSecurity::StartTls,
            (false, false) => SmtpSecurity::Opportunistic,
        };
        let port = match text("port") {
            None if security == SmtpSecurity::Opportunistic => 25,
            None => 465,
            Some(p) => p.parse::<u16>().map_err(|_| bad(format!("port: not a port number: {p}")))?,
        };
        let insecure_auth = flag("insecure_auth")?;
        let user = text("user");
        let password = match (&user, text("password")) {
            (Some(_), Some(name)) => Some(self.secrets.parameter(&name).await.map_err(|e| bad(e.to_string()))?),
            (Some(_), None) => return Err(bad("password is required with user".into())),
            (None, _) => None,
        };
        Ok(SmtpServer { host, port, security, insecure_auth, user, password })
    }

    async fn attachment(&self, location: &str) -> Result<Attachment, ActionFailure> {
        let data = if location.starts_with("s3://") {
            let at = crate::model::S3Location::parse(location).map_err(ActionFailure::bad)?;
            self.blobs.get_object(&at.bucket, &at.key).await?
        } else {
            tokio::fs::read(location)
                .await
                .map_err(|e| ActionFailure::bad(format!("Cannot read attachment {location}: {e}")))?
        };
        let max = self.config.get(keys::EMAIL_MAX_ATTACHMENT_SIZE);
        if data.len() as u64 > max {
            return Err(ActionFailure::bad(format!(
                "Attachment {location} is {} bytes, over the {max} byte limit",
                data.len()
            )));
        }
        let name = location.rsplit('/').next().unwrap_or(location).to_string();
        Ok(Attachment { content_type: crate::mime::content_type(&name).into(), name, data })
    }

    /// Sends `request` through its connection: SES, or the connection's SMTP server (subtype
    /// `smtp`), with the original's sender, reply-to, HTML and size rules.
    pub async fn send_connection_email(&self, request: &ConnectionEmail) -> Result<(), ActionFailure> {
        let conn_id = &request.conn_id;
        if request.to.is_empty() && request.cc.is_empty() && request.bcc.is_empty() {
            return Err(ActionFailure::bad("Missing keys: to"));
        }
        let config = &self.config;
        let conn = self.connection(conn_id, &[ConnectionType::Email, ConnectionType::Ses]).await?;
        let field = |k: &str| conn.fields.get(k).and_then(Value::as_str).map(str::to_string);
        let subtype = field("subtype").unwrap_or_else(|| "ses".into()).to_ascii_lowercase();
        let smtp = if conn.kind() == ConnectionType::Email && subtype == "smtp" {
            Some(self.smtp_server(conn_id, &conn).await?)
        } else if subtype != "ses" {
            return Err(ActionFailure::bad(format!("Connection {conn_id}: unknown email subtype {subtype}")));
        } else {
            None
        };
        let mut reply_to = string_or_list(conn.fields.get("reply_to"), "reply_to")?;
        reply_to.extend(request.reply_to.iter().cloned());
        let mut email = Email {
            to: request.to.clone(),
            cc: request.cc.clone(),
            bcc: request.bcc.clone(),
            subject: request.subject.clone(),
            body: request.body.clone(),
            html: connector_html(&request.body),
            from: request
                .from
                .clone()
                .or_else(|| field("from"))
                .or_else(|| config.get(keys::SES_FROM))
                .unwrap_or_default(),
            region: field("region").or_else(|| config.configured(keys::SES_REGION)),
            configuration_set: field("configuration_set").or_else(|| config.get(keys::SES_CONFIGURATION_SET)),
            reply_to,
            attachments: Vec::new(),
        };
        let limit = config.get(keys::EMAIL_MAX_ATTACHMENTS);
        if request.attachments.len() as i64 > limit {
            return Err(ActionFailure::bad(format!(
                "{} attachments: at most {limit} are allowed",
                request.attachments.len()
            )));
        }
        for location in &request.attachments {
            email.attachments.push(self.attachment(location).await?);
        }
        let size: u64 = email.attachments.iter().map(|a| a.data.len() as u64).sum::<u64>() + email.body.len() as u64;
        let max = config.get(keys::EMAIL_MAX_SIZE);
        if size > max {
            return Err(ActionFailure::bad(format!("The email is {size} bytes, over the {max} byte limit")));
        }
        if email.from.is_empty() {
            return Err(ActionFailure::bad(
                "no sender: give from, or set it on the connection or in the realm's ses_from",
            ));
        }
        match smtp {
            Some(server) => self.smtp.send_smtp(&server, &email).await.map(|_| ())?,
            None => self.mailer.send_email(&email).await.map(|_| ())?,
        }
        Ok(())
    }

    /// Posts `request` to its connection's webhook in the connection's (or the request's) style.
    pub async fn send_connection_slack(&self, request: &ConnectionSlack) -> Result<(), ActionFailure> {
        let conn_id = &request.conn_id;
        let conn = self.connection(conn_id, &[ConnectionType::Slack]).await?;
        let field = |k: &str| conn.fields.get(k).and_then(Value::as_str).map(str::to_string);
        let url = field("webhook_url")
            .ok_or_else(|| ActionFailure::bad(format!("{conn_id}: Bad connection record: webhook_url is required")))?;
        let message = first_chars(&request.message, 3000);
        if message.trim().is_empty() {
            return Err(ActionFailure::bad("message must not be empty"));
        }
        let subject = request.subject.as_deref().map(|s| first_chars(s, 250));
        let from =
            request.from.clone().or_else(|| field("from")).unwrap_or_else(|| format!("lava@{}", self.names.realm));
        let style = request.style.clone().or_else(|| field("style")).unwrap_or_else(|| "block".into());
        let mut colour = request.colour.clone().or_else(|| field("colour")).unwrap_or_else(|| "#bbbbbb".into());
        // As the original does, even to Slack's special values (`danger` becomes `#danger`).
        if !colour.starts_with('#') {
            colour.insert(0, '#');
        }
        let preamble = request.preamble.clone().or_else(|| field("preamble"));
        let payload = slack_payload(
            &style,
            &message,
            subject.as_deref(),
            &from,
            &colour,
            preamble.as_deref(),
            jiff::Timestamp::now().as_second(),
        )?;
        let (status, text) = self.webhook.post_json(&url, &payload.to_string()).await?;
        if !(200..300).contains(&status) {
            return Err(ActionFailure::bad(format!("Slack response {status} - {text}")));
        }
        Ok(())
    }
}

impl Run<'_> {
    pub(crate) async fn email(&self, action: &EmailAction) -> ActionResult {
        let to = action.to.to_vec();
        if to.is_empty() {
            return Err(ActionFailure::bad("Missing keys: to"));
        }
        let subject = self.render(&action.subject)?;
        let body = self.render(&action.message)?;
        let config = &self.services.config;
        if let Some(conn_id) = action.email_conn.as_deref() {
            let mut attachments = Vec::new();
            for template in &action.attachments {
                attachments.push(self.render(template)?);
            }
            let request = ConnectionEmail {
                conn_id: conn_id.to_string(),
                to,
                from: action.from.clone(),
                subject,
                body,
                attachments,
                ..Default::default()
            };
            return self.services.send_connection_email(&request).await;
        }
        if !action.attachments.is_empty() {
            return Err(ActionFailure::bad("email_conn must be specified to enable attachments"));
        }
        let mut email = Email { to, subject, ..Default::default() };
        email.html = body.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("<html>"));
        email.body = body;
        email.region = Some(action.region.clone().unwrap_or_else(|| config.get(keys::SES_REGION)));
        email.configuration_set = config.get(keys::SES_CONFIGURATION_SET);
        email.from = match action.from.clone().or_else(|| config.get(keys::SES_FROM)) {
            Some(from) => from,
            None => {
                let domains = self.services.mailer.verified_domains(email.region.as_deref()).await?;
                let domain = domains.first().ok_or_else(|| ActionFailure::bad("No verified SES domains"))?;
                format!("lava.{}@{domain}", self.services.names.realm)
            }
        };
        self.services.mailer.send_email(&email).await?;
        Ok(())
    }

    pub(crate) async fn slack(&self, action: &SlackAction) -> ActionResult {
        let request = ConnectionSlack {
            conn_id: action.slack_conn.clone(),
            message: self.render(&action.message)?,
            subject: self.render_optional(&action.subject)?,
            from: self.render_optional(&action.from)?,
            style: action.style.clone(),
            colour: action.colour.clone(),
            preamble: action.preamble.clone(),
        };
        self.services.send_connection_slack(&request).await
    }
}

/// The webhook payload for a style.
pub(crate) fn slack_payload(
    style: &str,
    message: &str,
    subject: Option<&str>,
    from: &str,
    colour: &str,
    preamble: Option<&str>,
    ts: i64,
) -> Result<Value, ActionFailure> {
    let from_label = format!("*{from}*:");
    let subject_label = subject.map(|s| format!("*{s}*:"));
    let plain: Vec<&str> =
        [preamble, Some(from_label.as_str()), subject_label.as_deref(), Some(message)].into_iter().flatten().collect();
    let plain = plain.join(" ");
    Ok(match style {
        "block" => {
            let header: Vec<String> = [
                preamble.map(str::to_string),
                Some(format!("*From*: {from}")),
                subject.map(|s| format!("*Subject*: {s}")),
            ]
            .into_iter()
            .flatten()
            .collect();
            json!({
                "text": plain,
                "blocks": [
                    {"type": "section", "text": {"type": "mrkdwn", "text": header.join("\n")}},
                    {"type": "divider"},
                    {"type": "section", "text": {"type": "mrkdwn", "text": message}},
                    {"type": "context", "elements": [{"type": "mrkdwn", "text": format!("Event time: <!date^{ts}^{{date_short_pretty}} at {{time}}| >")}]},
                ]
            })
        }
        "attachment" => {
            let mut attachment = Map::new();
            attachment.insert("fallback".into(), json!(message));
            attachment.insert("author_name".into(), json!(from));
            attachment.insert("color".into(), json!(colour));
            attachment.insert("text".into(), json!(message));
            attachment.insert("footer".into(), json!("Event time"));
            attachment.insert("ts".into(), json!(ts));
            if let Some(s) = subject {
                attachment.insert("title".into(), json!(s));
            }
            let mut payload = Map::new();
            payload.insert("attachments".into(), json!([attachment]));
            if let Some(p) = preamble {
                payload.insert("text".into(), json!(p));
            }
            Value::Object(payload)
        }
        "plain" => json!({ "text": plain }),
        other => return Err(ActionFailure::bad(format!("style {other:?}: must be block, attachment or plain"))),
    })
}
