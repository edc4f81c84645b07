//! TLS to a database as `ssl_mode` asks for it, against a PostgreSQL 15 server of the test's own
//! (a fresh cluster on a free port, serving a certificate from a test CA made here with openssl):
//! `verify-full` connects with the right CA and the right host name, and is refused with another
//! CA or another name; `verify-ca` checks the CA only; `require` and `prefer` encrypt.

use shared::connections::{Database, Engine, Secret, TlsMode};
use shared::sql::driver::Session;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const BIN: &str = "/usr/lib/postgresql/15/bin";

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("running {program}: {e}"));
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Two CAs (`ca`, `other-ca`) in `dir`, and a server certificate `ca` signs for `localhost` only.
fn certificates(dir: &Path) {
    let at = |f: &str| dir.join(f).display().to_string();
    for ca in ["ca", "other-ca"] {
        let subject = format!("/CN=lava test {ca}");
        let (key, crt) = (at(&format!("{ca}.key")), at(&format!("{ca}.crt")));
        run(
            "openssl",
            &[
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", &subject, "-keyout", &key,
                "-out", &crt,
            ],
        );
    }
    std::fs::write(dir.join("san.ext"), "subjectAltName = DNS:localhost\n").unwrap();
    let (key, csr) = (at("server.key"), at("server.csr"));
    run("openssl", &["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", &key, "-out", &csr]);
    let (ca, ca_key, ext, crt) = (at("ca.crt"), at("ca.key"), at("san.ext"), at("server.crt"));
    run(
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &ext,
            "-out",
            &crt,
        ],
    );
}

/// A PostgreSQL cluster of a test's own in `dir`, listening on 127.0.0.1:`port` with trust
/// authentication for `lava` and the given server `settings`; stopped (and `dir` removed) on drop.
pub(crate) struct Server {
    dir: PathBuf,
}

impl Server {
    pub(crate) fn start(dir: &Path, port: u16, settings: &[&str]) -> Server {
        assert!(
            Path::new(BIN).join("initdb").exists(),
            "PostgreSQL 15's server binaries are needed in {BIN}: run `bash tests/setup.sh`"
        );
        let data = dir.join("data");
        run("chown", &["-R", "postgres", &dir.display().to_string()]);
        let as_postgres = |args: &[&str]| {
            let out = Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .args(args)
                .output()
                .expect("runuser (the test runs as root to start a cluster as postgres)");
            assert!(
                out.status.success(),
                "{args:?}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        };
        as_postgres(&[&format!("{BIN}/initdb"), "-D", &data.display().to_string(), "-U", "lava", "--auth=trust"]);
        let mut options = format!("-p {port} -k {} -c listen_addresses=127.0.0.1", dir.display());
        for setting in settings {
            options.push_str(&format!(" -c {setting}"));
        }
        as_postgres(&[
            &format!("{BIN}/pg_ctl"),
            "-D",
            &data.display().to_string(),
            "-o",
            &options,
            "-l",
            &dir.join("server.log").display().to_string(),
            "-w",
            "start",
        ]);
        Server { dir: dir.to_path_buf() }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--", &format!("{BIN}/pg_ctl"), "-D"])
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn database(host: &str, port: u16, tls: TlsMode, ca: Option<&Path>) -> Database {
    Database {
        conn_id: "tls".into(),
        kind: "postgres".into(),
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

/// A server with TLS on, its certificates from [`certificates`] in a directory of its own;
/// returns the server (stopped on drop), its port and the directory.
fn tls_server() -> (Server, u16, PathBuf) {
    let dir = std::env::temp_dir().join(tests::unique("lava-tls-"));
    std::fs::create_dir_all(&dir).unwrap();
    certificates(&dir);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    for (file, mode) in [("server.key", "600"), ("server.crt", "644")] {
        run("chmod", &[mode, &dir.join(file).display().to_string()]);
    }
    let (cert, key) = (
        format!("ssl_cert_file={}", dir.join("server.crt").display()),
        format!("ssl_key_file={}", dir.join("server.key").display()),
    );
    (Server::start(&dir, port, &["ssl=on", &cert, &key]), port, dir)
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
    let r = tests::TestRealm::up("tlss3").await;
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
