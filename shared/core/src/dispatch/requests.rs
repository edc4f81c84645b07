//! What the dispatch function accepts in one message body: a JSON request object, a JSON list of
//! them, the original helper's text form (one `job_id -d 2m -p a=b -g c=d` per line), an SNS
//! notification wrapping any of those, or an EventBridge schedule tick.

use serde_json::{Map, Value};

use super::{DispatchRequest, expand_pairs};
use crate::model::validation::is_reserved_name;
use crate::model::values::parse_duration;

/// One thing a body asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Work {
    /// Dispatch a job.
    Dispatch(Box<DispatchRequest>),
    /// A schedule tick for the minute of this instant.
    Tick(jiff::Timestamp),
}

impl From<DispatchRequest> for Work {
    fn from(request: DispatchRequest) -> Self {
        Work::Dispatch(Box::new(request))
    }
}

fn delay_seconds(value: &Value) -> Result<u32, String> {
    let seconds = match value {
        Value::Number(n) => n.as_f64().ok_or("delay must be a number or a duration")?,
        Value::String(s) => parse_duration(s)?,
        _ => return Err("delay must be a number or a duration".into()),
    };
    if !(0.0..=f64::from(crate::model::limits::SQS_DELAY_CEILING)).contains(&seconds) {
        return Err(format!("Bad delay: {value}: Must be between 0 and 15 minutes"));
    }
    Ok(seconds as u32)
}

fn check_globals(globals: &Map<String, Value>) -> Result<(), String> {
    match globals.keys().find(|k| is_reserved_name(k)) {
        Some(name) => Err(format!("globals.{name}: Reserved global: names starting with \"lava\" belong to lava")),
        None => Ok(()),
    }
}

/// A JSON request object: `job_id` and optional `delay`, `globals`, `parameters`, `worker`;
/// `x-*` keys are ignored, any other key is an error.
pub fn json_request(map: &Map<String, Value>) -> Result<DispatchRequest, String> {
    let mut unexpected: Vec<&str> = map
        .keys()
        .map(String::as_str)
        .filter(|k| {
            !["job_id", "delay", "globals", "parameters", "worker"].contains(k)
                && !k.to_ascii_lowercase().starts_with("x-")
        })
        .collect();
    if !unexpected.is_empty() {
        unexpected.sort();
        return Err(format!("Unexpected keys: {}", unexpected.join(", ")));
    }
    let job_id = match map.get("job_id") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        Some(Value::String(_)) | None | Some(Value::Null) => return Err("Missing keys: job_id".into()),
        Some(_) => return Err("job_id must be a string".into()),
    };
    let object = |key: &str| -> Result<Map<String, Value>, String> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(Map::new()),
            Some(Value::Object(m)) => Ok(m.clone()),
            Some(_) => Err(format!("{key} must be a map")),
        }
    };
    let globals = object("globals")?;
    check_globals(&globals)?;
    let worker = match map.get("worker") {
        None | Some(Value::Null) => None,
        Some(Value::String(w)) => Some(w.clone()),
        Some(_) => return Err("worker must be a string".into()),
    };
    Ok(DispatchRequest {
        job_id,
        parameters: object("parameters")?,
        globals,
        delay_seconds: map.get("delay").filter(|v| !v.is_null()).map(delay_seconds).transpose()?.unwrap_or(0),
        worker,
        run_id: None,
    })
}

/// One line of the text form: `job_id [-d|--delay D] [-p|--param k=v]... [-g|--global k=v]...`.
fn text_request(line: &str) -> Result<DispatchRequest, String> {
    let words = crate::cmdline::split(line).map_err(|e| e.to_string())?;
    let mut words = words.into_iter();
    let job_id = words.next().ok_or("empty request")?;
    let (mut params, mut globals, mut delay) = (Vec::new(), Vec::new(), 0);
    while let Some(option) = words.next() {
        let (name, inline) = match option.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (option.clone(), None),
        };
        let mut value = || inline.clone().or_else(|| words.next()).ok_or_else(|| format!("{name} needs a value"));
        match name.as_str() {
            "-d" | "--delay" => delay = delay_seconds(&Value::String(value()?))?,
            "-p" | "--param" => params.push(value()?),
            "-g" | "--global" => globals.push(value()?),
            other => return Err(format!("{other}: unknown option (use -d, -p, -g)")),
        }
    }
    let globals = expand_pairs(&globals)?;
    check_globals(&globals)?;
    Ok(DispatchRequest {
        job_id,
        parameters: expand_pairs(&params)?,
        globals,
        delay_seconds: delay,
        worker: None,
        run_id: None,
    })
}

/// The work in one body. An error names what is wrong with it; such a body will never work.
pub fn parse_body(body: &str) -> Result<Vec<Result<Work, String>>, String> {
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(map)) => match parse_object(&map) {
            Ok(work) => Ok(vec![Ok(work)]),
            // An SNS notification delivered to the queue without raw delivery.
            Err(e) => match (map.get("Type").and_then(Value::as_str), map.get("Message").and_then(Value::as_str)) {
                (Some("Notification"), Some(message)) => parse_body(message),
                _ => Ok(vec![Err(e)]),
            },
        },
        Ok(Value::Array(items)) => Ok(items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Object(map) => json_request(map).map(Work::from).map_err(|e| format!("[{i}]: {e}")),
                _ => Err(format!("[{i}]: a request must be a JSON object")),
            })
            .collect()),
        Ok(other) => Err(format!("a JSON body must be a request object or a list of them, not {other}")),
        Err(_) => Ok(body
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|line| text_request(line).map(Work::from).map_err(|e| format!("{line:?}: {e}")))
            .collect()),
    }
}

fn parse_object(map: &Map<String, Value>) -> Result<Work, String> {
    if map.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event") {
        let time = map.get("time").and_then(Value::as_str).ok_or("a Scheduled Event needs a time")?;
        let at: jiff::Timestamp = time.parse().map_err(|e| format!("Scheduled Event time {time:?}: {e}"))?;
        return Ok(Work::Tick(at));
    }
    json_request(map).map(Work::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dispatches(body: &str) -> Vec<Result<DispatchRequest, String>> {
        parse_body(body)
            .unwrap()
            .into_iter()
            .map(|w| {
                w.map(|w| match w {
                    Work::Dispatch(d) => *d,
                    Work::Tick(_) => panic!("not a tick"),
                })
            })
            .collect()
    }

    #[test]
    fn json_forms() {
        let one = dispatches(
            r#"{"job_id": "ingest/partner-a", "delay": "2m", "globals": {"asg": "lava-prod01-core"}, "parameters": {"vars": {"mode": "full"}}, "x-note": 1}"#,
        );
        let request = one[0].clone().unwrap();
        assert_eq!((request.job_id.as_str(), request.delay_seconds), ("ingest/partner-a", 120));
        assert_eq!(Value::Object(request.parameters), json!({"vars": {"mode": "full"}}));
        let list = dispatches(r#"[{"job_id": "a"}, {"job_id": "b", "bogus": 1}, 5]"#);
        assert_eq!(list[0].as_ref().unwrap().job_id, "a");
        assert_eq!(list[1].clone().unwrap_err(), "[1]: Unexpected keys: bogus");
        assert_eq!(list[2].clone().unwrap_err(), "[2]: a request must be a JSON object");
        assert_eq!(
            dispatches(r#"{"job_id": "a", "delay": "16m"}"#)[0].clone().unwrap_err(),
            "Bad delay: \"16m\": Must be between 0 and 15 minutes"
        );
        assert!(
            dispatches(r#"{"job_id": "a", "globals": {"lava": {}}}"#)[0]
                .clone()
                .unwrap_err()
                .contains("Reserved global")
        );
        assert!(parse_body("42").is_err());
        assert!(parse_body(r#"{"delay": 1}"#).unwrap()[0].clone().unwrap_err().contains("Missing keys: job_id"));
    }

    #[test]
    fn text_form() {
        let body = "# comment\n\ningest/partner-a -d 3m -p vars.mode=full -g who=\"Ops Team\"\nfinance/daily-extract --delay 0 --param timeout=30m --global planet=Mars\nbad -x 1\n";
        let got = dispatches(body);
        let first = got[0].clone().unwrap();
        assert_eq!((first.job_id.as_str(), first.delay_seconds), ("ingest/partner-a", 180));
        assert_eq!(Value::Object(first.parameters), json!({"vars": {"mode": "full"}}));
        assert_eq!(Value::Object(first.globals), json!({"who": "Ops Team"}));
        let second = got[1].clone().unwrap();
        assert_eq!(Value::Object(second.globals), json!({"planet": "Mars"}));
        assert!(got[2].clone().unwrap_err().contains("-x: unknown option"));
    }

    #[test]
    fn ticks_and_sns_envelopes() {
        let tick = r#"{"version": "0", "id": "x", "detail-type": "Scheduled Event", "source": "aws.events", "time": "2025-03-04T01:02:00Z", "resources": ["arn:aws:events:us-east-1:1:rule/lava-x-schedule"], "detail": {}}"#;
        assert_eq!(parse_body(tick).unwrap(), vec![Ok(Work::Tick("2025-03-04T01:02:00Z".parse().unwrap()))]);
        let sns = json!({"Type": "Notification", "MessageId": "m", "TopicArn": "arn:t", "Message": "job/a -d 10s"})
            .to_string();
        assert_eq!(dispatches(&sns)[0].as_ref().unwrap().delay_seconds, 10);
    }
}
