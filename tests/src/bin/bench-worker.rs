//! Worker benchmark against moto on loopback: start-up time, latency from dispatch to the
//! `complete` event on an idle worker, throughput, CPU time per job and peak memory of a real
//! `lava-worker` process running trivial `cmd` jobs (`true`).
//!
//! Beside it, the original's `lava-worker` (jinlava from `.venv-jinlava`) drains the same
//! backlog on the same realm, for CPU per job, throughput and memory side by side.
//!
//! Run: `cargo build --profile fast -p lava-worker -p lava-tests && target/fast/bench-worker [JOBS] [--no-original]`

use serde_json::{Value, json};
use shared::dispatch::{DispatchRequest, dispatch};
use shared::model::EventStatus;
use shared::ports::{TableStore, WorkQueue};
use shared::recorder::EventRecorder;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// A process's CPU time in seconds (user and system): its own, and with that of the children it
/// has waited for (the jobs' processes, and whatever a worker runs them through).
fn proc_cpu_seconds(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = |at: usize| fields.get(at).and_then(|t| t.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    let own = ticks(11) + ticks(12);
    (own, own + ticks(13) + ticks(14))
}

/// What a batch worker cost to drain its queue.
#[derive(Clone, Copy, Default)]
struct Drained {
    seconds: f64,
    /// CPU seconds of the worker process itself.
    cpu: f64,
    /// CPU seconds with its waited-for children.
    cpu_with_children: f64,
    peak_mb: f64,
}

/// Samples a batch worker every 5 ms until it exits (its last sample before exit stands for
/// its total); fails if it exits with an error.
fn drain(mut worker: WorkerProcess, started: Instant) -> Drained {
    let pid = worker.0.id();
    let mut drained = Drained::default();
    loop {
        if let Some(status) = worker.0.try_wait().unwrap() {
            assert!(status.success(), "the batch worker failed: {status}");
            break;
        }
        (drained.cpu, drained.cpu_with_children) = proc_cpu_seconds(pid);
        drained.peak_mb = peak_rss_mb(pid).max(drained.peak_mb);
        std::thread::sleep(Duration::from_millis(5));
    }
    drained.seconds = started.elapsed().as_secs_f64();
    drained
}

/// A batch worker's cost per job over the `jobs` runs it completed, less what it costs to start
/// and find its queue empty (`idle`): milliseconds of its own CPU, and with its children's. (The
/// original's batch worker can stop before its queue is empty; its figure is per run it ran.)
fn per_job(backlog: Drained, idle: Drained, jobs: usize) -> (f64, f64) {
    let per = |total: f64, start: f64| (total - start) * 1000.0 / jobs as f64;
    (per(backlog.cpu, idle.cpu), per(backlog.cpu_with_children, idle.cpu_with_children))
}

/// The original's `lava-worker` (jinlava, `.venv-jinlava`) in batch mode on the same queue, with
/// the same threads and waits as ours.
fn original_batch_worker(realm: &str) -> WorkerProcess {
    let child = lava_tests::original::batch_worker(realm, "core", 5, 1)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting the original's lava-worker (bash tests/setup.sh installs it)");
    WorkerProcess(child)
}

/// On-CPU time of this process's main thread (user and system), in nanoseconds: the
/// scheduler's own count, finer than `/proc/<pid>/stat`'s clock ticks.
fn main_thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

/// A worker process that is killed if the benchmark panics, so that no idle worker outlives it
/// and keeps long-polling the emulator.
struct WorkerProcess(Child);

impl WorkerProcess {
    /// SIGTERM, then wait for the worker to stop as it does in production.
    fn stop(&mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Starts a release `lava-worker` beside this binary; returns it, its time to `Worker ready.`,
/// and its later log lines, each with the instant this process read it.
fn start_worker(
    realm: &str,
    endpoint: &str,
    extra: &[&str],
) -> (WorkerProcess, Duration, mpsc::Receiver<(Instant, String)>) {
    let binary = std::env::current_exe().unwrap().with_file_name("lava-worker");
    let started = Instant::now();
    let mut child = Command::new(&binary)
        .args([
            "--realm",
            realm,
            "--worker",
            "core",
            "--root",
            "--threads",
            "5",
            "--sleep",
            "0",
            "--level",
            "info",
            "--no-colour",
        ])
        .args(extra)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("LAVA_ACTIONS_QUEUE", "none")
        .env("LAVA_PAYLOAD_SETTLING_TIME", "0")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{}: {e} (build it first: cargo build --profile fast -p lava-worker)", binary.display())
        });
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    loop {
        match lines.next() {
            Some(Ok(line)) if line.contains("Worker ready.") => break,
            Some(Ok(line)) => seen.push(line),
            _ => panic!("lava-worker exited before it was ready:\n{}", seen.join("\n")),
        }
    }
    let ready = started.elapsed();
    let (tx, rx) = mpsc::channel();
    let verbose = std::env::var_os("BENCH_VERBOSE").is_some();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if verbose || line.contains("WARN") || line.contains("ERROR") {
                eprintln!("worker: {line}");
            }
            let _ = tx.send((Instant::now(), line));
        }
    });
    (WorkerProcess(child), ready, rx)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let jobs: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(200);
    let with_original = !args.iter().any(|a| a == "--no-original");
    let endpoint = lava_tests::emulator().endpoint_url.clone();
    let r = lava_tests::TestRealm::up("bench").await;
    // The realm keys the original's template sets (its executable jobs fail without them).
    r.set_original_realm_keys().await;
    let realm = r.names.realm.clone();
    let (tables, queues, names, catalog) = (r.tables.clone(), r.queues.clone(), r.names.clone(), &r.catalog);
    r.put_job(json!({"job_id": "bench/true", "type": "cmd", "worker": "core", "enabled": true, "owner": "o", "description": "d", "payload": "true"})).await;
    let request = DispatchRequest { job_id: "bench/true".into(), ..Default::default() };
    let status_of = |run_id: String| {
        let tables = tables.clone();
        let table = names.events_table.clone();
        async move {
            let key = json!({"job_id": "bench/true", "run_id": run_id});
            tables
                .get_item(&table, key.as_object().unwrap(), true)
                .await
                .unwrap()
                .and_then(|i| i.get("status").cloned())
                .unwrap_or(Value::Null)
        }
    };

    // Start-up to first poll: ten workers started one after another (each stopped once ready).
    // moto answers its first error of a kind (here the missing actions queue) about 100 ms more
    // slowly than later ones; one lookup of a missing queue first keeps that out of the figure.
    let _ = queues.queue_url("lava-bench-warm-up--missing").await;
    let mut startups = Vec::new();
    for _ in 0..10 {
        let (mut worker, ready, _) = start_worker(&realm, &endpoint, &["--wait", "1"]);
        startups.push(ready.as_secs_f64() * 1000.0);
        worker.stop();
    }
    startups.sort_by(f64::total_cmp);

    // Latency on an idle worker, in 30 rounds. Each round first makes, from here, the emulator
    // calls from the start of a dispatch to the `complete` event (job lookup, queue lookup, send;
    // receive, the run's claim together with the job lookup (one round trip, as the worker makes
    // them), the two event writes as the worker's own EventRecorder makes them:
    // `starting` with `running`, then `complete`) one after another on the same single-threaded
    // runtime as the worker; then it dispatches a job and waits until the worker logs that its
    // `complete` event is written (read from its stderr, so the benchmark puts no load of its
    // own on the emulator while the job runs; the events table must agree). Interleaving the two
    // keeps the comparison fair while the emulator's speed drifts. The CPU time the direct calls
    // take is what the SDK and the kernel cost per call: the floor under the worker's CPU per
    // job, as a run makes six calls (receive, claim, job lookup, two event writes, delete).
    let recorder =
        EventRecorder::new(r.ports.events.clone(), &names.events_table, "core", 172_800, jiff::tz::TimeZone::UTC);
    let leases = shared::recorder::RunLeases::new(r.ports.events.clone(), &names.events_table, 4, 172_800);
    let scratch = queues.queue_url(&names.dispatch_queue).await.unwrap();
    let job_key = json!({"job_id": "bench/true"});
    let (mut idle_worker, _, log) = start_worker(&realm, &endpoint, &["--wait", "20"]);
    let (mut rtt, mut latencies, mut direct_cpu_ns, rounds) = (Vec::new(), Vec::new(), 0, 30);
    for i in 0..rounds {
        let cpu_before = main_thread_cpu_ns();
        let t = Instant::now();
        tables.get_item(&names.jobs_table, job_key.as_object().unwrap(), false).await.unwrap();
        queues.queue_url(&names.dispatch_queue).await.unwrap();
        queues
            .send(&scratch, &shared::ports::OutgoingMessage { body: "x".into(), ..Default::default() })
            .await
            .unwrap();
        let got = queues.receive(&scratch, 1, 0).await.unwrap();
        let run = format!("r{i}");
        let (claim, job) = tokio::join!(
            leases.claim("bench/scratch", &run),
            tables.get_item(&names.jobs_table, job_key.as_object().unwrap(), true)
        );
        claim.unwrap();
        job.unwrap();
        let held = vec![
            recorder.entry(EventStatus::Starting, Value::Null).0,
            recorder.entry(EventStatus::Running, json!("Iteration 1")).0,
        ];
        recorder.write("bench/scratch", &run, "2026-01-01T00:00:00+00:00", held).await.unwrap();
        recorder
            .record(
                "bench/scratch",
                &run,
                "2026-01-01T00:00:00+00:00",
                EventStatus::Complete,
                json!({"exit_status": 0, "output": []}),
            )
            .await
            .unwrap();
        rtt.push(t.elapsed().as_secs_f64() * 1000.0);
        for m in got {
            queues.delete(&scratch, &m.receipt_handle).await.unwrap();
        }
        direct_cpu_ns += main_thread_cpu_ns() - cpu_before;

        while log.try_recv().is_ok() {}
        let t = Instant::now();
        let run_id = dispatch(catalog, queues.as_ref(), &request, &Default::default()).await.unwrap().run_id;
        let completed_at = loop {
            let (at, line) = log
                .recv_timeout(Duration::from_secs(60))
                .expect("the worker logs the run's complete event within a minute");
            if line.contains(&run_id) && line.contains("\"complete\"") {
                break at;
            }
        };
        latencies.push((completed_at - t).as_secs_f64() * 1000.0);
        assert_eq!(status_of(run_id).await, json!("complete"), "the events table agrees with the log");
    }
    // Nine direct calls a round: the eight timed ones and the delete.
    let cpu_per_call = direct_cpu_ns as f64 / 1e6 / (rounds * 9) as f64;
    rtt.sort_by(f64::total_cmp);
    latencies.sort_by(f64::total_cmp);
    idle_worker.stop();

    // Throughput, CPU and memory: a worker in batch mode on an empty queue (its start-up), then
    // on a backlog of jobs; the same for the original's worker, on the same realm and job.
    let dispatch_all = async || {
        let mut runs = Vec::new();
        for _ in 0..jobs {
            runs.push(dispatch(catalog, queues.as_ref(), &request, &Default::default()).await.unwrap().run_id);
        }
        runs
    };
    let count_complete = async |runs: Vec<String>| {
        let mut completed = 0;
        for run_id in runs {
            let status = status_of(run_id.clone()).await;
            if status == json!("complete") {
                completed += 1;
            } else {
                eprintln!("run {run_id}: status {status}");
            }
        }
        completed
    };
    let ours_batch = |started| drain(start_worker(&realm, &endpoint, &["--batch", "--wait", "1"]).0, started);
    let ours_idle = ours_batch(Instant::now());
    let runs = dispatch_all().await;
    let ours = ours_batch(Instant::now());
    let completed = count_complete(runs).await;
    let original = if with_original {
        let idle = drain(original_batch_worker(&realm), Instant::now());
        let runs = dispatch_all().await;
        let drained = drain(original_batch_worker(&realm), Instant::now());
        Some((idle, drained, count_complete(runs).await))
    } else {
        None
    };

    println!("lava-worker benchmark: {jobs} trivial cmd jobs against moto on {endpoint}");
    println!(
        "start-up to first poll:       p50 {:.1} ms, max {:.1} ms (10 starts)",
        percentile(&startups, 0.5),
        startups[startups.len() - 1]
    );
    println!(
        "emulator calls of one run:    p50 {:.1} ms, p99 {:.1} ms (8 calls, made directly; the claim with the job lookup)",
        percentile(&rtt, 0.5),
        percentile(&rtt, 0.99)
    );
    println!("CPU per SDK call, made here:  {cpu_per_call:.2} ms (user+system)");
    println!(
        "dispatch-to-complete, idle:   p50 {:.1} ms, p99 {:.1} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );
    println!(
        "  above the emulator's calls (p50): {:.1} ms; ratio {:.2}",
        percentile(&latencies, 0.5) - percentile(&rtt, 0.5),
        percentile(&latencies, 0.5) / percentile(&rtt, 0.5)
    );
    print_batch("ours", ours, ours_idle, completed, jobs, cpu_per_call);
    if let Some((idle, drained, their_completed)) = original {
        print_batch("original", drained, idle, their_completed, jobs, cpu_per_call);
        let ((own, with), (their_own, their_with)) =
            (per_job(ours, ours_idle, completed), per_job(drained, idle, their_completed));
        println!(
            "original's CPU per job over ours: {:.1}x (the workers' own), {:.1}x (with their children)",
            their_own / own,
            their_with / with
        );
    }
}

/// Prints a batch worker's throughput, CPU per job and peak memory.
fn print_batch(side: &str, drained: Drained, idle: Drained, completed: usize, jobs: usize, cpu_per_call: f64) {
    let (own, with_children) = per_job(drained, idle, completed);
    println!(
        "{side}: throughput            {:.1} jobs/s ({completed}/{jobs} complete in {:.1} s, 5 threads, start-up included)",
        completed as f64 / drained.seconds,
        drained.seconds
    );
    println!(
        "{side}: CPU time per job      {own:.2} ms ({with_children:.2} ms with its children), per run completed, less start-up ({:.0} ms) and an empty poll; {:.1} SDK calls' worth",
        idle.cpu * 1000.0,
        own / cpu_per_call
    );
    println!("{side}: peak memory (VmHWM)   {:.1} MB", drained.peak_mb);
}
