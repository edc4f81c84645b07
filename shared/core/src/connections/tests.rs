use serde_json::{Value, json};
use std::sync::Arc;

use super::scripts::{shell_quote, write_connector};
use super::*;
use crate::fake::FakePorts;
use crate::names::ResourceNames;
use crate::ports::TableStore;

async fn connections(entries: &[Value]) -> (Connections, FakePorts) {
    let names = ResourceNames::for_realm("dev");
    let fakes = FakePorts::for_realm(&names);
    for e in entries {
        fakes.tables.put_item("lava.dev.connections", e.as_object().unwrap().clone()).await.unwrap();
    }
    let catalog = Catalog::new(fakes.tables.clone(), names);
    (Connections::new(catalog, fakes.secrets.clone() as Arc<dyn SecretStore>, Config::default()), fakes)
}

#[tokio::test]
async fn passwords_come_from_ssm_and_missing_fields_from_the_secret() {
    let (c, fakes) = connections(&[
        json!({"conn_id": "pg", "type": "postgres", "enabled": true, "host": "db.x", "port": "5432", "user": "etl", "database": "dw", "password": "/lava/dev/pg"}),
        json!({"conn_id": "my", "type": "MariaDB", "enabled": true, "secret_id": "lava/my", "user": "mine"}),
    ])
    .await;
    fakes.secrets.put_parameter("/lava/dev/pg", "s3cr:et");
    fakes.secrets.put_secret(
        "lava/my",
        r#"{"username": "theirs", "password": "pw2", "host": "h2", "port": 3307, "dbname": "d2"}"#,
    );
    let pg = c.database("pg").await.unwrap();
    assert_eq!(
        (pg.engine, pg.port, pg.password.expose(), pg.database.as_deref()),
        (Engine::Postgres, 5432, "s3cr:et", Some("dw"))
    );
    assert!(!format!("{pg:?}").contains("s3cr"), "Debug never shows the password: {pg:?}");
    let my = c.database("my").await.unwrap();
    assert_eq!(
        (my.engine, my.user.as_str(), my.password.expose(), my.host.as_str(), my.port),
        (Engine::MySql, "mine", "pw2", "h2", 3307)
    );
}

#[tokio::test]
async fn unusable_connections_say_why() {
    let (c, fakes) = connections(&[
        json!({"conn_id": "off", "type": "postgres", "enabled": false, "host": "h", "port": 1, "user": "u", "database": "d", "password": "/p"}),
        json!({"conn_id": "nopw", "type": "mysql", "enabled": true, "host": "h", "port": 1, "user": "u", "database": "d"}),
        json!({"conn_id": "nodb", "type": "postgres", "enabled": true, "host": "h", "port": 1, "user": "u", "password": "/p"}),
        json!({"conn_id": "ora", "type": "oracle", "enabled": true, "host": "h", "port": 1, "user": "u", "database": "d", "password": "/p"}),
        json!({"conn_id": "sub", "type": "postgres", "enabled": true, "subtype": "odbc", "host": "h", "port": 1, "user": "u", "database": "d"}),
    ])
    .await;
    fakes.secrets.put_parameter("/p", "pw");
    let err = |id: &'static str| {
        let c = &c;
        async move { c.database(id).await.unwrap_err().to_string() }
    };
    assert_eq!(err("missing").await, "missing: No such connection");
    assert_eq!(err("off").await, "Connection off: Not enabled");
    assert_eq!(err("nopw").await, "Connection nopw: Password must be specified");
    assert_eq!(err("nodb").await, "Connection nodb: database must be specified for Postgres");
    assert!(err("ora").await.contains("Unsupported connection type - oracle"));
    assert_eq!(err("sub").await, "Connection sub: Unsupported connection type - postgres = (postgres, odbc)");
}

#[tokio::test]
async fn generic_connector_prints_each_attribute() {
    let (c, fakes) = connections(&[json!({"conn_id": "gen", "type": "generic", "enabled": true, "attributes": {
        "a": "plain", "n": 30, "flag": true, "key": {"type": "ssm", "parameter": "/lava/dev/key"}, "loc": {"value": "x y"}}})])
    .await;
    fakes.secrets.put_parameter("/lava/dev/key", "k-123");
    let dir = tempdir();
    let script = write_connector(&c, "gen", &dir, None).await.unwrap();
    let run = |arg: &[&str]| std::process::Command::new(&script).args(arg).output().unwrap();
    for (name, want) in [("a", "plain"), ("n", "30"), ("flag", "True"), ("key", "k-123"), ("loc", "x y")] {
        let out = run(&[name]);
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout), want);
    }
    let out = run(&["nope"]);
    assert_eq!((out.status.code(), String::from_utf8_lossy(&out.stderr).trim()), (Some(1), "nope: No such parameter"));
    assert_eq!(run(&[]).status.code(), Some(1));
    assert_eq!(run(&["../values/a"]).status.code(), Some(1));
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        (mode(&script), mode(script.parent().unwrap()), mode(&script.parent().unwrap().join("values/key"))),
        (0o700, 0o700, 0o600)
    );
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn database_scripts_quote_every_value() {
    let (c, fakes) = connections(&[json!({"conn_id": "pg", "type": "postgres", "enabled": true, "host": "h'; rm -rf /; '", "port": 5432, "user": "u:1", "database": "d", "password": "/pw"})]).await;
    fakes.secrets.put_parameter("/pw", "a:b\\c");
    let dir = tempdir();
    let script = write_connector(&c, "pg", &dir, None).await.unwrap();
    let body = std::fs::read_to_string(&script).unwrap();
    assert!(body.contains(&format!("-h {}", shell_quote("h'; rm -rf /; '"))), "{body}");
    assert!(!body.contains("a:b"), "the password is only in .pgpass");
    let pgpass = std::fs::read_to_string(script.parent().unwrap().join(".pgpass")).unwrap();
    assert_eq!(pgpass, "h'; rm -rf /; ':5432:d:u\\:1:a\\:b\\\\c\n");
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn aws_connections_with_a_role_get_session_credentials() {
    let (c, fakes) = connections(&[json!({"conn_id": "role", "type": "aws", "enabled": true, "role_arn": "arn:aws:iam::1:role/r", "external_id": "/ext", "region": "eu-west-1"})]).await;
    fakes.secrets.put_parameter("/ext", "x-1");
    let dir = tempdir();
    let script = write_connector(&c, "role", &dir, Some("lv-prod-a/b c")).await.unwrap();
    let conf = std::fs::read_to_string(script.parent().unwrap().join(".aws_config")).unwrap();
    assert!(conf.contains("aws_access_key_id = ASIA-lv-prod-a.b.c\n"), "{conf}");
    assert!(
        conf.contains("aws_secret_access_key = secret-for-arn:aws:iam::1:role/r\naws_session_token = token\n"),
        "{conf}"
    );
    assert_eq!(super::scripts::session_name(None), "lava");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn application_names_follow_the_template() {
    let r = Renderer::default();
    assert_eq!(application_name(&Config::default(), &r, "prod", "a/b", "c").as_deref(), Some("lv-prod-a/b"));
    let config = Config::new(vec![("LAVA_CONN_APP_NAME".into(), "x-{{ conn_id }}'\"".into())], None);
    assert_eq!(application_name(&config, &r, "prod", "a/b", "c").as_deref(), Some("x-c"));
    assert_eq!(application_name(&Config::default(), &r, "", "a/b", "c"), None);
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lava-conn-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn tls_follows_ssl_mode_over_ssl_and_scripts_pass_it_on() {
    let (c, fakes) = connections(&[
        json!({"conn_id": "full", "type": "postgres", "enabled": true, "host": "h", "port": 1, "user": "u", "database": "d",
            "password": "/p", "ssl_mode": "verify-full", "ssl_ca_file": "/etc/lava/ca.pem"}),
        json!({"conn_id": "ssl", "type": "postgres", "enabled": true, "host": "h", "port": 1, "user": "u", "database": "d",
            "password": "/p", "ssl": true}),
        json!({"conn_id": "plain", "type": "mysql", "enabled": true, "host": "h", "port": 1, "user": "u", "database": "d",
            "password": "/p"}),
        json!({"conn_id": "odd", "type": "postgres", "enabled": true, "host": "h", "port": 1, "user": "u", "database": "d",
            "password": "/p", "ssl_mode": "sometimes"}),
    ])
    .await;
    fakes.secrets.put_parameter("/p", "pw");
    let full = c.database("full").await.unwrap();
    assert_eq!((full.tls, full.ca_cert.as_deref()), (TlsMode::VerifyFull, Some("/etc/lava/ca.pem")));
    assert_eq!(c.database("ssl").await.unwrap().tls, TlsMode::Require);
    assert_eq!(c.database("plain").await.unwrap().tls, TlsMode::Prefer);
    let odd = c.database("odd").await.unwrap_err().to_string();
    assert!(
        odd.contains("ssl_mode \"sometimes\": expected disable, prefer, require, verify-ca or verify-full"),
        "{odd}"
    );

    let dir = tempdir();
    let script = write_connector(&c, "full", &dir, None).await.unwrap();
    let text = std::fs::read_to_string(script).unwrap();
    assert!(text.contains("export PGSSLMODE=verify-full\nexport PGSSLROOTCERT='/etc/lava/ca.pem'\n"), "{text}");
}

/// With no password, RDS and Aurora connections get a token for their user, Redshift clusters
/// `GetClusterCredentials` (the user AWS answers with replacing the connection's) and Redshift
/// Serverless `GetCredentials`, through a role when one is named; made afresh on each use.
#[tokio::test]
async fn connections_without_a_password_get_iam_credentials_by_type() {
    use crate::ports::{AssumeRole, DbCredentialsRequest as Request};
    let (c, fakes) = connections(&[
        json!({"conn_id": "rds", "type": "postgres-rds", "enabled": true, "host": "db.abc.rds.amazonaws.com", "port": "5432", "user": "etl", "database": "dw"}),
        json!({"conn_id": "aur", "type": "mysql-aurora", "enabled": true, "host": "my.cluster", "port": 3306, "user": "app", "database": "d"}),
        json!({"conn_id": "rs", "type": "redshift", "enabled": true, "host": "analytics.xyz.ap-southeast-2.redshift.amazonaws.com", "port": 5439, "user": "etl", "database": "dw"}),
        json!({"conn_id": "rs2", "type": "redshift", "enabled": true, "host": "h", "port": 5439, "user": "etl", "database": "dw", "cluster_id": "other", "password_duration": "30m"}),
        json!({"conn_id": "rss", "type": "redshift-serverless", "enabled": true, "host": "wg.123.ap-southeast-2.redshift-serverless.amazonaws.com", "port": 5439, "user": "-", "database": "dev",
            "role_arn": "arn:aws:iam::1:role/lava-dev-rs", "external_id": "/lava/dev/ext", "tags": {"team": "data"}, "password_duration": 1200}),
        json!({"conn_id": "pwd", "type": "postgres-rds", "enabled": true, "host": "h", "port": 1, "user": "u", "database": "d", "password": "/p"}),
    ])
    .await;
    fakes.secrets.put_parameter("/lava/dev/ext", "ext-id");
    fakes.secrets.put_parameter("/p", "given");
    let rds = c.database("rds").await.unwrap();
    assert_eq!((rds.user.as_str(), rds.password.expose()), ("etl", "temporary-1"));
    assert_eq!(c.database("rds").await.unwrap().password.expose(), "temporary-2", "never cached");
    c.database("aur").await.unwrap();
    let rs = c.database("rs").await.unwrap();
    assert_eq!((rs.user.as_str(), rs.password.expose()), ("IAM:etl", "temporary-4"));
    c.database("rs2").await.unwrap();
    let rss = c.database("rss").await.unwrap();
    assert_eq!(rss.user, "IAMR:lava-dev-rs");
    assert_eq!(c.database("pwd").await.unwrap().password.expose(), "given", "a password is used as given");
    let requests = fakes.secrets.credential_requests.lock().unwrap().clone();
    assert_eq!(
        requests,
        [
            Request::Rds { host: "db.abc.rds.amazonaws.com".into(), port: 5432, user: "etl".into() },
            Request::Rds { host: "db.abc.rds.amazonaws.com".into(), port: 5432, user: "etl".into() },
            Request::Rds { host: "my.cluster".into(), port: 3306, user: "app".into() },
            Request::RedshiftCluster {
                cluster_id: "analytics".into(),
                database: "dw".into(),
                user: "etl".into(),
                duration_seconds: 900
            },
            Request::RedshiftCluster {
                cluster_id: "other".into(),
                database: "dw".into(),
                user: "etl".into(),
                duration_seconds: 1800
            },
            Request::RedshiftServerless {
                workgroup: "wg".into(),
                database: "dev".into(),
                duration_seconds: 1200,
                role: Some(AssumeRole {
                    role_arn: "arn:aws:iam::1:role/lava-dev-rs".into(),
                    session_name: "lava".into(),
                    duration_seconds: 900,
                    external_id: Some("ext-id".into()),
                    tags: vec![("team".into(), "data".into())],
                    ..Default::default()
                }),
            },
        ]
    );
}

#[tokio::test]
async fn ssh_family_scripts_quote_their_options_and_keep_the_key_private() {
    use std::os::unix::fs::PermissionsExt;
    let options = json!(["StrictHostKeyChecking=no", "ProxyCommand=nc '%h' %p; touch /tmp/pwned"]);
    let (c, fakes) = connections(&[
        json!({"conn_id": "s", "type": "ssh", "enabled": true, "ssh_key": "/key", "ssh_options": options}),
        json!({"conn_id": "g", "type": "git", "enabled": true, "ssh_key": "/key", "ssh_options": ["Port=2222"]}),
        json!({"conn_id": "bad", "type": "scp", "enabled": true, "ssh_key": "/key", "ssh_options": "Port=22"}),
    ])
    .await;
    fakes.secrets.put_parameter("/key", "-----BEGIN KEY-----,abc,-----END KEY-----");
    let dir = tempdir();
    let script = write_connector(&c, "s", &dir, None).await.unwrap();
    let body = std::fs::read_to_string(&script).unwrap();
    let key = script.parent().unwrap().join("ssh.pem");
    assert!(script.ends_with("ssh"));
    assert!(
        body.ends_with(&format!(
            "exec ssh -o {} -o {} -i {} \"$@\"\n",
            shell_quote("StrictHostKeyChecking=no"),
            shell_quote("ProxyCommand=nc '%h' %p; touch /tmp/pwned"),
            shell_quote(&key.display().to_string())
        )),
        "{body}"
    );
    assert_eq!(std::fs::read_to_string(&key).unwrap(), "-----BEGIN KEY-----\nabc\n-----END KEY-----\n");
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    let git = std::fs::read_to_string(write_connector(&c, "g", &dir, None).await.unwrap()).unwrap();
    assert!(git.contains("export GIT_TERMINAL_PROMPT=0\n") && git.contains("exec git \"$@\"\n"), "{git}");
    assert!(git.contains("export GIT_SSH_COMMAND='ssh -o '\\''Port=2222'\\'' -i "), "{git}");
    let refused = write_connector(&c, "bad", &dir, None).await.unwrap_err().to_string();
    assert_eq!(refused, "Connection bad: ssh_options must be a list of strings");
    std::fs::remove_dir_all(dir).ok();
}
