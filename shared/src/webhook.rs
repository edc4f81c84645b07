//! The [`Webhook`] port over HTTPS (or plain HTTP for local listeners): one pooled client,
//! the system's root certificates, a 10-second limit per request.

use async_trait::async_trait;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

use crate::error::{Error, Result, Retry};
use crate::ports::Webhook;

/// Posts JSON with hyper.
pub struct HttpWebhook {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl HttpWebhook {
    /// A client trusting the system's root certificates.
    pub fn new() -> std::io::Result<Self> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new().with_provider_and_native_roots(rustls::crypto::ring::default_provider())?.https_or_http().enable_http1().build();
        Ok(HttpWebhook { client: Client::builder(TokioExecutor::new()).build(connector) })
    }
}

fn failed(url: &str, reason: impl std::fmt::Display) -> Error {
    let host = url.split('/').nth(2).unwrap_or("?");
    Error::Aws { service: "webhook", operation: "POST", code: None, message: format!("{host}: {reason}"), retry: Retry::Transient, source: None }
}

#[async_trait]
impl Webhook for HttpWebhook {
    async fn post_json(&self, url: &str, body: &str) -> Result<(u16, String)> {
        let request = hyper::Request::post(url)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| Error::config("webhook", format!("bad webhook URL: {e}")))?;
        let call = async {
            let response = self.client.request(request).await.map_err(|e| failed(url, e))?;
            let status = response.status().as_u16();
            let text = response.into_body().collect().await.map_err(|e| failed(url, e))?.to_bytes();
            Ok((status, String::from_utf8_lossy(&text).into_owned()))
        };
        tokio::time::timeout(Duration::from_secs(10), call).await.map_err(|_| failed(url, "no response within 10 seconds"))?
    }
}
