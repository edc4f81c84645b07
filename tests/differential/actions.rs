//! Actions (sqs, sns, event, email through SES and through an SMTP connection, log, state)
//! on success, retry and failure, and an action that fails: what each sent and the events.

use crate::harness::{Family, Scenario};
use serde_json::{Value, json};
use shared::aws::provision;

/// A queue that receives what the actions send, with its ARN.
async fn capture(family: &Family, prefix: &str) -> (String, String, String) {
    let clients = &family.realm.clients;
    let name = lava_tests::unique(prefix);
    let url = provision::create_queue(clients, &name, &[]).await.unwrap();
    let arn = provision::queue_arn(clients, &url).await.unwrap();
    (name, url, arn)
}

/// A message naming the run and what its template sees of the result.
fn message(what: &str) -> Value {
    json!(format!(
        "{what} {{{{ job.job_id }}}} {{{{ job.run_id }}}} exit={{{{ result.exit_status }}}} error={{{{ result.error }}}} keys={{{{ result.keys() | list | sort }}}}"
    ))
}

#[tokio::test]
async fn actions_match_the_original() {
    let mut family = Family::new("dfa").await;
    let realm = family.realm.names.realm.clone();
    let (queue, queue_url, _) = capture(&family, "lava-cap-").await;
    let (_, topic_queue_url, topic_queue_arn) = capture(&family, "lava-capt-").await;
    let (_, event_queue_url, event_queue_arn) = capture(&family, "lava-cape-").await;
    let clients = family.realm.clients.clone();
    let topic = provision::create_topic(&clients, &lava_tests::unique("lava-t-")).await.unwrap();
    provision::subscribe_queue(&clients, &topic, &topic_queue_arn).await.unwrap();
    // The event action's events (ours also publishes run status events on the bus).
    let pattern = json!({"source": [format!("lava.{realm}")], "detail-type": ["Lava Job Action"]}).to_string();
    provision::route_events_to_queue(&clients, &lava_tests::unique("lava-r-"), &pattern, &event_queue_arn)
        .await
        .unwrap();
    let sender = "lava-diff@example.com";
    provision::verify_email_identity(&clients, sender).await.unwrap();
    family.capture_queues = vec![queue_url, topic_queue_url, event_queue_url];
    family.capture_ses = true;
    family.capture_state = true;
    // SMTP: one server offering STARTTLS with a test CA (which our worker trusts through
    // SSL_CERT_FILE; the original does not check certificates), one with AUTH and no TLS, one
    // with neither.
    let ca = std::env::temp_dir().join(lava_tests::unique("lava-smtp-ca-"));
    std::fs::create_dir_all(&ca).unwrap();
    let secure = lava_tests::smtp::SmtpServer::start_tls("lava", "smtp-pw", &ca);
    let plain = lava_tests::smtp::SmtpServer::start("lava", "smtp-pw");
    let open = lava_tests::smtp::SmtpServer::start("-", "-");
    provision::put_parameter(&clients, &format!("/lava/{realm}/smtp"), "smtp-pw", true).await.unwrap();
    for (conn_id, host, port, auth, tls) in [
        ("mail_tls", "localhost", secure.port, true, true),
        ("mail_plain", "127.0.0.1", plain.port, true, false),
        ("mail_open", "127.0.0.1", open.port, false, false),
    ] {
        let mut entry = json!({"conn_id": conn_id, "type": "email", "subtype": "smtp", "enabled": true, "host": host,
            "port": port, "tls": tls, "from": "Lava <lava@example.com>", "reply_to": "help@example.com"});
        if auth {
            entry["user"] = json!("lava");
            entry["password"] = json!(format!("/lava/{realm}/smtp"));
        }
        family
            .realm
            .catalog
            .put_connection(&shared::model::ConnectionEntry::from_value(&entry).unwrap())
            .await
            .unwrap();
    }
    family.smtp = vec![secure, plain, open];
    family.env.push(("SSL_CERT_FILE".into(), ca.join("ca.crt").display().to_string()));
    let smtp = |conn: &str| {
        json!([{"action": "email", "email_conn": conn, "to": ["ops@example.com", "Data Team <data@example.com>"],
            "subject": "{{ job.job_id }} {{ job.run_id }} done", "message": message("smtp")}])
    };

    let sqs = |what: &str| json!({"action": "sqs", "queue": queue, "message": message(what)});
    let on_success = |name: &'static str, actions: Value| {
        Scenario::new(name, json!({"type": "cmd", "payload": "/bin/true", "on_success": actions})).with_actions()
    };
    let scenarios = vec![
        on_success("sqs_on_success", json!([sqs("ok")])).captures(1),
        on_success("sqs_object", json!([{"action": "sqs", "queue": queue, "message": {"run": "{{ job.run_id }}", "exit": "{{ result.exit_status }}", "n": 3}}])).captures(1),
        Scenario::new("sqs_on_fail", json!({"type": "cmd", "payload": "/bin/sh -c", "parameters": {"args": ["echo bad >&2; exit 2"]},
            "on_fail": [sqs("failed")]}))
        .captures(1),
        Scenario::new("sqs_on_retry", json!({"type": "cmd", "payload": "/bin/false", "iteration_limit": 2, "iteration_delay": "1s",
            "on_retry": [sqs("retry")], "on_fail": [sqs("gave-up")]}))
        .captures(2),
        on_success("result_whole", json!([{"action": "sqs", "queue": queue, "message": "{{ job.run_id }} {{ result }}"}])).captures(1),
        on_success("sns", json!([{"action": "sns", "topic": topic, "subject": "done {{ job.job_id }}", "message": message("sns")}])).captures(1),
        on_success("event_default", json!([{"action": "event"}])).captures(1),
        on_success("log", json!([{"action": "log", "message": message("log")}])),
        on_success("email_ses", json!([{"action": "email", "from": sender, "to": "ops@example.com", "subject": "done {{ job.job_id }}", "message": message("email")}])).captures(1),
        on_success("action_fails", json!([{"action": "sqs", "queue": "lava-no-such-queue", "message": "x"}, sqs("after")])),
        on_success("email_smtp_starttls", smtp("mail_tls")).captures(1),
        on_success("email_smtp_open", smtp("mail_open")).captures(1),
        on_success("email_smtp_plain_auth", smtp("mail_plain")).captures(1).differs(
            "$",
            "credentials go to an SMTP server only over TLS unless the connection says insecure_auth: true; the original sent them in the clear to a server that offered no STARTTLS",
        ),
        on_success("state", json!([{"action": "state", "state_id": "st-{{ job.run_id }}",
            "value": {"run": "{{ job.run_id }}", "exit": "{{ result.exit_status }}", "list": ["a", "b"]}}])).captures(1),
        on_success("state_numbers", json!([{"action": "state", "state_id": "sn-{{ job.run_id }}", "value": {"n": [1, 2]}}]))
            .differs("$", "a state value holding numbers is stored; the original failed with 'Bad value: Object of type Decimal is not JSON serializable' (numbers read from DynamoDB)"),
        on_success("state_reserved", json!([{"action": "state", "state_id": "lava-{{ job.run_id }}", "value": 1}])),
        on_success("dispatch_missing", json!([{"action": "dispatch", "job_id": "d/no_such_job"}])),
        on_success("action_bad", json!([{"action": "sqs", "queue": queue}])),
    ];
    family.check(&scenarios).await;
}
