//! Orchestration jobs' parameters and payloads (`dispatch`, `chain`, `dag`, `foreach`): typed,
//! checked when a spec is validated, with the original's messages; the dag's waves.

use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

use super::values::{DurationSpec, Flag, fnmatch};

/// `can_fail`: a glob or a list of globs (`*` also matches `/`, case-sensitive).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(untagged)]
pub enum Globs {
    /// Nothing may fail.
    #[default]
    None,
    /// One glob.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl Globs {
    /// Whether `job_id` matches a glob.
    pub fn matches(&self, job_id: &str) -> bool {
        match self {
            Globs::None => false,
            Globs::One(g) => fnmatch(g, job_id),
            Globs::Many(gs) => gs.iter().any(|g| fnmatch(g, job_id)),
        }
    }
}

/// Parameters of `dispatch` jobs.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispatchParams {
    /// Sent as each run's parameters (rendered unless `jinja` is false).
    #[serde(default)]
    pub parameters: Map<String, Value>,
    /// SQS delay.
    pub delay: Option<DurationSpec>,
    /// Render `parameters` (default true).
    pub jinja: Option<Flag>,
    /// Prepended to every job id.
    pub job_prefix: Option<String>,
}

/// Parameters of `chain` jobs.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainParams {
    /// Prepended to every child id and to `start`.
    pub job_prefix: Option<String>,
    /// The child to begin at (its first occurrence).
    pub start: Option<String>,
    /// Children whose failure does not stop the chain.
    #[serde(default)]
    pub can_fail: Globs,
}

/// Parameters of `dag` jobs.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DagParams {
    /// Prepended to every id, keys and predecessors alike.
    pub job_prefix: Option<String>,
    /// Children run at once (default `DAG_WORKERS`, at most `DAG_MAX_WORKERS`).
    pub workers: Option<i64>,
    /// Children whose failure does not stop the dag.
    #[serde(default)]
    pub can_fail: Globs,
}

/// Parameters of `foreach` jobs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForeachParams {
    /// The value generator.
    pub foreach: Map<String, Value>,
    /// Go on after a failed iteration.
    pub can_fail: Option<Flag>,
    /// Most iterations (default `FOREACH_LIMIT`, at most `FOREACH_MAX_LIMIT`).
    pub limit: Option<i64>,
    /// Render the generator's rendered fields (default true).
    pub jinja: Option<Flag>,
}

/// A `foreach` generator.
#[derive(Debug, Clone, PartialEq)]
pub enum Generator {
    /// `{name: i}` for i in Python's `range(start, stop, step)`.
    Range {
        /// First value.
        start: i64,
        /// End (exclusive).
        stop: i64,
        /// Step (not 0).
        step: i64,
        /// The key; none gives `{}` per value.
        name: Option<String>,
    },
    /// The maps as given.
    Inline(Vec<Map<String, Value>>),
    /// One JSON object per line of a local or `s3://` file (name rendered).
    Jsonl(String),
    /// One map per data row of a CSV file with a header (name rendered).
    Csv(String),
    /// One map per row of a query on a connection (never rendered).
    Query {
        /// The connection.
        conn_id: String,
        /// The query.
        query: String,
    },
    /// `{s3obj: {...}}` per object under a prefix whose key matches a glob (bucket and prefix
    /// rendered).
    S3List {
        /// Bucket.
        bucket: String,
        /// Prefix.
        prefix: String,
        /// Key globs (none: every object).
        globs: Vec<String>,
    },
}

impl Generator {
    /// Reads a `foreach` map, in the original's words where it had them.
    pub fn parse(spec: &Map<String, Value>) -> Result<Generator, String> {
        let kind = spec.get("type").and_then(Value::as_str).ok_or("foreach: type is required")?;
        let fields = |required: &[&str], optional: &[&str]| -> Result<(), String> {
            let mut unknown: Vec<&str> = spec
                .keys()
                .map(String::as_str)
                .filter(|k| *k != "type" && !required.contains(k) && !optional.contains(k))
                .collect();
            unknown.sort_unstable();
            if !unknown.is_empty() {
                return Err(format!("foreach {kind}: Unexpected keys: {}", unknown.join(", ")));
            }
            let missing: Vec<&str> = required.iter().copied().filter(|k| !spec.contains_key(*k)).collect();
            if !missing.is_empty() {
                return Err(format!("foreach {kind}: Missing keys: {}", missing.join(", ")));
            }
            Ok(())
        };
        let text = |name: &str| -> Result<String, String> {
            spec.get(name)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| format!("foreach {kind}: {name} must be a string"))
        };
        let integer = |name: &str, default: i64| -> Result<i64, String> {
            match spec.get(name) {
                None => Ok(default),
                Some(v) => v.as_i64().ok_or_else(|| format!("foreach {kind}: {name} must be an integer")),
            }
        };
        Ok(match kind {
            "range" => {
                fields(&["stop"], &["start", "step", "name"])?;
                let step = integer("step", 1)?;
                if step == 0 {
                    return Err("foreach range: step must not be zero".into());
                }
                let name = match spec.get("name") {
                    None | Some(Value::Null) => None,
                    Some(_) => Some(text("name")?),
                };
                Generator::Range { start: integer("start", 0)?, stop: integer("stop", 0)?, step, name }
            }
            "inline" => {
                fields(&["values"], &[])?;
                let values =
                    spec.get("values").and_then(Value::as_array).ok_or("foreach inline: values must be a list")?;
                let maps = values
                    .iter()
                    .map(|v| v.as_object().cloned().ok_or("foreach inline: values must be a list of maps"))
                    .collect::<Result<Vec<_>, _>>()?;
                Generator::Inline(maps)
            }
            "jsonl" => {
                fields(&["filename"], &[])?;
                Generator::Jsonl(text("filename")?)
            }
            "csv" => {
                fields(&["filename"], &[])?;
                Generator::Csv(text("filename")?)
            }
            "query" => {
                fields(&["conn_id", "query"], &[])?;
                Generator::Query { conn_id: text("conn_id")?, query: text("query")? }
            }
            "s3list" => {
                fields(&["bucket"], &["prefix", "glob"])?;
                let globs = match spec.get("glob") {
                    None | Some(Value::Null) => vec![],
                    Some(Value::String(g)) => vec![g.clone()],
                    Some(Value::Array(items)) => items
                        .iter()
                        .map(|g| g.as_str().map(str::to_string).ok_or("foreach s3list: glob must be strings"))
                        .collect::<Result<_, _>>()?,
                    Some(_) => return Err("foreach s3list: glob must be a string or a list of strings".into()),
                };
                let prefix = if spec.contains_key("prefix") { text("prefix")? } else { String::new() };
                Generator::S3List { bucket: text("bucket")?, prefix, globs }
            }
            other => return Err(format!("No foreach handler for type {other}")),
        })
    }

    /// The values of a `range`, as Python's `range` gives them (at most `limit` + 1 of them).
    pub fn range_values(start: i64, stop: i64, step: i64, limit: usize) -> Vec<i64> {
        let mut values = Vec::new();
        let mut i = start;
        while ((step > 0 && i < stop) || (step < 0 && i > stop)) && values.len() <= limit {
            values.push(i);
            i += step;
        }
        values
    }
}

/// A foreach value set may not name a key that starts with `lava`.
pub fn check_foreach_keys(values: &Map<String, Value>) -> Result<(), String> {
    if values.keys().any(|k| k.to_ascii_lowercase().starts_with("lava")) {
        return Err("foreach field names may not start with \"lava\"".into());
    }
    Ok(())
}

/// A chain's (or dispatch's) job ids: a comma-separated string (each trimmed) or a list.
pub fn job_list(payload: &Value) -> Result<Vec<String>, String> {
    match payload {
        Value::String(s) => Ok(s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()),
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(|s| s.trim().to_string()))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| "Payload must be comma separated list or real list of job IDs".to_string()),
        _ => Err("Payload must be comma separated list or real list of job IDs".into()),
    }
}

/// A dag's dependency map, `job_prefix` applied: each job and the jobs it runs after.
pub fn dag_graph(payload: &Value, prefix: &str) -> Result<BTreeMap<String, BTreeSet<String>>, String> {
    let map = payload.as_object().ok_or("payload must be a map")?;
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (job, before) in map {
        let before: Vec<String> = match before {
            Value::Null => vec![],
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<_>>()
                .ok_or_else(|| format!("{job}: predecessors must be job ids"))?,
            _ => return Err(format!("{job}: predecessors must be a job id, a list of job ids or null")),
        };
        let before: BTreeSet<String> = before.into_iter().map(|b| format!("{prefix}{b}")).collect();
        for b in &before {
            graph.entry(b.clone()).or_default();
        }
        graph.entry(format!("{prefix}{job}")).or_default().extend(before);
    }
    dag_waves(&graph)?;
    Ok(graph)
}

/// The dag's waves: each the jobs whose predecessors are all in earlier waves, in job id order.
/// A cycle is an error naming the jobs in it (or waiting on it).
pub fn dag_waves(graph: &BTreeMap<String, BTreeSet<String>>) -> Result<Vec<Vec<String>>, String> {
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut waves = Vec::new();
    while done.len() < graph.len() {
        let wave: Vec<String> = graph
            .iter()
            .filter(|(job, before)| !done.contains(job.as_str()) && before.iter().all(|b| done.contains(b.as_str())))
            .map(|(job, _)| job.clone())
            .collect();
        if wave.is_empty() {
            return Err(format!("Jobs are in a cycle: {}", find_cycle(graph).join(", ")));
        }
        for job in &wave {
            done.insert(graph.get_key_value(job).expect("a job of the graph").0);
        }
        waves.push(wave);
    }
    Ok(waves)
}

/// A cycle of the graph as Python's `graphlib` finds and names it (the original's wording): a
/// depth-first walk along successor edges from each job in turn, the cycle's first job repeated
/// at its end. Jobs are taken in job id order (the original took them in the order DynamoDB
/// returned the payload's map).
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    // The jobs in graphlib's insertion order, and each job's successors in the order added.
    let mut order: Vec<&str> = Vec::new();
    let mut successors: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (job, before) in graph {
        for node in std::iter::once(job).chain(before) {
            if !successors.contains_key(node.as_str()) {
                successors.insert(node, Vec::new());
                order.push(node);
            }
        }
        for b in before {
            successors.entry(b).or_default().push(job);
        }
    }
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for start in order {
        if seen.contains(start) {
            continue;
        }
        // The path from `start`, each job with the index of its next successor to try.
        let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
        seen.insert(start);
        while let Some((node, next)) = stack.last_mut() {
            let Some(successor) = successors[*node].get(*next).copied() else {
                stack.pop();
                continue;
            };
            *next += 1;
            if let Some(at) = stack.iter().position(|(n, _)| *n == successor) {
                let mut cycle: Vec<String> = stack[at..].iter().map(|(n, _)| n.to_string()).collect();
                cycle.push(successor.to_string());
                return cycle;
            }
            if seen.insert(successor) {
                stack.push((successor, 0));
            }
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn job_lists_and_globs() {
        assert_eq!(job_list(&json!(" a, b ,c")).unwrap(), ["a", "b", "c"]);
        assert_eq!(job_list(&json!(["a", "b"])).unwrap(), ["a", "b"]);
        assert!(job_list(&json!(3)).is_err());
        let globs: Globs = serde_json::from_value(json!(["etl/*", "x?"])).unwrap();
        assert!(globs.matches("etl/a/b") && globs.matches("xy") && !globs.matches("ETL/a"));
        assert!(!Globs::None.matches("a"));
    }

    #[test]
    fn dag_waves_and_cycles() {
        let graph = dag_graph(&json!({"c": ["a", "b"], "b": "a", "d": null}), "p/").unwrap();
        assert_eq!(dag_waves(&graph).unwrap(), vec![vec!["p/a", "p/d"], vec!["p/b"], vec!["p/c"]]);
        assert_eq!(dag_graph(&json!({"a": "b", "b": "a", "c": []}), "").unwrap_err(), "Jobs are in a cycle: a, b, a");
        // As graphlib: a walk along successor edges from the first job; c only waits on the cycle.
        let graph = json!({"c": ["b"], "b": "d", "d": ["b"], "a": null});
        assert_eq!(dag_graph(&graph, "").unwrap_err(), "Jobs are in a cycle: b, d, b");
        assert_eq!(dag_graph(&json!(["a"]), "").unwrap_err(), "payload must be a map");
    }

    #[test]
    fn generators() {
        let g = |v: Value| Generator::parse(v.as_object().unwrap());
        assert_eq!(
            g(json!({"type": "range", "stop": 3, "name": "i"})).unwrap(),
            Generator::Range { start: 0, stop: 3, step: 1, name: Some("i".into()) }
        );
        assert_eq!(Generator::range_values(10, 0, -3, 10), [10, 7, 4, 1]);
        assert_eq!(Generator::range_values(0, 100, 1, 3), [0, 1, 2, 3], "drained to limit + 1");
        assert_eq!(g(json!({"type": "range"})).unwrap_err(), "foreach range: Missing keys: stop");
        assert_eq!(g(json!({"type": "csv", "filename": "f", "x": 1})).unwrap_err(), "foreach csv: Unexpected keys: x");
        assert_eq!(g(json!({"type": "mongo"})).unwrap_err(), "No foreach handler for type mongo");
        assert!(matches!(g(json!({"type": "s3list", "bucket": "b", "glob": "*.csv"})).unwrap(),
            Generator::S3List { globs, .. } if globs == ["*.csv"]));
        assert!(check_foreach_keys(json!({"LavaX": 1}).as_object().unwrap()).is_err());
    }
}
