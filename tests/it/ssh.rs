//! `ssh`, `scp`, `sftp` and `git` connections against an OpenSSH server on loopback: an exe job
//! runs a command over ssh, copies a file with scp, lists it with sftp and clones a git
//! repository served over ssh, each through its `LAVA_CONN_<LABEL>` script with the private key
//! from SSM (stored on one line, commas for line breaks) in a 0600 file.

use lava_tests::{TestRealm, unique};
use serde_json::json;
use shared::ports::{BlobStore, Encryption};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

/// An OpenSSH server on 127.0.0.1 accepting one key for the current user; stopped on drop.
struct Sshd {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(command: &mut Command) -> String {
    let out = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(out.status.success(), "{command:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

impl Sshd {
    /// Starts the server; returns it and the client's private key.
    fn start() -> (Sshd, String) {
        let sshd = Path::new("/usr/sbin/sshd");
        assert!(sshd.exists(), "/usr/sbin/sshd is missing: run `bash tests/setup.sh` (.ci/run does)");
        let dir = std::env::temp_dir().join(unique("lava-sshd-"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir_all("/run/sshd").unwrap();
        for name in ["host", "client"] {
            run(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(dir.join(name)));
        }
        std::fs::copy(dir.join("client.pub"), dir.join("authorized_keys")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host\nAuthorizedKeysFile {d}/authorized_keys\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nPidFile {d}/sshd.pid\nSubsystem sftp internal-sftp\n",
            d = dir.display()
        );
        std::fs::write(dir.join("sshd_config"), config).unwrap();
        let child = Command::new(sshd).args(["-D", "-e", "-f"]).arg(dir.join("sshd_config")).spawn().unwrap();
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let key = std::fs::read_to_string(dir.join("client")).unwrap();
        (Sshd { child, port, dir }, key)
    }
}

#[tokio::test]
async fn ssh_scp_sftp_and_git_connectors_reach_an_openssh_server() {
    let (server, key) = Sshd::start();
    let r = TestRealm::up("ssh").await;
    let parameter = format!("/lava/{}/ssh-key", r.names.realm);
    // Stored on one line: the connector turns the commas back into line breaks.
    shared::aws::provision::put_parameter(&r.clients, &parameter, &key.trim_end().replace('\n', ","), true)
        .await
        .unwrap();
    let user = run(Command::new("id").arg("-un")).trim().to_string();
    let options = json!([
        "StrictHostKeyChecking=no",
        "UserKnownHostsFile=/dev/null",
        "BatchMode=yes",
        "LogLevel=ERROR",
        format!("Port={}", server.port),
        format!("User={user}"),
    ]);
    for kind in ["ssh", "scp", "sftp", "git"] {
        let entry = json!({"conn_id": format!("box-{kind}"), "type": kind, "enabled": true, "ssh_key": parameter, "ssh_options": options});
        r.catalog.put_connection(&shared::model::ConnectionEntry::from_value(&entry).unwrap()).await.unwrap();
    }
    // A bare repository with one commit, served over ssh.
    let repo = server.dir.join("repo.git");
    run(Command::new("git").args(["init", "-q", "--bare"]).arg(&repo));
    let work = server.dir.join("work");
    run(Command::new("git").args(["clone", "-q"]).arg(&repo).arg(&work));
    std::fs::write(work.join("README"), "from the repository\n").unwrap();
    let git = |args: &[&str]| {
        run(Command::new("git")
            .arg("-C")
            .arg(&work)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args))
    };
    git(&["add", "README"]);
    git(&["commit", "-q", "-m", "first"]);
    git(&["push", "-q", "origin", "HEAD:main"]);
    let remote = server.dir.join("remote");
    std::fs::create_dir_all(&remote).unwrap();

    let script = format!(
        r#"#!/bin/bash
set -e
echo "ssh=$($LAVA_CONN_BOX 127.0.0.1 echo hello from sshd)"
echo payload > local.txt
$LAVA_CONN_COPY local.txt 127.0.0.1:{remote}/copied.txt
echo "scp=$(cat {remote}/copied.txt)"
echo "ls {remote}" | $LAVA_CONN_FILES -b - 127.0.0.1 | grep -q copied.txt && echo sftp=listed
$LAVA_CONN_REPO clone -q --branch main ssh://127.0.0.1{repo} cloned
echo "git=$(cat cloned/README)"
key=$(dirname $LAVA_CONN_BOX)/ssh.pem
echo "mode=$(stat -c %a $key)"
"#,
        remote = remote.display(),
        repo = repo.display()
    );
    let bucket = r.names.local_bucket();
    r.blobs.put_object(&bucket, "payloads/ssh/run.sh", script.into_bytes(), &Encryption::Aes256).await.unwrap();
    let connections = json!({"box": "box-ssh", "copy": "box-scp", "files": "box-sftp", "repo": "box-git"});
    r.put_job(json!({"job_id": "ssh/all", "type": "exe", "worker": "core", "enabled": true, "payload": "ssh/run.sh",
        "parameters": {"connections": connections}}))
        .await;
    let run_id = r.dispatch("ssh/all").await;
    let worker = crate::worker::worker(&r, 1, Duration::from_secs(5), false).await;
    let (_tx, rx) = tokio::sync::watch::channel(false);
    worker.run(rx).await.unwrap();
    let item = r.events("ssh/all", &run_id).await;
    let result = &item["log"].as_array().unwrap().last().unwrap()["info"];
    let stderr = match result["output"][0]["stderr"].as_str() {
        Some(uri) => r.object_text(&json!(uri)).await,
        None => String::new(),
    };
    assert_eq!(r.statuses("ssh/all", &run_id).await.last().map(String::as_str), Some("complete"), "{item}\n{stderr}");
    let stdout = r.object_text(&result["output"][0]["stdout"]).await;
    assert_eq!(stdout, "ssh=hello from sshd\nscp=payload\nsftp=listed\ngit=from the repository\nmode=600\n");
    assert!(!item.to_string().contains("PRIVATE KEY"), "the key never appears in events");

    // ssh_options that are not a list: the run fails naming the connection and the reason.
    let bad = json!({"conn_id": "box-bad", "type": "ssh", "enabled": true, "ssh_key": parameter, "ssh_options": "StrictHostKeyChecking=no"});
    r.catalog.put_connection(&shared::model::ConnectionEntry::from_value(&bad).unwrap()).await.unwrap();
    r.put_job(json!({"job_id": "ssh/bad", "type": "exe", "worker": "core", "enabled": true, "payload": "ssh/run.sh",
        "parameters": {"connections": {"box": "box-bad"}}}))
        .await;
    let (statuses, failed) = crate::sql::run(&r, "ssh/bad").await;
    assert_eq!(statuses.last().map(String::as_str), Some("failed"));
    assert!(failed["error"].as_str().unwrap().contains("ssh_options must be a list of strings"), "{failed}");
    drop(server);
}
