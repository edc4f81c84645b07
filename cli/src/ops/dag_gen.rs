//! `lava dag-gen`: a `dag` job's payload from a dependency matrix (the original's
//! `lava-dag-gen`). The sources give a map of each job to the jobs it waits for: a matrix (CSV;
//! successors down the first column, predecessors across the first row, any non-blank cell a
//! dependency) or rows of `(job, depends_on)` from a table. This module turns rows into that map
//! and the map into the payload (JSON or YAML as the original prints them) or its batches; it
//! does no I/O.

use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

use shared::model::pipeline::dag_waves;

/// Each job and the jobs it waits for.
pub type Dag = BTreeMap<String, BTreeSet<String>>;

/// The table a database source reads when none is named.
pub const DEFAULT_TABLE: &str = "dag";

/// How the payload is shaped and printed.
#[derive(Debug, Clone, Default)]
pub struct Shape {
    /// Leave out jobs that others wait for and that wait for nothing; a job waiting for
    /// nothing is `null`, for one job that job's id.
    pub compact: bool,
    /// Put before every job id.
    pub prefix: String,
    /// Put the payload under this key.
    pub wrap: Option<String>,
    /// YAML instead of JSON.
    pub yaml: bool,
}

/// The map of a matrix's rows (the first row the predecessors' names; the first cell of the
/// others the job's). Names are trimmed; a row without a job name is skipped; a job waiting
/// for itself does not; a job in several rows waits for the union.
pub fn from_matrix(rows: &[Vec<String>]) -> Dag {
    let Some((head, rows)) = rows.split_first() else { return Dag::new() };
    let predecessors: Vec<&str> = head.iter().skip(1).map(|n| n.trim()).collect();
    let mut dag = Dag::new();
    for row in rows {
        let Some(job) = row.first().map(|j| j.trim()).filter(|j| !j.is_empty()) else { continue };
        let waits = dag.entry(job.to_string()).or_default();
        for (before, cell) in predecessors.iter().zip(row.iter().skip(1)) {
            if !cell.trim().is_empty() && *before != job {
                waits.insert(before.to_string());
            }
        }
    }
    dag
}

/// The map of a table's `(job, depends_on)` rows: a NULL `depends_on` puts the job in
/// waiting for nothing.
pub fn from_pairs(rows: &[(Option<String>, Option<String>)]) -> Dag {
    let mut dag = Dag::new();
    for (job, before) in rows {
        let Some(job) = job.as_deref().map(str::trim).filter(|j| !j.is_empty()) else { continue };
        let waits = dag.entry(job.to_string()).or_default();
        if let Some(before) = before.as_deref().map(str::trim).filter(|b| !b.is_empty() && *b != job) {
            waits.insert(before.to_string());
        }
    }
    dag
}

/// The query of a database source, with the original's checks of the table and group names.
pub fn table_query(table: &str, group: Option<&str>) -> Result<String, String> {
    let word = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_');
    let table_ok = match table.split_once('.') {
        Some((schema, name)) => word(schema) && word(name),
        None => word(table),
    };
    if !table_ok {
        return Err(format!("Bad table name: {table}"));
    }
    let mut sql = format!("SELECT job, depends_on FROM {table}");
    if let Some(group) = group {
        if !word(group) {
            return Err(format!("Only alphanumerics allowed: {group}"));
        }
        sql.push_str(&format!(" WHERE job_group='{group}'"));
    }
    Ok(sql)
}

/// Every job of the graph: the map's and the jobs they wait for.
fn whole_graph(dag: &Dag) -> Dag {
    let mut graph = dag.clone();
    for before in dag.values().flatten() {
        graph.entry(before.clone()).or_default();
    }
    graph
}

/// Refuses an empty map and a cycle, in the original's words.
pub fn check(dag: &Dag) -> Result<(), String> {
    if dag.is_empty() {
        return Err("DAG is empty".into());
    }
    dag_waves(&whole_graph(dag)).map(|_| ()).map_err(|e| e.replacen("Jobs are in a cycle", "Nodes are in a cycle", 1))
}

/// `-o`: the batches a dag job runs, `Batch N` and then its jobs, each in job id order.
pub fn batches(dag: &Dag, prefix: &str) -> Result<String, String> {
    let waves = dag_waves(&whole_graph(dag))?;
    let mut out = String::new();
    for (i, wave) in waves.iter().enumerate() {
        out.push_str(&format!("Batch {}\n", i + 1));
        for job in wave {
            out.push_str(&format!("  - {prefix}{job}\n"));
        }
    }
    Ok(out)
}

/// The payload as the original prints it: JSON indented by four with sorted keys and a final
/// newline, or YAML with lists indented under their keys.
pub fn payload(dag: &Dag, shape: &Shape) -> String {
    let waited_for: BTreeSet<&String> = dag.values().flatten().collect();
    let name = |job: &str| Value::String(format!("{}{job}", shape.prefix));
    let mut map = Map::new();
    for (job, waits) in dag {
        let value = match (shape.compact, waits.len()) {
            (true, 0) if waited_for.contains(job) => continue,
            (true, 0) => Value::Null,
            (true, 1) => name(waits.first().expect("one job")),
            _ => Value::Array(waits.iter().map(|w| name(w)).collect()),
        };
        map.insert(format!("{}{job}", shape.prefix), value);
    }
    let mut value = Value::Object(map);
    if let Some(key) = &shape.wrap {
        value = Value::Object(Map::from_iter([(key.clone(), value)]));
    }
    if shape.yaml {
        let mut out = String::new();
        yaml(&value, 0, &mut out);
        out
    } else {
        format!("{}\n", shared::render::python::json_dumps_with(&value, Some(4), true))
    }
}

/// A payload (maps of lists, strings and nulls) as PyYAML's block style prints it, with the
/// original's dumper that indents a list under its key.
fn yaml(value: &Value, level: usize, out: &mut String) {
    let pad = "  ".repeat(level);
    let Value::Object(map) = value else { return };
    if map.is_empty() {
        out.push_str(&format!("{pad}{{}}\n"));
    }
    for (key, value) in map {
        out.push_str(&format!("{pad}{}:", yaml_scalar(key)));
        match value {
            Value::Object(inner) if !inner.is_empty() => {
                out.push('\n');
                yaml(value, level + 1, out);
            }
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                for item in items {
                    out.push_str(&format!("{pad}  - {}\n", yaml_scalar(item.as_str().unwrap_or_default())));
                }
            }
            Value::Array(_) => out.push_str(" []\n"),
            Value::Object(_) => out.push_str(" {}\n"),
            Value::String(s) => out.push_str(&format!(" {}\n", yaml_scalar(s))),
            _ => out.push_str(" null\n"),
        }
    }
}

/// A string as a YAML scalar: plain when it reads back as the same string, otherwise in single
/// quotes (PyYAML's choice for a string that would read as a number, a boolean or null, or
/// that holds characters YAML gives a meaning).
fn yaml_scalar(s: &str) -> String {
    const WORDS: [&str; 22] = [
        "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON",
        "off", "Off", "OFF", "null", "Null", "NULL", "~",
    ];
    let plain = s.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_' || c == '/')
        && s.chars().all(|c| c.is_alphanumeric() || "_./-".contains(c))
        && !WORDS.contains(&s);
    if plain { s.to_string() } else { format!("'{}'", s.replace('\'', "''")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(text: &str) -> Vec<Vec<String>> {
        text.lines().map(|l| l.split(',').map(str::to_string).collect()).collect()
    }

    #[test]
    fn a_matrix_becomes_each_job_s_predecessors() {
        let dag = from_matrix(&matrix(",a,b,c\na,,,\nb,x,,\nc,x, y ,\n d ,,,x\n,x,x,x\nb,,,x"));
        let expect: Dag = [("a", vec![]), ("b", vec!["a", "c"]), ("c", vec!["a", "b"]), ("d", vec!["c"])]
            .into_iter()
            .map(|(j, w)| (j.to_string(), w.into_iter().map(str::to_string).collect()))
            .collect();
        assert_eq!(dag, expect, "trimmed, the blank row skipped, b's two rows joined");
        assert_eq!(check(&dag).unwrap_err(), "Nodes are in a cycle: b, c, b");
        assert_eq!(check(&Dag::new()).unwrap_err(), "DAG is empty");
    }

    #[test]
    fn payloads_print_as_the_original_prints_them() {
        let dag = from_matrix(&matrix(",a,b,c\na,,,\nb,x,,\nc,x,y,\nd,,,x"));
        check(&dag).unwrap();
        assert_eq!(
            payload(&dag, &Shape::default()),
            "{\n    \"a\": [],\n    \"b\": [\n        \"a\"\n    ],\n    \"c\": [\n        \"a\",\n        \"b\"\n    ],\n    \"d\": [\n        \"c\"\n    ]\n}\n"
        );
        let compact = Shape { compact: true, yaml: true, prefix: "P_".into(), wrap: Some("payload".into()) };
        assert_eq!(payload(&dag, &compact), "payload:\n  P_b: P_a\n  P_c:\n    - P_a\n    - P_b\n  P_d: P_c\n");
        let pairs = [(Some("x".into()), None), (Some("yes".into()), Some("x".into())), (None, Some("x".into()))];
        let yaml = Shape { yaml: true, ..Shape::default() };
        assert_eq!(payload(&from_pairs(&pairs), &yaml), "x: []\n'yes':\n  - x\n");
        assert_eq!(
            batches(&dag, "P_").unwrap(),
            "Batch 1\n  - P_a\nBatch 2\n  - P_b\nBatch 3\n  - P_c\nBatch 4\n  - P_d\n"
        );
    }

    #[test]
    fn table_and_group_names_are_words() {
        assert_eq!(table_query("dag", None).unwrap(), "SELECT job, depends_on FROM dag");
        assert_eq!(table_query("s.dag", Some("g1")).unwrap(), "SELECT job, depends_on FROM s.dag WHERE job_group='g1'");
        assert_eq!(table_query("dag;drop", None).unwrap_err(), "Bad table name: dag;drop");
        assert_eq!(table_query("dag", Some("a'b")).unwrap_err(), "Only alphanumerics allowed: a'b");
    }
}
