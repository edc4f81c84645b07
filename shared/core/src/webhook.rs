//! The [`Webhook`] port over HTTPS (or plain HTTP for local listeners): pooled clients, the
//! system's root certificates (read on the first HTTPS post, not at start-up: parsing the
//! system bundle is the largest part of a worker's start-up), a 10-second limit per request.

use async_trait::async_trait;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

use crate::error::{Error, Result, Retry};
use crate::ports::Webhook;

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Posts JSON with hyper.
pub struct HttpWebhook {
    http: Client<HttpConnector, Full<Bytes>>,
    https: std::sync::OnceLock<std::result::Result<HttpsClient, String>>,
}

impl Default for HttpWebhook {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpWebhook {
    /// A client for `http://` URLs now, and one trusting the system's root certificates on the
    /// first `https://` post.
    pub fn new() -> Self {
        HttpWebhook { http: Client::builder(TokioExecutor::new()).build_http(), https: std::sync::OnceLock::new() }
    }

    fn https(&self) -> Result<&HttpsClient> {
        let client = self.https.get_or_init(|| {
            let connector = hyper_rustls::HttpsConnectorBuilder::new()
                .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
                .map_err(|e| format!("cannot load the system's root certificates: {e}"))?
                .https_only()
                .enable_http1()
                .build();
            Ok(Client::builder(TokioExecutor::new()).build(connector))
        });
        client.as_ref().map_err(|reason| Error::config("webhook", reason.clone()))
    }
}

fn failed(url: &str, reason: impl std::fmt::Display) -> Error {
    let host = url.split('/').nth(2).unwrap_or("?");
    Error::Remote {
        protocol: "webhook",
        operation: "POST",
        message: format!("{host}: {reason}"),
        retry: Retry::Transient,
    }
}

#[async_trait]
impl Webhook for HttpWebhook {
    async fn post_json(&self, url: &str, body: &str) -> Result<(u16, String)> {
        let request = hyper::Request::post(url)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| Error::refused("webhook", format!("bad webhook URL: {e}")))?;
        let call = async {
            let sent = if url.starts_with("https://") {
                self.https()?.request(request).await
            } else {
                self.http.request(request).await
            };
            let response = sent.map_err(|e| failed(url, e))?;
            let status = response.status().as_u16();
            let text = response.into_body().collect().await.map_err(|e| failed(url, e))?.to_bytes();
            Ok((status, String::from_utf8_lossy(&text).into_owned()))
        };
        tokio::time::timeout(Duration::from_secs(10), call)
            .await
            .map_err(|_| failed(url, "no response within 10 seconds"))?
    }
}
