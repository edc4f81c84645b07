//! What a run costs on the AWS bill: the AWS requests, by service and operation, and the
//! DynamoDB write units that one trivial run (`true`) makes from its dispatch request to its
//! `complete` event, for this project and for the original (jinlava from `.venv-jinlava`) on
//! the same realm on moto. Every call goes through a proxy that keeps what each connection
//! sent; the requests are read back from those bytes (service from the signature's scope,
//! operation from `X-Amz-Target`, a query `Action` or the S3 method and path).
//!
//! Per side, three steps, each over RUNS runs:
//! - dispatch: ours, the dispatch function's handler (loaded first, as a warm Lambda is) given
//!   one request per invocation; the original's, its `lava.lavacore.dispatch` as its dispatch
//!   Lambda calls it for a JSON request;
//! - worker: a worker in batch mode draining the runs, less one that finds the queue empty (its
//!   start-up and the empty poll, which a long-running worker pays per poll, not per run);
//! - actions: ours, the actions function on whatever the worker sent it (the original's worker
//!   does its actions itself).
//!
//! Not counted, the same on both sides: the producer's `SendMessage` of the request, and what
//! Lambda's event source mapping does (its polls and deletes).
//!
//! Run: `cargo build --profile fast -p lava-worker -p lava-tests --bin bench-cost &&
//! target/fast/bench-cost [RUNS]` (default 20).

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use shared::ports::WorkQueue;
use std::collections::{BTreeMap, HashMap};
use std::process::Command;
use std::time::Duration;

/// One AWS request read off the wire.
#[derive(Debug)]
struct Request {
    service: String,
    operation: String,
    /// A DynamoDB write's items: table and key (or whole item), with a factor (2 in a transaction).
    writes: Vec<(String, Value, u32)>,
}

/// The requests in what one connection sent (several when it was kept alive).
fn requests_in(mut bytes: &[u8]) -> Vec<Request> {
    let mut requests = Vec::new();
    while let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        bytes = &bytes[end + 4..];
        let mut lines = head.lines();
        let request_line = lines.next().unwrap_or_default().to_string();
        let headers: HashMap<String, String> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let body = if headers.get("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
            let (body, rest) = dechunk(bytes);
            bytes = rest;
            body
        } else {
            let length = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0).min(bytes.len());
            let body = bytes[..length].to_vec();
            bytes = &bytes[length..];
            body
        };
        requests.push(request(&request_line, &headers, &body));
    }
    requests
}

/// A chunked body and what follows it.
fn dechunk(mut bytes: &[u8]) -> (Vec<u8>, &[u8]) {
    let mut body = Vec::new();
    while let Some(end) = bytes.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&bytes[..end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16).unwrap_or(0);
        bytes = &bytes[end + 2..];
        if size == 0 {
            let trailer = bytes.windows(2).position(|w| w == b"\r\n").map_or(bytes.len(), |t| t + 2);
            return (body, &bytes[trailer..]);
        }
        let size = size.min(bytes.len());
        body.extend_from_slice(&bytes[..size]);
        bytes = &bytes[(size + 2).min(bytes.len())..];
    }
    (body, bytes)
}

fn request(request_line: &str, headers: &HashMap<String, String>, body: &[u8]) -> Request {
    let service = headers
        .get("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(3))
        .unwrap_or("unsigned")
        .to_string();
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let operation = if let Some(target) = headers.get("x-amz-target") {
        target.rsplit('.').next().unwrap_or(target).to_string()
    } else if let Some(action) = String::from_utf8_lossy(body).split('&').find_map(|p| p.strip_prefix("Action=")) {
        action.to_string()
    } else {
        // S3's REST: the method, and whether it names an object or the bucket, with the query's
        // first word (`?uploads`, `?list-type`).
        let mut words = request_line.split_whitespace();
        let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let what = if path.trim_matches('/').contains('/') { "object" } else { "bucket" };
        let query = query.split(['=', '&']).next().filter(|q| !q.is_empty()).map(|q| format!(" ?{q}"));
        format!("{method} {what}{}", query.unwrap_or_default())
    };
    let writes = if service == "dynamodb" { dynamodb_writes(&operation, &json) } else { Vec::new() };
    Request { service, operation, writes }
}

/// The items a DynamoDB write request writes: table, key (or item) and its factor.
fn dynamodb_writes(operation: &str, body: &Value) -> Vec<(String, Value, u32)> {
    let one = |b: &Value, factor: u32| {
        let table = b["TableName"].as_str().unwrap_or_default().to_string();
        let key = if b["Key"].is_object() { b["Key"].clone() } else { b["Item"].clone() };
        (table, key, factor)
    };
    match operation {
        "PutItem" | "UpdateItem" | "DeleteItem" => vec![one(body, 1)],
        "TransactWriteItems" => body["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_object().and_then(|o| o.values().next()).map(|b| one(b, 2)))
            .collect(),
        "BatchWriteItem" => body["RequestItems"]
            .as_object()
            .into_iter()
            .flatten()
            .flat_map(|(table, list)| {
                list.as_array().into_iter().flatten().map(move |w| {
                    let key = w.pointer("/PutRequest/Item").or(w.pointer("/DeleteRequest/Key")).cloned();
                    (table.clone(), key.unwrap_or(Value::Null), 1)
                })
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// An item's size as DynamoDB counts it: names and values, in bytes.
fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter().map(|(name, value)| name.len() + value_size(value)).sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => {
            n.trim_start_matches('-').replace('.', "").trim_start_matches('0').len().div_ceil(2) + 1
        }
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(map) => 3 + map.iter().map(|(k, v)| 1 + k.len() + value_size(v)).sum::<usize>(),
        AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
        AttributeValue::Ns(set) => set.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
        AttributeValue::Bs(set) => set.iter().map(|b| b.as_ref().len()).sum(),
        _ => 0,
    }
}

/// A DynamoDB-JSON key (`{"job_id": {"S": "x"}}`) as the SDK's attribute values.
fn sdk_key(key: &Value) -> HashMap<String, AttributeValue> {
    key.as_object()
        .into_iter()
        .flatten()
        .filter_map(|(name, typed)| {
            let (kind, value) = typed.as_object()?.iter().next()?;
            let value = match (kind.as_str(), value) {
                ("S", Value::String(s)) => AttributeValue::S(s.clone()),
                ("N", Value::String(n)) => AttributeValue::N(n.clone()),
                _ => return None,
            };
            Some((name.clone(), value))
        })
        .collect()
}

/// The write units of the writes: each item's size as it stands after the runs (an item only
/// grows during a run, so this bounds each write from above), in 1 KB units, at least one.
async fn write_units(r: &lava_tests::TestRealm, requests: &[Request]) -> f64 {
    let mut sizes: HashMap<String, usize> = HashMap::new();
    let mut units = 0.0;
    for (table, key, factor) in requests.iter().flat_map(|r| r.writes.iter()) {
        let id = format!("{table}{key}");
        if !sizes.contains_key(&id) {
            let described = r.clients.dynamodb.describe_table().table_name(table).send().await.unwrap();
            let key_names: Vec<String> = described
                .table()
                .map(|t| t.key_schema().iter().map(|k| k.attribute_name().to_string()).collect())
                .unwrap_or_default();
            let full = sdk_key(key);
            let only_key = full.into_iter().filter(|(k, _)| key_names.contains(k)).collect();
            let got = r.clients.dynamodb.get_item().table_name(table).set_key(Some(only_key)).send().await.unwrap();
            sizes.insert(id.clone(), got.item().map_or(0, item_size));
        }
        units += (sizes[&id].div_ceil(1024).max(1) as u32 * factor) as f64;
    }
    units
}

/// What one side's step made, per run.
#[derive(Default)]
struct Step {
    by_operation: BTreeMap<(String, String), f64>,
    write_units: f64,
}

/// What the proxy recorded since the last take, as `runs` runs' worth.
async fn step(r: &lava_tests::TestRealm, proxy: &lava_tests::FreezableProxy, runs: usize) -> Step {
    per_run(r, taken(proxy).await, Vec::new(), runs).await
}

/// The recorded requests since the last take (a baseline to subtract).
async fn taken(proxy: &lava_tests::FreezableProxy) -> Vec<Request> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    proxy.take_connections().iter().flat_map(|c| requests_in(c)).collect()
}

/// Our worker (`target/<profile>/lava-worker` beside this binary) in batch mode, through the proxy.
fn our_worker(realm: &str, endpoint: &str) {
    let binary = std::env::current_exe().unwrap().with_file_name("lava-worker");
    let status = Command::new(&binary)
        .args(["--realm", realm, "--worker", "core", "--root", "--batch", "--threads", "2", "--wait", "1"])
        .args(["--sleep", "0", "--level", "warning", "--no-colour"])
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("LAVA_PAYLOAD_SETTLING_TIME", "0")
        .status()
        .unwrap_or_else(|e| panic!("{}: {e} (cargo build --profile fast -p lava-worker)", binary.display()));
    assert!(status.success(), "our worker failed: {status}");
}

/// The original's worker in batch mode, through the proxy.
fn original_worker(realm: &str, endpoint: &str) {
    lava_tests::original::run_worker(realm, "core", 2, &[("AWS_ENDPOINT_URL".into(), endpoint.into())]);
}

/// The original's dispatch, as its dispatch Lambda makes it for a JSON request, `runs` times.
fn original_dispatch(realm: &str, job_id: &str, runs: usize, endpoint: &str) {
    let script = format!(
        "from lava.lavacore import dispatch\nfor _ in range({runs}):\n    dispatch(realm={realm:?}, job_id={job_id:?}, params=None, globals_=None, delay=0)\n"
    );
    let out = lava_tests::original::command("python").args(["-c", &script]).env("AWS_ENDPOINT_URL", endpoint).output();
    let out = out.expect("the original's Python");
    assert!(out.status.success(), "the original's dispatch: {}", String::from_utf8_lossy(&out.stderr));
}

async fn ours(r: &lava_tests::TestRealm, proxy: &lava_tests::FreezableProxy, runs: usize) -> Vec<(&'static str, Step)> {
    let options = shared::aws::AwsOptions { endpoint_url: Some(proxy.url.clone()), ..lava_tests::aws_options() };
    let config = shared::aws::sdk_config(&options).await;
    let function = shared::dispatch::function::DispatchFunction::load(
        r.names.clone(),
        vec![],
        &shared::wiring::function_ports(&config),
    )
    .await
    .unwrap();
    let webhook = std::sync::Arc::new(shared::webhook::HttpWebhook::new());
    let actions_ports = shared::wiring::actions_ports(&config, webhook);
    let actions =
        shared::actions::function::ActionsFunction::load(r.names.clone(), vec![], &actions_ports).await.unwrap();
    let _ = taken(proxy).await;
    for n in 0..runs {
        let body = json!({"job_id": "cost/true"}).to_string();
        let message = shared::ports::Incoming { message_id: format!("m-{n}"), body, receive_count: 1 };
        assert!(function.handle(vec![message]).await.is_empty(), "the dispatch function took the request");
    }
    let dispatch = step(r, proxy, runs).await;
    our_worker(&r.names.realm, &proxy.url);
    let ran = taken(proxy).await;
    our_worker(&r.names.realm, &proxy.url);
    let idle = taken(proxy).await;
    let worker = per_run(r, ran, idle, runs).await;
    // The actions function on what the worker sent it, one message per invocation.
    let actions_queue = r.queue_url(&r.names.actions_queue).await;
    let mut sent = Vec::new();
    loop {
        let got = r.queues.receive(&actions_queue, 10, 0).await.unwrap();
        if got.is_empty() {
            break;
        }
        for m in got {
            r.queues.delete(&actions_queue, &m.receipt_handle).await.unwrap();
            sent.push(m);
        }
    }
    let _ = taken(proxy).await;
    for m in sent {
        let message = shared::ports::Incoming { message_id: m.message_id, body: m.body, receive_count: 1 };
        assert!(actions.handle(vec![message]).await.is_empty(), "the actions function took the message");
    }
    vec![("dispatch", dispatch), ("worker", worker), ("actions", step(r, proxy, runs).await)]
}

/// Requests per run: those made over the runs less a baseline (a worker's empty batch).
async fn per_run(r: &lava_tests::TestRealm, ran: Vec<Request>, idle: Vec<Request>, runs: usize) -> Step {
    let mut step = Step::default();
    for (requests, sign) in [(&ran, 1.0), (&idle, -1.0)] {
        for request in requests.iter() {
            *step.by_operation.entry((request.service.clone(), request.operation.clone())).or_default() += sign;
        }
        step.write_units += sign * write_units(r, requests).await;
    }
    for count in step.by_operation.values_mut() {
        *count /= runs as f64;
    }
    step.by_operation.retain(|_, c| c.abs() > 1e-9);
    step.write_units /= runs as f64;
    step
}

async fn original(
    r: &lava_tests::TestRealm,
    proxy: &lava_tests::FreezableProxy,
    runs: usize,
) -> Vec<(&'static str, Step)> {
    let _ = taken(proxy).await;
    original_dispatch(&r.names.realm, "cost/true", runs, &proxy.url);
    let dispatch = step(r, proxy, runs).await;
    original_worker(&r.names.realm, &proxy.url);
    let ran = taken(proxy).await;
    original_worker(&r.names.realm, &proxy.url);
    let idle = taken(proxy).await;
    vec![("dispatch", dispatch), ("worker", per_run(r, ran, idle, runs).await)]
}

/// Prints one side's steps and its totals by service; returns requests and write units per run.
fn report(side: &str, steps: &[(&str, Step)]) -> (f64, f64) {
    let mut by_service: BTreeMap<String, f64> = BTreeMap::new();
    let (mut requests, mut units) = (0.0, 0.0);
    for (name, step) in steps {
        let line: Vec<String> = step.by_operation.iter().map(|((s, o), c)| format!("{s}:{o} {c:.2}")).collect();
        println!("{side} {name:<9} {} (DynamoDB write units {:.2})", line.join(", "), step.write_units);
        for ((service, _), count) in &step.by_operation {
            *by_service.entry(service.clone()).or_default() += count;
            requests += count;
        }
        units += step.write_units;
    }
    // Requests per run are millions of requests per million runs.
    let services: Vec<String> = by_service.iter().map(|(s, c)| format!("{s} {c:.2}")).collect();
    println!(
        "{side} per run: {requests:.2} requests, {units:.2} DynamoDB write units; by service: {}",
        services.join(", ")
    );
    (requests, units)
}

#[tokio::main]
async fn main() {
    let runs: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(20);
    let r = lava_tests::TestRealm::up("cost").await;
    // The realm keys the original's template sets (its executable jobs fail without them).
    r.set_original_realm_keys().await;
    r.put_job(json!({"job_id": "cost/true", "type": "cmd", "worker": "core", "enabled": true, "owner": "o",
        "description": "d", "payload": "true"}))
        .await;
    let proxy = lava_tests::FreezableProxy::start(lava_tests::emulator().port).await;
    println!("AWS requests and DynamoDB write units per trivial run, {runs} runs a side, through a proxy to moto");
    let (our_requests, our_units) = report("ours", &ours(&r, &proxy, runs).await);
    let (their_requests, their_units) = report("original", &original(&r, &proxy, runs).await);
    println!(
        "ours / original: requests {:.2}, DynamoDB write units {:.2}",
        our_requests / their_requests,
        our_units / their_units
    );
}
