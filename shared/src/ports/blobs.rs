//! The blob port: S3 objects with their server-side encryption, and listings of a prefix.

use async_trait::async_trait;

use crate::error::Result;

/// Server-side encryption for uploads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encryption {
    /// SSE-S3.
    Aes256,
    /// SSE-KMS with this key id, ARN or alias.
    Kms(String),
}

impl Encryption {
    /// The realm's KMS key (`s3_key`), else AES256.
    pub fn for_realm(realm: &crate::model::RealmEntry) -> Self {
        match &realm.s3_key {
            Some(key) if !key.is_empty() => Encryption::Kms(key.clone()),
            _ => Encryption::Aes256,
        }
    }
}

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Full key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modified, ISO 8601 UTC, where the store says.
    pub last_modified: Option<String>,
    /// The entity tag, where the store says.
    pub etag: Option<String>,
    /// The storage class, where the store says.
    pub storage_class: Option<String>,
}

/// The result of listing a prefix.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Listing {
    /// Objects directly under the prefix (or all below it, without a delimiter), sorted by key.
    pub objects: Vec<ObjectInfo>,
    /// Sub-prefixes (with a delimiter).
    pub prefixes: Vec<String>,
}

/// S3: payloads in, job outputs out.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Uploads an object.
    async fn put_object(&self, bucket: &str, key: &str, body: Vec<u8>, encryption: &Encryption) -> Result<()>;
    /// Downloads an object.
    async fn get_object(&self, bucket: &str, key: &str) -> Result<Vec<u8>>;
    /// Lists objects under `prefix` (one level when `delimiter` is given).
    async fn list_objects(&self, bucket: &str, prefix: &str, delimiter: Option<&str>) -> Result<Listing>;
}
