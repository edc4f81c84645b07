//! Objects in memory, keyed by bucket and key, remembering the encryption of each upload.

use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Mutex;

use super::lock;
use crate::error::{Error, Result};
use crate::ports::{BlobStore, Encryption, Listing, ObjectInfo};

/// An object's body and the encryption it was uploaded with, by (bucket, key).
type Objects = BTreeMap<(String, String), (Vec<u8>, Option<Encryption>)>;

/// Objects in memory, keyed by (bucket, key); uploads remember their encryption.
#[derive(Default)]
pub struct FakeBlobs {
    objects: Mutex<Objects>,
}

impl FakeBlobs {
    /// Stores an object directly (a test fixture).
    pub fn insert(&self, bucket: &str, key: &str, body: &[u8]) {
        lock(&self.objects).insert((bucket.into(), key.into()), (body.to_vec(), None));
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
}
