//! The [`SmtpSender`] port over SMTP with `lettre`: `email` connections with subtype `smtp`.
//! STARTTLS as the connection's [`SmtpSecurity`] says, certificates checked against the
//! system's roots (`SSL_CERT_FILE` adds others), AUTH when the connection has a user; the
//! message is [`crate::mime::message`].

use async_trait::async_trait;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::time::Duration;

use crate::error::{Error, Result, Retry};
use crate::ports::{Email, SmtpSecurity, SmtpSender, SmtpServer};

/// How long one SMTP exchange (connect, a command, the message) may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// Sends email to SMTP servers.
#[derive(Debug, Default, Clone)]
pub struct SmtpClient;

fn failed(server: &SmtpServer, message: String, retry: Retry) -> Error {
    Error::Remote {
        protocol: "smtp",
        operation: "send",
        message: format!("{}:{}: {message}", server.host, server.port),
        retry,
    }
}

/// How the session is protected: the connection's choice, except that credentials make
/// STARTTLS required unless the connection allows them in the clear (`insecure_auth`).
fn tls(server: &SmtpServer) -> Result<Tls> {
    let parameters = || {
        TlsParameters::new(server.host.clone())
            .map_err(|e| failed(server, format!("TLS set-up: {e}"), Retry::Permanent))
    };
    Ok(match server.security {
        SmtpSecurity::Implicit => Tls::Wrapper(parameters()?),
        SmtpSecurity::StartTls => Tls::Required(parameters()?),
        SmtpSecurity::Opportunistic if server.user.is_some() && !server.insecure_auth => Tls::Required(parameters()?),
        SmtpSecurity::Opportunistic => Tls::Opportunistic(parameters()?),
    })
}

#[async_trait]
impl SmtpSender for SmtpClient {
    async fn send_smtp(&self, server: &SmtpServer, email: &Email) -> Result<String> {
        let message = crate::mime::message(email)?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server.host.clone())
            .port(server.port)
            .tls(tls(server)?)
            .timeout(Some(STEP_TIMEOUT));
        if let Some(user) = &server.user {
            builder = builder.credentials(Credentials::new(user.clone(), server.password.clone().unwrap_or_default()));
        }
        let transport = builder.build();
        match transport.send(message).await {
            Ok(response) => Ok(response.message().collect::<Vec<_>>().join(" ")),
            Err(e) => {
                let retry = if e.is_transient() || e.is_timeout() { Retry::Transient } else { Retry::Permanent };
                let mut text = e.to_string();
                if server.user.is_some()
                    && !server.insecure_auth
                    && server.security == SmtpSecurity::Opportunistic
                    && text.to_ascii_lowercase().contains("starttls")
                {
                    text.push_str(
                        " (credentials go only over an encrypted connection: the server must offer STARTTLS, or the connection must say insecure_auth: true)",
                    );
                }
                Err(failed(server, text, retry))
            }
        }
    }
}
