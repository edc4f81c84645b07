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
    /// Starts a multipart upload of an object; returns its upload id. [`Upload`] drives it.
    async fn start_upload(&self, bucket: &str, key: &str, encryption: &Encryption) -> Result<String> {
        let _ = encryption;
        Err(crate::error::Error::Unexpected(format!("s3://{bucket}/{key}: this store cannot upload in parts")))
    }
    /// Uploads part `number` (from 1) of an upload; returns its entity tag.
    async fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: i32,
        body: Vec<u8>,
    ) -> Result<String> {
        let _ = (upload_id, number, body);
        Err(crate::error::Error::Unexpected(format!("s3://{bucket}/{key}: this store cannot upload in parts")))
    }
    /// Ends an upload: the object is its parts (number, entity tag) in order.
    async fn complete_upload(&self, bucket: &str, key: &str, upload_id: &str, parts: &[(i32, String)]) -> Result<()> {
        let _ = (upload_id, parts);
        Err(crate::error::Error::Unexpected(format!("s3://{bucket}/{key}: this store cannot upload in parts")))
    }
    /// Abandons an upload and frees its parts.
    async fn abort_upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<()> {
        let _ = upload_id;
        Err(crate::error::Error::Unexpected(format!("s3://{bucket}/{key}: this store cannot upload in parts")))
    }
}

/// The smallest part S3 takes (all but the last); parts start at 8 MiB.
const FIRST_PART_SIZE: usize = 8 << 20;
/// S3's most parts in an upload; the part size doubles every thousand parts to stay under it.
const PARTS_PER_SIZE: usize = 1000;

/// An object written as a stream: bytes are held until a part is full, then sent as one part
/// of a multipart upload, so at most about a part is ever in memory whatever the object's
/// size. An object that never fills a part is sent whole at [`Upload::finish`] (one request).
/// An upload that is dropped or fails is abandoned with [`Upload::abort`].
pub struct Upload<'a> {
    store: &'a dyn BlobStore,
    bucket: String,
    key: String,
    encryption: Encryption,
    pending: Vec<u8>,
    part_size: usize,
    upload_id: Option<String>,
    parts: Vec<(i32, String)>,
}

impl<'a> Upload<'a> {
    /// An upload of `s3://bucket/key` with `encryption`; nothing is sent yet.
    pub fn new(store: &'a dyn BlobStore, bucket: &str, key: &str, encryption: Encryption) -> Self {
        Upload {
            store,
            bucket: bucket.to_string(),
            key: key.to_string(),
            encryption,
            pending: Vec::new(),
            part_size: FIRST_PART_SIZE,
            upload_id: None,
            parts: Vec::new(),
        }
    }

    /// With parts of `size` bytes to start with (tests; S3 wants at least 5 MiB).
    pub fn with_part_size(mut self, size: usize) -> Self {
        self.part_size = size.max(1);
        self
    }

    /// The object's URI.
    pub fn uri(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    /// Adds bytes; sends every part they fill.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.pending.extend_from_slice(bytes);
        while self.pending.len() >= self.part_size {
            let rest = self.pending.split_off(self.part_size);
            let part = std::mem::replace(&mut self.pending, rest);
            self.send_part(part).await?;
        }
        Ok(())
    }

    /// Adds a local file's bytes, read a piece at a time.
    pub async fn write_file(&mut self, path: &std::path::Path) -> Result<()> {
        use tokio::io::AsyncReadExt;
        let cannot_read = |e| crate::error::Error::io(format!("Cannot read {}", path.display()), e);
        let mut file = tokio::fs::File::open(path).await.map_err(cannot_read)?;
        let mut piece = vec![0u8; 1 << 20];
        loop {
            let read = file.read(&mut piece).await.map_err(cannot_read)?;
            if read == 0 {
                return Ok(());
            }
            self.write(&piece[..read]).await?;
        }
    }

    async fn send_part(&mut self, part: Vec<u8>) -> Result<()> {
        let upload_id = match &self.upload_id {
            Some(id) => id.clone(),
            None => {
                let id = self.store.start_upload(&self.bucket, &self.key, &self.encryption).await?;
                self.upload_id.insert(id).clone()
            }
        };
        let number = i32::try_from(self.parts.len() + 1).unwrap_or(i32::MAX);
        let etag = self.store.upload_part(&self.bucket, &self.key, &upload_id, number, part).await?;
        self.parts.push((number, etag));
        if self.parts.len().is_multiple_of(PARTS_PER_SIZE) {
            self.part_size *= 2;
        }
        Ok(())
    }

    /// Sends what is left and ends the upload: the object exists from here on.
    pub async fn finish(mut self) -> Result<()> {
        if self.upload_id.is_none() {
            let body = std::mem::take(&mut self.pending);
            return self.store.put_object(&self.bucket, &self.key, body, &self.encryption).await;
        }
        if !self.pending.is_empty() {
            let last = std::mem::take(&mut self.pending);
            self.send_part(last).await?;
        }
        let id = self.upload_id.clone().unwrap_or_default();
        self.store.complete_upload(&self.bucket, &self.key, &id, &self.parts).await
    }

    /// Abandons the upload (nothing is left behind; the object is not written).
    pub async fn abort(self) {
        if let Some(id) = &self.upload_id
            && let Err(e) = self.store.abort_upload(&self.bucket, &self.key, id).await
        {
            tracing::warn!(uri = %self.uri(), error = %e, "Cannot abort the multipart upload: its parts stay until an abort or a lifecycle rule removes them.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{BlobStore, BucketSecurity, Encryption, Upload};
    use crate::fake::FakeBlobs;
    use std::sync::Arc;

    #[tokio::test]
    async fn an_upload_sends_full_parts_as_they_fill_and_a_small_object_whole() {
        let store = Arc::new(FakeBlobs::default());
        let mut small = Upload::new(store.as_ref(), "b", "small", Encryption::Aes256).with_part_size(10);
        small.write(b"123456789").await.unwrap();
        small.finish().await.unwrap();
        assert_eq!(store.get_object("b", "small").await.unwrap(), b"123456789");
        assert!(store.parts_sent().is_empty(), "an object under a part goes in one request");

        let mut big = Upload::new(store.as_ref(), "b", "big", Encryption::Kms("k".into())).with_part_size(10);
        let mut expected = Vec::new();
        for i in 0..7u8 {
            let chunk = vec![b'a' + i; 4];
            big.write(&chunk).await.unwrap();
            expected.extend(chunk);
            assert!(store.parts_sent().iter().sum::<usize>() + 10 > expected.len(), "at most a part is held");
        }
        big.finish().await.unwrap();
        assert_eq!(store.parts_sent(), [10, 10, 8]);
        assert_eq!(store.get_object("b", "big").await.unwrap(), expected);
        assert_eq!(store.encryption("b", "big"), Some(Encryption::Kms("k".into())));
        assert_eq!(store.open_uploads(), 0);
    }

    #[tokio::test]
    async fn an_aborted_upload_leaves_no_object_and_no_parts() {
        let store = Arc::new(FakeBlobs::default());
        let mut upload = Upload::new(store.as_ref(), "b", "k", Encryption::Aes256).with_part_size(4);
        upload.write(b"0123456789").await.unwrap();
        assert_eq!(store.open_uploads(), 1);
        upload.abort().await;
        assert_eq!(store.open_uploads(), 0);
        assert!(store.get_object("b", "k").await.is_err());
    }

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
