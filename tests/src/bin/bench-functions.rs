//! Lambda function benchmark: each function binary runs as Lambda runs it, against a Lambda
//! Runtime API served here on loopback, with its AWS calls going to moto through a proxy that
//! times them. Prints, per function: the cold start (process start to its first
//! `/invocation/next`), the warm time per request beside the emulator's own time for the
//! calls it made, the peak memory (VmHWM) and the deployment zip's size.
//!
//! Run: `cargo build --release -p lava-tests -p lava-dispatch-fn -p lava-actions-fn -p lava-s3trigger-fn &&
//! target/release/bench-functions [REQUESTS]` (default 200). The zip sizes are those of
//! `target/lambda/<function>/bootstrap` (`cargo lambda build --release --arm64`, what `sam build`
//! makes), zipped here. With `LAVA_ORIGINAL=<a checkout of jin-gizmo/lava>` the original's
//! Python dispatch handler runs the same requests on the same emulator, side by side.

use lava_cli::local::lambda::RuntimeApi;
use serde_json::{Value, json};
use shared::ports::QueueMessage;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// An SQS event of one message, as the queue's event source mapping delivers it.
fn sqs_event(body: &str, n: usize) -> Value {
    let message = QueueMessage {
        message_id: format!("m-{n}"),
        receipt_handle: format!("r-{n}"),
        body: body.to_string(),
        receive_count: 1,
    };
    lava_cli::local::realm::sqs_event(&[message], "arn:aws:sqs:us-east-1:123456789012:bench", "us-east-1")
}

/// What one function did under the benchmark.
struct Figures {
    cold: Duration,
    warm: Vec<Duration>,
    emulator: Duration,
    peak_kib: u64,
    calls: usize,
}

fn median(values: &mut [Duration]) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Runs `command` as a Lambda function and sends it `events` one at a time.
async fn measure(
    mut command: tokio::process::Command,
    proxy: &lava_tests::FreezableProxy,
    events: impl Iterator<Item = Value>,
) -> Figures {
    let api = RuntimeApi::start("bench", Duration::from_secs(900)).await.expect("the runtime API");
    command
        .envs(api.environment())
        .env("AWS_ENDPOINT_URL", &proxy.url)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true);
    let started = Instant::now();
    let mut child = command.spawn().expect("the function binary starts");
    tokio::time::timeout(Duration::from_secs(120), api.asked(1))
        .await
        .expect("the function never asked for an invocation");
    let cold = started.elapsed();
    let mut warm = Vec::new();
    let (mut emulator, mut calls) = (Duration::ZERO, 0);
    for (n, event) in events.enumerate() {
        let (busy, connections) =
            (proxy.server_micros.load(Ordering::Relaxed), proxy.connections.load(Ordering::Relaxed));
        let t = Instant::now();
        let answer = api.invoke(&format!("req-{n}"), event).await;
        warm.push(t.elapsed());
        let answer = answer.unwrap_or_else(|e| panic!("invocation {n} failed: {e}"));
        assert!(
            answer.get("batchItemFailures").and_then(Value::as_array).is_none_or(Vec::is_empty),
            "invocation {n} asked for a retry: {answer}"
        );
        // Let the proxy see the last call's connection close before reading its counters.
        tokio::time::sleep(Duration::from_millis(2)).await;
        emulator += Duration::from_micros(proxy.server_micros.load(Ordering::Relaxed) - busy);
        calls += proxy.connections.load(Ordering::Relaxed) - connections;
    }
    let peak = peak_kib(child.id().unwrap_or(0));
    let _ = child.kill().await;
    Figures { cold, warm, emulator, peak_kib: peak, calls }
}

fn zip_size(function: &str) -> Option<u64> {
    let bootstrap = lava_tests::workspace_root().join("target/lambda").join(function).join("bootstrap");
    bootstrap.exists().then(|| lava_tests::zipped_size(&bootstrap))
}

fn report(name: &str, mut f: Figures, zip: Option<u64>) {
    let n = f.warm.len() as u32;
    let total: Duration = f.warm.iter().sum();
    let own = total.saturating_sub(f.emulator);
    let zip = zip.map_or("(no build: cargo lambda build --release --arm64)".to_string(), |z| {
        format!("{:.2} MB", z as f64 / 1e6)
    });
    println!(
        "{name:<22} cold start {:>7.1} ms | warm per request: median {:>6.2} ms, mean {:>6.2} ms, \
         of which emulator {:>6.2} ms ({:.1} calls), own {:>5.2} ms | peak memory {:>6.1} MiB | zip {zip}",
        f.cold.as_secs_f64() * 1e3,
        median(&mut f.warm).as_secs_f64() * 1e3,
        (total / n).as_secs_f64() * 1e3,
        (f.emulator / n).as_secs_f64() * 1e3,
        f.calls as f64 / f64::from(n),
        (own / n).as_secs_f64() * 1e3,
        f.peak_kib as f64 / 1024.0,
    );
}

/// Messages waiting on a queue.
async fn depth(r: &lava_tests::TestRealm, url: &str) -> usize {
    let attributes = r
        .clients
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names("ApproximateNumberOfMessages".into())
        .send()
        .await
        .unwrap();
    attributes.attributes().and_then(|a| a.values().next()).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn binary(name: &str) -> PathBuf {
    let path = lava_tests::workspace_root().join("target/release").join(name);
    assert!(path.exists(), "{} is not built: cargo build --release -p {name}", path.display());
    path
}

/// The original's dispatch handler under a minimal Python runtime loop (what the Python
/// Lambda runtime does: import the handler, then get, call, answer).
fn original_dispatch(checkout: &Path) -> tokio::process::Command {
    let runner = std::env::temp_dir().join(format!("bench-original-{}.py", std::process::id()));
    std::fs::write(
        &runner,
        r#"import json, os, sys, urllib.request
os.environ.setdefault("AWS_DEFAULT_REGION", os.environ.get("AWS_REGION", "us-east-1"))
root = os.environ["LAVA_ORIGINAL"]
sys.path[:0] = [root, os.path.join(root, "lambda", "dispatch")]
import dispatch
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
while True:
    with urllib.request.urlopen(api + "next") as r:
        rid, event = r.headers["Lambda-Runtime-Aws-Request-Id"], json.loads(r.read())
    context = type("Context", (), {"aws_request_id": rid, "function_name": "bench"})()
    try:
        out, kind = json.dumps(dispatch.lambda_handler(event, context)), "/response"
    except Exception as e:
        out, kind = json.dumps({"errorMessage": repr(e)}), "/error"
    urllib.request.urlopen(urllib.request.Request(api + rid + kind, data=out.encode(), method="POST")).read()
"#,
    )
    .unwrap();
    let mut command = tokio::process::Command::new(lava_tests::venv_tool("python"));
    command.arg(runner).env("LAVA_ORIGINAL", checkout);
    command
}

#[tokio::main]
async fn main() {
    let requests: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(200);
    let r = lava_tests::TestRealm::up("fnb").await;
    r.put_job(json!({"job_id": "bench/hello", "type": "cmd", "worker": "core", "enabled": true, "payload": "true", "owner": "bench", "description": "benchmark"}))
        .await;
    r.put_job(json!({"job_id": "bench/upload", "type": "cmd", "worker": "core", "enabled": true, "payload": "true", "owner": "bench", "description": "benchmark"}))
        .await;
    r.catalog
        .put_s3trigger(
            &shared::model::S3TriggerEntry::from_value(&json!({
                "trigger_id": "bench/upload", "enabled": true, "bucket": "bench-bucket", "prefix": "in",
                "job_id": "bench/upload"
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let proxy = lava_tests::FreezableProxy::start(lava_tests::emulator().port).await;
    let env = |command: &mut tokio::process::Command| {
        command.env("LAVA_REALM", &r.names.realm).env("AWS_REGION", "us-east-1");
        command.env("AWS_ACCESS_KEY_ID", "test").env("AWS_SECRET_ACCESS_KEY", "test");
    };
    println!(
        "function benchmark: {requests} requests each, one message per invocation, moto on loopback (no added latency)"
    );
    let core = r.queue_url(&r.names.worker_queue("core")).await;

    let dispatch_request = json!({"job_id": "bench/hello"}).to_string();
    let mut command = tokio::process::Command::new(binary("dispatch"));
    env(&mut command);
    let events = (0..requests).map(|n| sqs_event(&dispatch_request, n));
    report("dispatch", measure(command, &proxy, events).await, zip_size("dispatch"));
    assert_eq!(depth(&r, &core).await, requests, "each request dispatched one run");

    let mut command = tokio::process::Command::new(binary("s3trigger"));
    env(&mut command);
    let events = (0..requests).map(|n| {
        json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-11-30T00:00:00.000Z", "eventName": "ObjectCreated:Put",
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "lava",
                "bucket": {"name": "bench-bucket", "arn": "arn:aws:s3:::bench-bucket"},
                "object": {"key": format!("in/file-{n}.csv"), "size": 10, "sequencer": "0A"}}}]})
    });
    report("s3trigger (direct)", measure(command, &proxy, events).await, zip_size("s3trigger"));
    assert_eq!(depth(&r, &core).await, 2 * requests, "each upload dispatched one run");

    let mut command = tokio::process::Command::new(binary("actions"));
    env(&mut command);
    let target = shared::aws::provision::create_queue(&r.clients, &lava_tests::unique("bench-t-"), &[]).await.unwrap();
    let action = |n: usize| {
        let context = json!({
            "job": {"job_id": "bench/hello", "run_id": format!("run-{n}"), "worker": "core",
                "ts_dispatch": "2026-11-30T00:00:00+00:00", "globals": {}},
            "realm": {"realm": r.names.realm}, "globals": {}, "state": {}, "result": {"exit_status": 0},
            "start": "2026-11-30T00:00:01+00:00", "ustart": "2026-11-30T00:00:01+00:00",
        });
        let request = shared::actions::ActionRequest {
            key: shared::model::ActionKey::OnSuccess,
            actions: vec![json!({"action": "sqs", "queue": target, "message": "{{ job.job_id }} done"})],
            job_id: "bench/hello".into(),
            run_id: format!("run-{n}"),
            iteration: 1,
            context: context.as_object().unwrap().clone(),
            context_s3: None,
        };
        serde_json::to_string(&request).unwrap()
    };
    let events = (0..requests).map(|n| sqs_event(&action(n), n));
    report("actions", measure(command, &proxy, events).await, zip_size("actions"));
    assert_eq!(depth(&r, &target).await, requests, "each action list sent its message");

    if let Ok(checkout) = std::env::var("LAVA_ORIGINAL") {
        let mut command = original_dispatch(Path::new(&checkout));
        env(&mut command);
        let events = (0..requests).map(|n| sqs_event(&dispatch_request, n));
        report("original dispatch (py)", measure(command, &proxy, events).await, None);
        assert_eq!(depth(&r, &core).await, 3 * requests, "each request dispatched one run");
    }
}
