//! In-memory implementations of every port, for tests of the deployables (feature `test-util`).
//! They hold state, so tests assert outcomes ("the queue now has one message"), not calls.

use async_trait::async_trait;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::model::EventUpdate;
use crate::names::ResourceNames;
use crate::ports::*;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Tables in memory. Each table must be known (by its key attributes) before use.
#[derive(Default)]
pub struct FakeTables {
    keys: Mutex<HashMap<String, Vec<String>>>,
    items: Mutex<HashMap<String, Vec<Item>>>,
}

impl FakeTables {
    /// Tables for every table of `names`.
    pub fn for_realm(names: &ResourceNames) -> Self {
        let fake = FakeTables::default();
        for def in names.tables() {
            let mut keys = vec![def.hash_key.to_string()];
            keys.extend(def.range_key.map(str::to_string));
            lock(&fake.keys).insert(def.name, keys);
        }
        fake
    }

    fn key_of(&self, table: &str, item: &Item) -> Result<Vec<Value>> {
        let keys = lock(&self.keys);
        let attrs = keys.get(table).ok_or_else(|| Error::NotFound { what: "table", id: table.to_string() })?;
        Ok(attrs.iter().map(|a| item.get(a).cloned().unwrap_or(Value::Null)).collect())
    }

    /// Every item of a table (for assertions).
    pub fn items(&self, table: &str) -> Vec<Item> {
        lock(&self.items).get(table).cloned().unwrap_or_default()
    }
}

#[async_trait]
impl TableStore for FakeTables {
    async fn get_item(&self, table: &str, key: &Item, _consistent: bool) -> Result<Option<Item>> {
        let wanted = self.key_of(table, key)?;
        let items = lock(&self.items);
        for item in items.get(table).into_iter().flatten() {
            if self.key_of(table, item)? == wanted {
                return Ok(Some(item.clone()));
            }
        }
        Ok(None)
    }

    async fn put_item(&self, table: &str, item: Item) -> Result<()> {
        let wanted = self.key_of(table, &item)?;
        let mut items = lock(&self.items);
        let rows = items.entry(table.to_string()).or_default();
        rows.retain(|row| self.key_of(table, row).map(|k| k != wanted).unwrap_or(true));
        rows.push(item);
        Ok(())
    }

    async fn put_new_item(&self, table: &str, key_attribute: &str, item: Item) -> Result<bool> {
        let wanted = item.get(key_attribute).cloned();
        let mut items = lock(&self.items);
        let rows = items.entry(table.to_string()).or_default();
        if rows.iter().any(|row| row.get(key_attribute).cloned() == wanted) {
            return Ok(false);
        }
        rows.push(item);
        Ok(true)
    }

    async fn delete_item(&self, table: &str, key: &Item) -> Result<()> {
        let wanted = self.key_of(table, key)?;
        let mut items = lock(&self.items);
        if let Some(rows) = items.get_mut(table) {
            rows.retain(|row| self.key_of(table, row).map(|k| k != wanted).unwrap_or(true));
        }
        Ok(())
    }

    async fn scan_items(&self, table: &str) -> Result<Vec<Item>> {
        self.key_of(table, &Item::new())?;
        Ok(self.items(table))
    }

    async fn query_index(&self, table: &str, _index: &str, keys: &[(&str, &str)]) -> Result<Vec<Item>> {
        self.key_of(table, &Item::new())?;
        Ok(self
            .items(table)
            .into_iter()
            .filter(|item| keys.iter().all(|(k, v)| item.get(*k).and_then(Value::as_str) == Some(*v)))
            .collect())
    }
}

/// Event items in memory, keyed by (job_id, run_id), with the same merge rules as the real one.
#[derive(Default)]
pub struct FakeEventLog {
    runs: Mutex<BTreeMap<(String, String), Vec<EventUpdate>>>,
}

impl FakeEventLog {
    /// The updates applied to one run, in order.
    pub fn run(&self, job_id: &str, run_id: &str) -> Vec<EventUpdate> {
        lock(&self.runs).get(&(job_id.to_string(), run_id.to_string())).cloned().unwrap_or_default()
    }

    /// The entries appended to one run's log, in order, across its writes.
    pub fn entries(&self, job_id: &str, run_id: &str) -> Vec<crate::model::EventLogEntry> {
        self.run(job_id, run_id).into_iter().flat_map(|u| u.entries).collect()
    }

    /// Every update of every run of a job.
    pub fn runs_of(&self, job_id: &str) -> Vec<EventUpdate> {
        lock(&self.runs).iter().filter(|((j, _), _)| j == job_id).flat_map(|(_, updates)| updates.clone()).collect()
    }
}

#[async_trait]
impl EventLog for FakeEventLog {
    async fn append(&self, _table: &str, update: &EventUpdate) -> Result<()> {
        lock(&self.runs).entry((update.job_id.clone(), update.run_id.clone())).or_default().push(update.clone());
        Ok(())
    }
}

#[derive(Default)]
struct FakeQueue {
    visible: VecDeque<QueueMessage>,
    in_flight: Vec<QueueMessage>,
    sent: u64,
}

/// Queues in memory. A queue exists once it has been named with [`FakeQueues::create`].
/// Delays are not modelled: a sent message is visible at once, and its delay is recorded.
#[derive(Default)]
pub struct FakeQueues {
    queues: Mutex<BTreeMap<String, FakeQueue>>,
    delays: Mutex<Vec<(String, u32)>>,
}

impl FakeQueues {
    /// Creates a queue; its URL is `fake://<name>`.
    pub fn create(&self, name: &str) -> String {
        let url = format!("fake://{name}");
        lock(&self.queues).entry(url.clone()).or_default();
        url
    }

    /// Bodies of the messages waiting (visible) on a queue.
    pub fn bodies(&self, queue_url: &str) -> Vec<String> {
        lock(&self.queues)
            .get(queue_url)
            .map(|q| q.visible.iter().map(|m| m.body.clone()).collect())
            .unwrap_or_default()
    }

    /// (queue URL, delay) of every message sent, in order.
    pub fn delays(&self) -> Vec<(String, u32)> {
        lock(&self.delays).clone()
    }
}

#[async_trait]
impl WorkQueue for FakeQueues {
    async fn queue_url(&self, name: &str) -> Result<String> {
        let url = format!("fake://{name}");
        if lock(&self.queues).contains_key(&url) {
            Ok(url)
        } else {
            Err(Error::NotFound { what: "queue", id: name.to_string() })
        }
    }

    async fn send(&self, queue_url: &str, message: &OutgoingMessage) -> Result<String> {
        let mut queues = lock(&self.queues);
        let queue =
            queues.get_mut(queue_url).ok_or_else(|| Error::NotFound { what: "queue", id: queue_url.to_string() })?;
        queue.sent += 1;
        let id = format!("m{}", queue.sent);
        queue.visible.push_back(QueueMessage {
            message_id: id.clone(),
            receipt_handle: String::new(),
            body: message.body.clone(),
            receive_count: 0,
        });
        lock(&self.delays).push((queue_url.to_string(), message.delay_seconds));
        Ok(id)
    }

    async fn receive(&self, queue_url: &str, max: u32, _wait_seconds: u32) -> Result<Vec<QueueMessage>> {
        let mut queues = lock(&self.queues);
        let queue =
            queues.get_mut(queue_url).ok_or_else(|| Error::NotFound { what: "queue", id: queue_url.to_string() })?;
        let mut out = Vec::new();
        while out.len() < max.max(1) as usize {
            let Some(mut m) = queue.visible.pop_front() else { break };
            m.receive_count += 1;
            m.receipt_handle = format!("{}#{}", m.message_id, m.receive_count);
            queue.in_flight.push(m.clone());
            out.push(m);
        }
        Ok(out)
    }

    async fn delete(&self, queue_url: &str, receipt_handle: &str) -> Result<()> {
        if let Some(queue) = lock(&self.queues).get_mut(queue_url) {
            queue.in_flight.retain(|m| m.receipt_handle != receipt_handle);
        }
        Ok(())
    }

    async fn set_visibility(&self, queue_url: &str, receipt_handle: &str, seconds: u32) -> Result<()> {
        if seconds == 0
            && let Some(queue) = lock(&self.queues).get_mut(queue_url)
            && let Some(i) = queue.in_flight.iter().position(|m| m.receipt_handle == receipt_handle)
        {
            let m = queue.in_flight.remove(i);
            queue.visible.push_front(m);
        }
        Ok(())
    }
}

/// Objects in memory, keyed by (bucket, key); uploads remember their encryption.
#[derive(Default)]
pub struct FakeBlobs {
    objects: Mutex<BTreeMap<(String, String), (Vec<u8>, Option<Encryption>)>>,
}

impl FakeBlobs {
    /// Stores an object directly (a test fixture).
    pub fn insert(&self, bucket: &str, key: &str, body: &[u8]) {
        lock(&self.objects).insert((bucket.into(), key.into()), (body.to_vec(), None));
    }

    /// The encryption an object was uploaded with.
    pub fn encryption(&self, bucket: &str, key: &str) -> Option<Encryption> {
        lock(&self.objects).get(&(bucket.into(), key.into())).and_then(|(_, e)| e.clone())
    }
}

#[async_trait]
impl BlobStore for FakeBlobs {
    async fn put_object(&self, bucket: &str, key: &str, body: Vec<u8>, encryption: &Encryption) -> Result<()> {
        lock(&self.objects).insert((bucket.into(), key.into()), (body, Some(encryption.clone())));
        Ok(())
    }

    async fn get_object(&self, bucket: &str, key: &str) -> Result<Vec<u8>> {
        lock(&self.objects)
            .get(&(bucket.into(), key.into()))
            .map(|(b, _)| b.clone())
            .ok_or_else(|| Error::NotFound { what: "object", id: format!("s3://{bucket}/{key}") })
    }

    async fn list_objects(&self, bucket: &str, prefix: &str, delimiter: Option<&str>) -> Result<Listing> {
        let mut listing = Listing::default();
        for ((b, key), (body, _)) in lock(&self.objects).iter() {
            let Some(rest) = key.strip_prefix(prefix).filter(|_| b == bucket) else { continue };
            match delimiter.and_then(|d| rest.find(d).map(|i| (i, d))) {
                Some((i, d)) => {
                    let sub = format!("{prefix}{}{d}", &rest[..i]);
                    if !listing.prefixes.contains(&sub) {
                        listing.prefixes.push(sub);
                    }
                }
                None => listing.objects.push(ObjectInfo { key: key.clone(), size: body.len() as u64 }),
            }
        }
        Ok(listing)
    }
}

/// Everything published, sent or put, recorded in order.
#[derive(Default)]
pub struct FakeNotices {
    /// (topic, subject, message) of each publish.
    pub published: Mutex<Vec<(String, Option<String>, String)>>,
    /// Each email sent.
    pub emails: Mutex<Vec<Email>>,
    /// Each event put.
    pub events: Mutex<Vec<BusEvent>>,
    /// Verified SES domains.
    pub domains: Mutex<Vec<String>>,
    /// When set, every publish fails with an SNS error of this kind.
    pub publish_error: Mutex<Option<crate::error::Retry>>,
}

#[async_trait]
impl TopicPublisher for FakeNotices {
    async fn publish(&self, topic_arn: &str, subject: Option<&str>, message: &str) -> Result<String> {
        if let Some(retry) = *lock(&self.publish_error) {
            return Err(Error::Aws {
                service: "sns",
                operation: "Publish",
                code: Some("Throttling".into()),
                message: "Rate exceeded".into(),
                retry,
                source: None,
            });
        }
        let mut published = lock(&self.published);
        published.push((topic_arn.into(), subject.map(str::to_string), message.into()));
        Ok(format!("p{}", published.len()))
    }
}

#[async_trait]
impl Mailer for FakeNotices {
    async fn send_email(&self, email: &Email) -> Result<String> {
        let mut emails = lock(&self.emails);
        emails.push(email.clone());
        Ok(format!("e{}", emails.len()))
    }

    async fn verified_domains(&self, _region: Option<&str>) -> Result<Vec<String>> {
        Ok(lock(&self.domains).clone())
    }
}

/// KMS in memory: the "ciphertext" is the key id and the hex of the plaintext, so tests can
/// see that a value was not stored in the clear.
#[derive(Default)]
pub struct FakeKeys;

#[async_trait]
impl crate::ports::KeyService for FakeKeys {
    async fn encrypt(&self, key_id: &str, plaintext: &[u8]) -> Result<String> {
        Ok(format!("{key_id}|{}", plaintext.iter().map(|b| format!("{b:02x}")).collect::<String>()))
    }

    async fn decrypt(&self, ciphertext: &str) -> Result<Vec<u8>> {
        let hex = ciphertext.rsplit('|').next().unwrap_or_default();
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|e| Error::config("fake kms", e.to_string())))
            .collect()
    }
}

/// SSM parameters and Secrets Manager secrets in memory.
#[derive(Default)]
pub struct FakeSecrets {
    /// Parameter name → value.
    pub parameters: Mutex<HashMap<String, String>>,
    /// Secret id → secret string.
    pub secrets: Mutex<HashMap<String, String>>,
}

impl FakeSecrets {
    /// Stores an SSM parameter.
    pub fn put_parameter(&self, name: &str, value: &str) {
        self.parameters.lock().unwrap().insert(name.into(), value.into());
    }

    /// Stores a Secrets Manager secret.
    pub fn put_secret(&self, id: &str, value: &str) {
        self.secrets.lock().unwrap().insert(id.into(), value.into());
    }
}

#[async_trait]
impl SecretStore for FakeSecrets {
    async fn parameter(&self, name: &str) -> Result<String> {
        self.parameters
            .lock()
            .unwrap()
            .get(name)
            .cloned()
            .ok_or_else(|| Error::NotFound { what: "parameter", id: name.into() })
    }

    async fn secret(&self, secret_id: &str) -> Result<String> {
        self.secrets
            .lock()
            .unwrap()
            .get(secret_id)
            .cloned()
            .ok_or_else(|| Error::NotFound { what: "secret", id: secret_id.into() })
    }

    /// A login for the first account (or `000000000000`).
    async fn registry_login(&self, account_ids: &[String]) -> Result<RegistryLogin> {
        let account = account_ids.first().cloned().unwrap_or_else(|| "000000000000".into());
        Ok(RegistryLogin {
            server: format!("{account}.dkr.ecr.us-east-1.amazonaws.com"),
            username: "AWS".into(),
            password: "ecr-token".into(),
        })
    }

    /// Credentials named after the role and session.
    async fn assume_role(&self, request: &AssumeRole) -> Result<TemporaryCredentials> {
        Ok(TemporaryCredentials {
            access_key_id: format!("ASIA-{}", request.session_name),
            secret_access_key: format!("secret-for-{}", request.role_arn),
            session_token: "token".into(),
        })
    }
}

/// Webhook posts recorded in memory; every post gets `status`.
pub struct FakeWebhook {
    /// (url, body) of each post.
    pub posts: Mutex<Vec<(String, String)>>,
    /// The status code returned.
    pub status: Mutex<u16>,
}

impl Default for FakeWebhook {
    fn default() -> Self {
        FakeWebhook { posts: Mutex::new(Vec::new()), status: Mutex::new(200) }
    }
}

#[async_trait]
impl crate::ports::Webhook for FakeWebhook {
    async fn post_json(&self, url: &str, body: &str) -> Result<(u16, String)> {
        lock(&self.posts).push((url.into(), body.into()));
        Ok((*lock(&self.status), "ok".into()))
    }
}

#[async_trait]
impl EventBus for FakeNotices {
    async fn put_event(&self, event: &BusEvent) -> Result<()> {
        lock(&self.events).push(event.clone());
        Ok(())
    }
}

/// ECS tasks in memory: each task runs to the exit code set with [`FakeTasks::finish_with`].
#[derive(Default)]
pub struct FakeTasks {
    /// Every request, in order.
    pub requests: Mutex<Vec<TaskRequest>>,
    /// Each registered definition.
    pub definitions: Mutex<Vec<TaskDefinition>>,
    /// The log lines every task has.
    pub logs: Mutex<Vec<String>>,
    /// (task, reason) of each stop.
    pub stopped: Mutex<Vec<(String, String)>>,
    /// The exit code tasks stop with (`None`: they keep running).
    pub exit_code: Mutex<Option<i32>>,
}

impl FakeTasks {
    /// Makes every task stop with this exit code.
    pub fn finish_with(&self, code: i32) {
        *lock(&self.exit_code) = Some(code);
    }
}

#[async_trait]
impl ContainerTasks for FakeTasks {
    async fn run_task(&self, request: &TaskRequest) -> Result<String> {
        let mut requests = lock(&self.requests);
        requests.push(request.clone());
        Ok(format!("arn:fake:ecs:task/{}", requests.len()))
    }

    async fn task_status(&self, _cluster: &str, task_arn: &str) -> Result<TaskStatus> {
        if lock(&self.stopped).iter().any(|(arn, _)| arn == task_arn) {
            return Ok(TaskStatus {
                last_status: "STOPPED".into(),
                exit_code: None,
                stopped_reason: Some("stopped by lava".into()),
            });
        }
        Ok(match *lock(&self.exit_code) {
            Some(code) => TaskStatus { last_status: "STOPPED".into(), exit_code: Some(code), stopped_reason: None },
            None => TaskStatus { last_status: "RUNNING".into(), exit_code: None, stopped_reason: None },
        })
    }

    async fn register(&self, definition: &TaskDefinition) -> Result<String> {
        let mut definitions = lock(&self.definitions);
        definitions.push(definition.clone());
        Ok(format!("arn:fake:ecs:task-definition/{}:{}", definition.family, definitions.len()))
    }

    async fn task_logs(&self, _group: &str, _stream: &str) -> Result<Vec<String>> {
        Ok(lock(&self.logs).clone())
    }

    async fn stop_task(&self, _cluster: &str, task_arn: &str, reason: &str) -> Result<()> {
        lock(&self.stopped).push((task_arn.to_string(), reason.to_string()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::model::JobSpec;
    use std::sync::Arc;

    #[tokio::test]
    async fn catalog_over_fake_tables() {
        let names = ResourceNames::for_realm("dev");
        let catalog = Catalog::new(Arc::new(FakeTables::for_realm(&names)), names);
        let job = JobSpec::from_value(
            &serde_json::json!({"job_id": "a/b", "type": "log", "worker": "core", "payload": null}),
        )
        .unwrap();
        catalog.put_job(&job).await.unwrap();
        assert_eq!(catalog.job("a/b").await.unwrap(), job);
        assert!(matches!(catalog.job("missing").await, Err(Error::NotFound { what: "job", .. })));
        assert!(matches!(catalog.realm().await, Err(Error::NotFound { what: "realm", .. })));
        assert_eq!(catalog.jobs().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn fake_queue_redelivers_released_messages() {
        let queues = FakeQueues::default();
        let url = queues.create("q");
        queues.send(&url, &OutgoingMessage { body: "hello".into(), ..Default::default() }).await.unwrap();
        let first = queues.receive(&url, 1, 0).await.unwrap();
        assert!(queues.receive(&url, 1, 0).await.unwrap().is_empty(), "in flight, not visible");
        queues.set_visibility(&url, &first[0].receipt_handle, 0).await.unwrap();
        let again = queues.receive(&url, 1, 0).await.unwrap();
        assert_eq!((again[0].body.as_str(), again[0].receive_count), ("hello", 2));
    }
}

/// Every port in memory for one realm, with typed handles to look inside.
pub struct FakePorts {
    /// Tables.
    pub tables: std::sync::Arc<FakeTables>,
    /// Events.
    pub events: std::sync::Arc<FakeEventLog>,
    /// Queues.
    pub queues: std::sync::Arc<FakeQueues>,
    /// S3.
    pub blobs: std::sync::Arc<FakeBlobs>,
    /// SNS, SES and EventBridge.
    pub notices: std::sync::Arc<FakeNotices>,
    /// Slack.
    pub webhook: std::sync::Arc<FakeWebhook>,
    /// SSM and Secrets Manager.
    pub secrets: std::sync::Arc<FakeSecrets>,
    /// ECS.
    pub tasks: std::sync::Arc<FakeTasks>,
}

impl FakePorts {
    /// Empty tables for `names`' realm, no queues, no objects.
    pub fn for_realm(names: &ResourceNames) -> Self {
        FakePorts {
            tables: std::sync::Arc::new(FakeTables::for_realm(names)),
            events: std::sync::Arc::default(),
            queues: std::sync::Arc::default(),
            blobs: std::sync::Arc::default(),
            notices: std::sync::Arc::default(),
            webhook: std::sync::Arc::default(),
            secrets: std::sync::Arc::default(),
            tasks: std::sync::Arc::default(),
        }
    }

    /// The ports over these fakes.
    pub fn ports(&self) -> Ports {
        Ports {
            tables: self.tables.clone(),
            events: self.events.clone(),
            queues: self.queues.clone(),
            blobs: self.blobs.clone(),
            topics: self.notices.clone(),
            mailer: self.notices.clone(),
            bus: self.notices.clone(),
            keys: std::sync::Arc::new(FakeKeys),
            webhook: self.webhook.clone(),
            tasks: self.tasks.clone(),
            secrets: self.secrets.clone(),
        }
    }
}
