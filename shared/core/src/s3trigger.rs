//! What the s3trigger function does with an S3 notification: find the triggers for the object
//! (longest key prefix first, then `*`), test their `if_*` conditions, render their job ids,
//! globals and parameters, and dispatch each enabled job.

use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::Instrument;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::config::{Key, Seconds, keys};
use crate::dispatch::{DispatchRequest, send_run};
use crate::error::{Error, Result, Retry};
use crate::model::values::{parse_duration, parse_size};
use crate::model::{Enabled, S3TriggerEntry};
use crate::names::ResourceNames;
use crate::ports::{Incoming, Ports, TableStore, WorkQueue};
use crate::render::{self, Renderer};

/// The canonical description of one object event.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectEvent {
    /// Bucket.
    pub bucket: String,
    /// Object key, URL-decoded.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Requester address.
    pub source_ip: Option<String>,
    /// Event time (ISO text).
    pub event_time: String,
    /// `ObjectCreated:Put`, or for EventBridge `ObjectCreated:PutObject`.
    pub event_type: String,
    /// Region.
    pub aws_region: String,
    /// The record as received.
    pub raw: Value,
}

impl ObjectEvent {
    fn info(&self) -> Value {
        json!({"bucket": self.bucket, "key": self.key, "size": self.size, "source_ip": self.source_ip,
               "event_time": self.event_time, "event_type": self.event_type, "aws_region": self.aws_region})
    }
}

/// `+` → space and `%xx` decoding, as S3 encodes keys in notifications; a `%` not followed by
/// two hex digits stays as it is, and bytes that are not UTF-8 become U+FFFD.
pub fn url_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(&text.replace('+', " ")).decode_utf8_lossy().into_owned()
}

/// The object events in a notification: S3 records, EventBridge S3 events, and either wrapped in
/// SQS or SNS (recursively). An `s3:TestEvent` gives none.
pub fn object_events(event: &Value, region: &str) -> std::result::Result<Vec<ObjectEvent>, String> {
    if event.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Vec::new());
    }
    if let Some(records) = event.get("Records").and_then(Value::as_array) {
        let mut all = Vec::new();
        for record in records {
            let source =
                record.get("eventSource").or_else(|| record.get("EventSource")).and_then(Value::as_str).unwrap_or("");
            match source {
                "aws:sqs" => all.extend(object_events(&inner_json(record.get("body"))?, region)?),
                "aws:sns" => all.extend(object_events(&inner_json(record.pointer("/Sns/Message"))?, region)?),
                "aws:s3" => all.push(s3_record(record, region)?),
                other => return Err(format!("unknown record source {other:?}")),
            }
        }
        return Ok(all);
    }
    if event.get("detail-type").is_some() {
        let text = |p: &str| event.pointer(p).and_then(Value::as_str).map(str::to_string);
        return Ok(vec![ObjectEvent {
            bucket: text("/detail/bucket/name").ok_or("EventBridge event without detail.bucket.name")?,
            key: text("/detail/object/key").ok_or("EventBridge event without detail.object.key")?,
            size: event
                .pointer("/detail/object/size")
                .and_then(Value::as_u64)
                .ok_or("EventBridge event without detail.object.size")?,
            source_ip: text("/detail/source-ip-address"),
            event_time: text("/time").unwrap_or_default(),
            event_type: format!(
                "{}:{}",
                text("/detail-type").unwrap_or_default(),
                text("/detail/reason").unwrap_or_default()
            )
            .replace(' ', ""),
            aws_region: text("/region").unwrap_or_else(|| region.to_string()),
            raw: event.clone(),
        }]);
    }
    Err("not an S3 notification, an EventBridge S3 event, or SQS/SNS wrapping one".into())
}

fn inner_json(value: Option<&Value>) -> std::result::Result<Value, String> {
    let text = value.and_then(Value::as_str).ok_or("a wrapped notification must be JSON text")?;
    serde_json::from_str(text).map_err(|e| format!("a wrapped notification is not JSON: {e}"))
}

fn s3_record(record: &Value, region: &str) -> std::result::Result<ObjectEvent, String> {
    let text = |p: &str| record.pointer(p).and_then(Value::as_str).map(str::to_string);
    Ok(ObjectEvent {
        bucket: text("/s3/bucket/name").ok_or("S3 record without s3.bucket.name")?,
        key: url_decode(&text("/s3/object/key").ok_or("S3 record without s3.object.key")?),
        size: record.pointer("/s3/object/size").and_then(Value::as_u64).ok_or("S3 record without s3.object.size")?,
        source_ip: text("/requestParameters/sourceIPAddress").filter(|ip| ip.parse::<std::net::IpAddr>().is_ok()),
        event_time: text("/eventTime").unwrap_or_default(),
        event_type: text("/eventName").unwrap_or_default(),
        aws_region: text("/awsRegion").unwrap_or_else(|| region.to_string()),
        raw: record.clone(),
    })
}

pub use crate::model::values::fnmatch;

/// Whether the trigger's `if_*` conditions all hold (`if_not_*` negated).
pub fn conditions_hold(trigger: &S3TriggerEntry, object: &ObjectEvent) -> std::result::Result<bool, String> {
    for (key, value) in &trigger.fields {
        let (negate, condition) = match key.strip_prefix("if_not_") {
            Some(c) => (true, c),
            None => match key.strip_prefix("if_") {
                Some(c) => (false, c),
                None => continue,
            },
        };
        let globs = || -> std::result::Result<Vec<String>, String> {
            match value {
                Value::String(s) => Ok(vec![s.clone()]),
                Value::Array(items) => items
                    .iter()
                    .map(|v| v.as_str().map(str::to_string).ok_or(format!("{key}: expected glob strings")))
                    .collect(),
                _ => Err(format!("{key}: expected a glob or a list of globs")),
            }
        };
        let holds = match condition {
            "fnmatch" => globs()?.iter().any(|g| fnmatch(g, &object.key)),
            "event_type" => globs()?.iter().any(|g| fnmatch(g, &object.event_type)),
            "size_gt" => {
                let limit = match value {
                    Value::Number(n) => n.as_u64().ok_or(format!("{key}: bad size"))?,
                    Value::String(s) => parse_size(s)?,
                    _ => return Err(format!("{key}: bad size")),
                };
                object.size > limit
            }
            other => return Err(format!("Bad trigger spec: unknown condition if_{other}")),
        };
        if holds == negate {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The key prefixes looked up for `key`, longest first: `a/b/c.csv`, `a/b`, `a`, then `*`.
pub fn prefixes(key: &str) -> Vec<String> {
    let parts: Vec<&str> = key.split('/').collect();
    let mut all: Vec<String> = (1..=parts.len()).rev().map(|n| parts[..n].join("/")).collect();
    all.push("*".into());
    all
}

type Cached<T> = Mutex<HashMap<String, (Instant, T)>>;

/// The s3trigger function, built once per cold start; trigger and job lookups are cached for
/// `S3TRIGGER_CACHE_TTL` (60 s).
pub struct S3TriggerFunction {
    catalog: Catalog,
    tables: Arc<dyn TableStore>,
    queues: Arc<dyn WorkQueue>,
    names: ResourceNames,
    renderer: Renderer,
    region: String,
    cache_ttl: Duration,
    triggers: Cached<Vec<S3TriggerEntry>>,
    jobs: Cached<crate::model::JobSpec>,
    dedup: Mutex<HashMap<(String, String, String, u64), Instant>>,
    dedup_size: usize,
    dedup_ttl: Duration,
    limits: crate::model::Limits,
}

/// What one notification caused.
#[derive(Debug, Default, PartialEq)]
pub struct Triggered {
    /// (trigger id, job id, run id) of each dispatch.
    pub dispatched: Vec<(String, String, String)>,
    /// Problems that will not pass by trying again (logged).
    pub errors: Vec<String>,
}

impl S3TriggerFunction {
    /// Builds the function for the realm in `names`.
    pub fn new(names: ResourceNames, env: Vec<(String, String)>, ports: &Ports) -> Self {
        let region =
            env.iter().find(|(k, _)| k == "AWS_REGION").map(|(_, v)| v.clone()).unwrap_or_else(|| "us-east-1".into());
        let config = Config::new(env, None);
        let seconds = |key: Key<Seconds>| Duration::from_secs_f64(config.get(key).max(0.0));
        S3TriggerFunction {
            catalog: Catalog::new(ports.tables.clone(), names.clone()),
            tables: ports.tables.clone(),
            queues: ports.queues.clone(),
            names,
            renderer: Renderer::default(),
            region,
            cache_ttl: seconds(keys::S3TRIGGER_CACHE_TTL),
            triggers: Mutex::default(),
            jobs: Mutex::default(),
            dedup: Mutex::default(),
            dedup_size: config.get(keys::S3TRIGGER_DEDUP_CACHE_SIZE).max(0) as usize,
            dedup_ttl: seconds(keys::S3TRIGGER_DEDUP_TTL),
            limits: config.limits(),
        }
    }

    fn cached<T: Clone>(&self, cache: &Cached<T>, key: &str) -> Option<T> {
        let cache = cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.get(key).filter(|(at, _)| at.elapsed() < self.cache_ttl).map(|(_, v)| v.clone())
    }

    fn remember<T>(&self, cache: &Cached<T>, key: String, value: T) {
        let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= 200 {
            cache.clear();
        }
        cache.insert(key, (Instant::now(), value));
    }

    async fn triggers_at(&self, bucket: &str, prefix: &str) -> Result<Vec<S3TriggerEntry>> {
        let cache_key = format!("{bucket}\u{0}{prefix}");
        if let Some(found) = self.cached(&self.triggers, &cache_key) {
            return Ok(found);
        }
        let items = self
            .tables
            .query_index(&self.names.s3triggers_table, "s3trigger-index", &[("bucket", bucket), ("prefix", prefix)])
            .await?;
        let mut triggers = Vec::new();
        for item in items {
            let trigger = S3TriggerEntry::from_value(&Value::Object(item))
                .map_err(|e| Error::refused("s3trigger", format!("Bad trigger spec: {e}")))?;
            trigger.validate(self.limits.max_delay).map_err(|e| {
                Error::refused(format!("s3trigger {}", trigger.trigger_id), format!("Bad trigger spec: {e}"))
            })?;
            triggers.push(trigger);
        }
        self.remember(&self.triggers, cache_key, triggers.clone());
        Ok(triggers)
    }

    async fn job(&self, job_id: &str) -> Result<crate::model::JobSpec> {
        if let Some(job) = self.cached(&self.jobs, job_id) {
            return Ok(job);
        }
        let job = self.catalog.job(job_id).await?;
        self.remember(&self.jobs, job_id.to_string(), job.clone());
        Ok(job)
    }

    fn duplicate(&self, object: &ObjectEvent) -> bool {
        if self.dedup_size == 0 {
            return false;
        }
        let mut seen = self.dedup.lock().unwrap_or_else(|p| p.into_inner());
        seen.retain(|_, at| at.elapsed() < self.dedup_ttl);
        let key = (object.bucket.clone(), object.key.clone(), object.event_type.clone(), object.size);
        if seen.contains_key(&key) {
            return true;
        }
        if seen.len() >= self.dedup_size {
            seen.clear();
        }
        seen.insert(key, Instant::now());
        false
    }

    /// Handles one notification. Transient AWS failures are returned as errors (try again);
    /// everything else is in the outcome.
    pub async fn handle_event(&self, event: &Value) -> Result<Triggered> {
        let mut outcome = Triggered::default();
        let objects = match object_events(event, &self.region) {
            Ok(o) => o,
            Err(e) => {
                outcome.errors.push(e);
                return Ok(outcome);
            }
        };
        for object in objects {
            if self.duplicate(&object) {
                tracing::warn!(bucket = %object.bucket, key = %object.key, "Duplicate S3 event dropped.");
                continue;
            }
            if let Err(e) = self.handle_object(&object, &mut outcome).await {
                if e.retry() == Retry::Transient {
                    return Err(e);
                }
                outcome.errors.push(format!("s3://{}/{}: {e}", object.bucket, object.key));
            }
        }
        for e in &outcome.errors {
            tracing::error!("{e}");
        }
        Ok(outcome)
    }

    async fn handle_object(&self, object: &ObjectEvent, outcome: &mut Triggered) -> Result<()> {
        let mut triggers = Vec::new();
        for prefix in prefixes(&object.key) {
            triggers = self.triggers_at(&object.bucket, &prefix).await?;
            if !triggers.is_empty() {
                break;
            }
        }
        if triggers.is_empty() {
            return Err(Error::refused("s3trigger", "No trigger entry"));
        }
        let context = Map::from_iter([
            ("bucket".to_string(), json!(object.bucket)),
            ("key".to_string(), json!(object.key)),
            ("event".to_string(), object.raw.clone()),
            ("info".to_string(), object.info()),
        ]);
        let template = render::context_from_json(&context);
        for trigger in triggers {
            if !trigger.enabled {
                tracing::warn!(trigger_id = %trigger.trigger_id, "Trigger not enabled.");
                continue;
            }
            if !conditions_hold(&trigger, object)
                .map_err(|e| Error::refused(format!("s3trigger {}", trigger.trigger_id), e))?
            {
                continue;
            }
            let jinja = trigger.jinja.unwrap_or(true);
            let bad = |e: String| Error::refused(format!("s3trigger {}", trigger.trigger_id), e);
            let render_map = |m: &Option<Map<String, Value>>| -> Result<Map<String, Value>> {
                let m = m.clone().unwrap_or_default();
                if !jinja {
                    return Ok(m);
                }
                match self.renderer.render_value(&Value::Object(m), &template).map_err(bad)? {
                    Value::Object(r) => Ok(r),
                    _ => unreachable!("a rendered map is a map"),
                }
            };
            let globals = render_map(&trigger.globals)?;
            let parameters = render_map(&trigger.parameters)?;
            let delay_seconds = match &trigger.delay {
                None | Some(Value::Null) => 0,
                Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0) as u32,
                Some(Value::String(s)) => parse_duration(s).map_err(bad)? as u32,
                Some(_) => 0,
            };
            let job_ids: Vec<String> = match &trigger.job_id {
                Value::String(s) => vec![s.clone()],
                Value::Array(items) => items.iter().filter_map(Value::as_str).map(str::to_string).collect(),
                _ => Vec::new(),
            };
            for job_id in job_ids {
                let job_id = if jinja { self.renderer.render(&job_id, &template).map_err(bad)? } else { job_id };
                let job = match self.job(&job_id).await {
                    Ok(j) => j,
                    Err(e) if e.retry() == Retry::Transient => return Err(e),
                    Err(e) => {
                        outcome.errors.push(format!("trigger {}: {job_id}: {e}", trigger.trigger_id));
                        continue;
                    }
                };
                if matches!(job.enabled(), Enabled::Static(false)) {
                    tracing::info!(job_id = %job_id, "Job not enabled; not dispatched.");
                    continue;
                }
                let request = DispatchRequest {
                    job_id: job_id.clone(),
                    parameters: parameters.clone(),
                    globals: globals.clone(),
                    delay_seconds,
                    worker: None,
                    run_id: None,
                };
                let sent = send_run(&self.catalog, self.queues.as_ref(), &job.worker, &request, &self.limits).await?;
                tracing::info!(trigger_id = %trigger.trigger_id, job_id = %job_id, run_id = %sent.run_id, event_type = "dispatch", "{job_id}@{} dispatched ({}) for s3://{}/{}", sent.realm, sent.run_id, object.bucket, object.key);
                outcome.dispatched.push((trigger.trigger_id.clone(), job_id, sent.run_id));
            }
        }
        Ok(())
    }

    /// Handles an SQS batch of notifications; returns the ids to receive again.
    pub async fn handle_batch(&self, batch: Vec<Incoming>) -> Vec<String> {
        let mut retry = Vec::new();
        for message in batch {
            let span = tracing::info_span!("message", message_id = %message.message_id);
            let _in_span = span.enter();
            let event: Value = match serde_json::from_str(&message.body) {
                Ok(v) => v,
                Err(e) => {
                    tracing::error!("Not an S3 notification: {e}");
                    continue;
                }
            };
            drop(_in_span);
            if let Err(e) = self.handle_event(&event).instrument(span.clone()).await {
                let _in_span = span.enter();
                tracing::warn!(error = %e, "S3 notification will be received again.");
                retry.push(message.message_id);
            }
        }
        retry
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakePorts;

    #[test]
    fn globs_prefixes_and_decoding() {
        for (pattern, text, expected) in [
            ("*.zip", "in/a.zip", true),
            ("*.zip", "in/a.ZIP", false),
            ("*/tmp/*", "in/tmp/x", true),
            ("data-[0-9]?.csv", "data-42.csv", true),
            ("[!a]*", "abc", false),
        ] {
            assert_eq!(fnmatch(pattern, text), expected, "{pattern} {text}");
        }
        assert_eq!(prefixes("a/b/c.csv"), ["a/b/c.csv", "a/b", "a", "*"]);
        assert_eq!(url_decode("in/my+file%281%29.csv"), "in/my file(1).csv");
        // A % before something that is not two hex digits, a multi-byte character included.
        assert_eq!(url_decode("%aé%4"), "%aé%4");
        assert_eq!(url_decode("a%2Bb%E2%82%AC%ff"), "a+b€\u{fffd}");
    }

    fn s3_event(bucket: &str, key: &str, size: u64) -> Value {
        json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "ap-southeast-2", "eventTime": "2025-03-04T01:02:03.000Z",
            "eventName": "ObjectCreated:Put", "requestParameters": {"sourceIPAddress": "10.1.2.3"},
            "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": size}}}]})
    }

    async fn function(triggers: Vec<Value>) -> (S3TriggerFunction, FakePorts, String) {
        let names = ResourceNames::for_realm("dev");
        let fakes = FakePorts::for_realm(&names);
        let core = fakes.queues.create("lava-dev-core");
        for t in triggers {
            fakes.tables.put_item("lava.dev.s3triggers", t.as_object().unwrap().clone()).await.unwrap();
        }
        for (id, enabled) in [("ingest/a", json!(true)), ("ingest/off", json!(false))] {
            let job = json!({"job_id": id, "type": "cmd", "worker": "core", "enabled": enabled, "payload": "true"});
            fakes.tables.put_item("lava.dev.jobs", job.as_object().unwrap().clone()).await.unwrap();
        }
        (S3TriggerFunction::new(names, vec![], &fakes.ports()), fakes, core)
    }

    #[tokio::test]
    async fn the_longest_prefix_wins_conditions_filter_and_values_are_rendered() {
        let (f, fakes, core) = function(vec![
            json!({"trigger_id": "zip", "bucket": "landing", "prefix": "inbound/partner-a", "enabled": true, "if_fnmatch": ["*.zip", "*.ZIP"],
                   "if_not_fnmatch": "*/tmp/*", "if_size_gt": "1KiB", "job_id": "ingest/{{ 'a' }}", "delay": "30s",
                   "globals": {"bucket": "{{ bucket }}", "key": "{{ key }}"}, "parameters": {"env": {"SRC": "s3://{{ bucket }}/{{ key }}", "SIZE": "{{ info.size }}"}}}),
            json!({"trigger_id": "off", "bucket": "landing", "prefix": "inbound/partner-a", "enabled": false, "job_id": "ingest/a"}),
            json!({"trigger_id": "any", "bucket": "landing", "prefix": "*", "enabled": true, "job_id": ["ingest/a", "ingest/off"]}),
        ])
        .await;
        let out = f.handle_event(&s3_event("landing", "inbound/partner-a/2025+03.zip", 10_445)).await.unwrap();
        assert_eq!(out.dispatched.len(), 1, "{out:?}");
        let sent: Value = serde_json::from_str(&fakes.queues.bodies(&core)[0]).unwrap();
        assert_eq!(sent["globals"], json!({"bucket": "landing", "key": "inbound/partner-a/2025 03.zip"}));
        assert_eq!(sent["parameters"]["env"]["SIZE"], "10445");
        assert_eq!(fakes.queues.delays()[0].1, 30);
        // Too small: the zip trigger's level matches, so `*` is not consulted, and nothing fires.
        assert!(
            f.handle_event(&s3_event("landing", "inbound/partner-a/x.zip", 10)).await.unwrap().dispatched.is_empty()
        );
        // Elsewhere in the bucket: the `*` trigger; its disabled job is skipped.
        let out = f.handle_event(&s3_event("landing", "other/file.csv", 5)).await.unwrap();
        assert_eq!(out.dispatched.iter().map(|d| d.1.as_str()).collect::<Vec<_>>(), ["ingest/a"]);
        let out = f.handle_event(&s3_event("nobody", "x", 5)).await.unwrap();
        assert!(
            out.dispatched.is_empty()
                && out.errors[0].starts_with("s3://nobody/x: ")
                && out.errors[0].contains("No trigger entry"),
            "{out:?}"
        );
    }

    #[tokio::test]
    async fn wrapped_eventbridge_and_test_events() {
        let (f, _, _) = function(vec![json!({"trigger_id": "any", "bucket": "landing", "prefix": "*", "enabled": true, "job_id": "ingest/a", "if_event_type": "ObjectCreated:*"})]).await;
        let bridge = json!({"version": "0", "detail-type": "Object Created", "source": "aws.s3", "time": "2025-03-04T01:02:03Z", "region": "ap-southeast-2",
            "detail": {"bucket": {"name": "landing"}, "object": {"key": "in/a b.zip", "size": 10445}, "source-ip-address": "10.1.2.3", "reason": "PutObject"}});
        let out = f.handle_event(&bridge).await.unwrap();
        assert_eq!(out.dispatched.len(), 1);
        let sqs = json!({"Records": [{"eventSource": "aws:sqs", "body": s3_event("landing", "k", 1).to_string()}]});
        assert_eq!(f.handle_event(&sqs).await.unwrap().dispatched.len(), 1);
        assert_eq!(
            f.handle_event(&json!({"Event": "s3:TestEvent", "Bucket": "landing"})).await.unwrap(),
            Triggered::default()
        );
        let events = object_events(&bridge, "x").unwrap();
        assert_eq!((events[0].event_type.as_str(), events[0].key.as_str()), ("ObjectCreated:PutObject", "in/a b.zip"));
    }
}
