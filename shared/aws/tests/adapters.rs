//! Each AWS adapter against moto: what a port call does is read back through the emulator.

use lava_aws::{DynamoTables, EcsTasks, EventBridgeBus, S3Blobs, SesMailer, SnsTopics, SqsQueues, provision};
use lava_core::catalog::Catalog;
use lava_core::ports::*;
use lava_model::model::{EventLogEntry, EventStatus, EventUpdate, JobSpec};
use lava_model::names::ResourceNames;
use lava_testkit::{clients, moto_data, unique};
use serde_json::{Value, json};
use std::sync::Arc;

async fn realm_tables(names: &ResourceNames) -> DynamoTables {
    let clients = clients().await;
    for table in names.tables() {
        provision::create_table(&clients, &table).await.unwrap();
    }
    DynamoTables::new(clients.dynamodb.clone())
}

#[tokio::test]
async fn every_spec_job_round_trips_through_dynamodb() {
    let names = ResourceNames::for_realm(&unique("rt"));
    let catalog = Catalog::new(Arc::new(realm_tables(&names).await), names);
    let fixtures: Vec<Value> = serde_json::from_str(include_str!("../../../tests/fixtures/specs/jobs.json")).unwrap();
    for value in &fixtures {
        catalog.put_job(&JobSpec::from_value(value).unwrap()).await.unwrap();
    }
    for value in &fixtures {
        let id = value["job_id"].as_str().unwrap();
        let stored = catalog.job(id).await.unwrap();
        assert_eq!(stored.to_value(), *value, "{id} reads back exactly as written");
    }
    assert_eq!(catalog.jobs().await.unwrap().len(), fixtures.len());
    let missing = catalog.job("no/such/job").await.unwrap_err();
    assert_eq!(missing.to_string(), "job no/such/job: not found");
}

#[tokio::test]
async fn conditional_put_and_delete() {
    let names = ResourceNames::for_realm(&unique("cp"));
    let tables = realm_tables(&names).await;
    let item = |v: Value| v.as_object().unwrap().clone();
    let key = item(json!({"state_id": "s1"}));
    assert!(
        tables.put_new_item(&names.state_table, "state_id", item(json!({"state_id": "s1", "n": 1}))).await.unwrap()
    );
    assert!(
        !tables.put_new_item(&names.state_table, "state_id", item(json!({"state_id": "s1", "n": 2}))).await.unwrap()
    );
    assert_eq!(tables.get_item(&names.state_table, &key, true).await.unwrap().unwrap()["n"], 1);
    tables.delete_item(&names.state_table, &key).await.unwrap();
    assert_eq!(tables.get_item(&names.state_table, &key, true).await.unwrap(), None);
}

fn update(events: &[(EventStatus, Value, u32)], write_id: &str) -> EventUpdate {
    EventUpdate {
        job_id: "finance/daily-extract".into(),
        run_id: "2f0c5d0e-9a55-4b6e-8f1e-3c1d2b7a9e10".into(),
        ts_dispatch: "2025-03-04T06:15:00+11:00".into(),
        worker: "core".into(),
        instance_id: None,
        hostname: "ip-10-1-2-3".into(),
        ttl: Some(1_741_115_741),
        entries: events
            .iter()
            .map(|(status, info, second)| EventLogEntry {
                ts_event: format!("2025-03-04T06:15:{second:02}+11:00"),
                tu_event: format!("2025-03-03T19:15:{second:02}"),
                status: *status,
                info: info.clone(),
            })
            .collect(),
        write_id: write_id.into(),
        holder: None,
    }
}

#[tokio::test]
async fn events_are_appended_in_the_original_item_format() {
    let names = ResourceNames::for_realm(&unique("ev"));
    let tables = realm_tables(&names).await;
    let result = json!({"exit_status": 0, "output": [{"payload": "extract.sh", "exit_status": 0}]});
    // Two writes, as a worker makes them: `starting` with `running`, then `complete`.
    let writes = [
        vec![(EventStatus::Starting, Value::Null, 2), (EventStatus::Running, json!("Iteration 1"), 2)],
        vec![(EventStatus::Complete, result.clone(), 41)],
    ];
    for (n, write) in writes.iter().enumerate() {
        tables.append(&names.events_table, &update(write, &format!("w{n}"))).await.unwrap();
    }
    // The last write arrives again (a retry after its answer was lost): applied once.
    tables.append(&names.events_table, &update(&writes[1], "w1")).await.unwrap();
    let key = json!({"job_id": "finance/daily-extract", "run_id": "2f0c5d0e-9a55-4b6e-8f1e-3c1d2b7a9e10"});
    let mut stored = tables.get_item(&names.events_table, key.as_object().unwrap(), true).await.unwrap().unwrap();
    let mut write_ids: Vec<Value> = serde_json::from_value(stored.remove("write_ids").unwrap()).unwrap();
    write_ids.sort_by_key(|v| v.to_string());
    assert_eq!(write_ids, [json!("w0"), json!("w1")], "lava's own: the ids of the writes applied");
    let expected = json!({
        "job_id": "finance/daily-extract",
        "run_id": "2f0c5d0e-9a55-4b6e-8f1e-3c1d2b7a9e10",
        "status": "complete",
        "ts_dispatch": "2025-03-04T06:15:00+11:00",
        "ts_event": "2025-03-04T06:15:41+11:00",
        "tu_event": "2025-03-03T19:15:41",
        "ttl": 1_741_115_741,
        "worker": "core",
        "worker_id": null,
        "hostname": "ip-10-1-2-3",
        // lava's own: the write that ends the run marks its lease done (duplicates never rerun it).
        "lease_until": -1,
        "log": [
            {"status": "starting", "ts_event": "2025-03-04T06:15:02+11:00", "tu_event": "2025-03-03T19:15:02", "info": null},
            {"status": "running", "ts_event": "2025-03-04T06:15:02+11:00", "tu_event": "2025-03-03T19:15:02", "info": "Iteration 1"},
            {"status": "complete", "ts_event": "2025-03-04T06:15:41+11:00", "tu_event": "2025-03-03T19:15:41", "info": result},
        ]
    });
    assert_eq!(Value::Object(stored.clone()), expected);
    let record: lava_model::model::EventRecord = serde_json::from_value(Value::Object(stored)).unwrap();
    assert_eq!(record.log.len(), 3);
}

#[tokio::test]
async fn a_leased_runs_events_are_written_only_by_its_holder() {
    use lava_model::model::LeaseRequest;
    let names = ResourceNames::for_realm(&unique("ev"));
    let tables = realm_tables(&names).await;
    let table = &names.events_table;
    let base = update(&[(EventStatus::Starting, Value::Null, 2)], "w0");
    let lease = |owner: &str, now: i64| LeaseRequest {
        job_id: base.job_id.clone(),
        run_id: base.run_id.clone(),
        owner: owner.into(),
        now,
        until: now + 10,
        ttl: None,
    };
    let now = jiff::Timestamp::now().as_second();
    tables.claim(table, &lease("first:1:a", now)).await.unwrap();
    let held = |id: &str, holder: &str, status: EventStatus| EventUpdate {
        holder: Some(holder.into()),
        ..update(&[(status, Value::Null, 3)], id)
    };
    tables.append(table, &held("w1", "first:1:a", EventStatus::Running)).await.unwrap();
    // The first worker stalls past its lease; another takes the run over.
    tables.claim(table, &lease("second:2:b", now + 60)).await.unwrap();
    let late = tables.append(table, &held("w2", "first:1:a", EventStatus::Complete)).await.unwrap_err();
    assert!(late.is_lease_lost(), "{late}");
    // A retry of a write that landed before the takeover (its answer was lost) is no error.
    tables.append(table, &held("w1", "first:1:a", EventStatus::Running)).await.unwrap();
    tables.append(table, &held("w3", "second:2:b", EventStatus::Complete)).await.unwrap();
    let key = json!({"job_id": base.job_id, "run_id": base.run_id});
    let stored = tables.get_item(table, key.as_object().unwrap(), true).await.unwrap().unwrap();
    let statuses: Vec<&str> = stored["log"].as_array().unwrap().iter().map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["running", "complete"], "one complete, from the holder: {stored:?}");
    assert_eq!((&stored["lease_owner"], &stored["lease_until"]), (&json!("second:2:b"), &json!(-1)));
}

#[tokio::test]
async fn queue_send_receive_release_delete() {
    let clients = clients().await;
    let name = unique("lava-q-");
    provision::create_queue_with_dlq(&clients, &name, 30, 3).await.unwrap();
    let queues = SqsQueues::new(clients.sqs.clone());
    let url = queues.queue_url(&name).await.unwrap();
    // A missing queue is SQS's answer, as the original's botocore worded it, and permanent.
    let missing = queues.queue_url(&unique("nope-")).await.unwrap_err();
    assert!(
        missing.to_string().starts_with(
            "An error occurred (AWS.SimpleQueueService.NonExistentQueue) when calling the GetQueueUrl operation"
        ),
        "{missing}"
    );
    assert_eq!(missing.retry(), lava_model::Retry::Permanent);

    queues
        .send(&url, &OutgoingMessage { body: "later".into(), delay_seconds: 60, ..Default::default() })
        .await
        .unwrap();
    queues.send(&url, &OutgoingMessage { body: "now".into(), ..Default::default() }).await.unwrap();
    let first = queues.receive(&url, 10, 1).await.unwrap();
    assert_eq!(
        first.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["now"],
        "the delayed message is not visible yet"
    );
    assert_eq!(first[0].receive_count, 1);
    assert!(queues.receive(&url, 10, 0).await.unwrap().is_empty(), "a received message is invisible");

    queues.set_visibility(&url, &first[0].receipt_handle, 0).await.unwrap();
    let again = queues.receive(&url, 10, 1).await.unwrap();
    assert_eq!((again[0].body.as_str(), again[0].receive_count), ("now", 2), "released, then received a second time");
    queues.delete(&url, &again[0].receipt_handle).await.unwrap();
    queues.set_visibility(&url, &again[0].receipt_handle, 0).await.ok();
    assert!(queues.receive(&url, 10, 0).await.unwrap().is_empty(), "deleted for good");
}

#[tokio::test]
async fn blobs_put_get_list() {
    let clients = clients().await;
    let bucket = unique("lava-b-");
    provision::create_bucket(&clients, &bucket).await.unwrap();
    let blobs = S3Blobs::new(clients.s3.clone());
    blobs
        .put_object(&bucket, "payloads/demo/a.sh", b"#!/bin/sh\necho a\n".to_vec(), &Encryption::Aes256)
        .await
        .unwrap();
    blobs
        .put_object(&bucket, "payloads/demo/b.sh", b"b".to_vec(), &Encryption::Kms("alias/lava-dev-user".into()))
        .await
        .unwrap();
    blobs.put_object(&bucket, "payloads/demo/sub/c.sh", b"c".to_vec(), &Encryption::Aes256).await.unwrap();
    assert_eq!(blobs.get_object(&bucket, "payloads/demo/a.sh").await.unwrap(), b"#!/bin/sh\necho a\n");
    let listing = blobs.list_objects(&bucket, "payloads/demo/", Some("/")).await.unwrap();
    let keys: Vec<&str> = listing.objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, ["payloads/demo/a.sh", "payloads/demo/b.sh"]);
    assert_eq!(listing.objects[1].size, 1);
    assert_eq!(listing.prefixes, ["payloads/demo/sub/"]);
    assert_eq!(blobs.list_objects(&bucket, "payloads/", None).await.unwrap().objects.len(), 3);
    let missing = blobs.get_object(&bucket, "payloads/none").await.unwrap_err();
    assert_eq!(missing.to_string(), format!("object s3://{bucket}/payloads/none: not found"));
}

#[tokio::test]
async fn a_streamed_upload_goes_in_parts_and_an_aborted_one_leaves_nothing() {
    let clients = clients().await;
    let bucket = unique("lava-b-");
    provision::create_bucket(&clients, &bucket).await.unwrap();
    let blobs: Arc<dyn BlobStore> = Arc::new(S3Blobs::new(clients.s3.clone()));
    let part = 5 << 20; // S3's smallest part but the last
    let mut upload = Upload::new(blobs.as_ref(), &bucket, "out/big", Encryption::Aes256).with_part_size(part);
    let mut expected = Vec::new();
    for i in 0..12u8 {
        let chunk = vec![b'a' + i; 1 << 20];
        upload.write(&chunk).await.unwrap();
        expected.extend(chunk);
    }
    upload.finish().await.unwrap();
    assert_eq!(blobs.get_object(&bucket, "out/big").await.unwrap(), expected, "three parts, in order");
    let listing = blobs.list_objects(&bucket, "out/big", None).await.unwrap();
    assert!(listing.objects[0].etag.as_deref().is_some_and(|e| e.ends_with("-3\"")), "a multipart object: {listing:?}");

    let mut aborted = Upload::new(blobs.as_ref(), &bucket, "out/gone", Encryption::Aes256).with_part_size(part);
    aborted.write(&vec![b'x'; part + 1]).await.unwrap();
    aborted.abort().await;
    let open = clients.s3.list_multipart_uploads().bucket(&bucket).send().await.unwrap();
    assert!(open.uploads().is_empty(), "the aborted upload's parts are freed");
    assert!(blobs.get_object(&bucket, "out/gone").await.is_err());
}

#[tokio::test]
async fn sns_publish_reaches_a_subscribed_queue() {
    let clients = clients().await;
    let topic = provision::create_topic(&clients, &unique("lava-t-")).await.unwrap();
    let queue_url = provision::create_queue(&clients, &unique("lava-s-"), &[]).await.unwrap();
    provision::subscribe_queue(&clients, &topic, &provision::queue_arn(&clients, &queue_url).await.unwrap())
        .await
        .unwrap();
    SnsTopics::new(clients.sns.clone()).publish(&topic, Some("subject"), "job x failed").await.unwrap();
    let got = SqsQueues::new(clients.sqs.clone()).receive(&queue_url, 1, 2).await.unwrap();
    assert_eq!(got[0].body, "job x failed");
}

#[tokio::test]
async fn ses_sends_text_and_html() {
    let clients = clients().await;
    let sender = format!("{}@example.com", unique("lava"));
    provision::verify_email_identity(&clients, &sender).await.unwrap();
    let mailer = SesMailer::new(clients.ses.clone());
    let mut email = Email {
        from: sender.clone(),
        to: vec!["ops@example.com".into()],
        subject: "Job done".into(),
        body: "It worked!".into(),
        html: false,
        ..Default::default()
    };
    mailer.send_email(&email).await.unwrap();
    email.body = "<HTML><b>It worked!</b>".into();
    email.html = true;
    mailer.send_email(&email).await.unwrap();
    let data = moto_data().to_string();
    assert!(data.contains(&sender), "the sent mail is recorded by the emulator");
    assert!(data.contains("<b>It worked!</b>") && data.contains("It worked!"));
    let unverified = Email { from: "nobody@unverified.example".into(), ..email };
    assert!(mailer.send_email(&unverified).await.is_err(), "an unverified sender is refused");
}

#[tokio::test]
async fn eventbridge_events_reach_a_rule_target() {
    let clients = clients().await;
    let source = format!("lava.{}", unique("ev"));
    let queue_url = provision::create_queue(&clients, &unique("lava-e-"), &[]).await.unwrap();
    let pattern = json!({"source": [source]}).to_string();
    provision::route_events_to_queue(
        &clients,
        &unique("lava-r-"),
        &pattern,
        &provision::queue_arn(&clients, &queue_url).await.unwrap(),
    )
    .await
    .unwrap();
    let event = BusEvent {
        bus: None,
        source: source.clone(),
        detail_type: "Lava Job Action".into(),
        detail: json!({"realm": "dev", "job_id": "a", "exit_status": 0}).to_string(),
        resources: vec![],
    };
    EventBridgeBus::new(clients.events.clone()).put_event(&event).await.unwrap();
    let got = SqsQueues::new(clients.sqs.clone()).receive(&queue_url, 1, 2).await.unwrap();
    let delivered: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(delivered["detail-type"], "Lava Job Action");
    assert_eq!(delivered["source"], source);
    assert_eq!(delivered["detail"]["job_id"], "a");
}

#[tokio::test]
async fn ecs_runs_and_describes_a_task() {
    let clients = clients().await;
    let cluster = unique("lava-c-");
    let definition =
        provision::register_task(&clients, &cluster, &unique("lava-f-"), "job", "busybox:latest").await.unwrap();
    let tasks = EcsTasks::new(clients.ecs.clone(), clients.logs.clone());
    let request = TaskRequest {
        cluster: cluster.clone(),
        task_definition: definition,
        container: "job".into(),
        command: vec!["sh".into(), "-c".into(), "exit 3".into()],
        environment: vec![("LAVA_JOB_ID".into(), "demo/x".into())],
        launch_type: LaunchType::Fargate,
        subnets: vec!["subnet-0123456789abcdef0".into()],
        security_groups: vec!["sg-0123456789abcdef0".into()],
    };
    let arn = tasks.run_task(&request).await.unwrap();
    assert!(arn.contains(":task/"), "{arn}");
    let status = tasks.task_status(&cluster, &arn).await.unwrap();
    const LIFECYCLE: &[&str] =
        &["PROVISIONING", "PENDING", "ACTIVATING", "RUNNING", "DEACTIVATING", "STOPPING", "DEPROVISIONING", "STOPPED"];
    assert!(LIFECYCLE.contains(&status.last_status.as_str()), "{status:?}");
    assert!(matches!(
        tasks.task_status(&cluster, "arn:aws:ecs:us-east-1:123456789012:task/none").await,
        Err(lava_model::Error::NotFound { .. })
    ));
    let group = format!("/lava/{cluster}/docker");
    provision::put_log_lines(&clients, &group, "lava/job/abc", &["one", "two"]).await.unwrap();
    assert_eq!(tasks.task_logs(&group, "lava/job/abc").await.unwrap(), ["one", "two"]);
    assert!(
        tasks.task_logs(&group, "lava/job/none").await.unwrap().is_empty(),
        "a missing stream is no log, not an error"
    );
}

/// Accepts connections on loopback and never answers: a server that silently stopped.
fn silent_server() -> (String, std::net::TcpListener) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    (format!("http://{}", listener.local_addr().unwrap()), listener)
}

#[tokio::test]
async fn a_server_that_stops_answering_fails_each_call_after_its_attempt_timeouts() {
    let (endpoint, _listener) = silent_server();
    let options = lava_aws::AwsOptions {
        endpoint_url: Some(endpoint),
        region: Some("us-east-1".into()),
        emulator: true,
        call_timeout: Some(std::time::Duration::from_secs(1)),
        ..Default::default()
    };
    let clients = lava_aws::Clients::load(&options).await;
    let tables = DynamoTables::new(clients.dynamodb.clone());
    let started = std::time::Instant::now();
    let key = json!({"job_id": "a", "run_id": "b"});
    let error = tables.get_item("lava-x-events", key.as_object().unwrap(), true).await.unwrap_err();
    let took = started.elapsed();
    println!("DynamoDB GetItem against a silent server failed after {took:.1?}: {error}");
    assert_eq!(error.retry(), lava_model::error::Retry::Transient, "a timeout is worth retrying: {error}");
    assert!(
        took >= std::time::Duration::from_secs(4) && took < std::time::Duration::from_secs(20),
        "4 attempts of 1 s: {took:?}"
    );

    // A long poll may take its wait plus the attempt timeout, and no longer.
    let queues = SqsQueues::new(clients.sqs.clone());
    let started = std::time::Instant::now();
    let error = queues.receive("http://127.0.0.1:1/000000000000/q", 1, 2).await.unwrap_err();
    let took = started.elapsed();
    println!("SQS ReceiveMessage (2 s wait) against a silent server failed after {took:.1?}: {error}");
    assert_eq!(error.retry(), lava_model::error::Retry::Transient);
    assert!(
        took >= std::time::Duration::from_secs(12) && took < std::time::Duration::from_secs(35),
        "4 attempts of 3 s: {took:?}"
    );
}

/// The RDS IAM token is the one botocore's `generate_db_auth_token` makes for the same
/// credentials, place, user and moment (the clock of botocore's signer set to that moment),
/// with and without a session token: so RDS accepts it as the original's.
#[test]
fn rds_tokens_match_botocores_generate_db_auth_token() {
    use aws_credential_types::Credentials;
    use std::time::{Duration, SystemTime};
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_040_123);
    let script = r#"
import contextlib, datetime, sys
from unittest import mock
import botocore.auth, botocore.session
key, secret, token, host, port, user, region = sys.argv[1:8]
moment = datetime.datetime(2026, 11, 30, 12, 2, 3, tzinfo=datetime.timezone.utc)
def frozen(remove_tzinfo=True):
    return moment.replace(tzinfo=None) if remove_tzinfo else moment
# botocore signs with the AWS CRT when it is installed, else in Python: both clocks are set.
with contextlib.ExitStack() as clocks:
    clocks.enter_context(mock.patch.object(botocore.auth, "get_current_datetime", frozen))
    try:
        import botocore.crt.auth
        clocks.enter_context(mock.patch.object(botocore.crt.auth, "get_current_datetime", frozen))
    except ImportError:
        pass
    session = botocore.session.get_session()
    session.set_credentials(key, secret, token or None)
    rds = session.create_client("rds", region_name=region)
    print(rds.generate_db_auth_token(DBHostname=host, Port=int(port), DBUsername=user))
"#;
    for token in [None, Some("FwoGZXIvYXdzEJr//session+token=")] {
        let credentials = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            token.map(str::to_string),
            None,
            "t",
        );
        let ours = lava_aws::rds::db_auth_token(
            "mydb.cluster-abc.ap-southeast-2.rds.amazonaws.com",
            3306,
            "lava_app",
            "ap-southeast-2",
            &credentials,
            at,
        )
        .unwrap();
        let out = std::process::Command::new(lava_testkit::venv_tool("python"))
            .args([
                "-c",
                script,
                "AKIDEXAMPLE",
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                token.unwrap_or(""),
                "mydb.cluster-abc.ap-southeast-2.rds.amazonaws.com",
                "3306",
                "lava_app",
                "ap-southeast-2",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let theirs = String::from_utf8(out.stdout).unwrap().trim().to_string();
        let parts = |t: &str| {
            let (place, query) = t.split_once('?').unwrap();
            let mut params: Vec<String> = query.split('&').map(str::to_string).collect();
            params.sort();
            (place.to_string(), params)
        };
        assert_eq!(parts(&ours), parts(&theirs), "\nours:   {ours}\ntheirs: {theirs}");
    }
}

/// Event writes are idempotent even when copies of one write reach the table at once (a held
/// request and its retry, after a network freeze): DynamoDB applies each conditional write
/// atomically, and so does the test emulator (moto served through `cli/src/local/moto_server.py`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_of_one_event_write_landing_together_append_once() {
    let names = ResourceNames::for_realm(&unique("atomic"));
    let tables = Arc::new(realm_tables(&names).await);
    let recorder = Arc::new(lava_core::recorder::EventRecorder::new(
        tables.clone(),
        &names.events_table,
        "core",
        0,
        jiff::tz::TimeZone::UTC,
    ));
    for round in 0..100 {
        let run_id = uuid::Uuid::new_v4().to_string();
        let (entry, _) = recorder.entry(lava_model::model::EventStatus::Complete, serde_json::json!({"round": round}));
        let write_id = lava_core::recorder::new_write_id();
        let copies = (0..8).map(|_| {
            let (recorder, run_id, entry, write_id) =
                (recorder.clone(), run_id.clone(), entry.clone(), write_id.clone());
            tokio::spawn(async move {
                recorder
                    .write_once("atomic/job", &run_id, "2026-01-01T00:00:00+00:00", vec![entry], &write_id, None)
                    .await
            })
        });
        for copy in futures_util::future::join_all(copies).await {
            copy.unwrap().unwrap();
        }
        let key = json!({"job_id": "atomic/job", "run_id": run_id});
        let item = tables.get_item(&names.events_table, key.as_object().unwrap(), true).await.unwrap().unwrap();
        let statuses: Vec<&str> =
            item["log"].as_array().unwrap().iter().map(|e| e["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["complete"], "round {round}: appended more than once");
    }
}
