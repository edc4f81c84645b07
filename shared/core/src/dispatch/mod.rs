//! The dispatch primitive every producer uses: look the job up for its worker, build the worker
//! message with a new run id and the dispatch time, send it to `lava-<realm>-<worker>` with the
//! delay.

pub mod function;
pub mod requests;

use serde_json::{Map, Value};

use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::model::values::format_timestamp;
use crate::model::{Limits, WorkerMessage};
use crate::ports::{OutgoingMessage, WorkQueue};

/// What to dispatch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DispatchRequest {
    /// The job.
    pub job_id: String,
    /// Parameters for this run (merged over the job's).
    pub parameters: Map<String, Value>,
    /// Globals for this run (merged over the job's).
    pub globals: Map<String, Value>,
    /// SQS delay in seconds (at most 900).
    pub delay_seconds: u32,
    /// A worker the request names: it must be the job's own (checked by [`dispatch`]).
    pub worker: Option<String>,
    /// The run's id, when the caller derives it (the dispatch function, from the message that
    /// carried the request); otherwise a new UUID.
    pub run_id: Option<String>,
}

/// Looks the job up, checks it under the realm's `limits` (and that a worker named in the
/// request is the job's own), and sends a run of it to its worker queue; returns the message sent.
pub async fn dispatch(
    catalog: &Catalog,
    queue: &dyn WorkQueue,
    request: &DispatchRequest,
    limits: &Limits,
) -> Result<WorkerMessage> {
    let job = catalog.job(&request.job_id).await?;
    job.validate(limits)?;
    if let Some(named) = request.worker.as_deref().filter(|w| *w != job.worker) {
        return Err(Error::refused("worker", format!("{named}: job {} runs on worker {}", request.job_id, job.worker)));
    }
    send_run(catalog, queue, &job.worker, request, limits).await
}

/// Sends a run of `request.job_id` to `worker`'s queue, for callers that hold the job already
/// (schedule ticks, S3 triggers); returns the message sent.
pub async fn send_run(
    catalog: &Catalog,
    queue: &dyn WorkQueue,
    worker: &str,
    request: &DispatchRequest,
    limits: &Limits,
) -> Result<WorkerMessage> {
    if f64::from(request.delay_seconds) > limits.max_delay {
        return Err(Error::refused(
            "delay",
            format!("{} seconds: Must be between 0 and {} minutes", request.delay_seconds, limits.max_delay / 60.0),
        ));
    }
    let run_id = request.run_id.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let message = run_message(catalog, worker, request, run_id)?;
    let url = queue.queue_url(&catalog.names().worker_queue(worker)).await?;
    queue
        .send(
            &url,
            &OutgoingMessage { body: message.to_body(), delay_seconds: request.delay_seconds, ..Default::default() },
        )
        .await?;
    Ok(message)
}

/// The worker message for a run of `request` on `worker`, dispatched now.
pub fn run_message(
    catalog: &Catalog,
    worker: &str,
    request: &DispatchRequest,
    run_id: String,
) -> Result<WorkerMessage> {
    let worker = worker.to_string();
    let message = WorkerMessage {
        realm: catalog.names().realm.clone(),
        worker: worker.clone(),
        job_id: request.job_id.clone(),
        run_id,
        ts_dispatch: format_timestamp(
            &jiff::Zoned::now()
                .round(jiff::ZonedRound::new().smallest(jiff::Unit::Second).mode(jiff::RoundMode::Trunc))
                .map_err(|e| Error::unexpected("clock", e.to_string()))?,
        ),
        parameters: (!request.parameters.is_empty()).then(|| request.parameters.clone()),
        globals: (!request.globals.is_empty()).then(|| request.globals.clone()),
    };
    Ok(message)
}

/// Expands `name=value` pairs (dotted names become nested maps) as the original CLI does;
/// a path conflict (`a=1` and `a.b=2`) is an error.
pub fn expand_pairs(pairs: &[String]) -> std::result::Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for pair in pairs {
        let (name, value) = pair.split_once('=').ok_or_else(|| format!("{pair:?}: expected name=value"))?;
        let parts: Vec<&str> = name.split('.').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(format!("{pair:?}: bad name"));
        }
        let mut map = &mut out;
        for part in &parts[..parts.len() - 1] {
            let entry = map.entry(part.to_string()).or_insert_with(|| Value::Object(Map::new()));
            map = entry.as_object_mut().ok_or_else(|| format!("{name}: conflicts with an earlier value"))?;
        }
        let last = parts[parts.len() - 1];
        if map.get(last).is_some_and(Value::is_object) {
            return Err(format!("{name}: conflicts with an earlier value"));
        }
        map.insert(last.to_string(), Value::String(value.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dotted_pairs_nest() {
        let m = expand_pairs(&["vars.mode=full".into(), "vars.n=2".into(), "who=Ops Team".into()]).unwrap();
        assert_eq!(Value::Object(m), json!({"vars": {"mode": "full", "n": "2"}, "who": "Ops Team"}));
        assert!(expand_pairs(&["a=1".into(), "a.b=2".into()]).is_err());
        assert!(expand_pairs(&["a.b=1".into(), "a=2".into()]).is_err());
        assert!(expand_pairs(&["novalue".into()]).is_err());
    }
}
