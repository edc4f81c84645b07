//! Post-job action specifications (`on_success`, `on_retry`, `on_fail` entries).

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::limits::{Limits, duration_spec_text};
use super::validation::{Report, check_keys, from_value, is_reserved_name, kind_of};
use super::values::DurationSpec;

/// Which action list of a job or realm runs: after success, before a retry, or after the last
/// failure. Serialised as the field name (`on_success`, …), as the original's action messages carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKey {
    /// `on_success`
    OnSuccess,
    /// `on_retry`
    OnRetry,
    /// `on_fail`
    OnFail,
}

impl ActionKey {
    /// Every key, in the order specs list them.
    pub const ALL: [ActionKey; 3] = [ActionKey::OnSuccess, ActionKey::OnFail, ActionKey::OnRetry];

    /// The field name.
    pub fn name(self) -> &'static str {
        match self {
            ActionKey::OnSuccess => "on_success",
            ActionKey::OnRetry => "on_retry",
            ActionKey::OnFail => "on_fail",
        }
    }
}

impl std::fmt::Display for ActionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A string or a list of strings (email `to`, s3trigger `job_id`, …).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One string.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The strings, in order.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// `dispatch`: dispatch another job of the realm.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DispatchAction {
    /// Target job (rendered).
    pub job_id: String,
    /// Dispatch parameters (rendered as a whole; null is none).
    #[serde(default, deserialize_with = "null_as_default")]
    pub parameters: Map<String, Value>,
    /// SQS delay, at most 15 minutes.
    pub delay: Option<DurationSpec>,
}

/// `email`: send an email through SES or an email connection.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EmailAction {
    /// Recipient(s).
    pub to: OneOrMany,
    /// Subject (rendered).
    pub subject: String,
    /// Body (rendered); HTML when it starts with `<HTML>`.
    pub message: String,
    /// Sender.
    pub from: Option<String>,
    /// conn_id of an email connection.
    pub email_conn: Option<String>,
    /// SES region (bare SES only).
    pub region: Option<String>,
    /// Files to attach (local or `s3://`; each rendered); needs `email_conn`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub attachments: Vec<String>,
}

/// `event`: put an event on EventBridge.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EventAction {
    /// Event source (default `lava.<realm>`).
    pub source: Option<String>,
    /// Detail type (default `Lava Job Action`).
    pub detail_type: Option<String>,
    /// Detail: a string or a map of values (rendered).
    pub detail: Option<Value>,
    /// Bus name (default bus when absent).
    pub event_bus: Option<String>,
    /// Resources (each rendered).
    #[serde(default, deserialize_with = "null_as_default")]
    pub resources: Vec<String>,
}

/// `log`: write a message to the worker log.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LogAction {
    /// The message (rendered).
    pub message: String,
}

/// `slack`: post to a Slack webhook.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SlackAction {
    /// conn_id of a slack connection.
    pub slack_conn: String,
    /// Body (rendered, first 3,000 characters).
    pub message: String,
    /// Subject (rendered, first 250 characters).
    pub subject: Option<String>,
    /// Sender shown in the message.
    pub from: Option<String>,
    /// `block`, `attachment` or `plain`.
    pub style: Option<String>,
    /// Colour bar.
    pub colour: Option<String>,
    /// Text before the message, e.g. `<!here>`.
    pub preamble: Option<String>,
}

/// `sns`: publish to a topic.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SnsAction {
    /// Topic ARN.
    pub topic: String,
    /// String, or an object sent as JSON (rendered).
    pub message: Value,
    /// Subject (rendered, first 100 characters).
    pub subject: Option<String>,
}

/// `sqs`: send a message to a queue.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SqsAction {
    /// Queue name or URL.
    pub queue: Option<String>,
    /// Accepted in place of `queue`: the original's documentation example used this key.
    pub topic: Option<String>,
    /// String, or an object sent as JSON (rendered).
    pub message: Value,
    /// SQS delay, at most 15 minutes.
    pub delay: Option<DurationSpec>,
    /// FIFO deduplication id (rendered).
    pub dedup_id: Option<String>,
    /// FIFO group id (rendered).
    pub group_id: Option<String>,
}

/// `state`: put a state item.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StateAction {
    /// The state id (rendered; must not start with `lava`).
    pub state_id: String,
    /// The value (rendered as a whole).
    pub value: Value,
    /// `json` (default), `raw` or `secure`.
    #[serde(rename = "type")]
    pub state_type: Option<String>,
    /// Time to live (capped at the realm maximum).
    pub ttl: Option<DurationSpec>,
    /// Publisher (rendered; default the job id).
    pub publisher: Option<String>,
    /// KMS key for `secure` items.
    pub kms_key: Option<String>,
}

/// One action of an action list.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `dispatch`
    Dispatch(DispatchAction),
    /// `email`
    Email(EmailAction),
    /// `event`
    Event(EventAction),
    /// `log`
    Log(LogAction),
    /// `slack`
    Slack(SlackAction),
    /// `sns`
    Sns(SnsAction),
    /// `sqs`
    Sqs(SqsAction),
    /// `state`
    State(StateAction),
}

/// Reads null as the type's default (an empty map or list), as the original does.
fn null_as_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(deserializer: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A field of the wrong type in the original's words (`message must be a string`), else the
/// deserialiser's.
fn field_error(e: super::validation::ValidationError) -> String {
    let expected = e.reason.strip_prefix("invalid type: ").and_then(|r| r.split_once(", expected ")).map(|(_, x)| x);
    match expected {
        Some("a string") if !e.path.is_empty() => format!("{} must be a string", e.path),
        Some("a sequence") if !e.path.is_empty() => format!("{} must be a list", e.path),
        Some("a map") if !e.path.is_empty() => format!("{} must be a map", e.path),
        _ => e.to_string(),
    }
}

impl SqsAction {
    /// The target queue name or URL (`queue`, else the documented-by-mistake `topic`).
    pub fn queue_name(&self) -> &str {
        self.queue.as_deref().or(self.topic.as_deref()).unwrap_or_default()
    }
}

impl Action {
    /// The action's type name (`dispatch`, `email`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Dispatch(_) => "dispatch",
            Action::Email(_) => "email",
            Action::Event(_) => "event",
            Action::Log(_) => "log",
            Action::Slack(_) => "slack",
            Action::Sns(_) => "sns",
            Action::Sqs(_) => "sqs",
            Action::State(_) => "state",
        }
    }

    /// Reads one action map. Unknown keys are refused by email, event, slack and state (as in the
    /// original) and ignored by the others.
    pub fn parse(value: &Value) -> Result<Self, String> {
        let Value::Object(map) = value else {
            return Err(format!("action must be a map, not {}", kind_of(value)));
        };
        let kind = match map.get("action") {
            None => return Err("Missing keys: action".into()),
            Some(Value::String(s)) => s.as_str(),
            Some(other) => return Err(format!("action must be a string, not {}", kind_of(other))),
        };
        let strict = |allowed: &[&str], required: &[&str]| -> Result<(), String> {
            check_keys(map, &[allowed, &["action"]].concat(), required).map_err(|e| format!("{kind}: {e}"))
        };
        let lenient = |required: &[&str]| -> Result<(), String> {
            let mut missing: Vec<&str> = required.iter().copied().filter(|k| !map.contains_key(*k)).collect();
            missing.sort_unstable();
            if missing.is_empty() { Ok(()) } else { Err(format!("{kind}: Missing keys: {}", missing.join(", "))) }
        };
        macro_rules! read {
            ($variant:ident) => {
                from_value(value).map(Action::$variant).map_err(|e| format!("{kind}: {}", field_error(e)))
            };
        }
        match kind {
            "dispatch" => {
                lenient(&["job_id"])?;
                read!(Dispatch)
            }
            "email" => {
                strict(
                    &["to", "subject", "message", "from", "email_conn", "region", "attachments"],
                    &["to", "subject", "message"],
                )?;
                let action = read!(Email)?;
                if let Action::Email(e) = &action
                    && !e.attachments.is_empty()
                    && e.email_conn.is_none()
                {
                    return Err("email: email_conn must be specified to enable attachments".into());
                }
                Ok(action)
            }
            "event" => {
                strict(&["source", "detail_type", "detail", "event_bus", "resources"], &[])?;
                read!(Event)
            }
            "log" => {
                lenient(&["message"])?;
                read!(Log)
            }
            "slack" => {
                strict(
                    &["slack_conn", "message", "subject", "from", "style", "colour", "preamble"],
                    &["slack_conn", "message"],
                )?;
                let action = read!(Slack)?;
                if let Action::Slack(s) = &action
                    && let Some(style) = &s.style
                    && !["block", "attachment", "plain"].contains(&style.as_str())
                {
                    return Err(format!("slack: style {style:?}: expected block, attachment or plain"));
                }
                Ok(action)
            }
            "sns" => {
                lenient(&["topic", "message"])?;
                read!(Sns)
            }
            "sqs" => {
                lenient(&["message"])?;
                if !map.contains_key("queue") && !map.contains_key("topic") {
                    return Err("sqs: Missing keys: queue".into());
                }
                read!(Sqs)
            }
            "state" => {
                strict(&["state_id", "value", "type", "ttl", "publisher", "kms_key"], &["state_id", "value"])?;
                let action = read!(State)?;
                if let Action::State(s) = &action {
                    if is_reserved_name(&s.state_id) {
                        return Err("state: Bad state_id: Values beginning with \"lava\" are reserved".into());
                    }
                    if let Some(t) = &s.state_type
                        && !["json", "raw", "secure"].contains(&t.as_str())
                    {
                        return Err(format!("state: Unknown state type: {t}"));
                    }
                }
                Ok(action)
            }
            other => Err(format!("{other}: unknown action")),
        }
    }

    /// The delay this action asks for, if any.
    pub fn delay(&self) -> Option<&DurationSpec> {
        match self {
            Action::Dispatch(d) => d.delay.as_ref(),
            Action::Sqs(s) => s.delay.as_ref(),
            _ => None,
        }
    }
}

/// Checks `on_success`/`on_fail`/`on_retry` lists of a job or realm (`owner` is the path prefix).
pub fn validate_action_lists(lists: &[(ActionKey, &Option<Value>)], owner: &str, limits: &Limits, report: &mut Report) {
    for (key, list) in lists {
        let Some(list) = list else { continue };
        let Value::Array(items) = list else {
            report.error(format!("{owner}.{key}"), format!("{key}: action must be a list"));
            continue;
        };
        for (i, item) in items.iter().enumerate() {
            let path = format!("{owner}.{key}[{i}]");
            match Action::parse(item) {
                Err(reason) => report.error(path, format!("{key} action: {reason}")),
                Ok(action) => {
                    if let Some(delay) = action.delay() {
                        match delay.seconds() {
                            Ok(s) if (0.0..=limits.max_delay).contains(&s) => {}
                            Ok(_) => report.error(
                                format!("{path}.delay"),
                                format!(
                                    "Bad delay: {delay}: Must be between 0 and {}",
                                    duration_spec_text(limits.max_delay)
                                ),
                            ),
                            Err(reason) => report.error(format!("{path}.delay"), reason),
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_type_reads_into_its_variant_and_names_itself() {
        for (spec, kind) in [
            (json!({"action": "dispatch", "job_id": "j", "parameters": null}), "dispatch"),
            (json!({"action": "email", "to": "a@b", "subject": "s", "message": "m", "attachments": null}), "email"),
            (json!({"action": "event", "resources": null}), "event"),
            (json!({"action": "log", "message": "m"}), "log"),
            (json!({"action": "slack", "slack_conn": "c", "message": "m"}), "slack"),
            (json!({"action": "sns", "topic": "t", "message": {"a": 1}}), "sns"),
            (json!({"action": "sqs", "topic": "q", "message": "m"}), "sqs"),
            (json!({"action": "state", "state_id": "s", "value": 1}), "state"),
        ] {
            let action = Action::parse(&spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
            assert_eq!(action.kind(), kind);
        }
        let Action::Sqs(sqs) = Action::parse(&json!({"action": "sqs", "topic": "q", "message": "m"})).unwrap() else {
            panic!("an sqs action")
        };
        assert_eq!(sqs.queue_name(), "q");
    }

    #[test]
    fn a_field_of_the_wrong_type_is_named_in_the_originals_words() {
        let err = Action::parse(&json!({"action": "log", "message": 5})).unwrap_err();
        assert_eq!(err, "log: message must be a string");
        let err = Action::parse(&json!({"action": "event", "resources": "r"})).unwrap_err();
        assert_eq!(err, "event: resources must be a list");
    }
}
