//! Actions against moto: each action's effect read back from SNS, SQS, SES, EventBridge,
//! DynamoDB and KMS; Slack against a local HTTP listener; the actions Lambda handler with SQS
//! events (a redelivery, a failing action, a bad message, a context in S3); the seed's action
//! specs run verbatim in the seed's own accounts and region.

use aws_lambda_events::event::sqs::SqsEvent;
use lava_tests::{TestRealm, emulator, moto_data, unique};
use serde_json::{Value, json};
use shared::actions::{ActionRequest, ActionServices, NoLedger};
use shared::aws::{AwsOptions, Clients, provision};
use shared::config::Config;
use shared::names::ResourceNames;
use shared::ports::{Ports, WorkQueue};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn services(r: &TestRealm, realm: shared::model::RealmEntry) -> ActionServices {
    shared::actions::services(realm, r.names.clone(), Config::default(), &r.ports)
}

fn request(job_id: &str, key: &str, actions: Value, result: Value) -> ActionRequest {
    let context = json!({
        "job": {"job_id": job_id, "run_id": "0a1b2c3d-0000-4000-8000-000000000001", "worker": "core", "ts_dispatch": "2025-03-04T07:15:00+11:00", "globals": {"a_global": "g1"}},
        "realm": {"realm": "dev"},
        "globals": {"a_global": "g1", "lava": {"iteration": 1}},
        "state": {},
        "start": "2025-03-04T07:15:02+11:00",
        "ustart": "2025-03-03T20:15:02+00:00",
        "result": result,
    });
    ActionRequest {
        key: serde_json::from_value(json!(key)).expect("an action key"),
        actions: actions.as_array().unwrap().clone(),
        job_id: job_id.into(),
        run_id: "0a1b2c3d-0000-4000-8000-000000000001".into(),
        iteration: 1,
        context: context.as_object().unwrap().clone(),
        context_s3: None,
    }
}

/// A queue that receives what a topic or rule delivers: (url, arn).
async fn capture(clients: &Clients) -> (String, String) {
    let url = provision::create_queue(clients, &unique("lava-cap-"), &[]).await.unwrap();
    let arn = provision::queue_arn(clients, &url).await.unwrap();
    (url, arn)
}

async fn received(queues: &dyn WorkQueue, url: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    for _ in 0..3 {
        let got = queues.receive(url, 10, 1).await.unwrap();
        if got.is_empty() && !bodies.is_empty() {
            break;
        }
        for m in got {
            queues.delete(url, &m.receipt_handle).await.unwrap();
            bodies.push(m.body);
        }
    }
    bodies
}

#[tokio::test]
async fn every_action_reaches_its_service() {
    let r = TestRealm::up("act").await;
    let clients = &r.clients;
    let sender = format!("{}@example.com", unique("lava"));
    provision::verify_email_identity(clients, &sender).await.unwrap();
    let topic = provision::create_topic(clients, &unique("lava-t-")).await.unwrap();
    let (topic_queue, topic_queue_arn) = capture(clients).await;
    provision::subscribe_queue(clients, &topic, &topic_queue_arn).await.unwrap();
    let (event_queue, event_queue_arn) = capture(clients).await;
    provision::route_events_to_queue(
        clients,
        &unique("lava-r-"),
        &json!({"source": [format!("lava.{}", r.names.realm)]}).to_string(),
        &event_queue_arn,
    )
    .await
    .unwrap();
    let target_queue = provision::create_queue(clients, &unique("lava-q-"), &[]).await.unwrap();
    let fifo_name = format!("{}.fifo", unique("lava-f-"));
    let fifo_queue = provision::create_fifo_queue(clients, &fifo_name).await.unwrap();
    let mail = shared::model::ConnectionEntry::from_value(
        &json!({"conn_id": "mail", "type": "email", "enabled": true, "from": sender.clone()}),
    )
    .unwrap();
    let bucket = r.names.local_bucket();
    use shared::ports::BlobStore;
    r.blobs
        .put_object(&bucket, "out/report.csv", b"a,b\n1,2\n".to_vec(), &shared::ports::Encryption::Aes256)
        .await
        .unwrap();
    r.put_job(json!({"job_id": "act/next", "type": "cmd", "worker": "core", "enabled": true, "payload": "true"})).await;
    r.catalog.put_connection(&mail).await.unwrap();
    let realm = r.catalog.realm().await.unwrap();
    let s = services(&r, realm);

    let actions = json!([
        {"action": "sqs", "queue": fifo_name, "message": "in order", "group_id": "{{ job.job_id }}", "dedup_id": "{{ job.run_id }}-1"},
        {"action": "email", "email_conn": "mail", "to": ["ops@example.com"], "subject": "report", "message": "attached", "attachments": [format!("s3://{bucket}/out/report.csv")]},
        {"action": "sns", "topic": topic, "message": "{{ job.job_id }} ok", "subject": "done"},
        {"action": "sqs", "queue": target_queue, "message": {"day": "{{ ustart.date() }}"}},
        {"action": "email", "to": "ops@example.com", "from": sender, "subject": "{{ job.job_id }}", "message": "<HTML><p>finished {{ start.isoformat() }}</p>"},
        {"action": "event"},
        {"action": "state", "state_id": "act-last", "value": {"at": "{{ ustart.isoformat() }}"}},
        {"action": "state", "state_id": "act-secret", "value": "t0ken-{{ job.job_id }}", "type": "secure"},
        {"action": "dispatch", "job_id": "act/next", "parameters": {"from": "{{ job.job_id }}"}},
        {"action": "log", "message": "all sent"}
    ]);
    s.run_list(&request("act/first", "on_success", actions, json!({"exit_status": 0, "error": null})), &NoLedger)
        .await
        .unwrap();

    assert_eq!(received(r.queues.as_ref(), &topic_queue).await, vec!["act/first ok"]);
    assert_eq!(received(r.queues.as_ref(), &fifo_queue).await, vec!["in order"]);
    assert_eq!(received(r.queues.as_ref(), &target_queue).await, vec![json!({"day": "2025-03-03"}).to_string()]);
    let ses = moto_data().to_string();
    assert!(
        ses.contains(&sender) && ses.contains("finished 2025-03-04T07:15:02+11:00"),
        "the email is recorded by SES"
    );
    assert!(
        ses.contains("filename=\\\"report.csv\\\"")
            && ses.contains("Content-Type: text/csv\\r\\nContent-Transfer-Encoding: 7bit\\r\\n\\r\\na,b\\n1,2\\n"),
        "the raw MIME email carries the S3 attachment: {ses}"
    );
    let event: Value = serde_json::from_str(&received(r.queues.as_ref(), &event_queue).await[0]).unwrap();
    assert_eq!(event["detail-type"], "Lava Job Action");
    assert_eq!(
        event["detail"],
        json!({"realm": r.names.realm, "worker": "core", "job_id": "act/first", "run_id": "0a1b2c3d-0000-4000-8000-000000000001", "exit_status": 0})
    );
    assert_eq!(s.state.get("act-last").await.unwrap().unwrap().1, json!({"at": "2025-03-03T20:15:02+00:00"}));
    let (secure, value) = s.state.get("act-secret").await.unwrap().unwrap();
    assert_eq!(value, json!("t0ken-act/first"), "decrypted by KMS");
    assert!(!secure.value.to_string().contains("t0ken"), "stored as KMS ciphertext");
    let dispatched = received(r.queues.as_ref(), &r.queue_url(&r.names.worker_queue("core")).await).await;
    let message: Value = serde_json::from_str(&dispatched[0]).unwrap();
    assert_eq!(
        (message["job_id"].as_str(), message["parameters"]["from"].as_str()),
        (Some("act/next"), Some("act/first"))
    );
    assert_eq!(message["globals"]["lava"]["parent_job_id"], "act/first");
}

/// A one-request HTTP server: returns the request body it got and answers `status`/`body`.
async fn listener(status: u16, reply: &'static str) -> (String, tokio::task::JoinHandle<String>) {
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/services/T0/B0/x", socket.local_addr().unwrap());
    let handle = tokio::spawn(async move {
        let (mut stream, _) = socket.accept().await.unwrap();
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.unwrap();
            data.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&data).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if body.len() >= length {
                    let response = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                        reply.len()
                    );
                    stream.write_all(response.as_bytes()).await.unwrap();
                    return body.to_string();
                }
            }
            if n == 0 {
                return String::new();
            }
        }
    });
    (url, handle)
}

#[tokio::test]
async fn slack_posts_to_the_connection_webhook() {
    let r = TestRealm::up("slk").await;
    let realm = r.catalog.realm().await.unwrap();
    let s = services(&r, realm);
    let (url, got) = listener(200, "ok").await;
    let conn = shared::model::ConnectionEntry::from_value(
        &json!({"conn_id": "chat", "type": "slack", "enabled": true, "webhook_url": url, "style": "attachment"}),
    )
    .unwrap();
    r.catalog.put_connection(&conn).await.unwrap();
    let actions = json!([{"action": "slack", "slack_conn": "chat", "message": "{{ job.job_id }} failed: {{ result.error }}", "subject": "lava", "colour": "danger"}]);
    s.run_list(&request("slk/j", "on_fail", actions.clone(), json!({"error": "boom", "error_data": null})), &NoLedger)
        .await
        .unwrap();
    let body: Value = serde_json::from_str(&got.await.unwrap()).unwrap();
    assert_eq!(body["attachments"][0]["text"], "slk/j failed: boom");
    assert_eq!(body["attachments"][0]["color"], "#danger");
    assert_eq!(body["attachments"][0]["title"], "lava");

    let (url, _got) = listener(500, "invalid_payload").await;
    let conn = shared::model::ConnectionEntry::from_value(
        &json!({"conn_id": "chat", "type": "slack", "enabled": true, "webhook_url": url}),
    )
    .unwrap();
    r.catalog.put_connection(&conn).await.unwrap();
    let err = s.run_list(&request("slk/j", "on_fail", actions, json!({"error": "boom"})), &NoLedger).await.unwrap_err();
    assert_eq!(err.message, "slack: Slack response 500 - invalid_payload");
}

fn sqs_event(records: &[(&str, &str, u32)]) -> SqsEvent {
    let records: Vec<Value> = records
        .iter()
        .map(|(id, body, count)| {
            json!({
                "messageId": id, "receiptHandle": format!("rh-{id}"), "body": body,
                "attributes": {"ApproximateReceiveCount": count.to_string(), "SentTimestamp": "1741032902000", "SenderId": "AIDAEXAMPLE", "ApproximateFirstReceiveTimestamp": "1741032902001"},
                "messageAttributes": {}, "md5OfBody": "x", "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:lava-x--actions", "awsRegion": "us-east-1"
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

#[tokio::test]
async fn the_actions_lambda_runs_each_list_once_and_records_failures() {
    let r = TestRealm::up("lam").await;
    let topic = provision::create_topic(&r.clients, &unique("lava-t-")).await.unwrap();
    let (topic_queue, topic_queue_arn) = capture(&r.clients).await;
    provision::subscribe_queue(&r.clients, &topic, &topic_queue_arn).await.unwrap();
    let function =
        shared::actions::function::ActionsFunction::load(r.names.clone(), vec![], &TestRealm::actions_ports().await)
            .await
            .unwrap();

    let good = serde_json::to_string(&request(
        "lam/ok",
        "on_success",
        json!([{"action": "sns", "topic": topic, "message": "sent once"}]),
        json!({"exit_status": 0}),
    ))
    .unwrap();
    let failing = serde_json::to_string(&request("lam/bad", "on_fail", json!([{"action": "sns", "topic": topic, "message": "before"}, {"action": "state", "state_id": "lava-x", "value": 1}]), json!({"error": "e"}))).unwrap();
    let response =
        lava_actions_fn::handle(&function, sqs_event(&[("m1", &good, 1), ("m2", &failing, 1), ("m3", "not json", 1)]))
            .await;
    assert!(response.batch_item_failures.is_empty(), "nothing to retry: {response:?}");
    // SQS delivers m1 again (say the function timed out after finishing it): nothing is re-sent.
    let response = lava_actions_fn::handle(&function, sqs_event(&[("m1", &good, 2)])).await;
    assert!(response.batch_item_failures.is_empty());
    let mut bodies = received(r.queues.as_ref(), &topic_queue).await;
    bodies.sort();
    assert_eq!(bodies, vec!["before", "sent once"], "each SNS message exactly once");

    let item = r.events("lam/bad", "0a1b2c3d-0000-4000-8000-000000000001").await;
    assert_eq!(item["status"], "action_failed");
    assert_eq!(
        item["log"][0]["info"],
        "on_fail action: state: Bad state_id: Values beginning with \"lava\" are reserved"
    );
    let dlq = r.queue_url(&ResourceNames::dead_letter_queue(&r.names.actions_queue)).await;
    let dead = r.queues.receive(&dlq, 10, 1).await.unwrap();
    assert_eq!(dead.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(), vec!["not json"]);
}

#[tokio::test]
async fn a_large_render_context_travels_through_s3() {
    let r = TestRealm::up("big").await;
    let topic = provision::create_topic(&r.clients, &unique("lava-t-")).await.unwrap();
    let (topic_queue, topic_queue_arn) = capture(&r.clients).await;
    provision::subscribe_queue(&r.clients, &topic, &topic_queue_arn).await.unwrap();
    let realm = r.catalog.realm().await.unwrap();
    let temp = shared::model::S3Location::parse(&realm.s3_temp).unwrap();
    let actions_url = r.queue_url(&r.names.actions_queue).await;
    let sink = shared::run::QueuedActions::new(
        r.ports.queues.clone(),
        actions_url.clone(),
        r.ports.blobs.clone(),
        temp,
        shared::ports::Encryption::Aes256,
    );
    let big = "x".repeat(300_000);
    let mut req = request(
        "big/j",
        "on_success",
        json!([{"action": "sns", "topic": topic, "message": "{{ state.big | length }}"}]),
        json!({"exit_status": 0}),
    );
    req.context.insert("state".into(), json!({ "big": big }));
    use shared::run::ActionSink;
    sink.run_actions(req).await.unwrap();
    let queued = r.queues.receive(&actions_url, 1, 1).await.unwrap();
    assert!(queued[0].body.len() < 10_000, "the message carries a reference, not the context");
    assert!(queued[0].body.contains("\"context_s3\":\"s3://"));
    let function =
        shared::actions::function::ActionsFunction::load(r.names.clone(), vec![], &TestRealm::actions_ports().await)
            .await
            .unwrap();
    let response = lava_actions_fn::handle(&function, sqs_event(&[("m1", &queued[0].body, 1)])).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(received(r.queues.as_ref(), &topic_queue).await, vec!["300000"]);
}

/// A realm in the seed's region and one of its accounts: moto takes a 12-digit access key id as
/// the account.
async fn seed_realm(account: &str) -> (Clients, Ports, ResourceNames) {
    let options = AwsOptions {
        endpoint_url: Some(emulator().endpoint_url.clone()),
        region: Some("ap-southeast-2".into()),
        emulator: true,
        account: Some(account.into()),
        ..Default::default()
    };
    let clients = Clients::load(&options).await;
    let names = ResourceNames::for_realm(&unique("seed"));
    provision::realm(&clients, &names, &names.local_bucket(), &["core".to_string()]).await.unwrap();
    let ports = shared::wiring::ports(&clients, Arc::new(shared::webhook::HttpWebhook::new()));
    (clients, ports, names)
}

#[tokio::test]
async fn the_seed_action_specs_run_verbatim() {
    let seed: Vec<Value> = serde_json::from_str(include_str!("../fixtures/specs/seed-actions.json")).unwrap();
    let (proto, proto_ports, proto_names) = seed_realm("990565496141").await;
    let (main, main_ports, main_names) = seed_realm("123456789012").await;
    let notices = provision::create_topic(&proto, "lava-proto-notices").await.unwrap();
    assert_eq!(notices, "arn:aws:sns:ap-southeast-2:990565496141:lava-proto-notices");
    let (notices_queue, arn) = capture(&proto).await;
    provision::subscribe_queue(&proto, &notices, &arn).await.unwrap();
    let mytopic = provision::create_topic(&main, "mytopic").await.unwrap();
    let (mytopic_queue, arn) = capture(&main).await;
    provision::subscribe_queue(&main, &mytopic, &arn).await.unwrap();
    let myqueue = provision::create_queue(&main, "myqueue", &[]).await.unwrap();
    let (events_queue, arn) = capture(&main).await;
    provision::route_events_to_queue(
        &main,
        &unique("lava-r-"),
        &json!({"source": [format!("lava.{}", main_names.realm)]}).to_string(),
        &arn,
    )
    .await
    .unwrap();
    let catalog = shared::catalog::Catalog::new(proto_ports.tables.clone(), proto_names.clone());
    catalog.put_job(&shared::model::JobSpec::from_value(&json!({"job_id": "downstream_job", "type": "cmd", "worker": "core", "enabled": true, "payload": "true"})).unwrap()).await.unwrap();
    let realm_of = |names: &ResourceNames| {
        shared::model::RealmEntry::from_value(
            &json!({"realm": names.realm, "s3_payloads": "s3://b/p", "s3_temp": "s3://b/t"}),
        )
        .unwrap()
    };
    let proto_services =
        shared::actions::services(realm_of(&proto_names), proto_names.clone(), Config::default(), &proto_ports);
    let main_services =
        shared::actions::services(realm_of(&main_names), main_names.clone(), Config::default(), &main_ports);
    let success = json!({"exit_status": 0, "error": null});
    let failure = json!({"error": "Failed with exit status 2", "error_data": {"exit_status": 2}});

    for (index, lists) in seed.iter().enumerate() {
        let services = if index == 0 { &proto_services } else { &main_services };
        for (key, actions) in lists.as_object().unwrap() {
            let result = if key == "on_success" { success.clone() } else { failure.clone() };
            services
                .run_list(&request("seed/job", key, actions.clone(), result), &NoLedger)
                .await
                .unwrap_or_else(|e| panic!("seed list {index} {key}: {e}"));
        }
    }

    assert_eq!(
        received(proto_ports.queues.as_ref(), &notices_queue).await,
        vec!["seed/job@dev (0a1b2c3d-0000-4000-8000-000000000001) failed: Failed with exit status 2"]
    );
    let worker_queue = proto_ports.queues.queue_url(&proto_names.worker_queue("core")).await.unwrap();
    let dispatched: Value =
        serde_json::from_str(&received(proto_ports.queues.as_ref(), &worker_queue).await[0]).unwrap();
    assert_eq!(dispatched["job_id"], "downstream_job");
    assert_eq!(dispatched["globals"]["a_global"], "g1", "globals are passed on");
    let mut events: Vec<Value> = received(main_ports.queues.as_ref(), &events_queue)
        .await
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect();
    events.sort_by_key(|e| e["detail"].get("status").is_some());
    assert_eq!(events[0]["detail"]["exit_status"], 0);
    assert_eq!(events[1]["detail"]["result"], "{\"error\": null, \"exit_status\": 0}");
    let expected = json!({"key1": "Hello world", "key2": {"key2a": "g1", "key2b": 42}});
    let published: Value =
        serde_json::from_str(&received(main_ports.queues.as_ref(), &mytopic_queue).await[0]).unwrap();
    assert_eq!(published, expected);
    let queued: Value = serde_json::from_str(&received(main_ports.queues.as_ref(), &myqueue).await[0]).unwrap();
    assert_eq!(queued, expected);
}

#[tokio::test]
async fn a_job_s_actions_go_from_the_worker_through_the_actions_queue_to_the_lambda() {
    let r = TestRealm::up("e2e").await;
    let topic = provision::create_topic(&r.clients, &unique("lava-t-")).await.unwrap();
    let (topic_queue, topic_queue_arn) = capture(&r.clients).await;
    provision::subscribe_queue(&r.clients, &topic, &topic_queue_arn).await.unwrap();
    r.put_job(json!({"job_id": "e2e/j", "type": "cmd", "worker": "core", "enabled": true, "payload": "true",
        "on_success": [{"action": "sns", "topic": topic, "message": "{{ job.job_id }} {{ result.exit_status }} {{ (ustart - utils.timedelta(days=1)).date() < ustart.date() }}"}]}))
        .await;
    let run_id = r.dispatch("e2e/j").await;
    let worker = crate::worker::worker(&r, 1, std::time::Duration::from_secs(5), false).await;
    let (_tx, rx) = tokio::sync::watch::channel(false);
    worker.clone().run(rx).await.unwrap();
    assert_eq!(r.statuses("e2e/j", &run_id).await, ["starting", "running", "complete"]);

    let actions_url = r.queue_url(&r.names.actions_queue).await;
    let queued = r.queues.receive(&actions_url, 1, 1).await.unwrap();
    assert_eq!(queued.len(), 1, "the on_success list was queued for the actions function");
    let function =
        shared::actions::function::ActionsFunction::load(r.names.clone(), vec![], &TestRealm::actions_ports().await)
            .await
            .unwrap();
    let response = lava_actions_fn::handle(&function, sqs_event(&[("m1", &queued[0].body, 1)])).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(received(r.queues.as_ref(), &topic_queue).await, vec!["e2e/j 0 True"]);
}

#[tokio::test]
async fn an_email_through_an_smtp_connection_reaches_the_server_from_the_actions_lambda() {
    let r = TestRealm::up("smt").await;
    let server = lava_tests::smtp::SmtpServer::start("lava", "smtp-secret");
    for (name, value) in [("smtp", "smtp-secret"), ("wrong", "not-it")] {
        provision::put_parameter(&r.clients, &format!("/lava/{}/{name}", r.names.realm), value, true).await.unwrap();
    }
    // A server that does not offer STARTTLS: credentials go to it only when the connection says
    // insecure_auth explicitly.
    for (conn_id, parameter, insecure) in
        [("relay", "smtp", true), ("badpw", "wrong", true), ("guarded", "smtp", false)]
    {
        let entry = json!({"conn_id": conn_id, "type": "email", "subtype": "smtp", "enabled": true, "host": "127.0.0.1",
            "port": server.port, "user": "lava", "password": format!("/lava/{}/{parameter}", r.names.realm), "from": "Lava <lava@example.com>",
            "insecure_auth": insecure});
        r.catalog.put_connection(&shared::model::ConnectionEntry::from_value(&entry).unwrap()).await.unwrap();
    }
    let bucket = r.names.local_bucket();
    use shared::ports::BlobStore;
    r.blobs
        .put_object(&bucket, "out/report.csv", b"a,b\n1,2\n".to_vec(), &shared::ports::Encryption::Aes256)
        .await
        .unwrap();
    // The deployed function's own ports: SSM for the password, no other secret service.
    let function =
        shared::actions::function::ActionsFunction::load(r.names.clone(), vec![], &TestRealm::actions_ports().await)
            .await
            .unwrap();
    let action = |conn: &str| {
        json!([{"action": "email", "email_conn": conn, "to": ["ops@example.com", "Data Team <data@example.com>"],
            "subject": "{{ job.job_id }} finished", "message": "Exit status {{ result.exit_status }}",
            "attachments": [format!("s3://{bucket}/out/report.csv")]}])
    };
    let good =
        serde_json::to_string(&request("smt/ok", "on_success", action("relay"), json!({"exit_status": 0}))).unwrap();
    let response = lava_actions_fn::handle(&function, sqs_event(&[("m1", &good, 1)])).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let messages = server.messages();
    assert_eq!(messages.len(), 1, "{messages:#?}");
    let m = &messages[0];
    assert_eq!((m["mail_from"].as_str(), m["login"].as_str()), (Some("lava@example.com"), Some("lava")));
    assert_eq!(m["rcpt_tos"], json!(["ops@example.com", "data@example.com"]));
    assert_eq!((m["from"].as_str(), m["subject"].as_str()), (Some("Lava <lava@example.com>"), Some("smt/ok finished")));
    assert_eq!(m["parts"][0], json!({"type": "text/plain", "filename": null, "text": "Exit status 0\r\n"}));
    assert_eq!(m["parts"][1], json!({"type": "text/csv", "filename": "report.csv", "text": "a,b\n1,2\n"}));
    assert_eq!(m["structure"], json!(["multipart/mixed", "text/plain", "text/csv"]));
    for header in ["Date", "Message-ID", "User-Agent", "From", "To", "Subject"] {
        assert!(m["headers"].as_array().unwrap().contains(&json!(header)), "{header} in {}", m["headers"]);
    }

    // A password the server refuses: the action fails naming the server's answer; nothing sent.
    let bad =
        serde_json::to_string(&request("smt/bad", "on_success", action("badpw"), json!({"exit_status": 0}))).unwrap();
    lava_actions_fn::handle(&function, sqs_event(&[("m2", &bad, 1)])).await;
    let item = r.events("smt/bad", "0a1b2c3d-0000-4000-8000-000000000001").await;
    assert_eq!(item["status"], "action_failed", "{item}");
    let info = item["log"][0]["info"].as_str().unwrap();
    assert!(info.contains("535"), "{info}");
    assert!(!info.contains("not-it"), "the password is never in events: {info}");
    assert_eq!(server.messages().len(), 1);

    // Without insecure_auth, a server that offers no STARTTLS never sees the credentials.
    let guarded =
        serde_json::to_string(&request("smt/guard", "on_success", action("guarded"), json!({"exit_status": 0})))
            .unwrap();
    lava_actions_fn::handle(&function, sqs_event(&[("m3", &guarded, 1)])).await;
    let item = r.events("smt/guard", "0a1b2c3d-0000-4000-8000-000000000001").await;
    let info = item["log"][0]["info"].as_str().unwrap();
    assert!(info.contains("credentials go only over an encrypted connection"), "{info}");
    assert_eq!(server.messages().len(), 1);
}
