//! S3: the [`BlobStore`] port.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;

use super::aws_error;
use crate::error::{Error, Result};
use crate::ports::{BlobStore, BucketSecurity, ByteChunks, Encryption, Listing, ObjectInfo};

/// A body that broke off while being read (worth another try).
fn read_failed(uri: &str, e: aws_sdk_s3::primitives::ByteStreamError) -> Error {
    Error::Aws {
        service: "s3",
        operation: "GetObject",
        code: None,
        message: format!("reading {uri}: {e}"),
        retry: crate::Retry::Transient,
        source: Some(Box::new(e)),
    }
}

/// Objects on S3.
#[derive(Clone, Debug)]
pub struct S3Blobs {
    client: Client,
}

impl S3Blobs {
    /// Uses `client` for every call.
    pub fn new(client: Client) -> Self {
        S3Blobs { client }
    }

    /// GetObject, a missing object being `NotFound`.
    async fn get(&self, bucket: &str, key: &str) -> Result<aws_sdk_s3::operation::get_object::GetObjectOutput> {
        self.client.get_object().bucket(bucket).key(key).send().await.map_err(|e| {
            if e.as_service_error().is_some_and(|s| s.is_no_such_key()) {
                Error::NotFound { what: "object", id: format!("s3://{bucket}/{key}") }
            } else {
                aws_error("s3", "GetObject", e)
            }
        })
    }
}

#[async_trait]
impl BlobStore for S3Blobs {
    async fn put_object(&self, bucket: &str, key: &str, body: Vec<u8>, encryption: &Encryption) -> Result<()> {
        let request = self.client.put_object().bucket(bucket).key(key).body(ByteStream::from(body));
        let request = match encryption {
            Encryption::Aes256 => request.server_side_encryption(ServerSideEncryption::Aes256),
            Encryption::Kms(key_id) => {
                request.server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id(key_id)
            }
        };
        request.send().await.map_err(|e| aws_error("s3", "PutObject", e))?;
        Ok(())
    }

    async fn get_object(&self, bucket: &str, key: &str) -> Result<Vec<u8>> {
        let out = self.get(bucket, key).await?;
        let data = out.body.collect().await.map_err(|e| read_failed(&format!("s3://{bucket}/{key}"), e))?;
        Ok(data.into_bytes().to_vec())
    }

    async fn open_object(&self, bucket: &str, key: &str) -> Result<ByteChunks> {
        let out = self.get(bucket, key).await?;
        let uri = format!("s3://{bucket}/{key}");
        let chunks = futures_util::stream::try_unfold((out.body, uri), |(mut body, uri)| async move {
            match body.try_next().await {
                Ok(Some(chunk)) => Ok(Some((chunk.to_vec(), (body, uri)))),
                Ok(None) => Ok(None),
                Err(e) => Err(read_failed(&uri, e)),
            }
        });
        Ok(Box::pin(chunks))
    }

    async fn start_upload(&self, bucket: &str, key: &str, encryption: &Encryption) -> Result<String> {
        let request = self.client.create_multipart_upload().bucket(bucket).key(key);
        let request = match encryption {
            Encryption::Aes256 => request.server_side_encryption(ServerSideEncryption::Aes256),
            Encryption::Kms(key_id) => {
                request.server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id(key_id)
            }
        };
        let out = request.send().await.map_err(|e| aws_error("s3", "CreateMultipartUpload", e))?;
        out.upload_id.ok_or_else(|| Error::Unexpected(format!("s3://{bucket}/{key}: no upload id")))
    }

    async fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: i32,
        body: Vec<u8>,
    ) -> Result<String> {
        let out = self
            .client
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| aws_error("s3", "UploadPart", e))?;
        out.e_tag.ok_or_else(|| Error::Unexpected(format!("s3://{bucket}/{key}: part {number} has no entity tag")))
    }

    async fn complete_upload(&self, bucket: &str, key: &str, upload_id: &str, parts: &[(i32, String)]) -> Result<()> {
        use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
        let parts = parts.iter().map(|(n, etag)| CompletedPart::builder().part_number(*n).e_tag(etag).build());
        let upload = CompletedMultipartUpload::builder().set_parts(Some(parts.collect())).build();
        self.client
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(upload)
            .send()
            .await
            .map_err(|e| aws_error("s3", "CompleteMultipartUpload", e))?;
        Ok(())
    }

    async fn abort_upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<()> {
        self.client
            .abort_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
            .map_err(|e| aws_error("s3", "AbortMultipartUpload", e))?;
        Ok(())
    }

    async fn set_content_encoding(&self, bucket: &str, key: &str, encoding: &str) -> Result<()> {
        self.client
            .copy_object()
            .bucket(bucket)
            .key(key)
            .copy_source(format!("{bucket}/{key}"))
            .content_encoding(encoding)
            .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
            .send()
            .await
            .map_err(|e| aws_error("s3", "CopyObject", e))?;
        Ok(())
    }

    async fn object_size(&self, bucket: &str, key: &str) -> Result<Option<u64>> {
        match self.client.head_object().bucket(bucket).key(key).send().await {
            Ok(out) => Ok(Some(out.content_length.unwrap_or(0).max(0) as u64)),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(aws_error("s3", "HeadObject", e)),
        }
    }

    async fn bucket_security(&self, bucket: &str) -> Result<BucketSecurity> {
        const EVERYONE: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
        let acl =
            self.client.get_bucket_acl().bucket(bucket).send().await.map_err(|e| aws_error("s3", "GetBucketAcl", e))?;
        let public = acl.grants().iter().any(|g| g.grantee().and_then(|g| g.uri()) == Some(EVERYONE));
        let encrypted = match self.client.get_bucket_encryption().bucket(bucket).send().await {
            Ok(out) => out.server_side_encryption_configuration().is_some_and(|c| !c.rules().is_empty()),
            Err(e)
                if e.as_service_error().and_then(|s| s.meta().code())
                    == Some("ServerSideEncryptionConfigurationNotFoundError") =>
            {
                false
            }
            Err(e) => return Err(aws_error("s3", "GetBucketEncryption", e)),
        };
        let logging = self
            .client
            .get_bucket_logging()
            .bucket(bucket)
            .send()
            .await
            .map_err(|e| aws_error("s3", "GetBucketLogging", e))?
            .logging_enabled()
            .is_some();
        // ListBuckets lists the buckets of the caller's account only.
        let mut owned = false;
        let mut token = None;
        loop {
            let page = self
                .client
                .list_buckets()
                .prefix(bucket)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| aws_error("s3", "ListBuckets", e))?;
            owned |= page.buckets().iter().any(|b| b.name() == Some(bucket));
            match page.continuation_token() {
                Some(next) if !owned && !next.is_empty() => token = Some(next.to_string()),
                _ => break,
            }
        }
        Ok(BucketSecurity { public, encrypted, logging, owned })
    }

    async fn list_objects(&self, bucket: &str, prefix: &str, delimiter: Option<&str>) -> Result<Listing> {
        let mut listing = Listing::default();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_delimiter(delimiter.map(str::to_string))
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| aws_error("s3", "ListObjectsV2", e))?;
            for object in out.contents() {
                listing.objects.push(ObjectInfo {
                    key: object.key().unwrap_or_default().to_string(),
                    size: object.size().unwrap_or(0).max(0) as u64,
                    last_modified: object
                        .last_modified()
                        .and_then(|t| t.fmt(aws_sdk_s3::primitives::DateTimeFormat::DateTime).ok()),
                    etag: object.e_tag().map(str::to_string),
                    storage_class: object.storage_class().map(|c| c.as_str().to_string()),
                });
            }
            listing.prefixes.extend(out.common_prefixes().iter().filter_map(|p| p.prefix().map(str::to_string)));
            match out.next_continuation_token {
                Some(next) if out.is_truncated == Some(true) => token = Some(next),
                _ => break,
            }
        }
        listing.objects.sort_by(|a, b| a.key.cmp(&b.key));
        listing.prefixes.sort();
        Ok(listing)
    }
}
