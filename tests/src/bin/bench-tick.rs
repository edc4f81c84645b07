//! Schedule tick benchmark: N jobs due in one minute (and N unscheduled jobs beside them) in a
//! realm on moto, reached through a proxy that adds a delay to every call as AWS round trips
//! would; one tick of the dispatch function dispatches them all.
//!
//! Run: `cargo build --profile fast -p lava-tests && LAVA_MOTO_FLAT_SQS=1 target/fast/bench-tick [N]
//! [LATENCY_MS]` (defaults 1000 and 10; the variable starts moto without the send cost that grows
//! with queue depth, `tests/bench/moto_flat_sqs.py`). Prints the time until the last worker
//! message is sent, the calls per due job, moto's own time for them and the items the tick read.

use async_trait::async_trait;
use futures_util::StreamExt;
use serde_json::json;
use shared::dispatch::function::DispatchFunction;
use shared::ports::{Item, RangeQuery, TableStore};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// The realm's tables, counting the items every read returns.
struct CountingTables {
    inner: Arc<dyn TableStore>,
    items: AtomicUsize,
}

#[async_trait]
impl TableStore for CountingTables {
    async fn get_item(&self, table: &str, key: &Item, consistent: bool) -> shared::Result<Option<Item>> {
        let found = self.inner.get_item(table, key, consistent).await?;
        self.items.fetch_add(usize::from(found.is_some()), Ordering::Relaxed);
        Ok(found)
    }
    async fn put_item(&self, table: &str, item: Item) -> shared::Result<()> {
        self.inner.put_item(table, item).await
    }
    async fn put_new_item(&self, table: &str, key_attribute: &str, item: Item) -> shared::Result<bool> {
        self.inner.put_new_item(table, key_attribute, item).await
    }
    async fn set_attribute(&self, table: &str, key: &Item, name: &str, value: serde_json::Value) -> shared::Result<()> {
        self.inner.set_attribute(table, key, name, value).await
    }
    async fn delete_item(&self, table: &str, key: &Item) -> shared::Result<()> {
        self.inner.delete_item(table, key).await
    }
    async fn scan_items(&self, table: &str) -> shared::Result<Vec<Item>> {
        let items = self.inner.scan_items(table).await?;
        self.items.fetch_add(items.len(), Ordering::Relaxed);
        Ok(items)
    }
    async fn query_range(&self, table: &str, query: &RangeQuery) -> shared::Result<Vec<Item>> {
        let items = self.inner.query_range(table, query).await?;
        self.items.fetch_add(items.len(), Ordering::Relaxed);
        Ok(items)
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let latency: u64 = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(10);
    let r = lava_tests::TestRealm::up("tick").await;
    let started = Instant::now();
    r.put_job(json!({"job_id": "bench/sched", "type": "lavasched", "worker": "core", "enabled": true, "payload": null,
        "parameters": {"dispatcher": "main"}}))
        .await;
    let puts = (0..2 * n).map(|i| {
        let r = &r;
        async move {
            let mut job = json!({"job_id": format!("bench/j{i:05}"), "type": "cmd", "worker": "core", "enabled": true,
                "payload": "true"});
            if i < n {
                job["schedule"] = json!("* * * * *");
                job["dispatcher"] = json!("main");
            }
            r.put_job(job).await
        }
    });
    futures_util::stream::iter(puts).buffer_unordered(32).collect::<Vec<()>>().await;
    eprintln!("{} jobs written in {:.1} s", 2 * n, started.elapsed().as_secs_f64());

    let proxy = lava_tests::FreezableProxy::start(lava_tests::emulator().port).await;
    let options = shared::aws::AwsOptions { endpoint_url: Some(proxy.url.clone()), ..lava_tests::aws_options() };
    let mut ports = shared::wiring::function_ports(&shared::aws::sdk_config(&options).await);
    let counting = Arc::new(CountingTables { inner: ports.tables.clone(), items: AtomicUsize::new(0) });
    ports.tables = counting.clone();
    let function = DispatchFunction::load(r.names.clone(), vec![], &ports).await.unwrap();
    proxy.latency_ms.store(latency, Ordering::Relaxed);

    let (calls_before, items_before, busy_before) = (
        proxy.connections.load(Ordering::Relaxed),
        counting.items.load(Ordering::Relaxed),
        proxy.server_micros.load(Ordering::Relaxed),
    );
    let t = Instant::now();
    let sent = function.tick(jiff::Timestamp::now()).await.expect("the tick");
    let took = t.elapsed().as_secs_f64();
    let calls = proxy.connections.load(Ordering::Relaxed) - calls_before;
    let items = counting.items.load(Ordering::Relaxed) - items_before;
    // Let the proxy see the last call's connection close before reading its counter.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    // Each connection's time includes the latency the proxy added to it.
    let busy =
        (proxy.server_micros.load(Ordering::Relaxed) - busy_before) as f64 / 1e6 - calls as f64 * latency as f64 / 1e3;
    proxy.latency_ms.store(0, Ordering::Relaxed);
    assert_eq!(sent.len(), n, "every due job dispatched");

    let url = r.queue_url(&r.names.worker_queue("core")).await;
    let depth = r
        .clients
        .sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names("ApproximateNumberOfMessages".into())
        .send()
        .await
        .unwrap();
    let queued: usize = depth.attributes().and_then(|a| a.values().next()).and_then(|v| v.parse().ok()).unwrap_or(0);
    println!(
        "schedule tick benchmark: {n} jobs due in one minute, {n} unscheduled beside them, +{latency} ms per call"
    );
    println!("tick until the last worker message is sent: {took:.2} s");
    println!("calls: {calls} ({:.2} per due job)", calls as f64 / n as f64);
    println!("the emulator's own time for those calls, summed over concurrent calls: {busy:.2} s");
    println!("job and state items read by the tick: {items} ({:.2} per due job)", items as f64 / n as f64);
    println!("worker messages on the queue: {queued}");
}
