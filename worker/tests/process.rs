//! `lava-worker` as a process: SIGTERM during a job stops it after the grace period, records
//! that the run was released, makes the message visible again and exits cleanly.
//! (A separate test binary only because Cargo gives a package's own binary path to its tests.)

use serde_json::json;
use shared::ports::WorkQueue;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `lava-worker` for `realm`'s core queue on the emulator, with its own run area, with `args`.
fn worker(realm: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lava-worker"));
    command.args(["--realm", realm, "--worker", "core", "--root"]).args(args);
    lava_tests::emulator_env(&mut command)
        .env("LAVA_TMPDIR", std::env::temp_dir().join(lava_tests::unique("lava-proc-")));
    command
}

#[tokio::test]
async fn sigterm_during_a_job_releases_it_and_exits_cleanly() {
    let r = lava_tests::TestRealm::up("sig").await;
    r.put_job(json!({"job_id": "it/sleepy", "type": "cmd", "worker": "core", "enabled": true, "payload": "sleep 60"}))
        .await;
    let run_id = r.dispatch("it/sleepy").await;

    let mut child =
        worker(&r.names.realm, &["--grace", "1", "--wait", "1", "--log-json"]).stderr(Stdio::null()).spawn().unwrap();
    let statuses = || r.statuses("it/sleepy", &run_id);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !statuses().await.contains(&"running".to_string()) {
        assert!(Instant::now() < deadline, "the job never started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let signalled = Instant::now();
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let status = child.wait().unwrap();
    assert!(status.success(), "clean exit after SIGTERM: {status}");
    assert!(signalled.elapsed() < Duration::from_secs(15), "stopped after the grace period, not after the job's 60 s");
    assert_eq!(statuses().await, ["starting", "running", "retrying"]);
    let queue = r.queue_url(&r.names.worker_queue("core")).await;
    let again = r.queues.receive(&queue, 1, 2).await.unwrap();
    assert!(again.len() == 1 && again[0].body.contains(&run_id), "the message is back on the queue for another worker");
}

#[tokio::test]
async fn a_killed_workers_job_is_taken_over_within_about_three_heartbeats() {
    let r = lava_tests::TestRealm::up("kil").await;
    r.put_job(json!({"job_id": "it/taken", "type": "cmd", "worker": "core", "enabled": true, "payload": "sleep 4"}))
        .await;
    let run_id = r.dispatch("it/taken").await;
    let start = || {
        let args = ["--wait", "1", "--sleep", "0", "--visibility-heartbeat", "2"];
        worker(&r.names.realm, &args).stderr(Stdio::null()).spawn().unwrap()
    };
    let statuses = || r.statuses("it/taken", &run_id);
    let mut first = start();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !statuses().await.contains(&"running".to_string()) {
        assert!(Instant::now() < deadline, "the job never started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // kill -9: no release, no event; only the message's visibility brings the run back.
    first.kill().unwrap();
    first.wait().unwrap();
    let killed = Instant::now();
    let mut second = start();
    let deadline = Instant::now() + Duration::from_secs(30);
    while statuses().await.iter().filter(|s| *s == "starting").count() < 2 {
        assert!(Instant::now() < deadline, "no other worker took the run over: {:?}", statuses().await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered = killed.elapsed();
    eprintln!("a killed worker's run was taken over after {:.1} s (heartbeat 2 s)", recovered.as_secs_f64());
    assert!(recovered < Duration::from_secs(12), "taken over within about three heartbeats, not {recovered:?}");
    while !statuses().await.contains(&"complete".to_string()) {
        assert!(Instant::now() < deadline, "the run taken over never completed: {:?}", statuses().await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(Command::new("kill").args(["-TERM", &second.id().to_string()]).status().unwrap().success());
    assert!(second.wait().unwrap().success());
    assert_eq!(statuses().await, ["starting", "running", "starting", "running", "complete"]);
    let queue = r.queue_url(&r.names.worker_queue("core")).await;
    assert!(r.queues.receive(&queue, 10, 0).await.unwrap().is_empty(), "the message was deleted after the run");
}

#[tokio::test]
async fn json_log_lines_have_the_original_fields_and_sigusr1_logs_the_state() {
    let r = lava_tests::TestRealm::up("jsl").await;
    r.put_job(json!({"job_id": "it/said", "type": "cmd", "worker": "core", "enabled": true, "payload": "echo said"}))
        .await;
    let run_id = r.dispatch("it/said").await;
    let log = std::env::temp_dir().join(lava_tests::unique("lava-jsonlog-"));
    let mut child = worker(&r.names.realm, &["--wait", "1", "--log-json", "--tag", "lava-it"])
        .env("LAVA_INSTANCE_ID", "i-0abc1234def567890")
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !r.statuses("it/said", &run_id).await.contains(&"complete".to_string()) {
        assert!(Instant::now() < deadline, "the job never completed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(Command::new("kill").args(["-USR1", &child.id().to_string()]).status().unwrap().success());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    assert!(child.wait().unwrap().success());

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> =
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect();
    assert!(lines.len() >= 3, "{text}");
    for line in &lines {
        for field in [
            "event_source",
            "realm",
            "worker",
            "host",
            "tag",
            "localtime",
            "timestamp",
            "level",
            "message",
            "thread",
            "pid",
        ] {
            assert!(!line[field].is_null(), "{field} missing: {line}");
        }
        assert_eq!((line["event_source"].as_str(), line["tag"].as_str()), (Some("lava-worker"), Some("lava-it")));
        assert_eq!(line["realm"], r.names.realm.as_str());
        assert!(["DEBUG", "INFO", "WARNING", "ERROR"].contains(&line["level"].as_str().unwrap()), "{line}");
    }
    // The lines logged while the job ran carry its ids, and event_type "job".
    let job_lines: Vec<_> = lines.iter().filter(|l| l["run_id"] == run_id.as_str()).collect();
    assert!(!job_lines.is_empty(), "{text}");
    assert!(job_lines.iter().all(|l| l["job_id"] == "it/said" && l["event_type"] == "job"), "{job_lines:?}");
    // SIGUSR1: the state, as a JSON object inside the line.
    let state = lines.iter().find(|l| l["message"] == "Worker state (SIGUSR1).").expect("a state line");
    assert_eq!(state["state"]["instance_id"], "i-0abc1234def567890");
    // The run has ended; its message may still be being deleted when the signal comes.
    let running = state["state"]["running"].as_array().unwrap();
    assert!(running.iter().all(|r| r["job_id"] == "it/said" && r["run_id"] == run_id.as_str()), "{state}");
    assert_eq!(state["state"]["config"]["HEARTBEAT_FILE"], ".heartbeat");
    // The events carry the instance id, as the original's do on EC2.
    let item = r.events("it/said", &run_id).await;
    assert_eq!(
        (item["worker_id"].as_str(), item["instance_id"].as_str()),
        (Some("i-0abc1234def567890"), Some("i-0abc1234def567890"))
    );
    let _ = std::fs::remove_file(&log);
}

/// `-v` prints the workspace's version, the one version of lava.
#[test]
fn the_version_flag_prints_the_workspace_version() {
    let out = Command::new(env!("CARGO_BIN_EXE_lava-worker")).arg("-v").output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("lava-worker {}", env!("CARGO_PKG_VERSION")));
    assert_ne!(env!("CARGO_PKG_VERSION"), "0.0.0");
}
