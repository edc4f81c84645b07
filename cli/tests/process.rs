//! The `lava` binary as a user runs it: a real process, with the local realm brought up and
//! down, and the SDK's own environment variables pointing it at the emulator.
//! (A separate test binary only because Cargo gives a package's own binary path to its tests.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn lava(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lava"));
    command.current_dir(lava_tests::workspace_root()).args(args).env("LAVA_LOCAL_DIR", dir);
    for var in ["AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "LAVA_REALM"] {
        command.env_remove(var);
    }
    command.envs(env.iter().copied()).output().expect("running lava")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(lava_tests::unique("lava-cli-"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The statuses of a job's runs (newest first), read with `lava --local events JOB --json`.
fn statuses(dir: &Path, job_id: &str) -> Vec<String> {
    let out = lava(dir, &["--local", "events", job_id, "--json"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    runs.as_array().into_iter().flatten().filter_map(|r| r["status"].as_str().map(String::from)).collect()
}

/// Waits up to `seconds` for a run of `job_id` that ended `complete`.
fn wait_complete(dir: &Path, job_id: &str, seconds: u64) {
    let started = std::time::Instant::now();
    loop {
        let seen = statuses(dir, job_id);
        if seen.iter().any(|s| s == "complete") {
            return;
        }
        assert!(
            started.elapsed().as_secs() < seconds,
            "no complete run of {job_id} within {seconds} s (runs: {seen:?}); logs:\n{}",
            text(&lava(dir, &["local", "logs", "--no-follow"], &[]))
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

/// Process ids of `sleep SECONDS` processes.
fn sleepers(seconds: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let zombie = stat.rsplit(')').next()?.trim_start().starts_with('Z');
            (!zombie && cmdline.split(|b| *b == 0).collect::<Vec<_>>() == [&b"/bin/sleep"[..], seconds.as_bytes(), b""])
                .then(|| e.file_name().to_string_lossy().into_owned())
        })
        .collect()
}

fn write_json(dir: &Path, name: &str, value: serde_json::Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).unwrap();
    path.to_str().unwrap().to_string()
}

/// The jobs and the s3trigger the local realm tests run, put with `lava --local`: a job a
/// minute (with its `lavasched` dispatcher), jobs for a queued request and an upload under
/// `inbound/`, a chain through an `on_success` action, and a long job.
fn put_e2e_specs(dir: &Path) {
    let jobs = write_json(
        dir,
        "jobs.json",
        serde_json::json!([
            {"job_id": "e2e/sched", "type": "lavasched", "worker": "core", "enabled": true, "payload": null,
             "parameters": {"dispatcher": "e2e"}},
            {"job_id": "e2e/minute", "type": "cmd", "worker": "core", "enabled": true, "payload": "/bin/true",
             "schedule": "* * * * *", "dispatcher": "e2e"},
            {"job_id": "e2e/queued", "type": "cmd", "worker": "core", "enabled": true, "payload": "/bin/echo {{ globals.via }}"},
            {"job_id": "e2e/upload", "type": "cmd", "worker": "core", "enabled": true, "payload": "/bin/echo {{ globals.key }}"},
            {"job_id": "e2e/chain", "type": "cmd", "worker": "core", "enabled": true, "payload": "/bin/true",
             "on_success": [{"action": "dispatch", "job_id": "e2e/after"}]},
            {"job_id": "e2e/after", "type": "cmd", "worker": "core", "enabled": true, "payload": "/bin/true"},
            {"job_id": "e2e/published", "type": "cmd", "worker": "core", "enabled": true, "payload": "/bin/true"},
            {"job_id": "e2e/long", "type": "cmd", "worker": "core", "enabled": true, "payload": "/bin/sleep 617"}
        ]),
    );
    let put = lava(dir, &["--local", "job", "put", &jobs], &[]);
    assert!(put.status.success(), "{}", text(&put));
    let trigger = write_json(
        dir,
        "triggers.json",
        serde_json::json!({"trigger_id": "e2e", "bucket": "lava-local", "prefix": "inbound", "enabled": true,
            "job_id": "e2e/upload", "globals": {"key": "{{ key }}"}}),
    );
    let put = lava(dir, &["--local", "s3trigger", "put", &trigger], &[]);
    assert!(put.status.success(), "{}", text(&put));
}

/// Runs a job each way into the local realm of `dir` but the schedule, with `clients` on its
/// emulator, and waits for each to `complete`: a request on the dispatch queue, an upload under
/// the s3trigger's prefix, a request published to the dispatch topic (as the original's
/// producers send them), and a chain through its `on_success` action. Returns the dispatch
/// queue's URL.
async fn run_each_way_in(dir: &Path, clients: &shared::aws::Clients) -> String {
    let queue = clients.sqs.get_queue_url().queue_name("lava-local--dispatch").send().await.unwrap();
    let queue = queue.queue_url().unwrap().to_string();
    let body = r#"{"job_id": "e2e/queued", "globals": {"via": "the dispatch queue"}}"#;
    clients.sqs.send_message().queue_url(&queue).message_body(body).send().await.unwrap();
    let object =
        clients.s3.put_object().bucket("lava-local").key("inbound/data.csv").body(b"a,b\n1,2\n".to_vec().into());
    object.send().await.unwrap();
    let topics = clients.sns.list_topics().send().await.unwrap();
    let arn = topics.topics().iter().filter_map(|t| t.topic_arn()).find(|a| a.ends_with(":lava-local-dispatch"));
    let arn = arn.expect("the realm's dispatch topic lava-local-dispatch");
    clients.sns.publish().topic_arn(arn).message(r#"{"job_id": "e2e/published"}"#).send().await.unwrap();
    let chain = lava(dir, &["--local", "dispatch", "e2e/chain"], &[]);
    assert!(chain.status.success(), "{}", text(&chain));
    for job in ["e2e/queued", "e2e/upload", "e2e/published", "e2e/after"] {
        wait_complete(dir, job, 30);
    }
    queue
}

/// The README's first command on a realm of its own: `lava local up` leaves the whole realm
/// running, and with no other command a request on the dispatch queue or its topic, a schedule, an upload
/// under an s3trigger prefix and an on_success action each run a job to `complete`; `lava local
/// down` leaves no process behind.
#[tokio::test(flavor = "multi_thread")]
async fn the_local_realm_runs_by_itself_and_stops_entirely() {
    lava_tests::emulator(); // moto installed into .venv before the CLI looks for it
    let dir = temp_dir();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let venv = lava_tests::workspace_root().join(".venv");
    let up = lava(&dir, &["local", "up", "--port", &port, "--venv", venv.to_str().unwrap()], &[]);
    assert!(up.status.success(), "{}", text(&up));
    for part in
        ["demo/hello", "dispatch ", "actions ", "s3trigger ", "worker-core ", &format!("http://127.0.0.1:{port}")]
    {
        assert!(text(&up).contains(part), "{part:?} missing from:\n{}", text(&up));
    }
    assert_eq!(text(&up).matches(" running ").count(), 5, "{}", text(&up));

    // The main job, as the README runs it: dispatched, waited for, its events and output shown.
    let hello = lava(&dir, &["--local", "dispatch", "demo/hello", "--wait", "1m"], &[]);
    assert!(hello.status.success(), "{}", text(&hello));
    assert!(text(&hello).contains("complete") && text(&hello).contains("Hello from local run "), "{}", text(&hello));

    put_e2e_specs(&dir);

    let clients = shared::aws::Clients::load(&shared::aws::AwsOptions {
        endpoint_url: Some(format!("http://127.0.0.1:{port}")),
        region: Some("us-east-1".into()),
        emulator: true,
        ..Default::default()
    })
    .await;
    let queue = run_each_way_in(&dir, &clients).await;
    wait_complete(&dir, "e2e/minute", 75);

    let status = lava(&dir, &["local", "status"], &[]);
    assert_eq!(text(&status).matches(" running ").count(), 5, "{}", text(&status));
    let logs = lava(&dir, &["local", "logs", "dispatch", "--no-follow"], &[]);
    assert!(logs.status.success() && text(&logs).contains("Lambda runtime invoke"), "{}", text(&logs));
    // The on_success dispatch went through the actions function.
    let actions = lava(&dir, &["local", "logs", "actions", "--no-follow"], &[]);
    assert!(text(&actions).contains("Lambda runtime invoke"), "{}", text(&actions));
    // `local logs` follows: a line written after it started reaches it.
    let mut follow = Command::new(env!("CARGO_BIN_EXE_lava"))
        .args(["local", "logs", "dispatch"])
        .env("LAVA_LOCAL_DIR", &dir)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(follow.stdout.take().unwrap());
    let followed = std::thread::spawn(move || {
        let mut line = String::new();
        while std::io::BufRead::read_line(&mut lines, &mut line).unwrap_or(0) > 0 {
            if line.contains("e2e/followed") {
                return true;
            }
            line.clear();
        }
        false
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    let late = lava(&dir, &["--local", "dispatch", "e2e/followed"], &[]);
    assert!(!late.status.success(), "no such job: {}", text(&late));
    clients.sqs.send_message().queue_url(&queue).message_body(r#"{"job_id": "e2e/followed"}"#).send().await.unwrap();
    let started = std::time::Instant::now();
    while !followed.is_finished() && started.elapsed().as_secs() < 30 {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    follow.kill().unwrap();
    let _ = follow.wait();
    assert!(followed.join().unwrap(), "the rejected request's line did not reach `lava local logs dispatch`");

    // A job still running when the realm goes down goes with it.
    let long = lava(&dir, &["--local", "dispatch", "e2e/long"], &[]);
    assert!(long.status.success(), "{}", text(&long));
    let sleeping = || sleepers("617");
    let started = std::time::Instant::now();
    while sleeping().is_empty() && started.elapsed().as_secs() < 30 {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(!sleeping().is_empty(), "e2e/long never started");

    let parts: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("parts.json")).unwrap()).unwrap();
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("state.json")).unwrap()).unwrap();
    let mut pids: Vec<u64> = parts["parts"].as_array().unwrap().iter().filter_map(|p| p["pid"].as_u64()).collect();
    pids.push(state["pid"].as_u64().unwrap());
    let down = lava(&dir, &["local", "down"], &[]);
    assert!(down.status.success(), "{}", text(&down));
    let alive: Vec<u64> = pids.into_iter().filter(|pid| lava_cli::local::is_running(*pid as u32)).collect();
    assert!(alive.is_empty(), "processes left behind: {alive:?}");
    let group = parts["supervisor"].as_u64().unwrap() as u32;
    assert!(!lava_cli::local::group_is_running(group), "a process of the realm's group {group} is left");
    assert!(sleeping().is_empty(), "the running job's process is left: {:?}", sleeping());
    let after = lava(&dir, &["--local", "job", "list"], &[]);
    assert!(!after.status.success() && text(&after).contains("no local realm is up"), "{}", text(&after));
}

/// `lava local up --emulator localstack`: the realm on LocalStack with its tables on moto, the
/// functions' and the worker's binaries pointed at both by the SDK's own variables, and the CLI
/// through `--local`. A request on the dispatch queue and one published to its topic, an upload
/// (LocalStack's notification), an `on_success` action and a schedule (LocalStack's schedule rule firing the tick: the
/// supervisor puts none) each run a job to `complete`; `lava local down` stops LocalStack too.
#[tokio::test(flavor = "multi_thread")]
async fn the_local_realm_runs_on_localstack_with_its_tables_on_moto() {
    lava_tests::emulator(); // moto installed into .venv before the CLI looks for it
    let dir = temp_dir();
    let free = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let (port, localstack_port) = (free(), free());
    let root = lava_tests::workspace_root();
    let (venv, localstack_venv) = (root.join(".venv"), root.join(".venv-localstack"));
    let up = lava(
        &dir,
        &[
            "local",
            "up",
            "--emulator",
            "localstack",
            "--port",
            &port,
            "--localstack-port",
            &localstack_port,
            "--venv",
            venv.to_str().unwrap(),
            "--localstack-venv",
            localstack_venv.to_str().unwrap(),
        ],
        &[],
    );
    assert!(up.status.success(), "{}", text(&up));
    let localstack = format!("http://127.0.0.1:{localstack_port}");
    let moto = format!("http://127.0.0.1:{port}");
    for part in
        ["demo/hello", "localstack ", &format!("up on {localstack}"), &format!("AWS_ENDPOINT_URL_DYNAMODB={moto}")]
    {
        assert!(text(&up).contains(part), "{part:?} missing from:\n{}", text(&up));
    }
    assert_eq!(text(&up).matches(" running ").count(), 5, "{}", text(&up));

    let hello = lava(&dir, &["--local", "dispatch", "demo/hello", "--wait", "1m"], &[]);
    assert!(hello.status.success(), "{}", text(&hello));
    assert!(text(&hello).contains("Hello from local run "), "{}", text(&hello));
    put_e2e_specs(&dir);

    let on = |endpoint: &str| shared::aws::AwsOptions {
        endpoint_url: Some(endpoint.to_string()),
        region: Some("us-east-1".into()),
        emulator: true,
        ..Default::default()
    };
    let clients = shared::aws::Clients::load(&on(&localstack)).await;
    run_each_way_in(&dir, &clients).await;
    // The rule's first tick comes within a minute or so of its creation.
    wait_complete(&dir, "e2e/minute", 150);
    // The queues and the bucket are LocalStack's, the tables moto's.
    let on_moto = shared::aws::Clients::load(&on(&moto)).await;
    assert!(on_moto.sqs.get_queue_url().queue_name("lava-local--dispatch").send().await.is_err());
    let tables = on_moto.dynamodb.list_tables().send().await.unwrap();
    assert!(tables.table_names().iter().any(|t| t == "lava.local.events"), "{:?}", tables.table_names());
    let supervisor = lava(&dir, &["local", "logs", "supervisor", "--no-follow"], &[]);
    assert!(!text(&supervisor).contains("Schedule tick sent"), "LocalStack's rule ticks: {}", text(&supervisor));

    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("state.json")).unwrap()).unwrap();
    let pids = [state["pid"].as_u64().unwrap(), state["localstack"].as_u64().unwrap()];
    let down = lava(&dir, &["local", "down"], &[]);
    assert!(down.status.success() && text(&down).contains("LocalStack"), "{}", text(&down));
    let alive: Vec<u64> = pids.into_iter().filter(|pid| lava_cli::local::is_running(*pid as u32)).collect();
    assert!(alive.is_empty(), "emulators left behind: {alive:?}");
}

#[tokio::test]
async fn the_sdk_environment_points_lava_at_an_emulator() {
    let endpoint = lava_tests::emulator().endpoint_url.clone();
    let realm = lava_tests::unique("env");
    lava_cli::bring_up(&endpoint, &realm, Some("us-east-1".into()), &lava_tests::workspace_root().join("samples/jobs"))
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

/// `lava schema FILE…` prints its report on standard output as the original's `lava-schema`
/// does, with exit status 1 when a spec fails and 0 when all pass.
#[test]
fn schema_s_exit_status_says_whether_every_spec_passed() {
    let dir = temp_dir();
    let good = dir.join("good.yaml");
    std::fs::write(&good, "job_id: a/good\ntype: cmd\nworker: core\npayload: echo hi\n").unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"[{"job_id": "a/bad", "type": "cmd", "worker": "core"}, {"job_id": "a/ok", "type": "log", "worker": "core", "payload": null}]"#).unwrap();
    let (good, bad) = (good.to_str().unwrap(), bad.to_str().unwrap());

    let passed = lava(&dir, &["schema", "-v", good], &[]);
    assert_eq!((passed.status.code(), text(&passed)), (Some(0), format!("{good}: OK\n")));
    let failed = lava(&dir, &["schema", "-v", good, bad], &[]);
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed));
    assert!(failed.stderr.is_empty(), "{}", text(&failed));
    let report = String::from_utf8(failed.stdout).unwrap();
    assert!(
        report.starts_with(&format!("{good}: OK\n{bad}: a/bad: Failed\n[1] Path: $.payload\n    Message: is required")),
        "{report}"
    );
    assert!(report.ends_with(&format!("{bad}: a/ok: OK\n")), "{report}");
    std::fs::remove_dir_all(&dir).unwrap();
}
