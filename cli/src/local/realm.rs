//! The running local realm: what `lava local up` leaves in the background. One supervisor
//! process (`lava local serve`) runs the realm's three function binaries under Lambda Runtime
//! APIs ([`super::lambda`]) and feeds each from its queue as Lambda's SQS event source mapping
//! does, puts the schedule rule's tick on the dispatch queue every minute (on moto, which fires
//! no schedule rule; on LocalStack the realm's rule does), and runs a worker process per worker
//! name. The emulator delivers the realm bucket's object notifications to the S3 events queue
//! itself. Every part writes its own log in the local folder.
//!
//! The supervisor leads a process group that holds every part but moto, so `lava local down`
//! stops them all with one signal, whatever state the supervisor is in.

use super::lambda::{Answer, FunctionProcess, Keeping, KeptProcess, keep_running, stopped};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared::names::ResourceNames;
use shared::ports::{OutgoingMessage, QueueMessage, WorkQueue};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::watch;

/// The account moto reports, which the ARNs in events carry.
const ACCOUNT: &str = "123456789012";

/// One running part of the local realm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// `moto`, `supervisor`, `dispatch`, `actions`, `s3trigger` or `worker-<name>`.
    pub name: String,
    /// Its process id (0 while a function's process is being replaced).
    pub pid: u32,
    /// Its log file.
    pub log: PathBuf,
}

/// What the supervisor writes once every part has started (`parts.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parts {
    /// The supervisor's process id, which is also the parts' process group id.
    pub supervisor: u32,
    /// The parts it runs.
    pub parts: Vec<Part>,
}

impl Parts {
    /// The file in the local folder `dir`.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("parts.json")
    }

    /// Reads the parts of the realm running from `dir`, if the supervisor has written them.
    pub fn read(dir: &Path) -> Option<Self> {
        serde_json::from_str(&std::fs::read_to_string(Self::path(dir)).ok()?).ok()
    }

    fn write(&self, dir: &Path) -> Result<()> {
        let temporary = dir.join("parts.json.new");
        std::fs::write(&temporary, serde_json::to_string_pretty(self)?)?;
        std::fs::rename(temporary, Self::path(dir))?;
        Ok(())
    }
}

/// What the supervisor runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Realm name.
    pub realm: String,
    /// The emulator's endpoint URL.
    pub endpoint_url: String,
    /// DynamoDB's, when it is not the others' (the tables on moto beside LocalStack).
    pub tables_endpoint_url: Option<String>,
    /// Whether the supervisor puts the schedule tick on the dispatch queue (no rule fires it).
    pub tick: bool,
    /// AWS region.
    pub region: String,
    /// The local folder: logs and `parts.json`.
    pub dir: PathBuf,
    /// Where the `dispatch`, `actions`, `s3trigger` and `lava-worker` binaries are.
    pub bin_dir: PathBuf,
    /// The worker names to run a worker for.
    pub workers: Vec<String>,
}

/// The three functions: name, binary, the queue that feeds it, its time limit (as the template's).
fn functions(names: &ResourceNames) -> [(&'static str, String, Duration); 3] {
    [
        ("dispatch", names.dispatch_queue.clone(), Duration::from_secs(60)),
        ("actions", names.actions_queue.clone(), Duration::from_secs(120)),
        ("s3trigger", names.s3events_queue(), Duration::from_secs(60)),
    ]
}

/// The environment every part gets: the realm and the emulator, with the SDK's own variables.
fn aws_environment(options: &ServeOptions) -> Vec<(String, String)> {
    [
        ("LAVA_REALM", options.realm.as_str()),
        ("AWS_ENDPOINT_URL", options.endpoint_url.as_str()),
        ("AWS_REGION", options.region.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        // Not on EC2: no instance metadata to look for.
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("RUST_LOG", "info"),
        ("NO_COLOR", "1"),
    ]
    .into_iter()
    .chain(options.tables_endpoint_url.as_deref().map(|url| ("AWS_ENDPOINT_URL_DYNAMODB", url)))
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The binaries the supervisor runs, each checked to exist.
pub fn binaries(bin_dir: &Path) -> Result<[PathBuf; 4]> {
    let paths = ["dispatch", "actions", "s3trigger", "lava-worker"].map(|b| bin_dir.join(b));
    if let Some(missing) = paths.iter().find(|p| !p.is_file()) {
        bail!(
            "{} is missing: the local realm runs the functions' and the worker's own binaries from {}; \
             build them first with `cargo build` (or pass --bin-dir)",
            missing.display(),
            bin_dir.display()
        );
    }
    Ok(paths)
}

/// Runs the local realm until SIGTERM or SIGINT: the supervisor's body.
pub async fn serve(options: ServeOptions, queues: Arc<dyn WorkQueue>) -> Result<()> {
    let names = ResourceNames::for_realm(&options.realm);
    let [_, _, _, worker_binary] = binaries(&options.bin_dir)?;
    let (stop_tx, stop) = watch::channel(false);
    let mut parts =
        vec![Part { name: "supervisor".into(), pid: std::process::id(), log: options.dir.join("local.log") }];
    let env = aws_environment(&options);

    let mut feeds = Vec::new();
    let mut hosts = Vec::new();
    for (name, queue, timeout) in functions(&names) {
        let log = options.dir.join(format!("{name}.log"));
        let function_name = format!("lava-{}-{name}", options.realm);
        let host = FunctionProcess::start(
            &function_name,
            options.bin_dir.join(name),
            env.clone(),
            log.clone(),
            timeout,
            stop.clone(),
        )
        .await?;
        let url = queues.queue_url(&queue).await.with_context(|| format!("the {name} function's queue {queue}"))?;
        let arn = format!("arn:aws:sqs:{}:{ACCOUNT}:{queue}", options.region);
        let feed = EventSource { queues: queues.clone(), url, arn, region: options.region.clone(), batch_size: 10 };
        feeds.push(tokio::spawn(feed.run(host.api.clone(), name, stop.clone())));
        hosts.push((name, log, host));
    }
    let mut keepers = Vec::new();
    for (name, log, host) in hosts {
        if tokio::time::timeout(Duration::from_secs(30), host.api.asked(1)).await.is_err() {
            bail!("the {name} function did not start within 30 s; see {}", log.display());
        }
        parts.push(Part { name: name.to_string(), pid: host.pid.load(Ordering::Relaxed), log });
        keepers.push(host.keeper);
    }

    let mut ticker = None;
    if options.tick {
        let dispatch_url = queues.queue_url(&names.dispatch_queue).await?;
        ticker = Some(tokio::spawn(tick_every_minute(queues.clone(), dispatch_url, options.clone(), stop.clone())));
    }

    for worker in &options.workers {
        let log = options.dir.join(format!("worker-{worker}.log"));
        let mut command = tokio::process::Command::new(&worker_binary);
        // Its runs get 10 s after a stop; then it stops them and releases their messages, well
        // inside the 30 s its keeper waits before killing it (which would orphan the jobs).
        command.args(["--realm", &options.realm, "--worker", worker, "--no-colour", "--grace", "10"]);
        if is_root() {
            command.arg("--root"); // the worker refuses root unless told; a container runs as root too
        }
        command.envs(env.clone()).stdin(std::process::Stdio::null());
        let name = format!("worker-{worker}");
        let process = KeptProcess::spawn(&name, command, log.clone())?;
        parts.push(Part { name, pid: process.pid(), log });
        // As its ECS service does: started again after it ends; 30 s to finish its runs on stop.
        let keeping = Keeping { restart_after: Duration::from_secs(5), grace: Duration::from_secs(30) };
        let pid = Arc::new(std::sync::atomic::AtomicU32::new(0));
        keepers.push(keep_running(process, keeping, pid, || {}, stop.clone()));
    }
    Parts { supervisor: std::process::id(), parts }.write(&options.dir)?;
    tracing::info!(realm = %options.realm, "The local realm is running.");

    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("Stopping the local realm.");
    let _ = stop_tx.send(true);
    for task in keepers.into_iter().chain(feeds).chain(ticker) {
        let _ = task.await;
    }
    let _ = std::fs::remove_file(Parts::path(&options.dir));
    Ok(())
}

/// Whether this process runs as root.
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A queue feeding a function as Lambda's SQS event source mapping does.
struct EventSource {
    queues: Arc<dyn WorkQueue>,
    url: String,
    arn: String,
    region: String,
    batch_size: u32,
}

impl EventSource {
    /// Polls until `stop`: each batch is one invocation; the messages the answer does not name
    /// as failures are deleted; none are when the invocation fails. The others come back after
    /// the queue's visibility timeout, and the queue's redrive policy moves them to the
    /// dead-letter queue after its receive count.
    async fn run(self, api: super::lambda::RuntimeApi, function: &'static str, mut stop: watch::Receiver<bool>) {
        let mut n = 0u64;
        while !*stop.borrow() {
            let received = tokio::select! {
                received = self.queues.receive(&self.url, self.batch_size, 5) => received,
                _ = stopped(&mut stop) => return,
            };
            let messages = match received {
                Ok(messages) if messages.is_empty() => continue,
                Ok(messages) => messages,
                Err(e) => {
                    tracing::warn!(function, error = %e, "Cannot receive from the function's queue.");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    continue;
                }
            };
            n += 1;
            let request_id = format!("{function}-{}-{n}", std::process::id());
            let answer = api.invoke(&request_id, sqs_event(&messages, &self.arn, &self.region)).await;
            if let Err(e) = &answer {
                tracing::warn!(function, request_id, error = %e, "The invocation failed; its messages will be received again.");
            }
            let done = settled(&messages, &answer);
            tracing::info!(function, request_id, messages = messages.len(), done = done.len(), "Invoked.");
            for message in done {
                if let Err(e) = self.queues.delete(&self.url, &message.receipt_handle).await {
                    tracing::warn!(function, error = %e, "Cannot delete a handled message.");
                }
            }
        }
    }
}

/// The SQS event Lambda builds for a batch of messages.
pub fn sqs_event(messages: &[QueueMessage], queue_arn: &str, region: &str) -> Value {
    let now = jiff::Timestamp::now().as_millisecond().to_string();
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            json!({
                "messageId": m.message_id,
                "receiptHandle": m.receipt_handle,
                "body": m.body,
                "attributes": {
                    "ApproximateReceiveCount": m.receive_count.to_string(),
                    "SentTimestamp": now,
                    "SenderId": ACCOUNT,
                    "ApproximateFirstReceiveTimestamp": now,
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            })
        })
        .collect();
    json!({ "Records": records })
}

/// The messages of a batch that are done, by the function's answer: all of them when it names
/// no failures, none when it failed, and all but the named ones otherwise. An answer naming a
/// message that is not in the batch (or naming one with an empty id) fails the whole batch, as
/// Lambda treats it.
pub fn settled<'a>(messages: &'a [QueueMessage], answer: &Answer) -> Vec<&'a QueueMessage> {
    let Ok(response) = answer else { return Vec::new() };
    let failures = response.get("batchItemFailures").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut failed = Vec::new();
    for failure in &failures {
        match failure.get("itemIdentifier").and_then(Value::as_str) {
            Some(id) if messages.iter().any(|m| m.message_id == id) => failed.push(id),
            _ => return Vec::new(),
        }
    }
    messages.iter().filter(|m| !failed.contains(&m.message_id.as_str())).collect()
}

/// The event the realm's schedule rule delivers for the tick of `minute`.
pub fn schedule_event(minute: jiff::Timestamp, realm: &str, region: &str) -> Value {
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": minute.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "region": region,
        "resources": [format!("arn:aws:events:{region}:{ACCOUNT}:rule/lava-{realm}---schedule")],
        "detail": {},
    })
}

/// The start of the minute after `now`.
fn next_minute(now: jiff::Timestamp) -> jiff::Timestamp {
    let second = now.as_second();
    jiff::Timestamp::from_second(second - second.rem_euclid(60) + 60).expect("a time in range")
}

/// Puts the schedule rule's event on the dispatch queue at the start of every minute.
async fn tick_every_minute(
    queues: Arc<dyn WorkQueue>,
    url: String,
    options: ServeOptions,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let minute = next_minute(jiff::Timestamp::now());
        let wait = minute.duration_since(jiff::Timestamp::now()).unsigned_abs();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stopped(&mut stop) => return,
        }
        let body = schedule_event(minute, &options.realm, &options.region).to_string();
        match queues.send(&url, &OutgoingMessage { body, ..Default::default() }).await {
            Ok(_) => tracing::info!(%minute, "Schedule tick sent."),
            Err(e) => tracing::warn!(%minute, error = %e, "Cannot send the schedule tick."),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str) -> QueueMessage {
        QueueMessage { message_id: id.into(), receipt_handle: format!("rh-{id}"), body: "{}".into(), receive_count: 2 }
    }

    fn ids(done: Vec<&QueueMessage>) -> Vec<&str> {
        done.into_iter().map(|m| m.message_id.as_str()).collect()
    }

    #[test]
    fn a_batch_is_settled_as_lambda_settles_it() {
        let batch = [message("a"), message("b"), message("c")];
        assert_eq!(ids(settled(&batch, &Ok(json!({"batchItemFailures": []})))), ["a", "b", "c"]);
        assert_eq!(ids(settled(&batch, &Ok(Value::Null))), ["a", "b", "c"]);
        assert_eq!(ids(settled(&batch, &Ok(json!({"batchItemFailures": [{"itemIdentifier": "b"}]})))), ["a", "c"]);
        assert!(settled(&batch, &Err("boom".into())).is_empty());
        assert!(settled(&batch, &Ok(json!({"batchItemFailures": [{"itemIdentifier": "zz"}]}))).is_empty());
        assert!(settled(&batch, &Ok(json!({"batchItemFailures": [{"itemIdentifier": ""}]}))).is_empty());
    }

    #[test]
    fn the_sqs_event_is_one_the_functions_read_as_a_batch() {
        let event = sqs_event(&[message("a")], "arn:aws:sqs:us-east-1:123456789012:q", "us-east-1");
        assert!(shared::lambda::is_sqs_batch(&event));
        let batch: aws_lambda_events::event::sqs::SqsEvent = serde_json::from_value(event).unwrap();
        let incoming = shared::lambda::incoming(batch);
        assert_eq!((incoming[0].message_id.as_str(), incoming[0].receive_count), ("a", 2));
    }

    /// A queue as the event source mapping's rules meet SQS's own: the function (here a loop
    /// on the Runtime API) names one message of each batch as failed; the other is deleted, the
    /// failed one comes back after the visibility timeout and, after the queue's receive count,
    /// moves to the dead-letter queue.
    #[tokio::test]
    async fn a_failed_message_comes_back_and_is_redriven_while_the_rest_of_its_batch_is_deleted() {
        use shared::aws::{SqsQueues, provision};
        let clients = ::lava_tests::clients().await;
        let name = ::lava_tests::unique("lava-esm-");
        let url = provision::create_queue_with_dlq(&clients, &name, 1, 2).await.unwrap();
        let queues: Arc<dyn WorkQueue> = Arc::new(SqsQueues::new(clients.sqs.clone()));
        let dead = queues.queue_url(&ResourceNames::dead_letter_queue(&name)).await.unwrap();
        for body in ["good", "bad"] {
            queues.send(&url, &OutgoingMessage { body: body.into(), ..Default::default() }).await.unwrap();
        }

        let api = super::super::lambda::RuntimeApi::start("esm", Duration::from_secs(10)).await.unwrap();
        let address = api.address.clone();
        let invocations = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = invocations.clone();
        tokio::spawn(async move {
            use super::super::lambda::tests::call;
            loop {
                let (head, body) = call(&address, "GET", "/invocation/next", "").await;
                counted.fetch_add(1, Ordering::Relaxed);
                let id = head.lines().find_map(|l| l.strip_prefix("lambda-runtime-aws-request-id: ")).unwrap().trim();
                let event: Value = serde_json::from_str(&body).unwrap();
                let failures: Vec<Value> = event["Records"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|r| r["body"] == "bad")
                    .map(|r| json!({"itemIdentifier": r["messageId"]}))
                    .collect();
                let answer = json!({"batchItemFailures": failures}).to_string();
                call(&address, "POST", &format!("/invocation/{id}/response"), &answer).await;
            }
        });
        let (stop_tx, stop) = watch::channel(false);
        let arn = format!("arn:aws:sqs:us-east-1:{ACCOUNT}:{name}");
        let source =
            EventSource { queues: queues.clone(), url: url.clone(), arn, region: "us-east-1".into(), batch_size: 10 };
        let feeding = tokio::spawn(source.run(api, "esm", stop));

        let started = std::time::Instant::now();
        let redriven = loop {
            let messages = queues.receive(&dead, 10, 1).await.unwrap();
            if !messages.is_empty() {
                break messages;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "nothing reached the dead-letter queue");
        };
        stop_tx.send_replace(true);
        feeding.await.unwrap();
        assert_eq!(redriven.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(), ["bad"]);
        assert!(invocations.load(Ordering::Relaxed) >= 2, "the failed message was received again");
        let left = queues.receive(&url, 10, 2).await.unwrap();
        assert!(left.is_empty(), "the batch's good message was deleted: {left:?}");
    }

    #[test]
    fn ticks_fall_on_minutes_and_read_as_schedule_events() {
        let now: jiff::Timestamp = "2026-11-30T08:41:59.5Z".parse().unwrap();
        let minute = next_minute(now);
        assert_eq!(minute.to_string(), "2026-11-30T08:42:00Z");
        assert_eq!(next_minute(minute).to_string(), "2026-11-30T08:43:00Z");
        let event = schedule_event(minute, "local", "us-east-1");
        use shared::dispatch::requests::{Work, parse_body};
        let parsed = parse_body(&event.to_string()).unwrap();
        assert!(matches!(parsed.as_slice(), [Ok(Work::Tick(at))] if *at == minute));
    }
}
