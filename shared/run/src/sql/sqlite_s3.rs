//! SQLite databases kept in S3 (a `sqlite3` connection whose `host` is `s3://bucket/key`), as
//! the original keeps them: the file is copied down before a session and uploaded back after
//! it when its size or modification time changed.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::connections::{Database, Engine};
use crate::error::{Error, Result};
use crate::ports::{BlobStore, Encryption};

/// A local copy of a database in S3.
#[derive(Debug)]
pub struct S3Database {
    bucket: String,
    key: String,
    local: PathBuf,
    before: (u64, Option<SystemTime>),
}

fn stamp(path: &Path) -> Result<(u64, Option<SystemTime>)> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    Ok((meta.len(), meta.modified().ok()))
}

impl S3Database {
    /// For an S3 SQLite database, copies it into `dir` and returns the connection pointed at
    /// the copy with what [`S3Database::finish`] needs; any other connection as it is.
    pub async fn fetch(db: &Database, blobs: &dyn BlobStore, dir: &Path) -> Result<(Database, Option<S3Database>)> {
        let location = match (db.engine, db.host.strip_prefix("s3://")) {
            (Engine::Sqlite, Some(location)) => location,
            _ => return Ok((db.clone(), None)),
        };
        let (bucket, key) = location
            .split_once('/')
            .filter(|(b, k)| !b.is_empty() && !k.is_empty() && !k.ends_with('/'))
            .ok_or_else(|| Error::refused(format!("Connection {}", db.conn_id), "host must be s3://bucket/key"))?;
        let body = blobs.get_object(bucket, key).await.map_err(|e| e.within(format!("Connection {}", db.conn_id)))?;
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        let name = key.rsplit('/').next().unwrap_or("database");
        let local = dir.join(format!("{}-{name}", uuid::Uuid::new_v4().simple()));
        std::fs::write(&local, body).map_err(|e| Error::io(format!("cannot write {}", local.display()), e))?;
        let before = stamp(&local)?;
        let copy = Database { host: local.display().to_string(), ..db.clone() };
        Ok((copy, Some(S3Database { bucket: bucket.into(), key: key.into(), local, before })))
    }

    /// After the session has closed: uploads the copy back if it changed, then removes it.
    /// Returns whether it was uploaded.
    pub async fn finish(self, blobs: &dyn BlobStore, encryption: &Encryption) -> Result<bool> {
        let changed = stamp(&self.local)? != self.before;
        if changed {
            let body = tokio::fs::read(&self.local)
                .await
                .map_err(|e| Error::io(format!("cannot read {}", self.local.display()), e))?;
            blobs
                .put_object(&self.bucket, &self.key, body, encryption)
                .await
                .map_err(|e| e.within(format!("uploading s3://{}/{}", self.bucket, self.key)))?;
        }
        for suffix in ["", "-journal", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.local.display()));
        }
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeBlobs;

    fn lite(host: &str) -> Database {
        Database::sqlite("lite", host)
    }

    #[tokio::test]
    async fn a_copy_goes_back_only_when_it_changed() {
        let blobs = FakeBlobs::default();
        blobs.insert("b", "dbs/app.db", b"original");
        let dir = std::env::temp_dir().join(format!("lava-sqlite-s3-{}", uuid::Uuid::new_v4().simple()));
        let (db, copy) = S3Database::fetch(&lite("s3://b/dbs/app.db"), &blobs, &dir).await.unwrap();
        assert!(db.host.starts_with(&dir.display().to_string()) && db.host.ends_with("-app.db"), "{}", db.host);
        assert_eq!(std::fs::read(&db.host).unwrap(), b"original");
        assert!(!copy.unwrap().finish(&blobs, &Encryption::Aes256).await.unwrap(), "unchanged: not uploaded");
        assert!(!Path::new(&db.host).exists(), "the copy is removed");

        let (db, copy) = S3Database::fetch(&lite("s3://b/dbs/app.db"), &blobs, &dir).await.unwrap();
        std::fs::write(&db.host, b"changed!!").unwrap();
        assert!(copy.unwrap().finish(&blobs, &Encryption::Aes256).await.unwrap());
        assert_eq!(blobs.get_object("b", "dbs/app.db").await.unwrap(), b"changed!!");
        assert_eq!(blobs.encryption("b", "dbs/app.db"), Some(Encryption::Aes256));

        let (local, none) = S3Database::fetch(&lite("/tmp/x.db"), &blobs, &dir).await.unwrap();
        assert!(none.is_none() && local.host == "/tmp/x.db");
        let missing = S3Database::fetch(&lite("s3://b/none.db"), &blobs, &dir).await.unwrap_err().to_string();
        assert!(missing.starts_with("Connection lite") && missing.contains("none.db"), "{missing}");
        assert!(S3Database::fetch(&lite("s3://b/"), &blobs, &dir).await.is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
