//! Runs a family of scenarios through the original's `lava-worker` and through ours on one realm,
//! then compares, per scenario, what each side wrote: the events item (final status, every
//! event's status and info, results and `error_data`) and what the scenario captures (messages
//! its actions sent, S3 outputs).

use crate::compare::{Difference, Normaliser, differences};
use lava_tests::TestRealm;
use serde_json::{Value, json};
use shared::ports::{OutgoingMessage, WorkQueue};

/// A deliberate difference: where it is (a path prefix in a scenario's comparison) and why.
pub struct Listed {
    pub path: &'static str,
    pub reason: &'static str,
    /// The original differs here only sometimes (a race of its own), so matching is no sign
    /// that the listing is out of date.
    pub sometimes: bool,
}

/// One job run the same way on both sides.
pub struct Scenario {
    /// Its job id is `d/<name>`.
    pub name: &'static str,
    /// The job spec's fields besides `job_id` and `worker` (`enabled`, `owner` and
    /// `description` default).
    pub job: Value,
    /// Fields added to the worker message (`parameters`, `globals`).
    pub message: Value,
    /// The deliberate differences this scenario shows, each with its reason.
    pub listed: Vec<Listed>,
    /// How many messages the original's run sent to the family's captures (so a scenario that
    /// captured nothing on either side cannot pass unnoticed).
    pub captures: usize,
}

impl Scenario {
    /// A scenario with no message fields and no listed difference.
    pub fn new(name: &'static str, job: Value) -> Self {
        Scenario { name, job, message: json!({}), listed: Vec::new(), captures: 0 }
    }

    /// With message fields.
    pub fn message(mut self, message: Value) -> Self {
        self.message = message;
        self
    }

    /// Expecting the original's run to send `n` captured messages.
    pub fn captures(mut self, n: usize) -> Self {
        self.captures = n;
        self
    }

    /// With a deliberate difference at `path`.
    pub fn differs(mut self, path: &'static str, reason: &'static str) -> Self {
        self.listed.push(Listed { path, reason, sometimes: false });
        self
    }

    /// With a difference at `path` that the original shows only sometimes.
    pub fn may_differ(mut self, path: &'static str, reason: &'static str) -> Self {
        self.listed.push(Listed { path, reason, sometimes: true });
        self
    }

    /// A job with on_success actions: the original's `complete` event may lack `error` (below).
    pub fn with_actions(self) -> Self {
        self.may_differ(
            "$.item.log[2].info.error",
            "the complete event's result always has error (null when none); the original set it after its on_success actions, racing its event-recording thread, so its event had it only when the recorder lost",
        )
    }

    pub fn job_id(&self) -> String {
        format!("d/{}", self.name)
    }
}

/// Which side ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Original,
    Ours,
}

/// What a side left behind for one scenario, normalised.
#[derive(Default)]
struct Written {
    run_id: String,
    comparable: Value,
}

/// A family of scenarios on one realm.
pub struct Family {
    pub realm: TestRealm,
    /// Environment both workers run with (configuration such as `LAVA_SQL_BATCH_SIZE`).
    pub env: Vec<(String, String)>,
    /// Queues whose messages are captured after each side's run (an action's target).
    pub capture_queues: Vec<String>,
    /// SMTP servers whose messages are captured (email connections').
    pub smtp: Vec<lava_tests::smtp::SmtpServer>,
    /// Capture the emails SES sent (moto keeps them).
    pub capture_ses: bool,
    /// Statements run on a database before each side runs, so both start from the same state.
    pub before_each_side: Vec<(shared::connections::Database, String)>,
    /// Capture the realm's state items (without their volatile times).
    pub capture_state: bool,
    /// The log of a server that logs every statement (a stand-in): the COPY and UNLOAD
    /// statements each side sent there are compared, whitespace normalised, in any order.
    pub statement_log: Option<std::path::PathBuf>,
}

/// The attributes of the events item that both sides write (ours adds lease fields, listed in
/// ARCHITECTURE.md: `lease_owner`, `lease_until`, `lease_claims`, `write_ids`).
const ITEM_KEYS: &[&str] = &["job_id", "run_id", "status", "worker", "ts_dispatch", "ts_event", "tu_event", "log"];

impl Family {
    /// A realm named `prefix` plus a suffix, with the realm key `s3_key` set as the original's
    /// realm template sets it (the original's executable jobs fail without it).
    pub async fn new(prefix: &str) -> Self {
        let realm = TestRealm::up(prefix).await;
        realm.set_original_realm_keys().await;
        Family {
            realm,
            env: Vec::new(),
            capture_queues: Vec::new(),
            smtp: Vec::new(),
            capture_ses: false,
            before_each_side: Vec::new(),
            capture_state: false,
            statement_log: None,
        }
    }

    /// Runs every scenario on both sides and checks each matches the original or differs only
    /// where it is listed; panics with every unlisted difference (and every listed one that no
    /// longer differs) of every scenario.
    pub async fn check(&self, scenarios: &[Scenario]) {
        for s in scenarios {
            let mut job = json!({"job_id": s.job_id(), "worker": "core", "enabled": true, "owner": "diff", "description": s.name});
            job.as_object_mut().unwrap().extend(s.job.as_object().cloned().unwrap_or_default());
            self.realm.put_job(job).await;
        }
        let logged = || self.statement_log.as_ref().map_or(0, |log| std::fs::metadata(log).unwrap().len() as usize);
        let start = logged();
        let original = self.run_side(Side::Original, scenarios).await;
        let middle = logged();
        let ours = self.run_side(Side::Ours, scenarios).await;
        let mut report = Vec::new();
        if let Some(log) = &self.statement_log {
            let log = std::fs::read(log).unwrap();
            let (a, b) = (loaded_statements(&log[start..middle]), loaded_statements(&log[middle..]));
            eprintln!("statements logged: {} by the original, {} by ours", a.len(), b.len());
            if a != b {
                report.push(format!("the statements sent differ:\n  original: {a:#?}\n  ours: {b:#?}"));
            }
        }
        let mut matched = 0;
        for (s, (a, b)) in scenarios.iter().zip(original.iter().zip(ours.iter())) {
            let mut found = Vec::new();
            let captured = a.comparable["captured"].as_array().map_or(0, Vec::len);
            if captured != s.captures {
                report.push(format!(
                    "{}: the original's run sent {captured} captured messages, not {}",
                    s.name, s.captures
                ));
            }
            differences("$", Some(&a.comparable), Some(&b.comparable), &mut found);
            let (unlisted, stale) = unexplained(&found, &s.listed);
            if unlisted.is_empty() && stale.is_empty() {
                matched += 1;
                for l in &s.listed {
                    eprintln!("{}: differs at {} (listed: {})", s.name, l.path, l.reason);
                }
                continue;
            }
            report.push(format!("{} (original run {}, ours {}):", s.name, a.run_id, b.run_id));
            report.extend(unlisted.iter().map(|d| format!("  {d}")));
            report
                .extend(stale.iter().map(|l| format!("  {}: listed as different ({}) but matches", l.path, l.reason)));
        }
        eprintln!("{matched} of {} scenarios match the original or differ only where listed", scenarios.len());
        assert!(report.is_empty(), "differences from the original:\n{}", report.join("\n"));
    }

    /// Sends each scenario's message, runs the side's worker until the queue is empty, and
    /// reads back what each run wrote.
    async fn run_side(&self, side: Side, scenarios: &[Scenario]) -> Vec<Written> {
        let r = &self.realm;
        for (db, statement) in &self.before_each_side {
            crate::sql_exec(db, statement).await;
        }
        let queue = r.queue_url(&r.names.worker_queue("core")).await;
        let mut runs = Vec::new();
        for s in scenarios {
            let run_id = uuid::Uuid::new_v4().to_string();
            let mut body = json!({"realm": r.names.realm, "worker": "core", "job_id": s.job_id(), "run_id": run_id,
                "ts_dispatch": jiff::Timestamp::now().to_string()});
            body.as_object_mut().unwrap().extend(s.message.as_object().cloned().unwrap_or_default());
            r.queues.send(&queue, &OutgoingMessage { body: body.to_string(), ..Default::default() }).await.unwrap();
            runs.push(run_id);
        }
        match side {
            Side::Original => {
                let (realm, env) = (r.names.realm.clone(), self.env.clone());
                let log =
                    tokio::task::spawn_blocking(move || lava_tests::original::run_worker(&realm, "core", 2, &env))
                        .await
                        .unwrap();
                eprintln!("original worker log:\n{log}");
            }
            Side::Ours => self.run_ours().await,
        }
        let captured = self.captured().await;
        let mut written = Vec::new();
        for (s, run_id) in scenarios.iter().zip(runs) {
            let item = r.events(&s.job_id(), &run_id).await;
            let normaliser = Normaliser::new(vec![
                (run_id.clone(), "<run_id>".into()),
                (r.names.realm.clone(), "<realm>".into()),
                (nix::unistd::gethostname().unwrap().to_string_lossy().into_owned(), "<host>".into()),
            ]);
            let item: serde_json::Map<String, Value> =
                ITEM_KEYS.iter().filter_map(|k| item.get(*k).map(|v| (k.to_string(), v.clone()))).collect();
            let mine: Vec<Value> = captured.iter().filter(|m| m.contains(&run_id)).map(|m| parse(m)).collect();
            let outputs = self.outputs(&s.job_id(), &run_id).await;
            let comparable = json!({"item": item, "captured": mine, "outputs": outputs});
            written.push(Written { comparable: normaliser.value(&comparable), run_id });
        }
        written
    }

    /// Our `lava-worker` (the workspace's build) in batch mode on the realm's `core` queue,
    /// then our actions function on what it queued (as the deployed realm runs them).
    async fn run_ours(&self) {
        let r = &self.realm;
        let built = lava_tests::workspace_root().join("target/debug");
        for program in ["lava-worker", "lava-sql", "actions"] {
            assert!(built.join(program).is_file(), "target/debug/{program} is missing: run `cargo build`");
        }
        let mut command = std::process::Command::new(built.join("lava-worker"));
        lava_tests::emulator_env(&mut command)
            .args([
                "--realm",
                &r.names.realm,
                "--worker",
                "core",
                "--batch",
                "--root",
                "--no-colour",
                "--level",
                "warn",
            ])
            .args(["--wait", "1", "--sleep", "0", "--threads", "2", "--visibility-heartbeat", "5"])
            .arg("--tmpdir")
            .arg(std::env::temp_dir().join("lava-ours"))
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        let output =
            tokio::task::spawn_blocking(move || command.output().expect("starting lava-worker")).await.unwrap();
        let log = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success(), "our lava-worker failed ({}):\n{log}", output.status);
        eprintln!("our worker log:\n{log}");
        // The actions function's binary under a Runtime API, fed from the actions queue as
        // Lambda's SQS event source feeds it.
        let queue = r.queue_url(&r.names.actions_queue).await;
        let actions = built.join("actions").display().to_string();
        loop {
            let got = r.queues.receive(&queue, 10, 1).await.unwrap();
            if got.is_empty() {
                break;
            }
            let records: Vec<Value> = got
                .iter()
                .map(|m| {
                    json!({"messageId": m.message_id, "receiptHandle": m.receipt_handle, "body": m.body,
                        "attributes": {"ApproximateReceiveCount": m.receive_count.to_string()}, "messageAttributes": {},
                        "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:actions", "awsRegion": "us-east-1"})
                })
                .collect();
            let answers = r.invoke_binary_with_env(&actions, vec![json!({"Records": records})], &self.env).await;
            let answer = answers[0].as_ref().expect("the actions function answers");
            let failed: Vec<&str> = answer["batchItemFailures"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f["itemIdentifier"].as_str())
                .collect();
            for m in &got {
                if !failed.contains(&m.message_id.as_str()) {
                    r.queues.delete(&queue, &m.receipt_handle).await.unwrap();
                }
            }
        }
    }

    /// The run's S3 outputs (its area of the realm's `s3_temp`): each object's name there and
    /// its text.
    async fn outputs(&self, job_id: &str, run_id: &str) -> Value {
        use shared::ports::BlobStore;
        let r = &self.realm;
        let bucket = r.names.local_bucket();
        let prefix = format!("tmp/{job_id}/{run_id}/");
        let listing = r.blobs.list_objects(&bucket, &prefix, None).await.unwrap();
        let mut outputs = serde_json::Map::new();
        for object in listing.objects {
            let body = r.blobs.get_object(&bucket, &object.key).await.unwrap();
            let name = object.key.trim_start_matches(&prefix).to_string();
            let shown = match body.starts_with(b"PAR1") {
                true => parquet_content(&body).await,
                false => Value::String(String::from_utf8_lossy(&body).into_owned()),
            };
            outputs.insert(name, shown);
        }
        Value::Object(outputs)
    }

    /// Every message on the capture queues (deleted as read), every email the SMTP server
    /// took and SES sent (all of them: a run's are told apart by its run id).
    async fn captured(&self) -> Vec<String> {
        let r = &self.realm;
        let mut bodies: Vec<String> = self.smtp.iter().flat_map(|s| s.messages()).map(|m| m.to_string()).collect();
        if self.capture_state {
            use shared::ports::TableStore;
            // Not our actions' own ledger (`lava.action/…`: the reserved `lava` prefix).
            let items = r.tables.scan_items(&r.names.state_table).await.unwrap();
            for mut item in
                items.into_iter().filter(|i| !i["state_id"].as_str().is_some_and(|id| id.starts_with("lava")))
            {
                // Times vary; the TTL is checked by the state tests. A JSON value is compared as
                // JSON: its text's key order is the order DynamoDB gave the job's map in.
                item.remove("ttl");
                if let Some(parsed) =
                    item.get("value").and_then(Value::as_str).and_then(|v| serde_json::from_str(v).ok())
                {
                    item.insert("value".into(), parsed);
                }
                bodies.push(Value::Object(item).to_string());
            }
        }
        if self.capture_ses {
            let data = lava_tests::moto_data();
            bodies.extend(sent_emails(&data["ses"]).into_iter().map(|m| m.to_string()));
        }
        for queue in &self.capture_queues {
            loop {
                let got = r.queues.receive(queue, 10, 0).await.unwrap();
                if got.is_empty() {
                    break;
                }
                for m in got {
                    r.queues.delete(queue, &m.receipt_handle).await.unwrap();
                    bodies.push(m.body);
                }
            }
        }
        bodies
    }
}

/// What the listings do not explain: the differences no listing covers, and the listings (but
/// those of a difference the original shows only sometimes) that cover no difference.
pub fn unexplained<'a>(found: &'a [Difference], listed: &'a [Listed]) -> (Vec<&'a Difference>, Vec<&'a Listed>) {
    let covers = |l: &Listed, d: &Difference| d.path.starts_with(l.path);
    let unlisted = found.iter().filter(|d| !listed.iter().any(|l| covers(l, d))).collect();
    let stale = listed.iter().filter(|l| !l.sometimes && !found.iter().any(|d| covers(l, d))).collect();
    (unlisted, stale)
}

/// Fails naming `what` unless the listings explain `found` exactly (see [`unexplained`]).
pub fn assert_explained(found: &[Difference], listed: &[Listed], what: &str) {
    let (unlisted, stale) = unexplained(found, listed);
    let unlisted: Vec<String> = unlisted.iter().map(|d| format!("  {d}")).collect();
    let stale: Vec<&str> = stale.iter().map(|l| l.path).collect();
    assert!(
        unlisted.is_empty() && stale.is_empty(),
        "{what} differs from the original's:\n{}\nlisted but matching: {stale:?}",
        unlisted.join("\n")
    );
}

/// The COPY and UNLOAD statements in a PostgreSQL statement log (`log_statement=all`, which
/// logs a statement once parsed; one that does not parse is in its error's `STATEMENT:` line),
/// each with its whitespace collapsed, sorted.
fn loaded_statements(log: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(log);
    let start = regex_lite::Regex::new(r"(?:LOG:  statement|LOG:  execute [^:]*|STATEMENT): +(.*)$").unwrap();
    let mut statements: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (line.strip_prefix('\t'), &mut current) {
            (Some(more), Some(statement)) => {
                statement.push(' ');
                statement.push_str(more);
            }
            _ => {
                statements.extend(current.take());
                current = start.captures(line).map(|c| c[1].to_string());
            }
        }
    }
    statements.extend(current);
    let mut wanted: Vec<String> = statements
        .into_iter()
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| ["COPY ", "UNLOAD "].iter().any(|k| s.to_uppercase().starts_with(k)))
        .collect();
    wanted.sort();
    wanted
}

/// What a Parquet file holds as pyarrow reads it (its columns' types and its rows): the files'
/// bytes differ in what wrote them.
async fn parquet_content(body: &[u8]) -> Value {
    const READ: &str = "import json, sys, pyarrow.parquet as pq\n\
        t = pq.read_table(sys.argv[1])\n\
        print(json.dumps({'columns': [f'{f.name}: {f.type}' for f in t.schema], 'rows': t.to_pylist()}, default=str))";
    let file = std::env::temp_dir().join(lava_tests::unique("lava-diff-")).with_extension("parquet");
    std::fs::write(&file, body).unwrap();
    let mut command = std::process::Command::new(lava_tests::venv_tool("python"));
    command.args(["-c", READ]).arg(&file);
    let output = tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap();
    let _ = std::fs::remove_file(&file);
    assert!(
        output.status.success(),
        "pyarrow cannot read a Parquet output: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A captured body: JSON where it is JSON, else the text.
fn parse(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_string()))
}

/// The emails moto's SES keeps (simple ones under `Message`, raw MIME under `RawMessage`),
/// without moto's random ids.
fn sent_emails(ses: &Value) -> Vec<Value> {
    let mut found = Vec::new();
    for kind in ["Message", "RawMessage"] {
        for sent in ses[kind].as_array().into_iter().flatten() {
            let mut sent = sent.clone();
            if let Some(map) = sent.as_object_mut() {
                map.remove("id");
            }
            found.push(json!({ kind: sent }));
        }
    }
    found
}
