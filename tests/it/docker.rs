//! Docker jobs on the real engine `tests/setup.sh` starts, with the busybox test image.

use lava_tests::{TEST_IMAGE, TestRealm, require_docker};
use serde_json::{Value, json};
use std::time::Duration;

fn job(id: &str, parameters: Value) -> Value {
    json!({"job_id": id, "type": "docker", "worker": "core", "enabled": true, "owner": "team", "payload": TEST_IMAGE, "parameters": parameters})
}

/// Runs the job with a worker in this process; returns the statuses and the final event's info.
async fn run(r: &TestRealm, job_id: &str) -> (String, Vec<String>, Value) {
    let run_id = r.dispatch(job_id).await;
    let worker = crate::worker::worker(r, 2, Duration::from_secs(5), false).await;
    let (_tx, rx) = tokio::sync::watch::channel(false);
    worker.run(rx).await.unwrap();
    let item = r.events(job_id, &run_id).await;
    let info = item["log"].as_array().and_then(|l| l.last()).map(|e| e["info"].clone()).unwrap_or(Value::Null);
    (run_id.clone(), r.statuses(job_id, &run_id).await, info)
}

async fn logs(r: &TestRealm, uri: &Value) -> String {
    assert!(uri.as_str().is_some_and(|u| u.ends_with("/logs")), "no logs: {uri}");
    r.object_text(uri).await
}

fn containers_of(run_id: &str) -> String {
    let out = std::process::Command::new("docker")
        .args(["ps", "-a", "-q", "--filter", &format!("label=lava.run_id={run_id}")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test]
async fn a_container_runs_with_lava_s_environment_connections_and_run_directory() {
    require_docker();
    let r = TestRealm::up("dk").await;
    let generic = json!({"conn_id": "gen", "type": "generic", "enabled": true, "attributes": {"colour": "blue"}});
    r.catalog.put_connection(&shared::model::ConnectionEntry::from_value(&generic).unwrap()).await.unwrap();
    let script = "echo hello {{ vars.who }}; echo job=$LAVA_JOB_ID owner=$LAVA_OWNER realm=$LAVA_REALM greeting=$GREETING; \
                  echo uid=$(id -u) cwd=$(pwd) tmp=$LAVA_TMP tmpdir=${TMPDIR:-none}; \
                  echo colour=$(cat $(dirname $LAVA_CONN_G)/values/colour) id=$LAVA_CONNID_G; \
                  echo mem=$(cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes); \
                  echo cpu=$(cut -d' ' -f1 /sys/fs/cgroup/cpu.max 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us); \
                  echo file > $LAVA_TMP/made-inside";
    let parameters = json!({"command": "sh -c", "args": [script], "vars": {"who": "docker"}, "env": {"GREETING": "hi {{ vars.who }}"},
        "connections": {"g": "gen"}, "host_config": {"mem_limit": "64m", "nano_cpus": 500000000}});
    r.put_job(job("dk/ok", parameters)).await;
    let (run_id, statuses, result) = run(&r, "dk/ok").await;
    assert_eq!(statuses, ["starting", "running", "complete"], "{result}");
    assert_eq!(result["exit_status"], 0);
    let text = logs(&r, &result["output"]).await;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "hello docker");
    assert_eq!(lines[1], format!("job=dk/ok owner=team realm={} greeting=hi docker", r.names.realm));
    let uid = nix::unistd::geteuid();
    assert!(lines[2].starts_with(&format!("uid={uid} cwd=/")) && lines[2].ends_with("tmpdir=none"), "{}", lines[2]);
    let cwd = lines[2].split(" cwd=").nth(1).unwrap().split(' ').next().unwrap();
    assert!(
        lines[2].contains(&format!("tmp={cwd} ")),
        "the run directory is the working directory and LAVA_TMP: {}",
        lines[2]
    );
    assert_eq!(lines[3], "colour=blue id=gen");
    assert_eq!(lines[4], "mem=67108864", "the memory limit applies");
    assert_eq!(lines[5], "cpu=50000", "half a CPU: 50 ms of every 100 ms");
    assert!(containers_of(&run_id).is_empty(), "the container was removed");
}

#[tokio::test]
async fn non_zero_exits_and_timeouts_fail_the_job_and_remove_the_container() {
    require_docker();
    let r = TestRealm::up("dkf").await;
    r.put_job(job("dk/fail", json!({"command": "sh -c", "args": ["echo oops; exit 3"]}))).await;
    r.put_job(job("dk/slow", json!({"command": "sleep 30", "timeout": "1s"}))).await;
    let (run_id, statuses, failed) = run(&r, "dk/fail").await;
    assert_eq!(statuses, ["starting", "running", "failed"]);
    assert_eq!(failed["error"], "Failed with exit status 3");
    assert_eq!(failed["error_data"]["exit_status"], 3);
    assert_eq!(logs(&r, &failed["error_data"]["output"]).await, "oops\n");
    assert!(containers_of(&run_id).is_empty());
    let started = std::time::Instant::now();
    let (run_id, statuses, failed) = run(&r, "dk/slow").await;
    assert_eq!(statuses, ["starting", "running", "failed"]);
    assert_eq!(
        (failed["error"].as_str(), failed["error_data"]["exit_status"].as_i64()),
        (Some("Timed out after 1.0 seconds"), Some(28))
    );
    assert!(started.elapsed() < Duration::from_secs(20), "killed at the limit");
    assert!(containers_of(&run_id).is_empty());
}

#[tokio::test]
async fn the_pull_policy_decides_whether_an_image_is_pulled() {
    require_docker();
    let r = TestRealm::up("dkp").await;
    let never = json!({"conn_id": "local-never", "type": "docker", "enabled": true, "pull": "never"});
    let ecr =
        json!({"conn_id": "ecr", "type": "docker", "enabled": true, "registry": "ecr:123456789012", "pull": "always"});
    for c in [never, ecr] {
        r.catalog.put_connection(&shared::model::ConnectionEntry::from_value(&c).unwrap()).await.unwrap();
    }
    let mut missing = job("dk/missing", json!({"docker": "local-never"}));
    missing["payload"] = json!("lava-test/not-here:1");
    r.put_job(missing).await;
    let (_, statuses, failed) = run(&r, "dk/missing").await;
    assert_eq!(statuses, ["starting", "running", "failed"]);
    assert_eq!(failed["error"], "Docker image lava-test/not-here:1 is not on the engine and the pull policy is never");
    // No registry is reachable here: the ECR login (moto) succeeds, the pull itself fails.
    r.put_job(job("dk/ecr", json!({"docker": "ecr", "command": "true"}))).await;
    let (_, statuses, failed) = run(&r, "dk/ecr").await;
    assert_eq!(statuses, ["starting", "running", "failed"]);
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.starts_with("Cannot pull docker image lava-test/busybox: ") && error.contains("123456789012.dkr.ecr."),
        "{error}"
    );
    // A private registry with a user and an SSM password: the image is named on that registry.
    let parameter = format!("/lava/{}/registry", r.names.realm);
    shared::aws::provision::put_parameter(&r.clients, &parameter, "registry-pw", true).await.unwrap();
    // A free port: nothing answers there.
    let registry = format!("127.0.0.1:{}", lava_tests::free_port());
    let private = json!({"conn_id": "private", "type": "docker", "enabled": true, "registry": registry, "user": "robot", "password": parameter});
    r.catalog.put_connection(&shared::model::ConnectionEntry::from_value(&private).unwrap()).await.unwrap();
    r.put_job(job("dk/private", json!({"docker": "private", "command": "true"}))).await;
    let (_, statuses, failed) = run(&r, "dk/private").await;
    assert_eq!(statuses, ["starting", "running", "failed"]);
    let error = failed["error"].as_str().unwrap();
    assert!(error.starts_with("Cannot pull docker image lava-test/busybox: ") && error.contains(&registry), "{error}");
    assert!(!error.contains("registry-pw"));
    // The default without a registry is if-not-present: the local image runs.
    r.put_job(job("dk/local", json!({"command": "true"}))).await;
    assert_eq!(run(&r, "dk/local").await.1, ["starting", "running", "complete"]);
}

#[tokio::test]
async fn on_ecs_a_docker_job_registers_a_task_definition_and_runs_a_task_in_moto() {
    let r = TestRealm::up("dkecs").await;
    let cluster = lava_tests::unique("lava-jobs-");
    r.clients.ecs.create_cluster().cluster_name(&cluster).send().await.unwrap();
    r.put_job(job(
        "dk/ecs",
        json!({"command": "sh -c", "args": ["echo {{ vars.word }}"], "vars": {"word": "on-ecs"}, "timeout": "1s"}),
    ))
    .await;
    let run_id = r.dispatch("dk/ecs").await;
    let env = [
        ("LAVA_DOCKER_RUNNER", "ecs"),
        ("LAVA_DOCKER_ECS_CLUSTER", cluster.as_str()),
        ("LAVA_DOCKER_ECS_SUBNETS", "subnet-0123456789abcdef0"),
        ("LAVA_DOCKER_ECS_SECURITY_GROUPS", "sg-0123456789abcdef0"),
        ("LAVA_DOCKER_ECS_POLL", "0.2"),
    ];
    let options = lava_tests::worker_options(
        &r.names.realm,
        1,
        env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    );
    let worker = shared::worker::build(options, r.ports.clone()).await.unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    worker.run(rx).await.unwrap();
    // moto reports a task as stopped with exit code 0 at once (exit codes and time limits are
    // covered with the fake in shared's run tests); here: the calls and what they carried.
    let item = r.events("dk/ecs", &run_id).await;
    assert_eq!(r.statuses("dk/ecs", &run_id).await, ["starting", "running", "complete"], "{item}");
    let result = &item["log"][2]["info"];
    assert_eq!(result["exit_status"], 0);
    let arn = result["task"].as_str().unwrap().to_string();
    let described = r.clients.ecs.describe_tasks().cluster(&cluster).tasks(&arn).send().await.unwrap();
    let task = &described.tasks()[0];
    assert_eq!(task.launch_type().map(|l| l.as_str()), Some("FARGATE"));
    let overrides = &task.overrides().unwrap().container_overrides()[0];
    assert_eq!(overrides.command(), ["sh", "-c", "echo on-ecs"]);
    assert!(
        overrides
            .environment()
            .iter()
            .any(|kv| kv.name() == Some("LAVA_RUN_ID") && kv.value() == Some(run_id.as_str()))
    );
    let definition = r
        .clients
        .ecs
        .describe_task_definition()
        .task_definition(task.task_definition_arn().unwrap())
        .send()
        .await
        .unwrap();
    let container = &definition.task_definition().unwrap().container_definitions()[0];
    assert_eq!((container.name(), container.image()), (Some("job"), Some(TEST_IMAGE)));
    let logging = container.log_configuration().unwrap();
    assert_eq!(logging.log_driver().as_str(), "awslogs");
    assert_eq!(
        logging.options().unwrap().get("awslogs-group").map(String::as_str),
        Some(format!("/lava/{}/docker", r.names.realm).as_str())
    );
}

#[tokio::test]
async fn host_config_ports_hosts_and_cpu_limits_reach_the_engine() {
    require_docker();
    let r = TestRealm::up("dk").await;
    let script = "grep db.internal /etc/hosts; cut -d' ' -f1,2 /sys/fs/cgroup/cpu.max 2>/dev/null || \
                  echo $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us); sleep 3";
    let parameters = json!({"command": "sh -c", "args": [script], "host_config": {
        "ports": {"8080/tcp": null, "53/udp": ["127.0.0.1", null]},
        "extra_hosts": {"db.internal": "10.1.2.3"},
        "cpu_period": 200000, "cpu_quota": 50000, "mem_swappiness": 10, "shm_size": "16m"}});
    r.put_job(job("dk/host", parameters)).await;
    let run_id = r.dispatch("dk/host").await;
    let worker = crate::worker::worker(&r, 1, Duration::from_secs(5), false).await;
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(worker.run(rx));
    // While the container runs, the engine shows its published ports.
    let mut ports = String::new();
    for _ in 0..50 {
        let out = std::process::Command::new("docker")
            .args(["ps", "--filter", &format!("label=lava.run_id={run_id}"), "--format", "{{.Ports}}"])
            .output()
            .unwrap();
        ports = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !ports.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    running.await.unwrap().unwrap();
    assert!(ports.contains("->8080/tcp") && ports.contains("127.0.0.1:") && ports.contains("->53/udp"), "{ports}");
    let item = r.events("dk/host", &run_id).await;
    assert_eq!(r.statuses("dk/host", &run_id).await, ["starting", "running", "complete"], "{item}");
    let text = logs(&r, &item["log"][2]["info"]["output"]).await;
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("10.1.2.3") && lines[0].contains("db.internal"), "{text}");
    assert_eq!(lines[1], "50000 200000", "a quarter CPU over a 200 ms period");
}
