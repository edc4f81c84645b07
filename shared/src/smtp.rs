//! The [`SmtpSender`] port over SMTP (RFC 5321): `email` connections with subtype `smtp`.
//! Implicit TLS when the connection says `tls` (port 465 by default), otherwise plain with
//! STARTTLS whenever the server offers it; certificates checked against the system's roots;
//! `AUTH PLAIN` (or `LOGIN`) when the connection has a user; the message is lava's MIME text.

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use crate::error::{Error, Result, Retry};
use crate::ports::{Email, SmtpSender, SmtpServer};

/// How long one SMTP exchange (connect, a command, the message) may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// Sends email to SMTP servers.
#[derive(Debug, Default, Clone)]
pub struct SmtpClient;

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

fn failed(server: &SmtpServer, message: String, retry: Retry) -> Error {
    Error::Aws {
        service: "smtp",
        operation: "send",
        code: None,
        message: format!("{}:{}: {message}", server.host, server.port),
        retry,
        source: None,
    }
}

/// A session: the stream behind a line reader.
struct Session {
    io: BufReader<Box<dyn Stream>>,
}

impl Session {
    async fn step<T>(
        server: &SmtpServer,
        what: &str,
        f: impl std::future::Future<Output = std::io::Result<T>>,
    ) -> Result<T> {
        match tokio::time::timeout(STEP_TIMEOUT, f).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(failed(server, format!("{what}: {e}"), Retry::Transient)),
            Err(_) => Err(failed(server, format!("{what}: no answer in {STEP_TIMEOUT:?}"), Retry::Transient)),
        }
    }

    /// The server's reply: its code and text lines.
    async fn reply(&mut self, server: &SmtpServer) -> Result<(u16, Vec<String>)> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = Self::step(server, "reading the reply", self.io.read_line(&mut line)).await?;
            if n == 0 {
                return Err(failed(server, "the server closed the connection".into(), Retry::Transient));
            }
            let line = line.trim_end().to_string();
            let code = line.get(..3).and_then(|c| c.parse::<u16>().ok());
            let Some(code) = code else {
                return Err(failed(server, format!("not an SMTP reply: {line}"), Retry::Permanent));
            };
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line.get(4..).unwrap_or_default().to_string());
            if last {
                return Ok((code, lines));
            }
        }
    }

    /// Sends a command (`shown` is what errors quote: never a credential) and expects `want`.
    async fn command(&mut self, server: &SmtpServer, line: &str, shown: &str, want: &[u16]) -> Result<Vec<String>> {
        let io = self.io.get_mut();
        Self::step(server, shown, io.write_all(format!("{line}\r\n").as_bytes())).await?;
        Self::step(server, shown, io.flush()).await?;
        self.expect(server, shown, want).await
    }

    async fn expect(&mut self, server: &SmtpServer, shown: &str, want: &[u16]) -> Result<Vec<String>> {
        let (code, lines) = self.reply(server).await?;
        if want.contains(&code) {
            return Ok(lines);
        }
        let retry = if (400..500).contains(&code) { Retry::Transient } else { Retry::Permanent };
        Err(failed(server, format!("{shown}: {code} {}", lines.join(" ")), retry))
    }
}

fn tls_connector() -> Result<tokio_rustls::TlsConnector> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Unexpected(format!("TLS set-up: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

async fn tls(server: &SmtpServer, stream: Box<dyn Stream>) -> Result<Box<dyn Stream>> {
    let name = rustls::pki_types::ServerName::try_from(server.host.clone())
        .map_err(|e| failed(server, format!("not a TLS server name: {e}"), Retry::Permanent))?;
    let stream = Session::step(server, "the TLS handshake", tls_connector()?.connect(name, stream)).await?;
    Ok(Box::new(stream))
}

/// The message's lines with CRLF endings, each line starting with `.` doubled, and the end
/// marker.
pub fn data_text(message: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(message);
    let mut out = Vec::with_capacity(message.len() + 64);
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with('.') {
            out.push(b'.');
        }
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    // The text ends with a line break: its last (empty) piece is not a line.
    if text.ends_with('\n') {
        out.truncate(out.len() - 2);
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// A bare address from `Name <addr>` or `addr`.
fn address(text: &str) -> &str {
    match (text.find('<'), text.rfind('>')) {
        (Some(a), Some(b)) if a < b => text[a + 1..b].trim(),
        _ => text.trim(),
    }
}

#[async_trait]
impl SmtpSender for SmtpClient {
    async fn send_smtp(&self, server: &SmtpServer, email: &Email) -> Result<String> {
        let tcp =
            Session::step(server, "connecting", tokio::net::TcpStream::connect((server.host.as_str(), server.port)))
                .await?;
        let mut stream: Box<dyn Stream> = Box::new(tcp);
        if server.tls {
            stream = tls(server, stream).await?;
        }
        let mut session = Session { io: BufReader::new(stream) };
        session.expect(server, "the greeting", &[220]).await?;
        let mut features = session.command(server, "EHLO lava", "EHLO", &[250]).await?;
        let offers =
            |features: &[String], what: &str| features.iter().any(|f| f.to_ascii_uppercase().starts_with(what));
        if !server.tls && offers(&features, "STARTTLS") {
            session.command(server, "STARTTLS", "STARTTLS", &[220]).await?;
            let plain = session.io.into_inner();
            session = Session { io: BufReader::new(tls(server, plain).await?) };
            features = session.command(server, "EHLO lava", "EHLO", &[250]).await?;
        }
        if let Some(user) = &server.user {
            let password = server.password.clone().unwrap_or_default();
            let auth =
                features.iter().find(|f| f.to_ascii_uppercase().starts_with("AUTH")).cloned().unwrap_or_default();
            if auth.to_ascii_uppercase().contains("PLAIN") || !auth.to_ascii_uppercase().contains("LOGIN") {
                let token = STANDARD.encode(format!("\0{user}\0{password}"));
                session.command(server, &format!("AUTH PLAIN {token}"), "AUTH PLAIN", &[235]).await?;
            } else {
                session.command(server, "AUTH LOGIN", "AUTH LOGIN", &[334]).await?;
                session.command(server, &STANDARD.encode(user), "AUTH LOGIN user", &[334]).await?;
                session.command(server, &STANDARD.encode(&password), "AUTH LOGIN password", &[235]).await?;
            }
        }
        session.command(server, &format!("MAIL FROM:<{}>", address(&email.from)), "MAIL FROM", &[250]).await?;
        // Bcc recipients get the message too; no header names them.
        for to in email.to.iter().chain(&email.cc).chain(&email.bcc) {
            let rcpt = format!("RCPT TO:<{}>", address(to));
            session.command(server, &rcpt, &rcpt, &[250, 251]).await?;
        }
        session.command(server, "DATA", "DATA", &[354]).await?;
        let boundary = format!("lava-{}", uuid::Uuid::new_v4().simple());
        let message = crate::mime::message(email, &boundary);
        let io = session.io.get_mut();
        Session::step(server, "sending the message", io.write_all(&data_text(&message))).await?;
        Session::step(server, "sending the message", io.flush()).await?;
        let accepted = session.expect(server, "the message", &[250]).await?;
        let _ = session.command(server, "QUIT", "QUIT", &[221]).await;
        Ok(accepted.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_lines_end_in_crlf_and_leading_dots_are_doubled() {
        assert_eq!(data_text(b"a\n.b\r\n..c\n"), b"a\r\n..b\r\n...c\r\n.\r\n");
        assert_eq!(data_text(b"no break"), b"no break\r\n.\r\n");
    }

    #[test]
    fn addresses_are_taken_from_their_angle_brackets() {
        assert_eq!(address("Lava <lava@example.com>"), "lava@example.com");
        assert_eq!(address(" ops@example.com "), "ops@example.com");
    }
}
