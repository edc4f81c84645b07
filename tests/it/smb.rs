//! `smb_get` and `smb_put` against a Samba server on loopback (`lava_tests::samba`): files to and
//! from S3 (moto) and local paths, over SMB straight on TCP and after a NetBIOS session request,
//! directories made with `create_dirs`, and failures that name what failed (a missing directory,
//! a wrong password, which never shows), encryption when the connection or the share asks for
//! it (seen on the wire), NTLMv1 refused. SharePoint jobs fail with a clear error.

use crate::sql::run;
use lava_tests::{TestRealm, unique};
use serde_json::{Value, json};
use shared::ports::{BlobStore, Encryption};

async fn connections(r: &TestRealm) {
    let samba = lava_tests::samba::samba();
    let good = format!("/lava/{}/smb-password", r.names.realm);
    let bad = format!("/lava/{}/smb-wrong", r.names.realm);
    shared::aws::provision::put_parameter(&r.clients, &good, samba.password, true).await.unwrap();
    shared::aws::provision::put_parameter(&r.clients, &bad, "not-the-password", true).await.unwrap();
    let base = json!({"type": "smb", "enabled": true, "host": "127.0.0.1", "port": samba.port, "remote_name": "LAVATEST",
        "user": samba.user, "password": good});
    let entry = |id: &str, extra: Value| {
        let mut e = base.clone();
        e["conn_id"] = json!(id);
        e.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        e
    };
    for e in [
        entry("fs", json!({"is_direct_tcp": true})),
        entry("fs-nb", json!({"my_name": "lava-test"})),
        entry("fs-bad", json!({"is_direct_tcp": true, "password": bad})),
    ] {
        r.catalog.put_connection(&shared::model::ConnectionEntry::from_value(&e).unwrap()).await.unwrap();
    }
}

async fn job(r: &TestRealm, id: &str, kind: &str, parameters: Value) {
    r.put_job(json!({"job_id": id, "type": kind, "worker": "core", "enabled": true, "owner": "o", "description": "d",
        "payload": "--", "parameters": parameters}))
        .await;
}

#[tokio::test]
async fn files_go_to_and_from_a_samba_share_from_s3_and_local_paths() {
    let r = TestRealm::up("smb").await;
    connections(&r).await;
    let samba = lava_tests::samba::samba();
    let bucket = r.names.local_bucket();
    let dir = unique("d");
    // About 3 MB, so the transfer takes several SMB reads and writes.
    let body: String = (0..60_000).map(|i| format!("{i:08},some text of row {i:08}\n")).collect();
    r.blobs.put_object(&bucket, "smb/in/data.csv", body.clone().into_bytes(), &Encryption::Aes256).await.unwrap();

    // S3 to the share, into directories made on the way, the path rendered.
    job(
        &r,
        "smb/put",
        "smb_put",
        json!({"conn_id": "fs", "share_name": "Public",
        "path": "/{{ vars.dir }}/deep/er/data.csv", "file": format!("s3://{bucket}/smb/in/data.csv"),
        "create_dirs": true, "vars": {"dir": dir}}),
    )
    .await;
    let (statuses, result) = run(&r, "smb/put").await;
    assert_eq!(statuses.last().map(String::as_str), Some("complete"), "{result}");
    let on_share = samba.share_dir.join(&dir).join("deep/er/data.csv");
    assert_eq!(std::fs::read_to_string(&on_share).unwrap(), body);
    assert_eq!(
        result,
        json!({"exit_status": 0, "source": format!("s3://{bucket}/smb/in/data.csv"),
            "destination": format!("Public:/{dir}/deep/er/data.csv"), "error": null})
    );

    // The share to S3, after a NetBIOS session request (is_direct_tcp false).
    job(
        &r,
        "smb/get",
        "smb_get",
        json!({"conn_id": "fs-nb", "share_name": "Public",
        "path": format!("{dir}/deep/er/data.csv"), "file": "s3://{{ vars.bucket }}/smb/out/copy.csv",
        "vars": {"bucket": bucket}}),
    )
    .await;
    let (statuses, result) = run(&r, "smb/get").await;
    assert_eq!(statuses.last().map(String::as_str), Some("complete"), "{result}");
    let copied = r.blobs.get_object(&bucket, "smb/out/copy.csv").await.unwrap();
    assert_eq!(String::from_utf8(copied).unwrap(), body);

    // The share to a local file under basedir; a local file back onto the share.
    let local = std::env::temp_dir().join(unique("lava-smb-"));
    std::fs::create_dir_all(&local).unwrap();
    job(
        &r,
        "smb/local",
        "smb_get",
        json!({"conn_id": "fs", "share_name": "Public",
        "path": format!("{dir}/deep/er/data.csv"), "file": "here.csv", "basedir": local}),
    )
    .await;
    assert_eq!(run(&r, "smb/local").await.0.last().map(String::as_str), Some("complete"));
    assert_eq!(std::fs::read_to_string(local.join("here.csv")).unwrap(), body);
    std::fs::write(local.join("small.txt"), "small\n").unwrap();
    job(
        &r,
        "smb/back",
        "smb_put",
        json!({"conn_id": "fs", "share_name": "Public",
        "path": format!("{dir}/small.txt"), "file": local.join("small.txt")}),
    )
    .await;
    assert_eq!(run(&r, "smb/back").await.0.last().map(String::as_str), Some("complete"));
    assert_eq!(std::fs::read_to_string(samba.share_dir.join(&dir).join("small.txt")).unwrap(), "small\n");

    // A missing directory without create_dirs, a missing file, a wrong password: each fails
    // naming what failed; the password never shows.
    for (id, kind, conn, path) in [
        ("smb/nodir", "smb_put", "fs", format!("{dir}/missing/x.txt")),
        ("smb/nofile", "smb_get", "fs", format!("{dir}/nothing.txt")),
        ("smb/denied", "smb_get", "fs-bad", format!("{dir}/small.txt")),
    ] {
        job(
            &r,
            id,
            kind,
            json!({"conn_id": conn, "share_name": "Public", "path": path,
            "file": local.join("small.txt")}),
        )
        .await;
        let (statuses, result) = run(&r, id).await;
        assert_eq!(statuses.last().map(String::as_str), Some("failed"), "{id}: {result}");
        assert_eq!(result["error"], "Failed with exit status 1", "{id}: {result}");
        let error = result["error_data"]["error"].as_str().unwrap_or_default();
        let named = if conn == "fs-bad" { "Connection fs-bad".to_string() } else { format!("Public:{path}") };
        assert!(error.contains(&named), "{id}: {error}");
        assert!(error.contains(nt_status(id)), "{id}: the NT status is named as Windows names it: {error}");
        assert!(!result.to_string().contains("not-the-password") && !result.to_string().contains(samba.password));
    }
    std::fs::remove_dir_all(&local).unwrap();
}

/// The NT status each failing transfer of the first test ends with.
fn nt_status(id: &str) -> &'static str {
    match id {
        "smb/nodir" => "STATUS_OBJECT_PATH_NOT_FOUND",
        "smb/nofile" => "STATUS_OBJECT_NAME_NOT_FOUND",
        _ => "STATUS_LOGON_FAILURE",
    }
}

/// A server that accepts and never answers: the transfer stops at the job's `timeout`.
#[tokio::test]
async fn a_transfer_stops_at_its_timeout() {
    let r = TestRealm::up("smbto").await;
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let parameter = format!("/lava/{}/smb-password", r.names.realm);
    shared::aws::provision::put_parameter(&r.clients, &parameter, "unused", true).await.unwrap();
    let entry = json!({"conn_id": "silent", "type": "smb", "enabled": true, "host": "127.0.0.1", "port": port,
        "is_direct_tcp": true, "remote_name": "NOBODY", "user": "u", "password": parameter});
    r.catalog.put_connection(&shared::model::ConnectionEntry::from_value(&entry).unwrap()).await.unwrap();
    job(
        &r,
        "smb/slow",
        "smb_get",
        json!({"conn_id": "silent", "share_name": "Public", "path": "a.txt",
        "file": "a.txt", "timeout": "2s"}),
    )
    .await;
    let started = std::time::Instant::now();
    let (statuses, result) = run(&r, "smb/slow").await;
    assert_eq!(statuses.last().map(String::as_str), Some("failed"), "{result}");
    assert!(result["error"].as_str().is_some_and(|e| e.starts_with("Timed out after 2")), "{result}");
    assert_eq!(result["error_data"]["exit_status"], 28, "{result}");
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());
    drop(silent);
}

#[tokio::test]
async fn sharepoint_jobs_and_connections_are_refused_clearly() {
    let r = TestRealm::up("shp").await;
    job(
        &r,
        "shp/get",
        "sharepoint_get_doc",
        json!({"conn_id": "sp", "library": "Docs", "path": "/a.txt",
        "file": "a.txt"}),
    )
    .await;
    let (statuses, result) = run(&r, "shp/get").await;
    assert_eq!(statuses.last().map(String::as_str), Some("failed"));
    assert_eq!(
        result.as_str().unwrap_or_default(),
        "sharepoint_get_doc: SharePoint is not supported by this lava (no SharePoint server can run where it is built and tested)"
    );
    let entry = json!({"conn_id": "sp", "type": "sharepoint", "enabled": true, "org_base_url": "https://x", "site_name": "s",
        "tenant": "t", "client_id": "c", "client_secret": "/lava/x/s", "user": "u", "password": "/lava/x/p"});
    r.catalog.put_connection(&shared::model::ConnectionEntry::from_value(&entry).unwrap()).await.unwrap();
    r.put_job(json!({"job_id": "shp/exe", "type": "cmd", "worker": "core", "enabled": true, "owner": "o",
        "description": "d", "payload": "/bin/true"}))
        .await;
    let connections =
        shared::connections::Connections::new(r.catalog.clone(), r.ports.secrets.clone(), Default::default());
    let dir = std::env::temp_dir().join(unique("lava-shp-"));
    let error = shared::connections::scripts::write_connector(&connections, "sp", &dir, None).await.unwrap_err();
    assert!(error.to_string().contains("SharePoint is not supported"), "{error}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `encrypt: true` never lets a file cross the wire in the clear: against Samba the transfer is
/// encrypted (the file's text is not among the bytes sent, while without the flag it is, so the
/// check can fail) and the file arrives whole; a share that requires encryption gets it without
/// the flag; a server that can agree no encryption (SMB 2 only) is refused before any file data
/// is sent. `use_ntlm_v2: false` (NTLMv1) is refused, naming the field.
#[tokio::test]
async fn encrypt_never_sends_in_the_clear_and_ntlm_v1_is_refused() {
    let r = TestRealm::up("smbenc").await;
    let samba = lava_tests::samba::samba();
    let old = lava_tests::samba::samba_without_smb3();
    let proxy = lava_tests::FreezableProxy::start(samba.port).await;
    let old_proxy = lava_tests::FreezableProxy::start(old.port).await;
    let password = format!("/lava/{}/smb-password", r.names.realm);
    shared::aws::provision::put_parameter(&r.clients, &password, samba.password, true).await.unwrap();
    for (id, port, extra) in [
        ("clear", proxy.port(), json!({})),
        ("sealed", proxy.port(), json!({"encrypt": true})),
        ("old", old_proxy.port(), json!({"encrypt": true})),
        ("v1", proxy.port(), json!({"use_ntlm_v2": false})),
    ] {
        let mut entry = json!({"conn_id": id, "type": "smb", "enabled": true, "host": "127.0.0.1", "port": port,
            "remote_name": "LAVATEST", "is_direct_tcp": true, "user": samba.user, "password": password});
        entry.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        r.catalog.put_connection(&shared::model::ConnectionEntry::from_value(&entry).unwrap()).await.unwrap();
    }
    let bucket = r.names.local_bucket();
    const MARKER: &[u8] = b"lava-plaintext-marker-4711";
    r.blobs.put_object(&bucket, "enc/in.txt", MARKER.to_vec(), &Encryption::Aes256).await.unwrap();
    let dir = unique("enc");
    for server in [samba, old] {
        std::fs::create_dir_all(server.share_dir.join(&dir)).unwrap();
    }
    let put = |conn: &str, share: &str, name: &str| json!({"conn_id": conn, "share_name": share, "path": format!("/{dir}/{name}"), "file": format!("s3://{bucket}/enc/in.txt")});
    job(&r, "enc/clear", "smb_put", put("clear", "Public", "clear.txt")).await;
    job(&r, "enc/sealed", "smb_put", put("sealed", "Public", "sealed.txt")).await;
    job(&r, "enc/share", "smb_put", put("clear", "Sealed", "share.txt")).await;
    job(&r, "enc/old", "smb_put", put("old", "Public", "old.txt")).await;
    job(&r, "enc/v1", "smb_put", put("v1", "Public", "v1.txt")).await;
    let contains = |haystack: &[u8], needle: &[u8]| haystack.windows(needle.len()).any(|w| w == needle);

    proxy.take_sent();
    let (statuses, result) = run(&r, "enc/clear").await;
    assert_eq!(statuses.last().map(String::as_str), Some("complete"), "{result}");
    assert!(contains(&proxy.take_sent(), MARKER), "without encryption the file's text is on the wire");

    for (id, name) in [("enc/sealed", "sealed.txt"), ("enc/share", "share.txt")] {
        let (statuses, result) = run(&r, id).await;
        assert_eq!(statuses.last().map(String::as_str), Some("complete"), "{id}: {result}");
        let sent = proxy.take_sent();
        assert!(!sent.is_empty() && !contains(&sent, MARKER), "{id}: the file's text crossed the wire in the clear");
        assert_eq!(std::fs::read(samba.share_dir.join(&dir).join(name)).unwrap(), MARKER, "{id}");
    }

    let (statuses, result) = run(&r, "enc/old").await;
    assert_eq!(statuses.last().map(String::as_str), Some("failed"), "{result}");
    let error = result["error_data"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("Connection old: encrypt is set, but the server agreed no SMB 3 encryption"), "{result}");
    assert!(!contains(&old_proxy.take_sent(), MARKER), "the file's text crossed the wire in the clear");
    assert!(!old.share_dir.join(&dir).join("old.txt").exists());

    let (statuses, result) = run(&r, "enc/v1").await;
    assert_eq!(statuses.last().map(String::as_str), Some("failed"), "{result}");
    assert!(result["error_data"]["error"].as_str().unwrap_or_default().contains("use_ntlm_v2 is false"), "{result}");
}
