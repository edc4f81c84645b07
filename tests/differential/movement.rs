//! Data movement and containers: smb_put and smb_get against Samba, docker on the test engine,
//! a db_from_s3 load into SQLite, lavasched.

use crate::harness::{Family, Scenario};
use serde_json::json;
use shared::ports::{BlobStore, Encryption};

#[tokio::test]
async fn data_movement_and_containers_match_the_original() {
    lava_tests::require_docker();
    let family = Family::new("dfm").await;
    let r = &family.realm;
    let samba = lava_tests::samba::samba();
    let realm = r.names.realm.clone();
    let bucket = r.names.local_bucket();
    let password = format!("/lava/{realm}/smb");
    shared::aws::provision::put_parameter(&r.clients, &password, samba.password, true).await.unwrap();
    let share = json!({"conn_id": "fs", "type": "smb", "enabled": true, "host": "127.0.0.1", "port": samba.port,
        "remote_name": "LAVATEST", "is_direct_tcp": true, "user": samba.user, "password": password});
    r.catalog.put_connection(&shared::model::ConnectionEntry::from_value(&share).unwrap()).await.unwrap();
    let dir = lava_tests::unique("d");
    std::fs::create_dir_all(samba.share_dir.join(&dir)).unwrap();
    std::fs::write(samba.share_dir.join(&dir).join("there.txt"), "from the share\n").unwrap();
    r.blobs.put_object(&bucket, "move/here.txt", b"to the share\n".to_vec(), &Encryption::Aes256).await.unwrap();
    let lite = r.put_sql_connections().await;
    let table = lava_tests::unique("dfm_");
    crate::sql_exec(&crate::sqlite(&lite), &format!("create table {table} (id int, name varchar(20))")).await;
    r.blobs.put_object(&bucket, "move/rows.csv", b"1,one\n2,two\n".to_vec(), &Encryption::Aes256).await.unwrap();

    let engine = json!({"conn_id": "engine", "type": "docker", "enabled": true});
    r.catalog.put_connection(&shared::model::ConnectionEntry::from_value(&engine).unwrap()).await.unwrap();
    let smb = |kind: &str, path: &str, file: String| json!({"type": kind, "payload": "--", "parameters": {"conn_id": "fs", "share_name": "Public", "path": path, "file": file}});
    let scenarios = vec![
        Scenario::new("smb_put", smb("smb_put", &format!("/{dir}/put.txt"), format!("s3://{bucket}/move/here.txt"))),
        Scenario::new("smb_get", smb("smb_get", &format!("/{dir}/there.txt"), format!("s3://{bucket}/move/got.txt"))),
        Scenario::new("smb_get_missing", smb("smb_get", &format!("/{dir}/none.txt"), format!("s3://{bucket}/move/x.txt")))
            .differs("$.item.log[2].info.error_data", SMB_ERRORS)
            .differs("$.outputs", SMB_ERRORS),
        Scenario::new("docker_ok", json!({"type": "docker", "payload": lava_tests::TEST_IMAGE,
            "parameters": {"docker": "engine", "command": "sh -c 'echo in a container; echo warn >&2'"}}))
        .differs("$", DOCKER_PULL),
        Scenario::new("docker_no_connection", json!({"type": "docker", "payload": lava_tests::TEST_IMAGE,
            "parameters": {"command": "sh -c 'exit 3'"}}))
        .differs("$", "a docker connection is optional (the local engine runs the image); the original required one"),
        Scenario::new("load_lite_ok", json!({"type": "db_from_s3", "payload": null, "parameters": {"db_conn_id": "lite",
            "bucket": bucket, "key": "move/rows.csv", "schema": "main", "table": table, "mode": "truncate"}})),
        Scenario::new("lavasched", json!({"type": "lavasched", "payload": "--", "parameters": {"dispatcher": "nowhere"}}))
            .differs("$", "schedules are dispatched by the realm's schedule tick, so a lavasched job is a no-op success; the original's wrote the node's crontab (and fails where there is no crontab, as here)"),
    ];
    family.check(&scenarios).await;
}

const SMB_ERRORS: &str = "an SMB failure is worded by this project's SMB client, in process (the NT status is named as the original names it); the original ran lava-smb as a process and kept its stderr as an output";

const DOCKER_PULL: &str = "the original always pulls the image, and no registry is reachable here, so its runs fail; ours pulls as the pull policy says (an image only on the engine runs)";
