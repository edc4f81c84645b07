//! Run history: the events table read back. A job's runs newest first through the events
//! table's `job_id-tu_event-index` (as the original's `lava-events` reads them), one run by its
//! id through `run_id-index`, and the outputs a run's result points at in S3.

use jiff::Timestamp;
use serde_json::Value;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::model::{EventRecord, EventStatus};
use crate::names::ResourceNames;
use crate::ports::{BlobStore, Item, KeyRange, RangeQuery, TableStore};

/// The events table's index of a job's runs by their latest event time (naive UTC text).
pub const JOB_TIME_INDEX: &str = "job_id-tu_event-index";
pub use crate::names::RUN_INDEX;

/// Which of a job's runs to list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunFilter {
    /// Runs whose latest event is at or after this.
    pub since: Option<Timestamp>,
    /// Runs whose latest event is at or before this.
    pub until: Option<Timestamp>,
    /// Runs whose latest status is this.
    pub status: Option<EventStatus>,
    /// At most this many runs (the newest).
    pub limit: Option<usize>,
}

/// Reads runs back from a realm's events table.
#[derive(Clone)]
pub struct History {
    tables: Arc<dyn TableStore>,
    names: ResourceNames,
}

/// Naive UTC text, as `tu_event` holds it.
fn naive_utc(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S").to_string()
}

/// The run an events item records; `None` for an item a worker has claimed (its lease written)
/// before the run's first event, which has no status yet.
fn record(item: Item) -> Result<Option<EventRecord>> {
    if !item.contains_key("status") {
        return Ok(None);
    }
    serde_json::from_value(Value::Object(item)).map(Some).map_err(|e| Error::json("events item", e))
}

impl History {
    /// The history of the realm `names` names.
    pub fn new(tables: Arc<dyn TableStore>, names: ResourceNames) -> Self {
        History { tables, names }
    }

    /// A job's runs, newest first.
    pub async fn job_runs(&self, job_id: &str, filter: &RunFilter) -> Result<Vec<EventRecord>> {
        let query = RangeQuery {
            index: Some(JOB_TIME_INDEX.into()),
            hash: ("job_id".into(), job_id.into()),
            range: Some(KeyRange {
                name: "tu_event".into(),
                from: filter.since.map(naive_utc),
                to: filter.until.map(naive_utc),
            }),
            descending: true,
            // A status filter is applied here, so the query itself cannot stop at the limit.
            limit: if filter.status.is_some() { None } else { filter.limit },
        };
        let mut runs = Vec::new();
        for item in self.tables.query_range(&self.names.events_table, &query).await? {
            let Some(run) = record(item)? else { continue };
            if filter.status.is_none_or(|s| s == run.status) {
                runs.push(run);
            }
        }
        runs.truncate(filter.limit.unwrap_or(usize::MAX));
        Ok(runs)
    }

    /// One run of one job.
    pub async fn run(&self, job_id: &str, run_id: &str) -> Result<Option<EventRecord>> {
        let key = Item::from_iter([("job_id".to_string(), job_id.into()), ("run_id".to_string(), run_id.into())]);
        self.tables.get_item(&self.names.events_table, &key, true).await?.map(record).transpose().map(Option::flatten)
    }

    /// Every item of a run id: the run and, for a pipeline, its children's runs, in the order
    /// of their first events (the parent first).
    pub async fn find_run(&self, run_id: &str) -> Result<Vec<EventRecord>> {
        let keys = crate::ports::query_optional_index(
            self.tables.as_ref(),
            &self.names.events_table,
            RUN_INDEX,
            ("run_id", run_id),
        )
        .await?;
        let mut runs = Vec::new();
        for key in keys {
            let job_id = key.get("job_id").and_then(Value::as_str).unwrap_or_default();
            if let Some(run) = self.run(job_id, run_id).await? {
                runs.push(run);
            }
        }
        runs.sort_by(|a, b| a.log.first().map(|e| &e.tu_event).cmp(&b.log.first().map(|e| &e.tu_event)));
        Ok(runs)
    }
}

/// The S3 objects a run's latest result points at: `output` (a URI, or a list of entries with
/// `stdout`/`stderr`/`output` URIs, as the executable, SQL and docker runners record them).
pub fn output_uris(run: &EventRecord) -> Vec<String> {
    fn collect(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::String(s) if s.starts_with("s3://") => found.push(s.clone()),
            Value::Array(items) => items.iter().for_each(|v| collect(v, found)),
            Value::Object(map) => {
                for key in ["stdout", "stderr", "output", "logs"] {
                    if let Some(v) = map.get(key) {
                        collect(v, found);
                    }
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    if let Some(info) = run.log.iter().rev().find(|e| e.info.is_object()).map(|e| &e.info) {
        collect(info, &mut found);
        if let Some(data) = info.get("error_data") {
            collect(data, &mut found);
        }
    }
    found.dedup();
    found
}

/// Reads an S3 object's text (lossy UTF-8) through `blobs`.
pub async fn read_output(blobs: &dyn BlobStore, uri: &str) -> Result<String> {
    let location = crate::model::values::S3Location::parse(uri).map_err(|e| Error::refused(uri, e))?;
    let bytes = blobs.get_object(&location.bucket, &location.key).await?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
