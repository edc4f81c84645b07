//! The fault suite: real `lava-worker` processes against moto, with faults injected — SIGTERM
//! storms over hundreds of jobs with duplicate deliveries, AWS frozen mid-run, a flood of
//! malformed messages, a batch worker with a long job. Each test prints its figures
//! (`cargo test -p lava-worker --test faults -- --nocapture`); BENCHMARKS.md quotes them.

use lava_tests::TestRealm;
use serde_json::{Value, json};
use shared::ports::{OutgoingMessage, WorkQueue};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `lava-worker` process whose log goes to a file.
struct WorkerProcess {
    child: Child,
    log: PathBuf,
}

impl WorkerProcess {
    fn start(r: &TestRealm, endpoint: &str, args: &[&str]) -> Self {
        let log = std::env::temp_dir().join(lava_tests::unique("lava-fault-log-"));
        let child = Command::new(env!("CARGO_BIN_EXE_lava-worker"))
            .args(["--realm", &r.names.realm, "--worker", "core", "--root", "--wait", "1", "--sleep", "0"])
            .args(args)
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("LAVA_TMPDIR", std::env::temp_dir().join(lava_tests::unique("lava-fault-")))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        WorkerProcess { child, log }
    }

    /// kill -9: the worker ends at once, with no chance to clean up; returns its log.
    fn kill9(mut self) -> String {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then the exit status, which must be a clean exit.
    fn terminate(mut self) -> String {
        assert!(Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap().success());
        let status = self.child.wait().unwrap();
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        assert!(status.success(), "clean exit after SIGTERM: {status}\n{log}");
        assert!(!log.contains("panicked"), "no panic:\n{log}");
        log
    }
}

/// Statuses of every run, by run id.
async fn statuses(r: &TestRealm, job_id: &str, runs: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut all = BTreeMap::new();
    for run_id in runs {
        all.insert(run_id.clone(), r.statuses(job_id, run_id).await);
    }
    all
}

/// Visible plus in-flight messages of a queue.
async fn depth(queue_url: &str) -> i64 {
    let clients = lava_tests::clients().await;
    let out = clients
        .sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names("ApproximateNumberOfMessages".into())
        .attribute_names("ApproximateNumberOfMessagesNotVisible".into())
        .attribute_names("ApproximateNumberOfMessagesDelayed".into())
        .send()
        .await
        .unwrap();
    out.attributes().map(|a| a.values().filter_map(|v| v.parse::<i64>().ok()).sum()).unwrap_or(0)
}

/// Every run ended with exactly one final event, `complete`, and every start but the last was
/// released at a shutdown (`retrying`). Returns how many runs were interrupted.
fn assert_each_completed_once(all: &BTreeMap<String, Vec<String>>) -> usize {
    let mut interrupted = 0;
    for (run_id, statuses) in all {
        let count = |s: &str| statuses.iter().filter(|x| *x == s).count();
        assert_eq!(statuses.last().map(String::as_str), Some("complete"), "run {run_id}: {statuses:?}");
        assert_eq!(count("complete"), 1, "run {run_id} completed once: {statuses:?}");
        assert_eq!(count("starting"), count("retrying") + 1, "run {run_id}: a start per release: {statuses:?}");
        if count("retrying") > 0 {
            interrupted += 1;
        }
    }
    interrupted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_storms_over_hundreds_of_jobs_with_duplicates_complete_each_run_exactly_once() {
    const RUNS: usize = 200;
    let endpoint = lava_tests::emulator().endpoint_url.clone();
    let r = TestRealm::up("stm").await;
    r.put_job(json!({"job_id": "it/storm", "type": "cmd", "worker": "core", "enabled": true, "payload": "sleep 0.3"}))
        .await;
    let queue = r.queue_url(&r.names.worker_queue("core")).await;
    let mut runs = Vec::new();
    let mut duplicates = 0;
    for n in 0..RUNS {
        let request = shared::dispatch::DispatchRequest { job_id: "it/storm".into(), ..Default::default() };
        let message =
            shared::dispatch::dispatch(&r.catalog, r.queues.as_ref(), &request, &Default::default()).await.unwrap();
        // One message in ten is delivered twice.
        if n % 10 == 0 {
            r.queues.send(&queue, &OutgoingMessage { body: message.to_body(), ..Default::default() }).await.unwrap();
            duplicates += 1;
        }
        runs.push(message.run_id);
    }

    // Rolling restarts: two workers of 4 threads; every second the older one gets SIGTERM with
    // no grace (its running jobs are stopped and released) and a new one starts.
    // A 6 s lease (heartbeat 2 s): on a loaded machine a worker's renewals can lag it, another
    // worker takes the run over, and the late worker's writes are refused (one final event).
    // A run can be stopped by several restarts in a row (released each time, started again):
    // the retry limit is raised so that only exactly-once is tested here.
    let args = ["--threads", "4", "--grace", "0", "--visibility-heartbeat", "2", "--retries", "20"];
    let started = Instant::now();
    let mut workers = std::collections::VecDeque::from([
        WorkerProcess::start(&r, &endpoint, &args),
        WorkerProcess::start(&r, &endpoint, &args),
    ]);
    let mut restarts = 0;
    let mut stopped = Vec::new();
    while started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let oldest = workers.pop_front().unwrap();
        stopped.push(tokio::task::spawn_blocking(move || oldest.terminate()));
        workers.push_back(WorkerProcess::start(&r, &endpoint, &args));
        restarts += 1;
    }
    // Then the last two workers finish the work.
    let deadline = started + Duration::from_secs(180);
    loop {
        let all = statuses(&r, "it/storm", &runs).await;
        let open: Vec<_> = all.values().filter(|s| s.last().map(String::as_str) != Some("complete")).collect();
        if open.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the storm did not finish: {} runs open, e.g. {:?}", open.len(), open[0]);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let elapsed = started.elapsed();
    // The duplicates come back when the leases they waited for would end, and are deleted.
    let drained = Instant::now();
    while depth(&queue).await > 0 {
        assert!(drained.elapsed() < Duration::from_secs(30), "copies left on the queue: {}", depth(&queue).await);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for worker in workers {
        stopped.push(tokio::task::spawn_blocking(move || worker.terminate()));
    }
    for stop in stopped {
        stop.await.expect("every stopped worker exited cleanly without a panic");
    }
    let all = statuses(&r, "it/storm", &runs).await;
    let interrupted = assert_each_completed_once(&all);
    let releases: usize = all.values().map(|s| s.iter().filter(|x| *x == "retrying").count()).sum();
    println!(
        "storm: {RUNS} runs + {duplicates} duplicate messages, {restarts} SIGTERM restarts: all complete once in \
         {:.1} s; {interrupted} runs interrupted ({releases} releases) and resumed; queue drained {:.1} s later",
        elapsed.as_secs_f64(),
        drained.elapsed().as_secs_f64(),
    );
    assert!(interrupted > 0, "the storm interrupted no run: it tested nothing ({restarts} restarts)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_frozen_mid_run_every_run_still_completes_once() {
    let r = TestRealm::up("frz").await;
    let proxy = lava_tests::FreezableProxy::start(lava_tests::emulator().port).await;
    r.put_job(json!({"job_id": "it/frozen", "type": "cmd", "worker": "core", "enabled": true, "payload": "sleep 3"}))
        .await;
    let mut runs = Vec::new();
    for _ in 0..6 {
        runs.push(r.dispatch("it/frozen").await);
    }
    let worker = WorkerProcess::start(
        &r,
        &proxy.url,
        &["--threads", "6", "--aws-timeout", "2", "--visibility-heartbeat", "2", "--grace", "5"],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while statuses(&r, "it/frozen", &runs).await.values().any(|s| !s.contains(&"running".to_string())) {
        assert!(Instant::now() < deadline, "the runs never started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Everything the worker says to AWS goes silent for 12 s: its jobs end meanwhile, and their
    // heartbeats, final events and deletes time out (2 s attempts) and are tried again.
    proxy.freeze(true);
    tokio::time::sleep(Duration::from_secs(12)).await;
    // The jobs ended 3 s into the freeze, but nothing the worker sent got through: no run is
    // recorded complete yet (read here past the proxy).
    let frozen = statuses(&r, "it/frozen", &runs).await;
    assert!(
        frozen.values().all(|s| !s.contains(&"complete".to_string())),
        "an event got through the freeze: {frozen:?}"
    );
    proxy.freeze(false);
    let thawed = Instant::now();
    let deadline = thawed + Duration::from_secs(120);
    loop {
        let all = statuses(&r, "it/frozen", &runs).await;
        if all.values().all(|s| s.last().map(String::as_str) == Some("complete")) {
            break;
        }
        assert!(Instant::now() < deadline, "runs did not end after the thaw: {all:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered = thawed.elapsed();
    let queue = r.queue_url(&r.names.worker_queue("core")).await;
    let drained = Instant::now();
    while depth(&queue).await > 0 {
        assert!(drained.elapsed() < Duration::from_secs(30), "messages left on the queue");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let log = tokio::task::spawn_blocking(move || worker.terminate()).await.unwrap();
    // A run whose job was still going when its lease would have ended was stopped there
    // (fencing) and started again after the thaw: it has a second start, and still one end.
    let all = statuses(&r, "it/frozen", &runs).await;
    let mut fenced = 0;
    for (run_id, s) in &all {
        let ends = s.iter().filter(|e| ["complete", "failed", "retrying"].contains(&e.as_str())).count();
        assert_eq!((ends, s.last().map(String::as_str)), (1, Some("complete")), "run {run_id}: {s:?}\n{log}");
        assert!(
            s.len() == 3 || s == &["starting", "running", "starting", "running", "complete"],
            "run {run_id}: {s:?}"
        );
        fenced += usize::from(s.len() > 3);
    }
    println!(
        "freeze: AWS silent for 12 s mid-run (6 runs, 6 s lease): all recorded complete once {:.1} s after the thaw ({fenced} stopped by fencing and run again), queue empty {:.1} s after",
        recovered.as_secs_f64(),
        drained.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_malformed_messages_is_dead_lettered_with_reasons_and_no_panic() {
    const FLOOD: usize = 200;
    let endpoint = lava_tests::emulator().endpoint_url.clone();
    let r = TestRealm::up("fld").await;
    let queue = r.queue_url(&r.names.worker_queue("core")).await;
    let dlq = r.queue_url(&shared::names::ResourceNames::dead_letter_queue(&r.names.worker_queue("core"))).await;
    let realm = r.names.realm.clone();
    let body = |n: usize| -> String {
        let run_id = uuid::Uuid::new_v4().to_string();
        let good = json!({"realm": realm, "worker": "core", "job_id": "demo/hello", "run_id": run_id, "ts_dispatch": "2025-03-04T06:15:00+11:00"});
        let mut m = good.clone();
        match n % 9 {
            0 => return format!("not json {n}"),
            1 => return "[]".into(),
            2 => m["realm"] = json!("elsewhere"),
            3 => m["worker"] = json!("other"),
            4 => m["job_id"] = json!(format!("no/such/job/{n}")),
            5 => m["extra"] = json!(true),
            6 => m["realm"] = json!("x".repeat(100_000)),
            // Longer than DynamoDB's key limit: refused before any claim, never released.
            7 => m["job_id"] = json!("j".repeat(3_000)),
            _ => m.as_object_mut().unwrap().remove("run_id").map(|_| ()).unwrap(),
        }
        m.to_string()
    };
    let started = Instant::now();
    for n in 0..FLOOD {
        r.queues.send(&queue, &OutgoingMessage { body: body(n), ..Default::default() }).await.unwrap();
    }
    let worker = WorkerProcess::start(&r, &endpoint, &["--threads", "4"]);
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut dead: Vec<Value> = Vec::new();
    while dead.len() < FLOOD {
        assert!(Instant::now() < deadline, "only {} of {FLOOD} dead-lettered", dead.len());
        for m in r.queues.receive(&dlq, 10, 1).await.unwrap() {
            dead.push(json!(m.body));
            r.queues.delete(&dlq, &m.receipt_handle).await.unwrap();
        }
    }
    let took = started.elapsed();
    assert_eq!(depth(&queue).await, 0, "nothing left on the worker queue");
    let log = tokio::task::spawn_blocking(move || worker.terminate()).await.unwrap();
    let reasons = log.lines().filter(|l| l.contains("Message cannot run")).count();
    assert_eq!(reasons, FLOOD, "each message logged once with its reason");
    assert!(log.lines().all(|l| l.len() < 4_000), "no line echoes a 100 KB field whole");
    println!("flood: {FLOOD} malformed messages dead-lettered with reasons in {:.1} s", took.as_secs_f64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_worker_waits_for_its_long_job_then_exits() {
    let endpoint = lava_tests::emulator().endpoint_url.clone();
    let r = TestRealm::up("bat").await;
    r.put_job(json!({"job_id": "it/long", "type": "cmd", "worker": "core", "enabled": true, "payload": "sleep 4"}))
        .await;
    r.put_job(json!({"job_id": "it/short", "type": "cmd", "worker": "core", "enabled": true, "payload": "true"})).await;
    let long = r.dispatch("it/long").await;
    let short = r.dispatch("it/short").await;
    let started = Instant::now();
    let mut worker = WorkerProcess::start(&r, &endpoint, &["--batch", "--threads", "2", "--grace", "1"]);
    let status = tokio::task::spawn_blocking(move || worker.child.wait().unwrap()).await.unwrap();
    let took = started.elapsed();
    assert!(status.success(), "{status}");
    assert!(took >= Duration::from_secs(4), "exited after its long job, not before: {took:?}");
    assert_eq!(r.statuses("it/long", &long).await, ["starting", "running", "complete"]);
    assert_eq!(r.statuses("it/short", &short).await, ["starting", "running", "complete"]);
    println!("batch: a 4 s job and a short one ran to complete; the worker exited after {:.1} s", took.as_secs_f64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_whose_worker_is_killed_resumes_on_another_without_rerunning_completed_children() {
    let endpoint = lava_tests::emulator().endpoint_url.clone();
    let r = TestRealm::up("kpl").await;
    let trace = std::env::temp_dir().join(lava_tests::unique("lava-kpl-"));
    for (id, then) in [("kp/a", "true"), ("kp/b", "sleep 4"), ("kp/c", "true")] {
        let script = format!("echo {id} >> {}; {then}", trace.display());
        r.put_job(json!({"job_id": id, "type": "cmd", "worker": "core", "enabled": true, "payload": "/bin/sh -c",
            "parameters": {"args": [script]}}))
            .await;
    }
    r.put_job(json!({"job_id": "kp/chain", "type": "chain", "worker": "core", "enabled": true, "payload": "kp/a, kp/b, kp/c"}))
        .await;
    let run_id = r.dispatch("kp/chain").await;
    let args = ["--visibility-heartbeat", "2"];
    let mut first = WorkerProcess::start(&r, &endpoint, &args);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !r.statuses("kp/b", &run_id).await.contains(&"running".to_string()) {
        assert!(Instant::now() < deadline, "kp/b never started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let killed = Instant::now();
    let second = WorkerProcess::start(&r, &endpoint, &args);
    let deadline = Instant::now() + Duration::from_secs(60);
    while r.statuses("kp/chain", &run_id).await.last().map(String::as_str) != Some("complete") {
        assert!(Instant::now() < deadline, "the pipeline never completed: {:?}", r.statuses("kp/chain", &run_id).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = killed.elapsed();
    tokio::task::spawn_blocking(move || second.terminate()).await.unwrap();
    let ran: Vec<String> = std::fs::read_to_string(&trace).unwrap().lines().map(str::to_string).collect();
    assert_eq!(ran, ["kp/a", "kp/b", "kp/b", "kp/c"], "kp/a ran once; the interrupted kp/b again; then kp/c");
    assert_eq!(r.statuses("kp/a", &run_id).await, ["starting", "running", "complete"]);
    assert_eq!(
        r.statuses("kp/chain", &run_id).await,
        ["starting", "running", "starting", "running", "logging", "complete"]
    );
    let item = r.events("kp/chain", &run_id).await;
    assert_eq!(item["log"][4]["info"], "Resumed after an earlier attempt: 1 already ended and not run again: kp/a");
    println!(
        "pipeline: a chain's worker killed during its second child; another worker resumed it at that child and \
         completed it {:.1} s after the kill (heartbeat 2 s, child 4 s)",
        took.as_secs_f64()
    );
}

/// Whether a process is still alive (a zombie waiting for its reaping is not).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z')))
}

/// kill -9 of a worker mid-job: the job's whole process group (a background child included)
/// ends within the reaper's grace, so a worker that takes the run over never meets an orphan
/// of the first still at work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_dies_with_its_worker_killed_with_sigkill() {
    let r = TestRealm::up("k9").await;
    let dir = std::env::temp_dir().join(lava_tests::unique("lava-orphans-"));
    std::fs::create_dir_all(&dir).unwrap();
    let pids = dir.join("pids");
    let script = format!("sleep 120 & echo $! > {0}.tmp; echo $$ >> {0}.tmp; mv {0}.tmp {0}; wait", pids.display());
    r.put_job(json!({"job_id": "it/orphan", "type": "cmd", "worker": "core", "enabled": true,
        "payload": format!("sh -c '{script}'")}))
        .await;
    r.dispatch("it/orphan").await;
    let worker = WorkerProcess::start(&r, &lava_tests::emulator().endpoint_url, &["--threads", "1", "--grace", "2"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !pids.exists() {
        assert!(Instant::now() < deadline, "the job never started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let started: Vec<i32> =
        std::fs::read_to_string(&pids).unwrap().lines().map(|l| l.trim().parse().unwrap()).collect();
    assert_eq!(started.len(), 2);
    assert!(started.iter().all(|&p| alive(p)), "the job's processes run");
    let killed = Instant::now();
    let log = tokio::task::spawn_blocking(move || worker.kill9()).await.unwrap();
    while started.iter().any(|&p| alive(p)) {
        assert!(killed.elapsed() < Duration::from_secs(10), "the job outlived its worker by 10 s\n{log}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "kill -9: the job's process group (a shell and its background child) ended {:.2} s after its worker",
        killed.elapsed().as_secs_f64()
    );
}

/// The containers (running or not) of a run, by the label the docker runner gives them.
fn containers_of(run_id: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("label=lava.run_id={run_id}")])
        .output()
        .expect("running docker ps");
    assert!(out.status.success(), "docker ps: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).split_whitespace().map(str::to_string).collect()
}

/// kill -9 of a worker mid-job: a docker job's container is killed and removed by the reaper,
/// so a worker that takes the run over never meets the first one's container still at work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_docker_job_dies_with_its_worker_killed_with_sigkill() {
    lava_tests::require_docker();
    let r = TestRealm::up("k9d").await;
    r.put_job(json!({"job_id": "it/container", "type": "docker", "worker": "core", "enabled": true,
        "payload": lava_tests::TEST_IMAGE, "parameters": {"command": "sleep 300"}}))
        .await;
    let run_id = r.dispatch("it/container").await;
    let worker = WorkerProcess::start(&r, &lava_tests::emulator().endpoint_url, &["--threads", "1", "--grace", "2"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while containers_of(&run_id).is_empty() {
        assert!(Instant::now() < deadline, "the container never started");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let killed = Instant::now();
    let log = tokio::task::spawn_blocking(move || worker.kill9()).await.unwrap();
    while !containers_of(&run_id).is_empty() {
        assert!(killed.elapsed() < Duration::from_secs(20), "the container outlived its worker by 20 s\n{log}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "kill -9: the docker job's container was killed and removed {:.2} s after its worker",
        killed.elapsed().as_secs_f64()
    );
}

/// A worker cut off from AWS (every byte it sends held by a relay) longer than its run's lease
/// stops its job before the lease can end (fencing): another worker takes the run over only
/// after that, so at no moment do two copies of the job run; the cut-off worker writes nothing
/// more, and the run ends with one final event, the new holder's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_cut_off_from_aws_stops_its_job_before_another_takes_the_run_over() {
    let r = TestRealm::up("fence").await;
    let proxy = lava_tests::FreezableProxy::start(lava_tests::emulator().port).await;
    let dir = std::env::temp_dir().join(lava_tests::unique("lava-fence-"));
    std::fs::create_dir_all(&dir).unwrap();
    let pids = dir.join("pids");
    r.put_job(json!({"job_id": "it/fenced", "type": "cmd", "worker": "core", "enabled": true,
        "payload": format!("sh -c 'echo $$ >> {}; sleep 10'", pids.display())}))
        .await;
    let run_id = r.dispatch("it/fenced").await;
    let args = ["--threads", "1", "--aws-timeout", "2", "--visibility-heartbeat", "2", "--grace", "2"];
    let cut = WorkerProcess::start(&r, &proxy.url, &args);
    let listed = || -> Vec<i32> {
        std::fs::read_to_string(&pids).unwrap_or_default().lines().filter_map(|l| l.trim().parse().ok()).collect()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while listed().is_empty() {
        assert!(Instant::now() < deadline, "the job never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    proxy.freeze(true);
    let frozen = Instant::now();
    let other = WorkerProcess::start(&r, &lava_tests::emulator().endpoint_url, &args);
    let (mut most_at_once, mut stopped, mut taken_over) = (0, None, None);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let jobs = listed();
        let running = jobs.iter().filter(|&&p| alive(p)).count();
        most_at_once = most_at_once.max(running);
        if stopped.is_none() && !alive(jobs[0]) {
            stopped = Some(frozen.elapsed());
        }
        if taken_over.is_none() && jobs.len() > 1 {
            taken_over = Some(frozen.elapsed());
        }
        let all = statuses(&r, "it/fenced", std::slice::from_ref(&run_id)).await;
        if all[&run_id].last().map(String::as_str) == Some("complete") {
            break;
        }
        assert!(Instant::now() < deadline, "the run never ended: {all:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    proxy.freeze(false);
    let (stopped, taken_over) = (stopped.expect("the cut-off job was stopped"), taken_over.expect("taken over"));
    assert_eq!(most_at_once, 1, "two copies of the job ran at once");
    assert!(stopped < taken_over, "stopped {stopped:?} after the cut, taken over {taken_over:?}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cut_log = tokio::task::spawn_blocking(move || cut.terminate()).await.unwrap();
    tokio::task::spawn_blocking(move || other.terminate()).await.unwrap();
    assert!(cut_log.contains("fencing"), "the cut-off worker says it fenced the job:\n{cut_log}");
    let events = &statuses(&r, "it/fenced", std::slice::from_ref(&run_id)).await[&run_id];
    let finals = events.iter().filter(|s| ["complete", "failed", "retrying"].contains(&s.as_str())).count();
    assert_eq!(finals, 1, "one final event, the new holder's: {events:?}");
    println!(
        "fencing: AWS cut off from a worker (heartbeat 2 s, 6 s lease): its job stopped {:.1} s after the cut, the run taken over {:.1} s after it, copies at once: at most {most_at_once}",
        stopped.as_secs_f64(),
        taken_over.as_secs_f64()
    );
}
