//! The Python API a job calls (`lava.dispatch`, `get_job_spec`, `get_realm_info`, `scan_jobs`,
//! `lava.connection`'s getters, state items, an email connection's `send`): one script run
//! under the original's package (jinlava 8.3.0 in `.venv-jinlava`) and under ours (`.venv`,
//! through our `lava` command) on one realm; what each call returned or raised, the dispatch
//! messages and the email sent are compared.

use crate::compare::{Difference, Normaliser, differences};
use crate::harness::{Listed, assert_explained};
use serde_json::{Value, json};
use shared::ports::WorkQueue;

const SCRIPT: &str = include_str!("python/api.py");

/// Where ours differs from the original's package, and why.
const LISTED: &[Listed] = &[Listed {
    path: "$.results.version.ok",
    reason: "the package's version is the workspace's, one source for every part of this project; `lava version` names the original's version it is compatible with",
    sometimes: false,
}];

#[tokio::test]
async fn the_python_api_matches_the_original() {
    let family = crate::harness::Family::new("dfp").await;
    let r = &family.realm;
    r.put_job(json!({"job_id": "d/target", "type": "cmd", "worker": "core", "enabled": true, "owner": "o",
        "description": "a target", "payload": "true", "parameters": {"vars": {"n": 3, "f": 1.5}}, "max_tries": 2}))
        .await;
    r.put_sql_connections().await;
    let realm = r.names.realm.clone();
    let clients = &r.clients;
    let keys = format!("/lava/{realm}/keys");
    shared::aws::provision::put_parameter(clients, &keys, "AKIDPYTHON,py-secret", true).await.unwrap();
    let ssh_key = format!("/lava/{realm}/ssh-key");
    shared::aws::provision::put_parameter(clients, &ssh_key, "-----BEGIN KEY-----,abc,-----END KEY-----", true)
        .await
        .unwrap();
    let smtp = lava_tests::smtp::SmtpServer::start("-", "-");
    for entry in [
        json!({"conn_id": "keys", "type": "aws", "enabled": true, "access_keys": keys, "region": "eu-west-2"}),
        json!({"conn_id": "gen", "type": "generic", "enabled": true, "attributes": {"a": "text", "n": 7, "b": true}}),
        json!({"conn_id": "dock", "type": "docker", "enabled": true}),
        json!({"conn_id": "dock_server", "type": "docker", "enabled": true, "server": "unix:///var/run/docker.sock", "tls": false, "timeout": 20}),
        json!({"conn_id": "mail", "type": "email", "subtype": "smtp", "enabled": true, "host": "127.0.0.1",
            "port": smtp.port, "from": "Lava <lava@example.com>"}),
    ] {
        r.catalog.put_connection(&shared::model::ConnectionEntry::from_value(&entry).unwrap()).await.unwrap();
    }
    let script = std::env::temp_dir().join(lava_tests::unique("lava-api-")).with_extension("py");
    std::fs::write(&script, SCRIPT).unwrap();

    let worker_queue = r.queue_url(&r.names.worker_queue("core")).await;
    let mut sides = Vec::new();
    for original in [true, false] {
        let mut command = if original {
            lava_tests::original::command("python")
        } else {
            let mut command = std::process::Command::new(lava_tests::venv_tool("python"));
            lava_tests::emulator_env(&mut command)
                .env("LAVA_CLI", lava_tests::workspace_root().join("target/debug/lava"));
            command
        };
        command.arg(&script).arg(&realm).env("LAVA_REALM", &realm);
        let output = tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "the script failed (original: {original}): {stderr}");
        let results: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
        // The messages the dispatches sent (the delayed one after its delay).
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        let mut sent: Vec<Value> = Vec::new();
        for m in r.queues.receive(&worker_queue, 10, 1).await.unwrap() {
            r.queues.delete(&worker_queue, &m.receipt_handle).await.unwrap();
            sent.push(serde_json::from_str(&m.body).unwrap());
        }
        sent.sort_by_key(|m| m["parameters"].is_null());
        let mails = smtp.messages();
        smtp.clear();
        if original {
            // Both dispatches and the email reached their servers: the comparison has something to compare.
            assert_eq!((sent.len(), mails.len()), (2, 1), "the original's API calls sent: {results}");
            // And the calls added with the tools (issue 35) did their work.
            let r = &results;
            assert_eq!((&r["docker_ping"]["ok"], &r["docker_server_ping"]["ok"]), (&json!(true), &json!(true)), "{r}");
            assert_eq!(
                r["install_ssh_key"]["ok"],
                json!(["-----BEGIN KEY-----\nabc\n-----END KEY-----\n", "0o600"]),
                "{r}"
            );
            assert_eq!(r["scan_realms"]["ok"][&realm]["realm"], json!(realm), "{r}");
            assert_eq!(r["cli_connect_generic"]["ok"][0], json!("text"), "{r}");
            assert_eq!(r["load_dag_from_lava_conn"]["ok"], json!({"a": [], "b": ["a"], "c": ["a", "b"]}), "{r}");
        }
        sides.push(json!({"results": results, "dispatched": sent, "emails": mails}));
    }
    let normaliser = Normaliser::new(vec![(realm.clone(), "<realm>".into())]);
    let (a, b) = (normaliser.value(&sides[0]), normaliser.value(&sides[1]));
    let mut found: Vec<Difference> = Vec::new();
    differences("$", Some(&a), Some(&b), &mut found);
    for l in LISTED {
        eprintln!("python API: differs at {} (listed: {})", l.path, l.reason);
    }
    assert_explained(&found, LISTED, "the Python API");
}

const LIB_SCRIPT: &str = include_str!("python/lib.py");

/// Where ours differs from the original's `lava.lib`, and why (the same choices as `lava dag-gen`).
const LIB_LISTED: &[Listed] = &[
    Listed {
        path: "$.load_dag_from_csv padded",
        reason: "a job name with spaces around it is trimmed like the names across the top (the original raised KeyError)",
        sometimes: false,
    },
    Listed {
        path: "$.load_dag_from_xlsx numbers",
        reason: "a number in a cell marks a dependency as text does (the original raised AttributeError on it)",
        sometimes: false,
    },
    Listed {
        path: "$.load_dag_from_sqlite3 null",
        reason: "a row with no depends_on names its job waiting for nothing (the original made it wait for None)",
        sometimes: false,
    },
    Listed {
        path: "$.setup_logging replaces every handler",
        reason: "setup_logging removes all the logger's handlers before adding its own (the original removed from the list it walked, so skipped every other one and a message was logged twice)",
        sometimes: false,
    },
    Listed {
        path: "$.set_signal SIG_DFL restores the default",
        reason: "set_signal with signal.SIG_DFL restores the default, as documented (the original took SIG_DFL, which is 0, for no handler and ignored the signal)",
        sometimes: false,
    },
    Listed {
        path: "$.build_ssl_context CA http missing",
        reason: "a CA file over HTTP is fetched with urllib, not requests: a 404 is an HTTPError (an OSError) as before, its text urllib's",
        sometimes: false,
    },
    Listed {
        path: "$.build_ssl_context CA unknown scheme",
        reason: "a CA file is read from a path, file://, s3:// or http(s):// without smart_open: the NotImplementedError for another scheme lists those",
        sometimes: false,
    },
    Listed {
        path: "$.SmtpTls send.ok[1]",
        reason: "an SMTP emailer delivers to bcc too: its addresses are in the envelope (RCPT TO), never in a header (the original's send_message took the recipients from the To and Cc headers only, so bcc was dropped)",
        sometimes: false,
    },
    Listed {
        path: "$.message attachment gzip",
        reason: "a file attached by name is sent as it is stored (the original read it through smart_open, which uncompressed .gz, .bz2 and .xz files and sent the text under the compressed name)",
        sometimes: false,
    },
    Listed {
        path: "$.message attachment http",
        reason: "files are attached from a path, file:// or s3:// without smart_open: another scheme (http here) is a NotImplementedError saying so",
        sometimes: false,
    },
    Listed {
        path: "$.SMBProtocolConnection unconnected",
        reason: "the SMB connections need their client package (smbprotocol, pysmb) in the job's environment, which this package does not depend on; .venv has neither, so making one raises ImportError naming it (with it, an unconnected one refuses as the original's does)",
        sometimes: false,
    },
];

/// The `lava.lib` helpers a job's code calls (aws, dag, datetime, os, decorators, fileops, misc,
/// argparse, process, logging, ssl, dbnone, daemon, email, slack, smb), called with the same arguments (good and bad) under the original's
/// package and ours, in the same folder and on the emulator: every result and every error's
/// type and text are the same.
#[test]
fn the_lava_lib_helpers_match_the_original() {
    let script = std::env::temp_dir().join(lava_tests::unique("lava-lib-")).with_extension("py");
    std::fs::write(&script, LIB_SCRIPT).unwrap();
    let dir = std::env::temp_dir().join(lava_tests::unique("lava-lib-files-"));
    let mut sides = Vec::new();
    for original in [true, false] {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut command = if original {
            lava_tests::original::command("python")
        } else {
            let mut command = std::process::Command::new(lava_tests::venv_tool("python"));
            lava_tests::emulator_env(&mut command);
            command
        };
        // Each side's AWS resources apart (a bucket, queue, table, secrets of its own).
        let name = lava_tests::unique("lava-lib");
        let output = command.arg(&script).arg(&dir).arg(&name).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "the script failed (original: {original}): {stderr}");
        let results: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
        sides.push(Normaliser::new(vec![(name, "<name>".into())]).value(&results));
    }
    let theirs = &sides[0];
    // The calls ran and gave something to compare, results and errors alike.
    assert!(theirs.as_object().unwrap().len() > 130, "{theirs}");
    assert_eq!(theirs["duration_to_seconds '5m'"]["ok"], json!({"float": "300.0"}));
    assert_eq!(theirs["size_to_bytes ' 1.5 MiB '"]["ok"], json!({"int": "1572864"}));
    assert_eq!(theirs["str2bool 'maybe'"]["error"], json!("ValueError"));
    assert_eq!(theirs["sqs_send_msg received"]["ok"], json!(["hello"]));
    assert_eq!(theirs["s3_list match"]["ok"], json!(["in/a.json"]));
    let mut found: Vec<Difference> = Vec::new();
    differences("$", Some(&sides[0]), Some(&sides[1]), &mut found);
    assert_explained(&found, LIB_LISTED, "lava.lib");
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_file(&script).unwrap();
}
