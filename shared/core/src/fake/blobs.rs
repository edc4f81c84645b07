//! Objects in memory, keyed by bucket and key, remembering the encryption of each upload.

use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Mutex;

use super::lock;
use crate::error::{Error, Result};
use crate::ports::{BlobStore, Encryption, Listing, ObjectInfo};

/// An object's body and the encryption it was uploaded with, by (bucket, key).
type Objects = BTreeMap<(String, String), (Vec<u8>, Option<Encryption>)>;

/// A multipart upload under way: its object, encryption and the parts sent so far.
type PartUpload = ((String, String), Encryption, BTreeMap<i32, Vec<u8>>);

/// Objects in memory, keyed by (bucket, key); uploads remember their encryption.
#[derive(Default)]
pub struct FakeBlobs {
    objects: Mutex<Objects>,
    uploads: Mutex<BTreeMap<String, PartUpload>>,
    /// Every part's size as it was sent, in order, across uploads.
    parts_sent: Mutex<Vec<usize>>,
}

impl FakeBlobs {
    /// Stores an object directly (a test fixture).
    pub fn insert(&self, bucket: &str, key: &str, body: &[u8]) {
        lock(&self.objects).insert((bucket.into(), key.into()), (body.to_vec(), None));
    }

    /// The size of every part sent so far, in order (empty when every object went whole).
    pub fn parts_sent(&self) -> Vec<usize> {
        lock(&self.parts_sent).clone()
    }

    /// Multipart uploads started and neither completed nor aborted.
    pub fn open_uploads(&self) -> usize {
        lock(&self.uploads).len()
    }

    /// The encryption an object was uploaded with.
    pub fn encryption(&self, bucket: &str, key: &str) -> Option<Encryption> {
        lock(&self.objects).get(&(bucket.into(), key.into())).and_then(|(_, e)| e.clone())
    }
}

#[async_trait]
impl BlobStore for FakeBlobs {
    async fn put_object(&self, bucket: &str, key: &str, body: Vec<u8>, encryption: &Encryption) -> Result<()> {
        lock(&self.objects).insert((bucket.into(), key.into()), (body, Some(encryption.clone())));
        Ok(())
    }

    async fn get_object(&self, bucket: &str, key: &str) -> Result<Vec<u8>> {
        lock(&self.objects)
            .get(&(bucket.into(), key.into()))
            .map(|(b, _)| b.clone())
            .ok_or_else(|| Error::NotFound { what: "object", id: format!("s3://{bucket}/{key}") })
    }

    async fn list_objects(&self, bucket: &str, prefix: &str, delimiter: Option<&str>) -> Result<Listing> {
        let mut listing = Listing::default();
        for ((b, key), (body, _)) in lock(&self.objects).iter() {
            let Some(rest) = key.strip_prefix(prefix).filter(|_| b == bucket) else { continue };
            match delimiter.and_then(|d| rest.find(d).map(|i| (i, d))) {
                Some((i, d)) => {
                    let sub = format!("{prefix}{}{d}", &rest[..i]);
                    if !listing.prefixes.contains(&sub) {
                        listing.prefixes.push(sub);
                    }
                }
                None => listing.objects.push(ObjectInfo {
                    key: key.clone(),
                    size: body.len() as u64,
                    last_modified: None,
                    etag: None,
                    storage_class: None,
                }),
            }
        }
        Ok(listing)
    }

    async fn start_upload(&self, bucket: &str, key: &str, encryption: &Encryption) -> Result<String> {
        let id = uuid::Uuid::new_v4().to_string();
        lock(&self.uploads).insert(id.clone(), ((bucket.into(), key.into()), encryption.clone(), BTreeMap::new()));
        Ok(id)
    }

    async fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: i32,
        body: Vec<u8>,
    ) -> Result<String> {
        let mut uploads = lock(&self.uploads);
        let Some((object, _, parts)) = uploads.get_mut(upload_id) else {
            return Err(Error::NotFound { what: "upload", id: upload_id.into() });
        };
        if *object != (bucket.to_string(), key.to_string()) {
            return Err(Error::Unexpected(format!("upload {upload_id} is not of s3://{bucket}/{key}")));
        }
        lock(&self.parts_sent).push(body.len());
        parts.insert(number, body);
        Ok(format!("\"etag-{number}\""))
    }

    async fn complete_upload(&self, bucket: &str, key: &str, upload_id: &str, parts: &[(i32, String)]) -> Result<()> {
        let Some((object, encryption, sent)) = lock(&self.uploads).remove(upload_id) else {
            return Err(Error::NotFound { what: "upload", id: upload_id.into() });
        };
        let mut body = Vec::new();
        for (number, etag) in parts {
            match sent.get(number) {
                Some(part) if *etag == format!("\"etag-{number}\"") => body.extend_from_slice(part),
                _ => return Err(Error::Unexpected(format!("s3://{bucket}/{key}: no part {number} tagged {etag}"))),
            }
        }
        lock(&self.objects).insert(object, (body, Some(encryption)));
        Ok(())
    }

    async fn abort_upload(&self, _bucket: &str, _key: &str, upload_id: &str) -> Result<()> {
        lock(&self.uploads).remove(upload_id);
        Ok(())
    }
}
