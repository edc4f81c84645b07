//! TLS to a database as `ssl_mode` asks for it, against a PostgreSQL 15 server of the test's own
//! (a fresh cluster on a free port, serving a certificate from a test CA made here with openssl):
//! `verify-full` connects with the right CA and the right host name, and is refused with another
//! CA or another name; `verify-ca` checks the CA only; `require` and `prefer` encrypt.

use lava_tests::pg_cluster::tls_server;
use shared::connections::{Database, Engine, Secret, TlsMode};
use shared::sql::driver::Session;
use std::path::Path;
use std::time::Duration;

fn database(host: &str, port: u16, tls: TlsMode, ca: Option<&Path>) -> Database {
    Database {
        conn_id: "tls".into(),
        kind: shared::model::ConnectionType::Postgres,
        engine: Engine::Postgres,
        host: host.into(),
        port,
        user: "lava".into(),
        password: Secret::new("unused"),
        database: Some("postgres".into()),
        tls,
        ca_cert: ca.map(|p| p.display().to_string()),
    }
}

/// Connects; on success, whether the session is encrypted (`pg_stat_ssl`).
async fn encrypted(db: &Database) -> Result<bool, String> {
    let mut session = Session::connect(db, None, Duration::from_secs(10)).await.map_err(|e| format!("{e:#}"))?;
    let row = session
        .first_row("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .await
        .map_err(|e| e.to_string())?;
    session.close().await;
    Ok(row.and_then(|fields| fields.into_iter().next()).and_then(|f| f.text).as_deref() == Some("True"))
}

#[tokio::test]
async fn verify_full_checks_the_ca_and_the_host_name() {
    let (_server, port, dir) = tls_server();
    let (ca, other) = (dir.join("ca.crt"), dir.join("other-ca.crt"));

    assert_eq!(encrypted(&database("localhost", port, TlsMode::VerifyFull, Some(&ca))).await, Ok(true));
    let wrong_ca = encrypted(&database("localhost", port, TlsMode::VerifyFull, Some(&other))).await;
    assert!(wrong_ca.as_ref().is_err_and(|e| e.to_lowercase().contains("certificate")), "{wrong_ca:?}");
    let wrong_name = encrypted(&database("127.0.0.1", port, TlsMode::VerifyFull, Some(&ca))).await;
    assert!(wrong_name.is_err(), "the certificate names localhost, not 127.0.0.1: {wrong_name:?}");
    assert_eq!(encrypted(&database("127.0.0.1", port, TlsMode::VerifyCa, Some(&ca))).await, Ok(true));
    let ca_only_wrong = encrypted(&database("127.0.0.1", port, TlsMode::VerifyCa, Some(&other))).await;
    assert!(ca_only_wrong.is_err(), "{ca_only_wrong:?}");
    assert_eq!(encrypted(&database("127.0.0.1", port, TlsMode::Require, None)).await, Ok(true));
    assert_eq!(encrypted(&database("127.0.0.1", port, TlsMode::Disable, None)).await, Ok(false));
}

/// `ssl_ca_file` as an `s3://` URI: the CA is read from S3 when the connection is used, and
/// verify-full connects with it, and is refused with another CA's; a missing object names the
/// connection.
#[tokio::test]
async fn a_ca_file_in_s3_is_read_from_there() {
    use shared::ports::{BlobStore, Encryption};
    let (_server, port, dir) = tls_server();
    let r = lava_tests::TestRealm::up("tlss3").await;
    let bucket = r.names.local_bucket();
    for ca in ["ca", "other-ca"] {
        let body = std::fs::read(dir.join(format!("{ca}.crt"))).unwrap();
        r.blobs.put_object(&bucket, &format!("certs/{ca}.crt"), body, &Encryption::Aes256).await.unwrap();
    }
    let parameter = format!("/lava/{}/tls-password", r.names.realm);
    shared::aws::provision::put_parameter(&r.clients, &parameter, "unused", true).await.unwrap();
    for (id, file) in [("good", "ca.crt"), ("wrong", "other-ca.crt"), ("gone", "missing.crt")] {
        let entry = serde_json::json!({"conn_id": id, "type": "postgres", "enabled": true, "host": "localhost",
            "port": port, "user": "lava", "database": "postgres", "password": parameter, "ssl_mode": "verify-full",
            "ssl_ca_file": format!("s3://{bucket}/certs/{file}")});
        r.catalog.put_connection(&shared::model::ConnectionEntry::from_value(&entry).unwrap()).await.unwrap();
    }
    let connections =
        shared::connections::Connections::new(r.catalog.clone(), r.ports.secrets.clone(), Default::default())
            .with_blobs(r.ports.blobs.clone());
    let good = connections.database("good").await.unwrap();
    let local = good.ca_cert.clone().unwrap();
    assert_eq!(std::fs::read(&local).unwrap(), std::fs::read(dir.join("ca.crt")).unwrap(), "{local}");
    assert_eq!(encrypted(&good).await, Ok(true));
    let wrong = encrypted(&connections.database("wrong").await.unwrap()).await;
    assert!(wrong.as_ref().is_err_and(|e| e.to_lowercase().contains("certificate")), "{wrong:?}");
    let gone = connections.database("gone").await.unwrap_err().to_string();
    assert!(gone.starts_with("Connection gone: ssl_ca_file") && gone.contains("missing.crt"), "{gone}");
}
