//! lava's AWS adapters against LocalStack, the second emulator (its free core in host mode;
//! `lava_testkit::localstack`): what a realm does through SQS, S3 (and its notifications), SNS,
//! EventBridge, KMS, SSM, Secrets Manager and CloudWatch, through the same ports the worker and
//! the functions use. DynamoDB stays on moto (LocalStack's needs a download).

use lava_tests::unique;
use shared::aws::provision;
use shared::aws::{AwsOptions, Clients};
use shared::ports::{BusEvent, Datum, Encryption, MetricUnit, OutgoingMessage, Ports, QueueMessage};
use std::time::Duration;

async fn localstack_clients() -> Clients {
    Clients::load(&AwsOptions {
        endpoint_url: Some(lava_tests::localstack().endpoint_url.clone()),
        region: Some("us-east-1".into()),
        emulator: true,
        ..Default::default()
    })
    .await
}

/// Every port on LocalStack.
fn on(clients: &Clients) -> Ports {
    shared::wiring::ports(clients, std::sync::Arc::new(shared::webhook::HttpWebhook::new()))
}

/// The LocalStack clients and ports beside a realm on moto, and the ports its worker and
/// functions use there: the realm's tables on moto, everything else on LocalStack.
async fn beside(r: &lava_tests::TestRealm) -> (Clients, Ports, Ports) {
    let clients = localstack_clients().await;
    let on_localstack = on(&clients);
    let ports = Ports { tables: r.ports.tables.clone(), events: r.ports.events.clone(), ..on_localstack.clone() };
    (clients, on_localstack, ports)
}

/// The message the dispatch function sent to `worker_queue`, read (for its run id) and put back
/// for a worker.
async fn peek_dispatched(ports: &Ports, worker_queue: &str) -> serde_json::Value {
    let dispatched = drain(ports, worker_queue, 1).await;
    let again = OutgoingMessage { body: dispatched[0].body.clone(), ..Default::default() };
    ports.queues.send(worker_queue, &again).await.unwrap();
    serde_json::from_str(&dispatched[0].body).unwrap()
}

/// A received message as a function's event source hands it over the first time.
fn first_delivery(message: &QueueMessage) -> shared::ports::Incoming {
    shared::ports::Incoming { message_id: message.message_id.clone(), body: message.body.clone(), receive_count: 1 }
}

/// The messages that reach `queue_url` within 20 s (at least `count` of them), deleted.
async fn drain(ports: &Ports, queue_url: &str, count: usize) -> Vec<QueueMessage> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while got.len() < count && tokio::time::Instant::now() < deadline {
        for m in ports.queues.receive(queue_url, 10, 1).await.unwrap() {
            ports.queues.delete(queue_url, &m.receipt_handle).await.unwrap();
            got.push(m);
        }
    }
    got
}

#[tokio::test]
async fn the_realm_s_services_work_through_lava_s_adapters_on_localstack() {
    let clients = localstack_clients().await;
    let ports = on(&clients);
    let name = unique("ls");

    // SQS: send, receive, delete, depth.
    let queue = provision::create_queue(&clients, &name, &[]).await.unwrap();
    assert_eq!(ports.queues.queue_url(&name).await.unwrap(), queue);
    let message = OutgoingMessage { body: "{\"job_id\": \"a\"}".into(), ..Default::default() };
    ports.queues.send(&queue, &message).await.unwrap();
    let got = drain(&ports, &queue, 1).await;
    assert_eq!(got.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(), ["{\"job_id\": \"a\"}"]);
    assert_eq!(ports.queues.depth(&queue).await.unwrap().visible, 0);

    // S3: an object in and out, listed; its upload notifies the queue (the s3trigger path).
    let bucket = name.replace('_', "-");
    provision::create_bucket(&clients, &bucket).await.unwrap();
    let queue_arn = provision::queue_arn(&clients, &queue).await.unwrap();
    provision::notify_queue_on_upload(&clients, &bucket, &queue_arn).await.unwrap();
    ports.blobs.put_object(&bucket, "in/data.csv", b"a,b\n".to_vec(), &Encryption::Aes256).await.unwrap();
    assert_eq!(ports.blobs.get_object(&bucket, "in/data.csv").await.unwrap(), b"a,b\n");
    let listing = ports.blobs.list_objects(&bucket, "in/", None).await.unwrap();
    assert_eq!(listing.objects.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(), ["in/data.csv"]);
    let notices = drain(&ports, &queue, 1).await;
    let created = notices.iter().any(|m| m.body.contains("ObjectCreated") && m.body.contains("in/data.csv"));
    assert!(created, "{:?}", notices.iter().map(|m| &m.body).collect::<Vec<_>>());

    // SNS to SQS, raw (dispatch requests published to the realm's topic).
    let topic = provision::create_topic(&clients, &name).await.unwrap();
    provision::subscribe_queue(&clients, &topic, &queue_arn).await.unwrap();
    ports.topics.publish(&topic, Some("s"), "{\"job_id\": \"b\"}").await.unwrap();
    let published = drain(&ports, &queue, 1).await;
    assert_eq!(published.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(), ["{\"job_id\": \"b\"}"]);

    // EventBridge: a pattern rule routes lava's run status events to a queue.
    let rule = format!("lava.{name}.status");
    provision::route_events_to_queue(&clients, &rule, r#"{"source": ["lava"]}"#, &queue_arn).await.unwrap();
    let event = BusEvent {
        bus: None,
        source: "lava".into(),
        detail_type: "Lava Job Status".into(),
        detail: "{\"status\": \"complete\"}".into(),
        resources: vec![],
    };
    ports.bus.put_event(&event).await.unwrap();
    let routed = drain(&ports, &queue, 1).await;
    assert!(
        routed.iter().any(|m| m.body.contains("\"complete\"")),
        "{:?}",
        routed.iter().map(|m| &m.body).collect::<Vec<_>>()
    );

    // KMS (state values), SSM parameters and Secrets Manager (connection passwords).
    let alias = format!("alias/{name}");
    provision::create_key_alias(&clients, &alias).await.unwrap();
    let sealed = ports.keys.encrypt(&alias, b"secret value").await.unwrap();
    assert_eq!(ports.keys.decrypt(&sealed).await.unwrap(), b"secret value");
    let parameter = format!("/lava/{name}/password");
    provision::put_parameter(&clients, &parameter, "p4ss", true).await.unwrap();
    assert_eq!(ports.secrets.parameter(&parameter).await.unwrap(), "p4ss");
    provision::create_secret(&clients, &name, "{\"user\": \"u\"}").await.unwrap();
    assert_eq!(ports.secrets.secret(&name).await.unwrap(), "{\"user\": \"u\"}");

    // CloudWatch: the worker's metrics, read back.
    let namespace = format!("Lava/{name}");
    let datum = Datum {
        name: "RunDelay",
        dimensions: vec![("Realm", name.clone())],
        value: 1.5,
        unit: MetricUnit::Seconds,
        timestamp: None,
    };
    ports.metrics.put(&namespace, &[datum]).await.unwrap();
    let listed = clients.cloudwatch.list_metrics().namespace(&namespace).send().await.unwrap();
    let names: Vec<&str> = listed.metrics().iter().filter_map(|m| m.metric_name()).collect();
    assert_eq!(names, ["RunDelay"]);
}

/// A dispatched `cmd` job runs to `complete` with its worker queue, its outputs and its status
/// events on LocalStack and the realm's tables on moto: the worker's long polls, visibility
/// heartbeats, deletes and uploads as LocalStack answers them, and its final status event
/// delivered by a rule on the realm's source to a queue, as a team's alerting rule gets it.
#[tokio::test]
async fn a_job_runs_with_its_queue_and_outputs_on_localstack() {
    let r = lava_tests::TestRealm::up("lsw").await;
    let (clients, on_localstack, ports) = beside(&r).await;
    provision::create_bucket(&clients, &r.names.local_bucket()).await.unwrap();
    provision::create_queue_with_dlq(&clients, &r.names.worker_queue("core"), 60, 3).await.unwrap();
    let job = serde_json::json!({"job_id": "ls/echo", "type": "cmd", "worker": "core", "enabled": true,
        "payload": "/bin/sh -c", "parameters": {"args": ["echo hello from {{ job.run_id }}"]}});
    r.put_job(job).await;
    let request = shared::dispatch::DispatchRequest { job_id: "ls/echo".into(), ..Default::default() };
    let sent = shared::dispatch::dispatch(&r.catalog, ports.queues.as_ref(), &request, &Default::default()).await;
    let run_id = sent.unwrap().run_id;
    let alerts = provision::create_queue(&clients, &format!("{}-alerts", r.names.realm), &[]).await.unwrap();
    let pattern =
        serde_json::json!({"source": [format!("lava.{}", r.names.realm)], "detail-type": ["Lava Job Status"]});
    let alerts_arn = provision::queue_arn(&clients, &alerts).await.unwrap();
    let rule = format!("lava.{}.alerts", r.names.realm);
    provision::route_events_to_queue(&clients, &rule, &pattern.to_string(), &alerts_arn).await.unwrap();

    let worker =
        shared::worker::build(lava_tests::worker_options(&r.names.realm, 1, vec![]), ports.clone()).await.unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    worker.run(rx).await.unwrap();

    assert_eq!(r.statuses("ls/echo", &run_id).await, ["starting", "running", "complete"]);
    let delivered = drain(&on_localstack, &alerts, 1).await;
    let event: serde_json::Value = serde_json::from_str(&delivered[0].body).unwrap();
    let detail = &event["detail"];
    assert_eq!(
        (
            event["detail-type"].as_str(),
            detail["job_id"].as_str(),
            detail["run_id"].as_str(),
            detail["status"].as_str()
        ),
        (Some("Lava Job Status"), Some("ls/echo"), Some(run_id.as_str()), Some("complete")),
        "{event}"
    );
    let item = r.events("ls/echo", &run_id).await;
    let stdout = item["log"][2]["info"]["output"][0]["stdout"].as_str().unwrap_or_else(|| panic!("{item}"));
    let (bucket, key) = stdout.strip_prefix("s3://").and_then(|s| s.split_once('/')).unwrap();
    assert_eq!(bucket, r.names.local_bucket(), "the outputs went to the realm's bucket");
    let text = on_localstack.blobs.get_object(bucket, key).await.unwrap();
    assert_eq!(String::from_utf8(text).unwrap(), format!("hello from {run_id}\n"));
    let queue = on_localstack.queues.queue_url(&r.names.worker_queue("core")).await.unwrap();
    let left = on_localstack.queues.depth(&queue).await.unwrap();
    assert_eq!((left.visible, left.not_visible), (0, 0), "the message was deleted");
}

/// The realm's schedule rule (`rate(1 minute)` onto the dispatch queue, as the template makes it)
/// really fires on LocalStack: its tick, handled by the dispatch function, dispatches the job due
/// that minute, and a worker runs it (tables on moto, queues on LocalStack).
#[tokio::test]
async fn the_schedule_rule_s_tick_dispatches_a_due_job() {
    let r = lava_tests::TestRealm::up("lst").await;
    r.put_job(serde_json::json!({"job_id": "lst/sched", "type": "lavasched", "worker": "core", "enabled": true,
        "payload": null, "parameters": {"dispatcher": "main"}}))
        .await;
    r.put_job(serde_json::json!({"job_id": "lst/every", "type": "cmd", "worker": "core", "enabled": true,
        "payload": "true", "schedule": "* * * * *", "dispatcher": "main"}))
        .await;
    let (clients, on_localstack, ports) = beside(&r).await;
    let dispatch_queue = provision::create_queue_with_dlq(&clients, &r.names.dispatch_queue, 120, 5).await.unwrap();
    let worker_queue = provision::create_queue_with_dlq(&clients, &r.names.worker_queue("core"), 60, 3).await.unwrap();
    provision::create_bucket(&clients, &r.names.local_bucket()).await.unwrap();
    let rule = format!("lava-{}---schedule", r.names.realm);
    let dispatch_arn = provision::queue_arn(&clients, &dispatch_queue).await.unwrap();
    provision::schedule_to_queue(&clients, &rule, "rate(1 minute)", &dispatch_arn).await.unwrap();

    // The first tick comes within a minute or so of the rule.
    let mut ticks = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(150);
    while ticks.is_empty() && tokio::time::Instant::now() < deadline {
        ticks = on_localstack.queues.receive(&dispatch_queue, 1, 5).await.unwrap();
    }
    clients.events.remove_targets().rule(&rule).ids("queue").send().await.unwrap();
    clients.events.delete_rule().name(&rule).send().await.unwrap();
    let tick = ticks.first().expect("LocalStack fired the schedule rule within 150 s");
    assert!(tick.body.contains("\"Scheduled Event\""), "{}", tick.body);

    let function = shared::dispatch::function::DispatchFunction::load(
        r.names.clone(),
        vec![("LAVA_SCHEDULE_CATCHUP".into(), "1m".into())],
        &ports,
    )
    .await
    .unwrap();
    let incoming = first_delivery(tick);
    assert!(function.handle(vec![incoming]).await.is_empty(), "the tick is handled");
    let message = peek_dispatched(&on_localstack, &worker_queue).await;
    assert_eq!(message["job_id"], "lst/every");

    // A worker runs it.
    let worker =
        shared::worker::build(lava_tests::worker_options(&r.names.realm, 1, vec![]), ports.clone()).await.unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    worker.run(rx).await.unwrap();
    let run_id = message["run_id"].as_str().unwrap();
    assert_eq!(r.statuses("lst/every", run_id).await, ["starting", "running", "complete"]);
}

/// The realm's other ways in, on LocalStack: an upload's S3 notification through the
/// s3trigger function, and a request published to the dispatch topic (raw delivery onto the
/// dispatch queue) through the dispatch function, each reaching the worker queue.
#[tokio::test]
async fn uploads_and_published_requests_reach_the_worker_queue() {
    let r = lava_tests::TestRealm::up("lsn").await;
    let (clients, on_localstack, ports) = beside(&r).await;
    let worker_queue = provision::create_queue_with_dlq(&clients, &r.names.worker_queue("core"), 60, 3).await.unwrap();
    let worker_messages = |count| {
        let on_localstack = on_localstack.clone();
        let worker_queue = worker_queue.clone();
        async move {
            let got = drain(&on_localstack, &worker_queue, count).await;
            got.iter().map(|m| serde_json::from_str::<serde_json::Value>(&m.body).unwrap()).collect::<Vec<_>>()
        }
    };

    // An upload, through S3's notification and the s3trigger function.
    let bucket = r.names.local_bucket();
    provision::create_bucket(&clients, &bucket).await.unwrap();
    let s3events = provision::create_queue_with_dlq(&clients, &r.names.s3events_queue(), 120, 5).await.unwrap();
    provision::notify_queue_on_upload(&clients, &bucket, &provision::queue_arn(&clients, &s3events).await.unwrap())
        .await
        .unwrap();
    let trigger = serde_json::json!({"trigger_id": "landing", "bucket": bucket, "prefix": "inbound", "enabled": true,
        "if_fnmatch": "*.csv", "job_id": "demo/hello", "globals": {"src": "s3://{{ bucket }}/{{ key }}"}});
    r.catalog.put_s3trigger(&shared::model::S3TriggerEntry::from_value(&trigger).unwrap()).await.unwrap();
    on_localstack.blobs.put_object(&bucket, "inbound/day 1.csv", b"a,b\n".to_vec(), &Encryption::Aes256).await.unwrap();
    // S3's test event comes first.
    let mut notices: Vec<QueueMessage> = Vec::new();
    for _ in 0..10 {
        notices
            .extend(drain(&on_localstack, &s3events, 1).await.into_iter().filter(|m| m.body.contains("ObjectCreated")));
        if !notices.is_empty() {
            break;
        }
    }
    assert_eq!(notices.len(), 1, "one notification for the upload");
    let function = shared::s3trigger::S3TriggerFunction::new(r.names.clone(), vec![], &ports);
    let incoming = first_delivery(&notices[0]);
    assert!(function.handle_batch(vec![incoming]).await.is_empty(), "the notification is handled");
    let messages = worker_messages(1).await;
    assert_eq!(messages[0]["job_id"], "demo/hello");
    assert_eq!(messages[0]["globals"]["src"], format!("s3://{bucket}/inbound/day 1.csv"));

    // A request published to the dispatch topic, through the dispatch function.
    let dispatch_queue = provision::create_queue_with_dlq(&clients, &r.names.dispatch_queue, 120, 5).await.unwrap();
    let topic = provision::create_topic(&clients, &r.names.dispatch_topic()).await.unwrap();
    provision::subscribe_queue(&clients, &topic, &provision::queue_arn(&clients, &dispatch_queue).await.unwrap())
        .await
        .unwrap();
    ports.topics.publish(&topic, None, r#"{"job_id": "demo/hello", "globals": {"from": "sns"}}"#).await.unwrap();
    let requests = drain(&on_localstack, &dispatch_queue, 1).await;
    assert_eq!(requests.len(), 1);
    let function = shared::dispatch::function::DispatchFunction::load(r.names.clone(), vec![], &ports).await.unwrap();
    let incoming = first_delivery(&requests[0]);
    assert!(function.handle(vec![incoming]).await.is_empty(), "the request is handled");
    let messages = worker_messages(1).await;
    assert_eq!(
        (messages[0]["job_id"].as_str(), messages[0]["globals"]["from"].as_str()),
        (Some("demo/hello"), Some("sns"))
    );
}

/// A datum put and its statistics read back, a listing, and a call CloudWatch refuses, over the
/// current SDK's RPC v2 CBOR protocol: LocalStack reads it, moto through the project's launcher
/// (`moto_server.py` turns it into the JSON protocol moto reads). The two answer alike.
#[tokio::test]
async fn cloudwatch_answers_alike_on_both_emulators() {
    use aws_sdk_cloudwatch::error::ProvideErrorMetadata;
    use aws_sdk_cloudwatch::primitives::DateTime;
    use aws_sdk_cloudwatch::types::{Dimension, Statistic};
    let now = jiff::Timestamp::now().as_second();
    let mut answers = Vec::new();
    for clients in [localstack_clients().await, lava_tests::clients().await] {
        let ports = on(&clients);
        let namespace = format!("Lava/{}", unique("cw"));
        let data = [2.0, 3.5].map(|value| Datum {
            name: "RunTime",
            dimensions: vec![("Worker", "core".into())],
            value,
            unit: MetricUnit::Seconds,
            timestamp: None,
        });
        ports.metrics.put(&namespace, &data).await.unwrap();
        let statistics = clients
            .cloudwatch
            .get_metric_statistics()
            .namespace(&namespace)
            .metric_name("RunTime")
            .dimensions(Dimension::builder().name("Worker").value("core").build())
            .start_time(DateTime::from_secs(now - 600))
            .end_time(DateTime::from_secs(now + 600))
            .period(3600)
            .statistics(Statistic::Sum)
            .statistics(Statistic::Maximum)
            .send()
            .await
            .unwrap();
        let points: Vec<_> = statistics
            .datapoints()
            .iter()
            .map(|p| (p.sum(), p.maximum(), p.timestamp().is_some_and(|t| (t.secs() - now).abs() < 3600)))
            .collect();
        let listed = clients.cloudwatch.list_metrics().namespace(&namespace).send().await.unwrap();
        let names: Vec<_> = listed.metrics().iter().filter_map(|m| m.metric_name().map(String::from)).collect();
        let refused = clients
            .cloudwatch
            .get_metric_statistics()
            .namespace(&namespace)
            .metric_name("RunTime")
            .start_time(DateTime::from_secs(now))
            .end_time(DateTime::from_secs(now - 600))
            .period(60)
            .statistics(Statistic::Sum)
            .send()
            .await;
        let code = refused.err().and_then(|e| e.code().map(String::from));
        answers.push((points, names, code));
    }
    assert_eq!(answers[0].0, [(Some(5.5), Some(3.5), true)], "LocalStack's statistics");
    assert_eq!(answers[0].1, ["RunTime"]);
    assert_eq!(answers[0].2.as_deref(), Some("InvalidParameterValue"), "an end before the start");
    assert_eq!(answers[1], answers[0], "moto (through the launcher) answers as LocalStack does");
}

/// `infra/template.yaml`'s resources other than the functions and the tables (LocalStack's free
/// DynamoDB needs a download) created by LocalStack's CloudFormation, which makes what moto's
/// skips (the topic's subscription, the schedule rule, the alarms), and then used: a request
/// published to the template's topic reaches the template's queue raw, the dispatch function
/// sends it to the worker stack's queue, and a worker runs it with its outputs in the template's
/// bucket and the realm's tables on moto.
#[tokio::test]
async fn the_realm_template_s_resources_are_created_by_localstack_s_cloudformation() {
    use crate::infra::{cli_on, create_stack_on, deployable, worker_queues};
    use std::process::Command;
    let r = lava_tests::TestRealm::up("lscf").await;
    let realm = r.names.realm.clone();
    let (clients, on_localstack, ports) = beside(&r).await;
    let endpoint = &lava_tests::localstack().endpoint_url;
    let root = lava_tests::workspace_root();
    let kept = [
        "AWS::S3::Bucket",
        "AWS::SQS::Queue",
        "AWS::SQS::QueuePolicy",
        "AWS::SNS::Topic",
        "AWS::SNS::Subscription",
        "AWS::Events::Rule",
        "AWS::KMS::Key",
        "AWS::KMS::Alias",
        "AWS::IAM::ManagedPolicy",
        "AWS::IAM::Group",
        "AWS::CloudWatch::Alarm",
    ];
    let template = deployable(&root.join("infra/template.yaml"), &kept);
    let stack = format!("lava-{}", realm.replace('_', "-"));
    let bucket = r.names.local_bucket();
    let parameters = [
        ("Realm", realm.as_str()),
        ("BucketName", &bucket),
        ("CreateRealmsTable", "No"),
        ("ScheduleState", "DISABLED"),
    ];
    create_stack_on(endpoint, &stack, &template, &parameters);
    let worker = worker_queues();
    create_stack_on(endpoint, &format!("{stack}-core"), &worker, &[("Realm", &realm), ("Worker", "core")]);
    let aws = |args: &[&str]| -> serde_json::Value {
        let out = cli_on(endpoint, Command::new(lava_tests::venv_tool("aws")).args(args));
        serde_json::from_str(&out).unwrap_or(serde_json::Value::Null)
    };

    // What moto's CloudFormation skips: the schedule rule onto the dispatch queue, the alarms.
    let rule = aws(&["events", "describe-rule", "--name", &format!("lava-{realm}---schedule")]);
    assert_eq!(
        (rule["ScheduleExpression"].as_str(), rule["State"].as_str()),
        (Some("rate(1 minute)"), Some("DISABLED"))
    );
    let targets = aws(&["events", "list-targets-by-rule", "--rule", &format!("lava-{realm}---schedule")]);
    let dispatch_url = on_localstack.queues.queue_url(&r.names.dispatch_queue).await.unwrap();
    let dispatch_arn = provision::queue_arn(&clients, &dispatch_url).await.unwrap();
    assert_eq!(targets["Targets"][0]["Arn"].as_str(), Some(dispatch_arn.as_str()));
    let alarms = aws(&["cloudwatch", "describe-alarms", "--alarm-name-prefix", &format!("lava-{realm}--")]);
    let mut names: Vec<&str> =
        alarms["MetricAlarms"].as_array().unwrap().iter().filter_map(|a| a["AlarmName"].as_str()).collect();
    names.sort();
    let want = ["actions", "dispatch", "s3events"].map(|q| format!("lava-{realm}--{q}-dlq-depth"));
    assert_eq!(names, want);
    let groups = aws(&["iam", "list-groups"]);
    let groups = groups["Groups"].to_string();
    assert!(["reader", "operator", "admin"].iter().all(|g| groups.contains(&format!("lava-{realm}-{g}"))), "{groups}");
    // The realm's key, as the state values use it.
    let sealed = on_localstack.keys.encrypt(&format!("alias/lava-{realm}-sys"), b"value").await.unwrap();
    assert_eq!(on_localstack.keys.decrypt(&sealed).await.unwrap(), b"value");

    // Used: a request published to the template's topic, through its subscription (raw), the
    // dispatch function and the worker stack's queue, run by a worker.
    r.put_job(serde_json::json!({"job_id": "lscf/hello", "type": "cmd", "worker": "core", "enabled": true,
        "payload": "echo from the stacks"}))
        .await;
    let topic = format!("arn:aws:sns:us-east-1:000000000000:lava-{realm}-dispatch");
    ports.topics.publish(&topic, None, r#"{"job_id": "lscf/hello"}"#).await.unwrap();
    let requests = drain(&on_localstack, &dispatch_url, 1).await;
    assert_eq!(requests.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(), [r#"{"job_id": "lscf/hello"}"#]);
    let function = shared::dispatch::function::DispatchFunction::load(r.names.clone(), vec![], &ports).await.unwrap();
    let incoming = first_delivery(&requests[0]);
    assert!(function.handle(vec![incoming]).await.is_empty(), "the request is handled");
    let worker_queue = on_localstack.queues.queue_url(&r.names.worker_queue("core")).await.unwrap();
    let message = peek_dispatched(&on_localstack, &worker_queue).await;
    let worker = shared::worker::build(lava_tests::worker_options(&realm, 1, vec![]), ports.clone()).await.unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    worker.run(rx).await.unwrap();
    let run_id = message["run_id"].as_str().unwrap();
    assert_eq!(r.statuses("lscf/hello", run_id).await, ["starting", "running", "complete"]);
    let item = r.events("lscf/hello", run_id).await;
    let stdout = item["log"][2]["info"]["output"][0]["stdout"].as_str().unwrap_or_else(|| panic!("{item}"));
    assert!(stdout.starts_with(&format!("s3://{bucket}/")), "the output went to the template's bucket: {stdout}");
    let (_, key) = stdout["s3://".len()..].split_once('/').unwrap();
    assert_eq!(on_localstack.blobs.get_object(&bucket, key).await.unwrap(), b"from the stacks\n");
}
