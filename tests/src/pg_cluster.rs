//! PostgreSQL clusters of a test's own: a fresh cluster on a free port (trust authentication for
//! `lava`, any server settings), and one serving TLS with a certificate from a test CA made with
//! openssl. The tests that need a server configured their own way (TLS, statement logging,
//! connection logging) start one of these beside the shared test server.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = "/usr/lib/postgresql/15/bin";

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("running {program}: {e}"));
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Two CAs (`ca`, `other-ca`) in `dir`, and a server certificate `ca` signs for `localhost` only.
pub fn certificates(dir: &Path) {
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
pub struct Server {
    dir: PathBuf,
}

impl Server {
    pub fn start(dir: &Path, port: u16, settings: &[&str]) -> Server {
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

/// A server with TLS on, its certificates from [`certificates`] in a directory of its own;
/// returns the server (stopped on drop), its port and the directory.
pub fn tls_server() -> (Server, u16, PathBuf) {
    let dir = std::env::temp_dir().join(crate::unique("lava-tls-"));
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

/// A session as `lava` on the `postgres` database of a cluster of the test's own on `port`.
pub async fn session(port: u16) -> shared::sql::driver::Session {
    let db = shared::connections::Database {
        host: "127.0.0.1".into(),
        port,
        database: Some("postgres".into()),
        ..crate::test_postgres()
    };
    shared::sql::driver::Session::connect(&db, None, std::time::Duration::from_secs(10)).await.unwrap()
}

/// A cluster standing in for Redshift, which cannot run here: it logs every statement (so a
/// test reads the exact COPY or UNLOAD text there; PostgreSQL refuses both after logging them)
/// and runs `setup` (the catalog views and tables the statements' lookups read). The realm gets
/// the connection `conn_id` of type `kind` to it and `s3keys`, an `aws` connection with the
/// access keys `keys` ("id,secret"). Returns the server (stopped on drop) and its log's path.
pub async fn stand_in(r: &crate::TestRealm, setup: &str, conn_id: &str, kind: &str, keys: &str) -> (Server, PathBuf) {
    use serde_json::json;
    let dir = std::env::temp_dir().join(crate::unique("lava-stand-in-"));
    std::fs::create_dir_all(&dir).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let server = Server::start(&dir, port, &["log_statement=all"]);
    let mut session = session(port).await;
    session.affected(setup).await.unwrap();
    session.close().await;
    let parameter = format!("/lava/{}/db-password", r.names.realm);
    let keys_parameter = format!("/lava/{}/s3-keys", r.names.realm);
    shared::aws::provision::put_parameter(&r.clients, &keys_parameter, keys, true).await.unwrap();
    for entry in [
        json!({"conn_id": conn_id, "type": kind, "enabled": true, "host": "127.0.0.1", "port": port, "user": "lava",
            "database": "postgres", "password": parameter}),
        json!({"conn_id": "s3keys", "type": "aws", "enabled": true, "access_keys": keys_parameter, "region": "ap-southeast-2"}),
    ] {
        r.catalog.put_connection(&shared::model::ConnectionEntry::from_value(&entry).unwrap()).await.unwrap();
    }
    (server, dir.join("server.log"))
}
