//! IAM database credentials against moto and a PostgreSQL cluster of the test's own (trust
//! authentication, connections logged): a Redshift connection with no password gets
//! `GetClusterCredentials` from moto and a job connects as the user moto answers with; an RDS
//! connection with no password gets a SigV4 token for its user (its signing is checked against
//! botocore in `shared/aws/tests/adapters.rs`); a missing cluster fails naming the connection and the call.

use crate::db_from_s3::rows;
use crate::history::lava;
use crate::sql::run;
use lava_tests::{TestRealm, unique};
use serde_json::{Value, json};
use shared::connections::Database;

#[tokio::test]
async fn connections_without_passwords_connect_with_credentials_from_aws() {
    let r = TestRealm::up("iam").await;
    let dir = std::env::temp_dir().join(unique("lava-iam-"));
    std::fs::create_dir_all(&dir).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let _server = lava_tests::pg_cluster::Server::start(&dir, port, &["log_connections=on"]);
    let admin =
        Database { host: "127.0.0.1".into(), port, database: Some("postgres".into()), ..lava_tests::test_postgres() };
    rows(&admin, "CREATE ROLE \"IAM:etl\" LOGIN").await;
    r.redshift_cluster("analytics").await;
    for entry in [
        json!({"conn_id": "rs", "type": "redshift", "enabled": true, "host": "127.0.0.1", "port": port, "user": "etl",
            "database": "postgres", "cluster_id": "analytics", "password_duration": "20m"}),
        json!({"conn_id": "rsbad", "type": "redshift", "enabled": true, "host": "nowhere.example.com", "port": port,
            "user": "etl", "database": "postgres"}),
        json!({"conn_id": "rds", "type": "postgres-rds", "enabled": true, "host": "127.0.0.1", "port": port, "user": "lava",
            "database": "postgres"}),
    ] {
        r.catalog.put_connection(&shared::model::ConnectionEntry::from_value(&entry).unwrap()).await.unwrap();
    }
    for (id, conn) in [("iam/rs", "rs"), ("iam/rds", "rds"), ("iam/bad", "rsbad")] {
        r.put_job(
            json!({"job_id": id, "type": "sqli", "worker": "core", "enabled": true, "owner": "o", "description": "d",
            "payload": "select current_user", "parameters": {"conn_id": conn}}),
        )
        .await;
    }

    let (statuses, rs) = run(&r, "iam/rs").await;
    assert_eq!(statuses.last().map(String::as_str), Some("complete"), "{rs}");
    let (statuses, rds) = run(&r, "iam/rds").await;
    assert_eq!(statuses.last().map(String::as_str), Some("complete"), "{rds}");
    let log = std::fs::read_to_string(dir.join("server.log")).unwrap();
    assert!(log.contains("connection authorized: user=IAM:etl database=postgres"), "{log}");
    let (statuses, bad) = run(&r, "iam/bad").await;
    assert_eq!(statuses.last().map(String::as_str), Some("failed"), "{bad}");
    let error = bad["error"].as_str().unwrap();
    assert!(error.contains("Connection rsbad: Redshift GetClusterCredentials") && error.contains("nowhere"), "{error}");

    // `lava connection resolve` (what the Python package and scripts read) gets them too.
    let realm = r.names.realm.clone();
    let resolved: Value = serde_json::from_str(&lava(&realm, &["connection", "resolve", "rs"]).await.unwrap()).unwrap();
    assert_eq!(resolved["user"], "IAM:etl");
    assert_eq!(resolved["password"].as_str().unwrap().len(), 32, "moto's temporary password: {resolved}");
    let resolved: Value =
        serde_json::from_str(&lava(&realm, &["connection", "resolve", "rds"]).await.unwrap()).unwrap();
    let token = resolved["password"].as_str().unwrap();
    let prefix = format!("127.0.0.1:{port}/?Action=connect&DBUser=lava&");
    assert!(token.starts_with(&prefix), "{token}");
    for part in [
        "X-Amz-Algorithm=AWS4-HMAC-SHA256",
        "%2Fus-east-1%2Frds-db%2Faws4_request",
        "X-Amz-Expires=900",
        "X-Amz-Signature=",
    ] {
        assert!(token.contains(part), "{part} missing from {token}");
    }
}
