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

/// What a bucket's settings say of its safety as a target for data (`redshift_unload` checks
/// them unless told not to).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BucketSecurity {
    /// Its ACL grants something to everyone.
    pub public: bool,
    /// It has a default encryption.
    pub encrypted: bool,
    /// It has server access logging.
    pub logging: bool,
    /// It belongs to the caller's account (it is among the buckets the account lists).
    pub owned: bool,
}

impl BucketSecurity {
    /// The first failed check, in the original's order and words.
    pub fn check(&self) -> std::result::Result<(), &'static str> {
        if self.public {
            Err("Insecure due to public access")
        } else if !self.encrypted {
            Err("Insecure due to lack of default encryption")
        } else if !self.logging {
            Err("Insecure due to lack of server logging")
        } else if !self.owned {
            Err("Insecure due to foreign owned bucket")
        } else {
            Ok(())
        }
    }
}

/// An object's bytes, chunk by chunk as they arrive.
pub type ByteChunks = std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<Vec<u8>>> + Send>>;

/// S3: payloads in, job outputs out.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Uploads an object.
    async fn put_object(&self, bucket: &str, key: &str, body: Vec<u8>, encryption: &Encryption) -> Result<()>;
    /// Downloads an object.
    async fn get_object(&self, bucket: &str, key: &str) -> Result<Vec<u8>>;
    /// Lists objects under `prefix` (one level when `delimiter` is given).
    async fn list_objects(&self, bucket: &str, prefix: &str, delimiter: Option<&str>) -> Result<Listing>;
    /// Opens an object to read chunk by chunk, never holding all of it (`NotFound` when there
    /// is none). By default, the whole object as one chunk.
    async fn open_object(&self, bucket: &str, key: &str) -> Result<ByteChunks> {
        let body = self.get_object(bucket, key).await?;
        Ok(Box::pin(futures_util::stream::iter([Ok(body)])))
    }
    /// Sets an object's `Content-Encoding` (copying it onto itself, as the original does for
    /// the Aurora PostgreSQL import of gzip objects).
    async fn set_content_encoding(&self, bucket: &str, key: &str, encoding: &str) -> Result<()> {
        let _ = encoding;
        Err(crate::error::Error::Unexpected(format!("s3://{bucket}/{key}: this store cannot set a content encoding")))
    }
    /// A bucket's security settings.
    async fn bucket_security(&self, bucket: &str) -> Result<BucketSecurity> {
        Err(crate::error::Error::Unexpected(format!("{bucket}: this store cannot check a bucket's security")))
    }
    /// An object's size, `None` when there is no such object. By default, from a listing.
    async fn object_size(&self, bucket: &str, key: &str) -> Result<Option<u64>> {
        let listing = self.list_objects(bucket, key, None).await?;
        Ok(listing.objects.iter().find(|o| o.key == key).map(|o| o.size))
    }
}

#[cfg(test)]
mod tests {
    use super::BucketSecurity;

    #[test]
    fn bucket_checks_fail_in_the_originals_order() {
        let safe = BucketSecurity { public: false, encrypted: true, logging: true, owned: true };
        assert_eq!(safe.check(), Ok(()));
        let all_bad = BucketSecurity { public: true, encrypted: false, logging: false, owned: false };
        assert_eq!(all_bad.check(), Err("Insecure due to public access"));
        assert_eq!(
            BucketSecurity { public: false, ..all_bad }.check(),
            Err("Insecure due to lack of default encryption")
        );
        assert_eq!(BucketSecurity { logging: false, ..safe }.check(), Err("Insecure due to lack of server logging"));
        assert_eq!(BucketSecurity { owned: false, ..safe }.check(), Err("Insecure due to foreign owned bucket"));
    }
}
