//! Every action type against in-memory ports: fields, defaults, rendering, errors, list order,
//! the first failure stopping a list, and the ledger skipping completed actions.

use serde_json::{Value, json};

use super::*;
use crate::fake::FakePorts;
use crate::ports::TableStore;

struct Harness {
    services: ActionServices,
    fakes: FakePorts,
}

fn harness(config: &[(&str, &str)]) -> Harness {
    let names = ResourceNames::for_realm("dev");
    let fakes = FakePorts::for_realm(&names);
    let realm =
        RealmEntry::from_value(&json!({"realm": "dev", "s3_payloads": "s3://bkt/p", "s3_temp": "s3://bkt/tmp"}))
            .unwrap();
    let config = Config::new(config.iter().map(|(k, v)| (k.to_string(), v.to_string())), None);
    Harness { services: services(realm, names, config, &fakes.ports()), fakes }
}

fn request(key: &str, actions: Value, result: Value) -> ActionRequest {
    let context = json!({
        "job": {"job_id": "demo/job", "run_id": "r-1", "worker": "core", "ts_dispatch": "2025-03-04T07:15:00+11:00", "globals": {"a_global": "g1"}},
        "realm": {"realm": "dev"},
        "globals": {"a_global": "g1", "lava": {"iteration": 1, "master_job_id": "demo/job"}},
        "state": {},
        "start": "2025-03-04T07:15:02+11:00",
        "ustart": "2025-03-03T20:15:02+00:00",
        "result": result,
    });
    ActionRequest {
        key: serde_json::from_value(json!(key)).expect("an action key"),
        actions: actions.as_array().unwrap().clone(),
        job_id: "demo/job".into(),
        run_id: "r-1".into(),
        iteration: 1,
        context: context.as_object().unwrap().clone(),
        context_s3: None,
    }
}

fn success() -> Value {
    json!({"exit_status": 0, "error": null})
}

async fn put(h: &Harness, table: &str, item: Value) {
    h.fakes.tables.put_item(table, item.as_object().unwrap().clone()).await.unwrap();
}

#[tokio::test]
async fn sns_renders_the_message_and_cuts_the_subject_to_100() {
    let h = harness(&[]);
    let actions = json!([{"action": "sns", "topic": "arn:aws:sns:ap-southeast-2:1:t", "message": "{{job.job_id}}@{{realm.realm}} ({{job.run_id}}) failed: {{result.error}}", "subject": "{{ 'x' * 150 }}"}]);
    h.services
        .run_list(
            &request(
                "on_fail",
                actions,
                json!({"error": "Failed with exit status 2", "error_data": {"exit_status": 2}}),
            ),
            &NoLedger,
        )
        .await
        .unwrap();
    let published = h.fakes.notices.published.lock().unwrap().clone();
    assert_eq!(published[0].2, "demo/job@dev (r-1) failed: Failed with exit status 2");
    assert_eq!(published[0].1.as_ref().unwrap().len(), 100);
}

#[tokio::test]
async fn object_messages_are_json_encoded_then_rendered() {
    let h = harness(&[]);
    let url = h.fakes.queues.create("myqueue");
    let message = json!({"key1": "Hello world", "key2": {"key2a": "{{ job.globals.a_global }}", "key2b": 42}});
    let actions = json!([{"action": "sns", "topic": "arn:t", "message": message}, {"action": "sqs", "queue": "myqueue", "message": message, "delay": "1m"}]);
    h.services.run_list(&request("on_success", actions, success()), &NoLedger).await.unwrap();
    let sent: Value = serde_json::from_str(&h.fakes.queues.bodies(&url)[0]).unwrap();
    assert_eq!(sent, json!({"key1": "Hello world", "key2": {"key2a": "g1", "key2b": 42}}));
    let published: Value = serde_json::from_str(&h.fakes.notices.published.lock().unwrap()[0].2).unwrap();
    assert_eq!(published, sent);
    assert_eq!(h.fakes.queues.delays()[0].1, 60);
}

#[tokio::test]
async fn the_seed_sqs_example_with_topic_instead_of_queue_works() {
    let h = harness(&[]);
    let url = h.fakes.queues.create("myqueue");
    let actions = json!([{"action": "sqs", "message": {"key1": "Hello world"}, "topic": "myqueue"}]);
    h.services.run_list(&request("on_success", actions, success()), &NoLedger).await.unwrap();
    assert_eq!(h.fakes.queues.bodies(&url).len(), 1);
}

#[tokio::test]
async fn dispatch_passes_globals_on_with_the_parent_set() {
    let h = harness(&[]);
    let url = h.fakes.queues.create("lava-dev-core");
    put(
        &h,
        "lava.dev.jobs",
        json!({"job_id": "downstream_job", "type": "cmd", "worker": "core", "enabled": true, "payload": "true"}),
    )
    .await;
    let actions = json!([{"action": "dispatch", "job_id": "{{ 'downstream' }}_job", "parameters": {"day": "{{ ustart.strftime('%Y%m%d') }}"}, "delay": "30s"}]);
    h.services.run_list(&request("on_success", actions, success()), &NoLedger).await.unwrap();
    let message: Value = serde_json::from_str(&h.fakes.queues.bodies(&url)[0]).unwrap();
    assert_eq!(message["job_id"], "downstream_job");
    assert_eq!(message["parameters"], json!({"day": "20250303"}));
    assert_eq!(message["globals"]["a_global"], "g1");
    assert_eq!(message["globals"]["lava"]["parent_job_id"], "demo/job");
    assert_eq!(message["globals"]["lava"]["parent_start"], "2025-03-04T07:15:02+11:00");
    assert_eq!(message["globals"]["lava"]["parent_ustart"], "2025-03-03T20:15:02+00:00");
    assert_eq!(h.fakes.queues.delays()[0].1, 30);
    let err = h
        .services
        .run_list(
            &request("on_success", json!([{"action": "dispatch", "job_id": "x", "delay": "16m"}]), success()),
            &NoLedger,
        )
        .await
        .unwrap_err();
    assert_eq!(err.message, "dispatch: Bad delay: \"16m\": Must be between 0 and 15 minutes");
    let err = h
        .services
        .run_list(&request("on_success", json!([{"action": "dispatch", "job_id": "nope"}]), success()), &NoLedger)
        .await
        .unwrap_err();
    assert_eq!(err.message, "dispatch: No such job", "as the original words it");
}

#[tokio::test]
async fn event_defaults_and_custom_detail() {
    let h = harness(&[]);
    let actions = json!([
        {"action": "event"},
        {"action": "event", "detail_type": "Custom", "source": "my.{{ realm.realm }}", "detail": {"job_id": "{{ job.job_id }}", "result": "{{result | tojson}}", "status": "success"}},
        {"action": "event", "detail": "{\"n\": {{ result.exit_status }}}"}
    ]);
    h.services.run_list(&request("on_success", actions, success()), &NoLedger).await.unwrap();
    let events = h.fakes.notices.events.lock().unwrap().clone();
    assert_eq!((events[0].source.as_str(), events[0].detail_type.as_str()), ("lava.dev", "Lava Job Action"));
    assert_eq!(
        serde_json::from_str::<Value>(&events[0].detail).unwrap(),
        json!({"realm": "dev", "worker": "core", "job_id": "demo/job", "run_id": "r-1", "exit_status": 0})
    );
    assert_eq!(events[1].source, "my.dev");
    assert_eq!(
        serde_json::from_str::<Value>(&events[1].detail).unwrap(),
        json!({"job_id": "demo/job", "result": "{\"error\": null, \"exit_status\": 0}", "status": "success"})
    );
    assert_eq!(serde_json::from_str::<Value>(&events[2].detail).unwrap(), json!({"n": 0}));
    // On failure the default detail takes the exit status from error_data.
    h.services
        .run_list(
            &request("on_fail", json!([{"action": "event"}]), json!({"error": "x", "error_data": {"exit_status": 3}})),
            &NoLedger,
        )
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&h.fakes.notices.events.lock().unwrap()[3].detail).unwrap()["exit_status"],
        3
    );
    let err = h
        .services
        .run_list(&request("on_success", json!([{"action": "event", "colour": "red"}]), success()), &NoLedger)
        .await
        .unwrap_err();
    assert_eq!(err.message, "event: Unexpected keys: colour");
}

#[tokio::test]
async fn email_bare_ses_picks_html_sender_and_region() {
    let h = harness(&[("LAVA_SES_REGION", "ap-southeast-2")]);
    h.fakes.notices.domains.lock().unwrap().push("example.com".into());
    let actions = json!([
        {"action": "email", "to": "ops@example.com", "subject": "{{ job.job_id }} done", "message": "<html><b>ok</b>"},
        {"action": "email", "to": ["a@x.com", "b@x.com"], "subject": "s", "message": "plain", "from": "me@x.com", "region": "us-west-2"}
    ]);
    h.services.run_list(&request("on_success", actions, success()), &NoLedger).await.unwrap();
    let emails = h.fakes.notices.emails.lock().unwrap().clone();
    assert_eq!(
        (emails[0].from.as_str(), emails[0].html, emails[0].region.as_deref()),
        ("lava.dev@example.com", true, Some("ap-southeast-2"))
    );
    assert_eq!(emails[0].subject, "demo/job done");
    assert_eq!(
        (emails[1].from.as_str(), emails[1].html, emails[1].region.as_deref()),
        ("me@x.com", false, Some("us-west-2"))
    );
    assert_eq!(emails[1].to, vec!["a@x.com", "b@x.com"]);
    let err = h.services.run_list(&request("on_success", json!([{"action": "email", "to": "a@x.com", "subject": "s", "message": "m", "attachments": ["/etc/hostname"]}]), success()), &NoLedger).await.unwrap_err();
    assert_eq!(err.message, "email: email_conn must be specified to enable attachments");
}

#[tokio::test]
async fn email_through_a_connection_attaches_s3_and_local_files() {
    let h = harness(&[]);
    put(&h, "lava.dev.connections", json!({"conn_id": "mail", "type": "email", "enabled": true, "from": "lava@x.com", "reply_to": "help@x.com", "region": "eu-west-1"})).await;
    h.fakes.blobs.insert("bkt", "out/report.csv", b"a,b\n1,2\n");
    let local = std::env::temp_dir().join(format!("lava-attach-{}.txt", uuid::Uuid::new_v4().simple()));
    std::fs::write(&local, "local file").unwrap();
    let actions = json!([{"action": "email", "email_conn": "mail", "to": "ops@x.com", "subject": "s", "message": "<!DOCTYPE html><p>hi</p>", "attachments": ["s3://bkt/out/{{ 'report' }}.csv", local.to_str().unwrap()]}]);
    h.services.run_list(&request("on_success", actions, success()), &NoLedger).await.unwrap();
    std::fs::remove_file(&local).ok();
    let email = h.fakes.notices.emails.lock().unwrap()[0].clone();
    assert_eq!((email.from.as_str(), email.region.as_deref(), email.html), ("lava@x.com", Some("eu-west-1"), true));
    assert_eq!(email.reply_to, vec!["help@x.com"]);
    assert_eq!(email.attachments.len(), 2);
    assert_eq!(
        (email.attachments[0].name.as_str(), email.attachments[0].content_type.as_str()),
        ("report.csv", "text/csv")
    );
    assert_eq!(email.attachments[1].data, b"local file");
}

#[tokio::test]
async fn slack_styles_limits_and_errors() {
    let h = harness(&[]);
    put(&h, "lava.dev.connections", json!({"conn_id": "chat", "type": "slack", "enabled": true, "webhook_url": "https://hooks.example/T1", "colour": "good", "preamble": "<!here>"})).await;
    let long = "y".repeat(3100);
    let actions = json!([
        {"action": "slack", "slack_conn": "chat", "message": long, "subject": "{{ job.job_id }}"},
        {"action": "slack", "slack_conn": "chat", "message": "m", "style": "attachment", "from": "bot"},
        {"action": "slack", "slack_conn": "chat", "message": "m", "style": "plain"}
    ]);
    h.services.run_list(&request("on_success", actions, success()), &NoLedger).await.unwrap();
    let posts = h.fakes.webhook.posts.lock().unwrap().clone();
    assert_eq!(posts[0].0, "https://hooks.example/T1");
    let block: Value = serde_json::from_str(&posts[0].1).unwrap();
    assert_eq!(block["blocks"][2]["text"]["text"].as_str().unwrap().len(), 3000);
    assert_eq!(block["blocks"][0]["text"]["text"], "<!here>\n*From*: lava@dev\n*Subject*: demo/job");
    let attachment: Value = serde_json::from_str(&posts[1].1).unwrap();
    assert_eq!(attachment["attachments"][0]["color"], "#good");
    assert_eq!(attachment["attachments"][0]["author_name"], "bot");
    assert_eq!(attachment["text"], "<!here>");
    let plain: Value = serde_json::from_str(&posts[2].1).unwrap();
    assert_eq!(plain, json!({"text": "<!here> *lava@dev*: m"}));
    *h.fakes.webhook.status.lock().unwrap() = 404;
    let err = h
        .services
        .run_list(
            &request("on_success", json!([{"action": "slack", "slack_conn": "chat", "message": "m"}]), success()),
            &NoLedger,
        )
        .await
        .unwrap_err();
    assert_eq!(err.message, "slack: Slack response 404 - ok");
    let err = h
        .services
        .run_list(
            &request("on_success", json!([{"action": "slack", "slack_conn": "nope", "message": "m"}]), success()),
            &NoLedger,
        )
        .await
        .unwrap_err();
    assert_eq!(err.message, "slack: nope: No such connection");
}

#[tokio::test]
async fn state_action_puts_items_and_refuses_the_reserved_prefix() {
    let h = harness(&[]);
    let actions = json!([
        {"action": "state", "state_id": "{{ job.job_id }}-last", "value": {"at": "{{ ustart.isoformat() }}"}},
        {"action": "state", "state_id": "secret", "value": "t0ken", "type": "secure", "ttl": "1h", "publisher": "me"}
    ]);
    h.services.run_list(&request("on_success", actions, success()), &NoLedger).await.unwrap();
    let (item, value) = h.services.state.get("demo/job-last").await.unwrap().unwrap();
    assert_eq!(value, json!({"at": "2025-03-03T20:15:02+00:00"}));
    assert_eq!(item.publisher.as_deref(), Some("demo/job"));
    assert_eq!(h.services.state.get("secret").await.unwrap().unwrap().1, json!("t0ken"));
    let err = h
        .services
        .run_list(
            &request("on_success", json!([{"action": "state", "state_id": "LAVA{{ 1 }}", "value": 1}]), success()),
            &NoLedger,
        )
        .await
        .unwrap_err();
    assert_eq!(err.message, "state: Bad state_id: Values beginning with \"lava\" are reserved");
}

#[tokio::test]
async fn the_first_failure_stops_the_list() {
    let h = harness(&[]);
    let actions = json!([
        {"action": "sns", "topic": "arn:t", "message": "first"},
        {"action": "log"},
        {"action": "sns", "topic": "arn:t", "message": "never"}
    ]);
    let err = h.services.run_list(&request("on_success", actions, success()), &NoLedger).await.unwrap_err();
    assert_eq!(err.message, "log: Missing keys: message");
    assert!(!err.transient);
    assert_eq!(h.fakes.notices.published.lock().unwrap().len(), 1);
    for (bad, message) in [
        (json!({"message": "x"}), "Missing keys: action"),
        (json!({"action": "lava"}), "lava: unknown action"),
        (json!({"action": "log", "message": 5}), "log: message must be a string"),
    ] {
        let err = h.services.run_list(&request("on_success", json!([bad]), success()), &NoLedger).await.unwrap_err();
        assert_eq!(err.message, message);
    }
}

#[tokio::test]
async fn the_ledger_skips_actions_a_redelivered_list_already_completed() {
    let h = harness(&[]);
    let ledger = StateLedger::new(h.services.state.clone());
    let actions = json!([
        {"action": "sns", "topic": "arn:t", "message": "once"},
        {"action": "slack", "slack_conn": "missing", "message": "m"}
    ]);
    let req = request("on_fail", actions, json!({"error": "e", "error_data": null}));
    assert!(h.services.run_list(&req, &ledger).await.is_err());
    assert!(h.services.run_list(&req, &ledger).await.is_err());
    assert_eq!(h.fakes.notices.published.lock().unwrap().len(), 1, "the SNS message was not sent twice");
    assert!(h.services.state.list().await.unwrap().is_empty(), "ledger entries are lava's own, not user state");
    let other_iteration = ActionRequest { iteration: 2, ..req };
    assert!(h.services.run_list(&other_iteration, &ledger).await.is_err());
    assert_eq!(h.fakes.notices.published.lock().unwrap().len(), 2, "another iteration is another list");
}

#[tokio::test]
async fn a_context_stored_in_s3_is_loaded() {
    let h = harness(&[]);
    let mut req =
        request("on_success", json!([{"action": "sns", "topic": "arn:t", "message": "{{ job.job_id }}"}]), success());
    h.fakes.blobs.insert("bkt", "tmp/ctx.json", serde_json::to_string(&req.context).unwrap().as_bytes());
    req.context = Default::default();
    req.context_s3 = Some("s3://bkt/tmp/ctx.json".into());
    h.services.run_list(&req, &NoLedger).await.unwrap();
    assert_eq!(h.fakes.notices.published.lock().unwrap()[0].2, "demo/job");
}

#[test]
fn ts_dispatch_comes_from_the_job() {
    assert_eq!(request("on_success", json!([]), success()).ts_dispatch(), "2025-03-04T07:15:00+11:00");
}
