//! KMS: the [`KeyService`] port (secure state values).

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::aws_error;
use crate::error::{Error, Result};
use crate::ports::KeyService;

/// Encryption with KMS keys.
#[derive(Clone, Debug)]
pub struct KmsKeys {
    client: Client,
}

impl KmsKeys {
    /// Uses `client` for every call.
    pub fn new(client: Client) -> Self {
        KmsKeys { client }
    }
}

#[async_trait]
impl KeyService for KmsKeys {
    async fn encrypt(&self, key_id: &str, plaintext: &[u8]) -> Result<String> {
        let out = self
            .client
            .encrypt()
            .key_id(key_id)
            .plaintext(Blob::new(plaintext))
            .send()
            .await
            .map_err(|e| aws_error("kms", "Encrypt", e))?;
        let blob = out.ciphertext_blob.ok_or_else(|| Error::unexpected("kms", "Encrypt returned no ciphertext"))?;
        Ok(STANDARD.encode(blob.as_ref()))
    }

    async fn decrypt(&self, ciphertext: &str) -> Result<Vec<u8>> {
        let bytes = STANDARD
            .decode(ciphertext)
            .map_err(|e| Error::unexpected("kms", format!("ciphertext is not base64: {e}")))?;
        let out = self
            .client
            .decrypt()
            .ciphertext_blob(Blob::new(bytes))
            .send()
            .await
            .map_err(|e| aws_error("kms", "Decrypt", e))?;
        Ok(out.plaintext.map(|b| b.into_inner()).unwrap_or_default())
    }
}
