//! The `lava` binary as a user runs it: a real process, with the local realm brought up and
//! down, and the SDK's own environment variables pointing it at the emulator.
//! (A separate test binary only because Cargo gives a package's own binary path to its tests.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn lava(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lava"));
    command.current_dir(tests::workspace_root()).args(args).env("LAVA_LOCAL_DIR", dir);
    for var in ["AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "LAVA_REALM"] {
        command.env_remove(var);
    }
    command.envs(env.iter().copied()).output().expect("running lava")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(tests::unique("lava-cli-"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn local_up_list_and_down() {
    tests::emulator(); // moto installed into .venv before the CLI looks for it
    let dir = temp_dir();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let venv = tests::workspace_root().join(".venv");
    let up = lava(&dir, &["local", "up", "--port", &port, "--venv", venv.to_str().unwrap()], &[]);
    assert!(up.status.success(), "{}", text(&up));
    assert!(
        text(&up).contains("demo/hello") && text(&up).contains(&format!("http://127.0.0.1:{port}")),
        "{}",
        text(&up)
    );

    let list = lava(&dir, &["--local", "job", "list"], &[]);
    assert!(list.status.success() && text(&list).contains("demo/flaky"), "{}", text(&list));
    let status = lava(&dir, &["local", "status"], &[]);
    assert!(text(&status).ends_with(": up\n"), "{}", text(&status));

    let down = lava(&dir, &["local", "down"], &[]);
    assert!(down.status.success(), "{}", text(&down));
    let after = lava(&dir, &["--local", "job", "list"], &[]);
    assert!(!after.status.success() && text(&after).contains("no local realm is up"), "{}", text(&after));
}

#[tokio::test]
async fn the_sdk_environment_points_lava_at_an_emulator() {
    let endpoint = tests::emulator().endpoint_url.clone();
    let realm = tests::unique("env");
    cli::bring_up(&endpoint, &realm, Some("us-east-1".into()), &tests::workspace_root().join("samples/jobs"))
        .await
        .unwrap();
    let env = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("LAVA_REALM", realm.as_str()),
    ];
    let dir = temp_dir();
    let list = lava(&dir, &["job", "list"], &env);
    assert!(list.status.success() && text(&list).contains("demo/hello"), "{}", text(&list));

    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"job_id": "x", "type": "cmd", "worker": "core", "globals": {"lava_x": 1}}"#).unwrap();
    let put = lava(&dir, &["job", "put", bad.to_str().unwrap()], &env);
    assert_eq!(put.status.code(), Some(1));
    let message = text(&put);
    assert!(
        message.contains("jobs[x].payload: is required") && message.contains("jobs[x].globals.lava_x: Reserved global"),
        "{message}"
    );
}
