//! cmd, exe, pkg and log jobs: results, outputs, failures, timeouts, iterations.

use crate::harness::{Family, Scenario};
use serde_json::json;
use shared::ports::{BlobStore, Encryption};

const SCRIPT: &str =
    "#!/bin/sh\necho \"args: $*\"\necho \"job $LAVA_JOB_ID in $LAVA_REALM\"\necho to-stderr >&2\nexit ${EXIT:-0}\n";

/// A pkg payload: a tar.gz with an entry point script, made with Python's tarfile (no tar tool
/// needed).
fn package() -> Vec<u8> {
    let dir = std::env::temp_dir().join(lava_tests::unique("lava-pkg-"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("run.sh"), "#!/bin/sh\necho \"pkg $1\"\ncat data.txt\n").unwrap();
    std::fs::write(dir.join("data.txt"), "packaged data\n").unwrap();
    let archive = dir.with_extension("tar.gz");
    let script = "import sys, tarfile\nwith tarfile.open(sys.argv[2], 'w:gz') as t:\n    for n in ('run.sh', 'data.txt'):\n        i = t.gettarinfo(sys.argv[1] + '/' + n, n)\n        i.mode = 0o755\n        t.addfile(i, open(sys.argv[1] + '/' + n, 'rb'))";
    let status = std::process::Command::new("python3").args(["-c", script]).arg(&dir).arg(&archive).status().unwrap();
    assert!(status.success());
    std::fs::read(archive).unwrap()
}

#[tokio::test]
async fn executables_match_the_original() {
    let family = Family::new("dfx").await;
    let r = &family.realm;
    let bucket = r.names.local_bucket();
    r.blobs.put_object(&bucket, "payloads/d/script.sh", SCRIPT.into(), &Encryption::Aes256).await.unwrap();
    r.blobs.put_object(&bucket, "payloads/d/app.tar.gz", package(), &Encryption::Aes256).await.unwrap();
    let scenarios = vec![
        Scenario::new("cmd_ok", json!({"type": "cmd", "payload": "/bin/echo hello {{job.job_id}}", "parameters": {"args": ["a b", "{{ globals.g }}"]}}))
            .message(json!({"globals": {"g": "from-message"}})),
        Scenario::new("cmd_spaced_jinja", json!({"type": "cmd", "payload": "/bin/echo {{ job.job_id }}"}))
            .differs("$", "a Jinja expression with spaces is one word of a command line (DESIGN.md); the original split it and failed with 'Bad payload'"),
        Scenario::new("cmd_exit", json!({"type": "cmd", "payload": "/bin/sh -c", "parameters": {"args": ["echo out; echo err >&2; exit 3"]}})),
        Scenario::new("cmd_missing", json!({"type": "cmd", "payload": "/no/such/program x"})),
        Scenario::new("cmd_timeout", json!({"type": "cmd", "payload": "/bin/sleep 30", "parameters": {"timeout": "2s"}})),
        Scenario::new("cmd_env", json!({"type": "cmd", "payload": "/bin/sh -c", "parameters": {"args": ["echo $GREETING $LAVA_JOB_ID"], "env": {"GREETING": "{{ globals.g }}"}}, "globals": {"g": "kia ora"}})),
        Scenario::new("cmd_bad_parameter", json!({"type": "cmd", "payload": "/bin/true", "parameters": {"nonsense": 1}})),
        Scenario::new("cmd_iterations", json!({"type": "cmd", "payload": "/bin/false", "iteration_limit": 2, "iteration_delay": "1s"})),
        Scenario::new("exe_ok", json!({"type": "exe", "payload": "d/script.sh", "parameters": {"args": ["x", "{{ job.job_id }}"]}})),
        Scenario::new("exe_fail", json!({"type": "exe", "payload": "d/script.sh", "parameters": {"env": {"EXIT": "4"}}})),
        Scenario::new("exe_missing", json!({"type": "exe", "payload": "d/no-such-script.sh"})),
        Scenario::new("pkg_ok", json!({"type": "pkg", "payload": "d/app.tar.gz", "parameters": {"command": "run.sh", "args": ["one"]}})),
        Scenario::new("log_ok", json!({"type": "log", "payload": "a message for {{ job.job_id }}"})),
        Scenario::new("disabled", json!({"type": "cmd", "payload": "/bin/true", "enabled": false})),
        Scenario::new("unknown_type", json!({"type": "nosuchtype", "payload": "x"})),
    ];
    family.check(&scenarios).await;
}
