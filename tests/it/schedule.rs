//! The dispatch Lambda against moto: requests and schedule ticks as real SQS messages, duplicate
//! ticks, and a scheduled job from tick to `complete`.

use aws_lambda_events::event::sqs::SqsEvent;
use lava_tests::{TestRealm, emulator};
use serde_json::{Value, json};
use shared::dispatch::function::DispatchFunction;
use shared::names::ResourceNames;
use shared::ports::{OutgoingMessage, QueueMessage, WorkQueue};

/// Real messages from a queue, as the Lambda service hands them to the function.
fn sqs_event(messages: &[QueueMessage], queue_arn: &str) -> SqsEvent {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            json!({
                "messageId": m.message_id, "receiptHandle": m.receipt_handle, "body": m.body,
                "attributes": {"ApproximateReceiveCount": m.receive_count.to_string(), "SentTimestamp": "1741032902000"},
                "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": "us-east-1"
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

async fn deliver(r: &TestRealm, function: &DispatchFunction, bodies: &[&str]) -> Vec<String> {
    let url = r.queue_url(&r.names.dispatch_queue).await;
    for body in bodies {
        r.queues.send(&url, &OutgoingMessage { body: body.to_string(), ..Default::default() }).await.unwrap();
    }
    let mut got = Vec::new();
    while got.len() < bodies.len() {
        got.extend(r.queues.receive(&url, 10, 1).await.unwrap());
    }
    let response =
        lava_dispatch_fn::handle(function, sqs_event(&got, "arn:aws:sqs:us-east-1:123456789012:dispatch")).await;
    response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect()
}

async fn worker_messages(r: &TestRealm) -> Vec<Value> {
    let url = r.queue_url(&r.names.worker_queue("core")).await;
    let mut all = Vec::new();
    loop {
        let got = r.queues.receive(&url, 10, 1).await.unwrap();
        if got.is_empty() {
            return all;
        }
        for m in got {
            r.queues.delete(&url, &m.receipt_handle).await.unwrap();
            all.push(serde_json::from_str(&m.body).unwrap());
        }
    }
}

/// Puts `messages` back on the core worker queue and runs a batch worker of `threads` threads
/// until the queue is empty.
async fn run_on_worker(r: &TestRealm, messages: &[Value], threads: usize) {
    let url = r.queue_url(&r.names.worker_queue("core")).await;
    for m in messages {
        r.queues.send(&url, &OutgoingMessage { body: m.to_string(), ..Default::default() }).await.unwrap();
    }
    let worker = crate::worker::worker(r, threads, std::time::Duration::from_secs(5), false).await;
    let (_tx, rx) = tokio::sync::watch::channel(false);
    worker.clone().run(rx).await.unwrap();
}

fn tick(at: &str) -> String {
    json!({"version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event", "source": "aws.events",
           "account": "123456789012", "time": at, "region": "us-east-1", "resources": ["arn:aws:events:us-east-1:123456789012:rule/lava-x-schedule"], "detail": {}})
    .to_string()
}

#[tokio::test]
async fn requests_in_every_form_reach_the_worker_queue() {
    let r = TestRealm::up("dsp").await;
    let function = DispatchFunction::load(r.names.clone(), vec![], &TestRealm::function_ports().await).await.unwrap();
    let failures = deliver(
        &r,
        &function,
        &[
            r#"{"job_id": "demo/hello", "parameters": {"vars": {"mode": "full"}}, "globals": {"who": "ops"}}"#,
            "# two runs\ndemo/hello -p vars.mode=text -g planet=Mars\ndemo/log --delay 0",
            r#"[{"job_id": "demo/hello"}, {"job_id": "no/such-job"}]"#,
            "{not json either",
        ],
    )
    .await;
    assert!(failures.is_empty(), "{failures:?}");
    let messages = worker_messages(&r).await;
    let mut jobs: Vec<&str> = messages.iter().map(|m| m["job_id"].as_str().unwrap()).collect();
    jobs.sort();
    assert_eq!(jobs, ["demo/hello", "demo/hello", "demo/hello", "demo/log"]);
    assert!(
        messages
            .iter()
            .any(|m| m["parameters"] == json!({"vars": {"mode": "full"}}) && m["globals"] == json!({"who": "ops"}))
    );
    assert!(messages.iter().any(|m| m["globals"] == json!({"planet": "Mars"})));
    let dlq = r.queue_url(&ResourceNames::dead_letter_queue(&r.names.dispatch_queue)).await;
    let dead = r.queues.receive(&dlq, 10, 1).await.unwrap();
    assert_eq!(dead.len(), 2, "the unknown job and the text line that is not a request");
}

#[tokio::test]
async fn a_redelivered_request_is_the_same_run_and_the_worker_runs_it_once() {
    let r = TestRealm::up("rdl").await;
    r.put_job(json!({"job_id": "rdl/one", "type": "cmd", "worker": "core", "enabled": true, "payload": "true"})).await;
    let function = DispatchFunction::load(r.names.clone(), vec![], &TestRealm::function_ports().await).await.unwrap();
    let url = r.queue_url(&r.names.dispatch_queue).await;
    let body = r#"[{"job_id": "rdl/one"}, {"job_id": "no/such-job"}]"#;
    r.queues.send(&url, &OutgoingMessage { body: body.into(), ..Default::default() }).await.unwrap();
    let got = r.queues.receive(&url, 10, 1).await.unwrap();
    // The same message delivered twice (the function's answer was lost, the queue redelivers).
    for _ in 0..2 {
        let response =
            lava_dispatch_fn::handle(&function, sqs_event(&got, "arn:aws:sqs:us-east-1:123456789012:dispatch")).await;
        assert!(response.batch_item_failures.is_empty());
    }
    let messages = worker_messages(&r).await;
    assert_eq!(messages.len(), 2, "the run is sent again: {messages:?}");
    assert_eq!(messages[0]["run_id"], messages[1]["run_id"], "under the same run id");
    let dlq = r.queue_url(&ResourceNames::dead_letter_queue(&r.names.dispatch_queue)).await;
    assert_eq!(r.queues.receive(&dlq, 10, 1).await.unwrap().len(), 1, "the unknown job is dead-lettered once");
    assert_eq!(
        shared::history::History::new(r.tables.clone(), r.names.clone())
            .job_runs("no/such-job", &Default::default())
            .await
            .unwrap()
            .len(),
        1,
        "and rejected once"
    );

    // Both copies go to the worker: it runs the run once and deletes the copy unrun.
    run_on_worker(&r, &messages, 1).await;
    let run_id = messages[0]["run_id"].as_str().unwrap();
    assert_eq!(r.statuses("rdl/one", run_id).await, ["starting", "running", "complete"]);
    assert!(worker_messages(&r).await.is_empty(), "no copy is left on the queue");
}

#[tokio::test]
async fn requests_published_to_the_dispatch_topic_or_invoked_directly_are_dispatched() {
    let r = TestRealm::up("sns").await;
    let function = DispatchFunction::load(r.names.clone(), vec![], &TestRealm::function_ports().await).await.unwrap();
    let topic = format!("arn:aws:sns:us-east-1:123456789012:{}", r.names.dispatch_topic());
    r.clients
        .sns
        .publish()
        .topic_arn(&topic)
        .message(r#"{"job_id": "demo/hello", "globals": {"via": "sns"}}"#)
        .send()
        .await
        .unwrap();
    let url = r.queue_url(&r.names.dispatch_queue).await;
    let got = r.queues.receive(&url, 10, 2).await.unwrap();
    assert_eq!(got.len(), 1, "the topic feeds the dispatch queue once");
    let response =
        lava_dispatch_fn::handle(&function, sqs_event(&got, "arn:aws:sqs:us-east-1:123456789012:dispatch")).await;
    assert!(response.batch_item_failures.is_empty());

    // `aws lambda invoke` with a list of requests, and with one that cannot be dispatched.
    let direct = json!([{"job_id": "demo/hello", "globals": {"via": "invoke"}}, {"job_id": "demo/log"}]);
    assert_eq!(lava_dispatch_fn::handle_event(&function, direct, "req-1").await.unwrap(), json!({"status": "done"}));
    lava_dispatch_fn::handle_event(&function, json!({"job_id": "no/such-job"}), "req-2").await.unwrap();
    let messages = worker_messages(&r).await;
    let mut seen: Vec<String> =
        messages.iter().map(|m| format!("{} {}", m["job_id"].as_str().unwrap(), m["globals"]["via"])).collect();
    seen.sort();
    assert_eq!(seen, ["demo/hello \"invoke\"", "demo/hello \"sns\"", "demo/log null"]);
    let dlq = r.queue_url(&ResourceNames::dead_letter_queue(&r.names.dispatch_queue)).await;
    assert_eq!(r.queues.receive(&dlq, 10, 1).await.unwrap().len(), 1, "the unknown job is dead-lettered with a reason");
}

#[tokio::test]
async fn duplicate_ticks_dispatch_a_scheduled_job_once_and_the_worker_completes_it() {
    let r = TestRealm::up("tck").await;
    r.put_job(json!({"job_id": "tck/sched", "type": "lavasched", "worker": "core", "enabled": true, "payload": null, "parameters": {"dispatcher": "main"}})).await;
    r.put_job(json!({"job_id": "tck/every", "type": "cmd", "worker": "core", "enabled": true, "payload": "true", "schedule": "* * * * *", "dispatcher": "main"})).await;
    r.put_job(json!({"job_id": "tck/unserved", "type": "cmd", "worker": "core", "enabled": true, "payload": "true", "schedule": "* * * * *", "dispatcher": "spare"})).await;
    let function = DispatchFunction::load(
        r.names.clone(),
        vec![("LAVA_SCHEDULE_CATCHUP".into(), "1m".into())],
        &TestRealm::function_ports().await,
    )
    .await
    .unwrap();
    let now = shared::schedule::floor_minute(jiff::Timestamp::now()).to_string();
    assert!(deliver(&r, &function, &[&tick(&now), &tick(&now)]).await.is_empty());
    let messages = worker_messages(&r).await;
    assert_eq!(messages.len(), 1, "two ticks for the same minute, one run: {messages:?}");
    assert_eq!(messages[0]["job_id"], "tck/every");

    // Put it back and let a worker run it to completion.
    run_on_worker(&r, &messages[..1], 1).await;
    let run_id = messages[0]["run_id"].as_str().unwrap();
    assert_eq!(r.statuses("tck/every", run_id).await, ["starting", "running", "complete"]);
}

#[tokio::test]
async fn overlapping_ticks_over_many_due_jobs_start_each_job_once() {
    let r = TestRealm::up("brs").await;
    r.put_job(json!({"job_id": "brs/sched", "type": "lavasched", "worker": "core", "enabled": true, "payload": null, "parameters": {"dispatcher": "main"}})).await;
    for n in 0..60 {
        r.put_job(json!({"job_id": format!("brs/j{n:02}"), "type": "cmd", "worker": "core", "enabled": true, "payload": "true", "schedule": "* * * * *", "dispatcher": "main"})).await;
    }
    let ports = TestRealm::function_ports().await;
    let load = || DispatchFunction::load(r.names.clone(), vec![], &ports);
    let (a, b) = (load().await.unwrap(), load().await.unwrap());
    let now = jiff::Timestamp::now();
    // Two invocations tick the same minute at once (an overlapping retry): both send every due
    // job, under the same run id, which the worker's run lease runs once.
    let (ra, rb) = tokio::join!(a.tick(now), b.tick(now));
    assert_eq!((ra.unwrap().len(), rb.unwrap().len()), (60, 60));
    let mut runs: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> = Default::default();
    let messages = worker_messages(&r).await;
    for m in &messages {
        runs.entry(m["job_id"].as_str().unwrap().into()).or_default().insert(m["run_id"].as_str().unwrap().into());
    }
    assert_eq!(runs.len(), 60, "every due job was sent");
    assert!(runs.values().all(|ids| ids.len() == 1), "one run id per job: {runs:?}");

    // A worker drains both copies of every run: each job runs once.
    run_on_worker(&r, &messages, 4).await;
    for (job_id, ids) in &runs {
        let run_id = ids.first().unwrap();
        assert_eq!(r.statuses(job_id, run_id).await, ["starting", "running", "complete"], "{job_id} ran once");
    }
}

#[tokio::test]
async fn schedule_preview_lists_next_times_in_the_dispatcher_zone() {
    let r = TestRealm::up("prv").await;
    r.put_job(json!({"job_id": "prv/weekday", "type": "cmd", "worker": "core", "payload": "true", "schedule": "15 6 * * 1-5", "dispatcher": "syd"})).await;
    let mut realm = r.catalog.realm().await.unwrap();
    realm.config = Some(json!({"dispatcher_timezones": {"syd": "Australia/Sydney"}}).as_object().unwrap().clone());
    r.catalog.put_realm(&realm).await.unwrap();
    use clap::Parser;
    let cli = lava_cli::Cli::parse_from([
        "lava",
        "--endpoint-url",
        &emulator().endpoint_url,
        "--region",
        "us-east-1",
        "--realm",
        &r.names.realm,
        "schedule",
        "preview",
        "prv/weekday",
        "-n",
        "3",
        "--from",
        "2025-03-07T00:00:00Z",
    ]);
    let out = lava_cli::run(cli).await.unwrap();
    assert_eq!(
        out,
        "prv/weekday (dispatcher syd, Australia/Sydney): \"15 6 * * 1-5\"\n  2025-03-10 06:15 Mon +11:00\n  2025-03-11 06:15 Tue +11:00\n  2025-03-12 06:15 Wed +11:00"
    );
}

#[tokio::test]
async fn an_eventbridge_rule_dispatches_the_job_it_names_with_globals_from_the_event() {
    let r = TestRealm::up("evb").await;
    let dispatch_url = r.queue_url(&r.names.dispatch_queue).await;
    let arn = shared::aws::provision::queue_arn(&r.clients, &dispatch_url).await.unwrap();
    let source = format!("partner.{}", r.names.realm);
    shared::aws::provision::route_events_to_dispatch(
        &r.clients,
        &format!("lava.{}.partner", r.names.realm),
        &json!({"source": [source]}).to_string(),
        &arn,
        &[("file", "$.detail.file"), ("size", "$.detail.size")],
        r#"{"job_id": "demo/hello", "globals": {"file": "<file>", "size": <size>}, "delay": "0s"}"#,
    )
    .await
    .unwrap();
    let event = shared::ports::BusEvent {
        bus: None,
        source,
        detail_type: "Upload".into(),
        detail: json!({"file": "in/a.csv", "size": 42}).to_string(),
        resources: vec![],
    };
    r.ports.bus.put_event(&event).await.unwrap();
    let function = DispatchFunction::load(r.names.clone(), vec![], &TestRealm::function_ports().await).await.unwrap();
    let got = r.queues.receive(&dispatch_url, 10, 2).await.unwrap();
    assert_eq!(got.len(), 1, "the rule put one request on the dispatch queue");
    let response = lava_dispatch_fn::handle(&function, sqs_event(&got, &arn)).await;
    assert!(response.batch_item_failures.is_empty());
    let messages = worker_messages(&r).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["job_id"], "demo/hello");
    assert_eq!(messages[0]["globals"], json!({"file": "in/a.csv", "size": 42}));
}

#[tokio::test]
async fn an_upload_dispatches_through_the_s3trigger_function() {
    let r = TestRealm::up("s3t").await;
    let bucket = r.names.local_bucket();
    let notices = shared::aws::provision::create_queue(&r.clients, &lava_tests::unique("lava-n-"), &[]).await.unwrap();
    let arn = shared::aws::provision::queue_arn(&r.clients, &notices).await.unwrap();
    shared::aws::provision::notify_queue_on_upload(&r.clients, &bucket, &arn).await.unwrap();
    let trigger = json!({"trigger_id": "landing", "bucket": bucket, "prefix": "inbound/partner-a", "enabled": true, "if_fnmatch": "*.csv",
        "job_id": "demo/hello", "globals": {"src": "s3://{{ bucket }}/{{ key }}"}, "parameters": {"size": "{{ info.size }}"}});
    r.catalog.put_s3trigger(&shared::model::S3TriggerEntry::from_value(&trigger).unwrap()).await.unwrap();
    use shared::ports::BlobStore;
    r.blobs
        .put_object(&bucket, "inbound/partner-a/day 1.csv", b"a,b\n".to_vec(), &shared::ports::Encryption::Aes256)
        .await
        .unwrap();
    r.blobs
        .put_object(&bucket, "inbound/partner-a/skip.txt", b"x".to_vec(), &shared::ports::Encryption::Aes256)
        .await
        .unwrap();

    let mut got = Vec::new();
    for _ in 0..5 {
        got.extend(r.queues.receive(&notices, 10, 1).await.unwrap());
        if got.len() >= 3 {
            break;
        }
    }
    assert_eq!(got.len(), 3, "S3's test event, then a notification per upload");
    assert!(got.iter().any(|m| m.body.contains("s3:TestEvent")));
    let function =
        shared::s3trigger::S3TriggerFunction::new(r.names.clone(), vec![], &TestRealm::function_ports().await);
    let event = serde_json::to_value(sqs_event(&got, &arn)).unwrap();
    let response = lava_s3trigger_fn::handle(&function, event).await.unwrap();
    assert_eq!(response["batchItemFailures"], json!([]));
    let messages = worker_messages(&r).await;
    assert_eq!(messages.len(), 1, "only the .csv matched: {messages:?}");
    assert_eq!(messages[0]["globals"]["src"], format!("s3://{bucket}/inbound/partner-a/day 1.csv"));
    assert_eq!(messages[0]["parameters"]["size"], "4");
}

#[tokio::test]
async fn a_backfill_dispatches_the_past_fire_times_once_under_the_tick_s_run_ids() {
    let r = TestRealm::up("bfl").await;
    let realm = r.names.realm.clone();
    // The dispatcher's zone comes from its lavasched job, as for the ticks.
    r.put_job(json!({"job_id": "bfl/sched", "type": "lavasched", "worker": "core", "enabled": true, "payload": null,
        "parameters": {"dispatcher": "main", "env": {"TZ": "Australia/Sydney"}}}))
        .await;
    r.put_job(json!({"job_id": "bfl/daily", "type": "cmd", "worker": "core", "enabled": true, "payload": "true", "schedule": "0 6 * * *", "dispatcher": "main"})).await;
    let lava = |args: &[&str]| {
        let mut all =
            vec!["lava", "--endpoint-url", &emulator().endpoint_url, "--region", "us-east-1", "--realm", &realm];
        all.extend_from_slice(args);
        use clap::Parser;
        Box::pin(lava_cli::run(lava_cli::Cli::parse_from(all)))
    };
    // The tick of 06:00 in Sydney on 10 March 2025 ran its run.
    let function = DispatchFunction::load(r.names.clone(), vec![], &TestRealm::function_ports().await).await.unwrap();
    let ticked = function.tick("2025-03-09T19:00:30Z".parse().unwrap()).await.unwrap();
    assert_eq!(ticked.len(), 1);
    run_on_worker(&r, &worker_messages(&r).await, 1).await;
    let minute = |t: &str| t.parse::<jiff::Timestamp>().unwrap();
    let id = |t: &str| shared::dispatch::function::scheduled_run_id(&realm, "bfl/daily", minute(t));
    assert_eq!(ticked[0].run_id, id("2025-03-09T19:00:00Z"));

    let range = ["schedule", "backfill", "bfl/daily", "--from", "2025-03-08T00:00:00Z", "--to", "2025-03-11T00:00:00Z"];
    let listed = lava(&[&range[..], &["--dry-run"]].concat()).await.unwrap();
    let line = |t: &str, what: &str| format!("{t} {} {what}", id(t));
    assert_eq!(
        listed,
        [
            line("2025-03-08T19:00:00Z", "would be dispatched"),
            line("2025-03-09T19:00:00Z", "already complete"),
            line("2025-03-10T19:00:00Z", "would be dispatched")
        ]
        .join("\n")
    );
    assert!(worker_messages(&r).await.is_empty(), "a dry run sends nothing");

    // The backfill, and then the same range again before any worker ran them: two runs, each
    // sent twice under one run id, and the worker runs each once.
    let sent = lava(&range).await.unwrap();
    assert_eq!(sent, listed.replace("would be dispatched", "dispatched"));
    lava(&range).await.unwrap();
    let messages = worker_messages(&r).await;
    let mut ids: Vec<&str> = messages.iter().map(|m| m["run_id"].as_str().unwrap()).collect();
    ids.sort();
    let mut expected = [
        id("2025-03-08T19:00:00Z"),
        id("2025-03-08T19:00:00Z"),
        id("2025-03-10T19:00:00Z"),
        id("2025-03-10T19:00:00Z"),
    ];
    expected.sort();
    assert_eq!(ids, expected);
    run_on_worker(&r, &messages, 2).await;
    for t in ["2025-03-08T19:00:00Z", "2025-03-10T19:00:00Z"] {
        assert_eq!(r.statuses("bfl/daily", &id(t)).await, ["starting", "running", "complete"], "{t} ran once");
    }
    assert!(lava(&range).await.unwrap().lines().all(|l| l.ends_with("already complete")));

    // Refusals name the option.
    let future =
        lava(&["schedule", "backfill", "bfl/daily", "--from", "2025-03-08T00:00:00Z", "--to", "2999-01-01T00:00:00Z"]);
    assert!(future.await.unwrap_err().to_string().contains("--to 2999-01-01T00:00:00Z: in the future"));
    let many = lava(&[&range[..], &["--max-runs", "2"]].concat()).await.unwrap_err().to_string();
    assert!(many.contains("3 fire times") && many.contains("--max-runs 2"), "{many}");
    let none =
        lava(&["schedule", "backfill", "bfl/sched", "--from", "2025-03-08T00:00:00Z", "--to", "2025-03-09T00:00:00Z"]);
    assert!(none.await.unwrap_err().to_string().contains("bfl/sched: no schedule"));
}
