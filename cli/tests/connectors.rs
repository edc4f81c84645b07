//! The connector scripts that run `lava` itself (the original's `lava-smb`, `lava-email` and
//! `lava-slack`), used as a shell script does from an `exe` job: files to and from a Samba share
//! (`lava_tests::samba`) and S3, an email through an SMTP connection to aiosmtpd with Cc, Bcc and an
//! attachment, and a Slack message to a webhook on loopback.
//! (In the cli package because Cargo gives a package's own binary paths to its tests.)

use lava_tests::{TestRealm, unique, workspace_root};
use serde_json::{Value, json};
use shared::ports::{BlobStore, Encryption};
use std::io::{BufRead, Read, Write};

/// A webhook on loopback that answers one POST with 200 and hands its body over.
fn webhook() -> (String, std::sync::mpsc::Receiver<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        (&stream).write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok").unwrap();
        tx.send(String::from_utf8(body).unwrap()).unwrap();
    });
    (url, rx)
}

/// Runs the dispatched run `run_id` of `job_id` with a worker in this process (the worker also
/// runs whatever the job dispatches); returns its final status, stdout and stderr.
async fn run_job(r: &TestRealm, job_id: &str, run_id: &str) -> (String, String, String) {
    let worker =
        shared::worker::build(lava_tests::worker_options(&r.names.realm, 1, vec![]), r.ports.clone()).await.unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    worker.run(rx).await.unwrap();
    let item = r.events(job_id, run_id).await;
    let last = item["log"].as_array().and_then(|l| l.last()).cloned().unwrap_or(Value::Null);
    let info = &last["info"];
    let output = if info["output"].is_array() { &info["output"] } else { &info["error_data"]["output"] };
    let mut texts = [String::new(), String::new()];
    for (text, stream) in texts.iter_mut().zip(["stdout", "stderr"]) {
        if output[0][stream].is_string() {
            *text = r.object_text(&output[0][stream]).await;
        }
    }
    let [stdout, stderr] = texts;
    (last["status"].as_str().unwrap_or_default().to_string(), stdout, format!("{item}\n{stderr}"))
}

const SCRIPT: &str = r#"#!/bin/bash
set -e
echo "hello from a script" > local.txt
$LAVA_CONN_FS put --mkdir local.txt "Public:/$DIR/script/x.txt"
$LAVA_CONN_FS get "Public:/$DIR/script/x.txt" "s3://$BUCKET/smbout/{{ ustart.strftime('%Y') }}.txt"
$LAVA_CONN_FS get -J "Public:/$DIR/script/x.txt" "back{{ x }}.txt"
cat 'back{{ x }}.txt'
echo "Body line" | $LAVA_CONN_MAIL --to to@example.com --cc cc@example.com --bcc bcc@example.com -s "Subject here" -a local.txt
$LAVA_CONN_CHAT -s Alert --style plain <<< "chat message"
if $LAVA_CONN_FS get "Public:/$DIR/none.txt" gone.txt 2> error.txt; then exit 3; fi
grep -q "none.txt" error.txt
echo done
"#;

#[tokio::test]
async fn smb_email_and_slack_connector_scripts_run_lava_from_a_shell_job() {
    let r = TestRealm::up("conn").await;
    let samba = lava_tests::samba::samba();
    let smtp = lava_tests::smtp::SmtpServer::start("lava", "smtp-pw");
    let (hook, posted) = webhook();
    let realm = r.names.realm.clone();
    for (name, value) in [("smb", samba.password), ("smtp", "smtp-pw")] {
        shared::aws::provision::put_parameter(&r.clients, &format!("/lava/{realm}/{name}"), value, true).await.unwrap();
    }
    for entry in [
        json!({"conn_id": "share", "type": "smb", "enabled": true, "host": "127.0.0.1", "port": samba.port,
            "is_direct_tcp": true, "remote_name": "LAVATEST", "user": samba.user, "password": format!("/lava/{realm}/smb")}),
        json!({"conn_id": "mail", "type": "email", "subtype": "smtp", "enabled": true, "host": "127.0.0.1",
            "port": smtp.port, "user": "lava", "password": format!("/lava/{realm}/smtp"), "from": "lava@example.com",
            "reply_to": "ops@example.com", "insecure_auth": true}),
        json!({"conn_id": "chat", "type": "slack", "enabled": true, "webhook_url": hook}),
    ] {
        r.catalog.put_connection(&shared::model::ConnectionEntry::from_value(&entry).unwrap()).await.unwrap();
    }
    let bucket = r.names.local_bucket();
    let key = format!("conn/{}.sh", unique("s"));
    r.blobs
        .put_object(&bucket, &format!("payloads/{key}"), SCRIPT.as_bytes().to_vec(), &Encryption::Aes256)
        .await
        .unwrap();
    let dir = unique("d");
    let env = json!({
        "PATH": format!("{}:/usr/bin:/bin", workspace_root().join(".venv/bin").display()),
        "LAVA_CLI": env!("CARGO_BIN_EXE_lava"),
        "AWS_ENDPOINT_URL": lava_tests::emulator().endpoint_url,
        "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
        "DIR": dir, "BUCKET": bucket,
    });
    r.put_job(json!({"job_id": "conn/script", "type": "exe", "worker": "core", "enabled": true, "payload": key,
        "parameters": {"connections": {"fs": "share", "mail": "mail", "chat": "chat"}, "env": env, "jinja": false}}))
        .await;
    let run_id = r.dispatch("conn/script").await;
    let (status, stdout, details) = run_job(&r, "conn/script", &run_id).await;
    assert_eq!(status, "complete", "{details}");
    assert_eq!(stdout, "hello from a script\ndone\n");

    // smb: the file on the share, in S3 under a rendered key.
    let on_share = samba.share_dir.join(&dir).join("script/x.txt");
    assert_eq!(std::fs::read_to_string(on_share).unwrap(), "hello from a script\n");
    let year = jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::UTC).year();
    let copied = r.blobs.get_object(&bucket, &format!("smbout/{year}.txt")).await.unwrap();
    assert_eq!(copied, b"hello from a script\n");

    // email: every recipient got it, Bcc on no header; the connection's sender and reply-to.
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1, "{messages:#?}");
    let m = &messages[0];
    assert_eq!(m["rcpt_tos"], json!(["to@example.com", "cc@example.com", "bcc@example.com"]));
    assert_eq!(
        (m["to"].as_str(), m["cc"].as_str(), &m["bcc"]),
        (Some("to@example.com"), Some("cc@example.com"), &Value::Null)
    );
    assert_eq!((m["mail_from"].as_str(), m["subject"].as_str()), (Some("lava@example.com"), Some("Subject here")));
    assert_eq!(m["parts"][0]["text"], "Body line\r\n", "as the original sends it: CRLF line ends");
    assert_eq!(m["parts"][1], json!({"type": "text/plain", "filename": "local.txt", "text": "hello from a script\n"}));

    // slack: the plain style's text.
    let body: Value = serde_json::from_str(&posted.recv_timeout(std::time::Duration::from_secs(5)).unwrap()).unwrap();
    assert_eq!(body, json!({"text": format!("*lava@{realm}*: *Alert*: chat message\n")}));
}

const PYTHON_API: &str = r#"#!/usr/bin/env python3
import io, json, os, subprocess, tempfile
import lava
from lava.connection import (get_aws_connection, get_aws_session, get_cli_connection, get_connection_spec,
    get_email_connection, get_generic_connection, get_pysql_connection, get_slack_connection, get_smb_connection)
from lava.lib.state import LavaStateItem

realm = os.environ['LAVA_REALM']
out = {'version': lava.__version__}
out['job_type'] = lava.get_job_spec(os.environ['LAVA_JOB_ID'], realm)['type']
out['realm'] = lava.get_realm_info(realm)['realm']
out['scanned'] = lava.scan_jobs(realm, attributes=['type'])['py/target']
out['run_id'] = lava.dispatch(realm, 'py/target', globals_={'g': {'h': 'from python'}, 'n': 2},
    params={'args': ['and', 5]})

LavaStateItem.new('json', 'py-state', realm, {'n': [1, 2]}, ttl='1h', publisher='py/api').put()
item = LavaStateItem.get('py-state', realm)
out['state'] = [item.value, item.state_type, item.publisher]
try:
    LavaStateItem.get('py-missing', realm)
    out['missing'] = 'found'
except KeyError:
    out['missing'] = 'KeyError'

keys = get_aws_connection('keys', realm)
out['aws'] = [keys['aws_access_key_id'], keys['region']]
out['session'] = get_aws_session('keys', realm).get_credentials().access_key
out['generic'] = get_generic_connection('gen', realm)
out['spec'] = get_connection_spec('gen', realm)['attributes']['b']
with tempfile.TemporaryDirectory() as tmp:
    script = get_cli_connection('gen', realm, tmp)
    out['script'] = subprocess.run([script, 'b'], capture_output=True, text=True).stdout

# The original's order: sender before reply_to.
get_email_connection('mail', realm).send('From python', 'Python body', 'to@example.com', ['cc@example.com'], None,
    'py@example.com', 'reply@example.com')
get_slack_connection('chat', realm).send('python says hi', subject='Py', style='plain')

smb = get_smb_connection('share', realm)
smb.store_file('Public', os.environ['DIR'] + '/py.txt', io.BytesIO(b'py data'))
buffer = io.BytesIO()
smb.retrieve_file('Public', os.environ['DIR'] + '/py.txt', buffer)
smb.close()
out['smb'] = buffer.getvalue().decode()

conn = get_pysql_connection('pg', realm, aws_session=None)
cursor = conn.cursor()
cursor.execute('select 6 * 7')
out['sql'] = cursor.fetchone()[0]
conn.close()

# An SQLite database kept in S3: copied down, changed, put back; opened again from S3.
conn = get_pysql_connection('s3lite', realm)
conn.execute('create table t (n integer)')
conn.execute('insert into t values (7)')
conn.commit()
conn.close()
conn = get_pysql_connection('s3lite', realm)
out['s3lite'] = conn.execute('select n from t').fetchone()[0]
conn.close()
print(json.dumps(out, sort_keys=True))
"#;

/// The Python job API in a real Python job run by the worker: the job, realm and scan helpers,
/// a dispatch, state items, aws, generic, email, slack and smb connections, a connector script,
/// and a database connection, each reading what lava itself resolves.
#[tokio::test]
async fn the_python_job_api_works_from_a_python_job() {
    let r = TestRealm::up("pyapi").await;
    r.put_sql_connections().await;
    let samba = lava_tests::samba::samba();
    let smtp = lava_tests::smtp::SmtpServer::start("lava", "smtp-pw");
    let (hook, posted) = webhook();
    let realm = r.names.realm.clone();
    for (name, value) in
        [("smb", samba.password), ("smtp", "smtp-pw"), ("keys", "AKIDPYTHON,python-secret"), ("b", "from ssm")]
    {
        shared::aws::provision::put_parameter(&r.clients, &format!("/lava/{realm}/{name}"), value, true).await.unwrap();
    }
    for entry in [
        json!({"conn_id": "share", "type": "smb", "enabled": true, "host": "127.0.0.1", "port": samba.port,
            "is_direct_tcp": true, "remote_name": "LAVATEST", "user": samba.user, "password": format!("/lava/{realm}/smb")}),
        json!({"conn_id": "mail", "type": "email", "subtype": "smtp", "enabled": true, "host": "127.0.0.1",
            "port": smtp.port, "user": "lava", "password": format!("/lava/{realm}/smtp"), "from": "lava@example.com",
            "insecure_auth": true}),
        json!({"conn_id": "chat", "type": "slack", "enabled": true, "webhook_url": hook}),
        json!({"conn_id": "keys", "type": "aws", "enabled": true, "access_keys": format!("/lava/{realm}/keys"),
            "region": "ap-southeast-2"}),
        json!({"conn_id": "s3lite", "type": "sqlite3", "enabled": true, "host": format!("s3://{}/dbs/py.db", r.names.local_bucket()),
            "port": 0, "user": "-"}),
        json!({"conn_id": "gen", "type": "generic", "enabled": true,
            "attributes": {"a": 1, "b": {"type": "ssm", "parameter": format!("/lava/{realm}/b")}}}),
    ] {
        r.catalog.put_connection(&shared::model::ConnectionEntry::from_value(&entry).unwrap()).await.unwrap();
    }
    let bucket = r.names.local_bucket();
    r.blobs.put_object(&bucket, "dbs/py.db", Vec::new(), &Encryption::Aes256).await.unwrap();
    let key = format!("py/{}.py", unique("s"));
    r.blobs
        .put_object(&bucket, &format!("payloads/{key}"), PYTHON_API.as_bytes().to_vec(), &Encryption::Aes256)
        .await
        .unwrap();
    let dir = unique("d");
    std::fs::create_dir_all(samba.share_dir.join(&dir)).unwrap();
    let env = json!({
        "PATH": format!("{}:/usr/bin:/bin", workspace_root().join(".venv/bin").display()),
        "LAVA_CLI": env!("CARGO_BIN_EXE_lava"),
        "AWS_ENDPOINT_URL": lava_tests::emulator().endpoint_url,
        "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
        "DIR": dir,
    });
    r.put_job(json!({"job_id": "py/api", "type": "exe", "worker": "core", "enabled": true, "payload": key,
        "parameters": {"env": env, "jinja": false}}))
        .await;
    r.put_job(json!({"job_id": "py/target", "type": "cmd", "worker": "core", "enabled": true,
        "payload": "/bin/echo {{ globals.g.h }} {{ globals.n * 3 }}"}))
        .await;
    let run_id = r.dispatch("py/api").await;
    let (status, stdout, details) = run_job(&r, "py/api", &run_id).await;
    assert_eq!(status, "complete", "{details}");
    let out: Value = serde_json::from_str(&stdout).unwrap();
    let dispatched = out["run_id"].as_str().unwrap().to_string();
    assert_eq!(
        out,
        json!({
            "version": env!("CARGO_PKG_VERSION"), "job_type": "exe", "realm": realm,
            "scanned": {"job_id": "py/target", "type": "cmd"}, "run_id": dispatched,
            "state": [{"n": [1, 2]}, "json", "py/api"], "missing": "KeyError",
            "aws": ["AKIDPYTHON", "ap-southeast-2"], "session": "AKIDPYTHON",
            "generic": {"a": 1, "b": "from ssm"}, "spec": {"type": "ssm", "parameter": format!("/lava/{realm}/b")},
            "script": "from ssm", "smb": "py data", "sql": 42, "s3lite": 7,
        })
    );
    // The dispatched run ran with its globals; the email and the Slack message arrived.
    assert_eq!(r.statuses("py/target", &dispatched).await.last().map(String::as_str), Some("complete"));
    let target = r.events("py/target", &dispatched).await;
    let stdout = &target["log"].as_array().unwrap().last().unwrap()["info"]["output"][0]["stdout"];
    // Typed as Python sent them: a number stays a number (a string would print 222), a list a
    // list of arguments.
    assert_eq!(r.object_text(stdout).await, "from python 6 and 5\n");
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(messages[0]["rcpt_tos"], json!(["to@example.com", "cc@example.com"]));
    assert_eq!(messages[0]["mail_from"], "py@example.com", "the sender, given before reply_to as in the original");
    assert!(messages[0]["headers"].as_array().unwrap().contains(&json!("Reply-To")), "{}", messages[0]);
    assert_eq!(
        (messages[0]["subject"].as_str(), messages[0]["parts"][0]["text"].as_str()),
        (Some("From python"), Some("Python body\r\n"))
    );
    let body: Value = serde_json::from_str(&posted.recv_timeout(std::time::Duration::from_secs(5)).unwrap()).unwrap();
    assert_eq!(body, json!({"text": format!("*lava@{realm}*: *Py*: python says hi")}));
    assert_eq!(std::fs::read_to_string(samba.share_dir.join(&dir).join("py.txt")).unwrap(), "py data");
}
