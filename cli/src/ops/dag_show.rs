//! `lava dag show`: a picture of a `dag` or `chain` job's pipeline, which no lava tool had.
//! The graph comes from the job's payload as its runner reads it (`job_prefix` applied); each
//! child is drawn in the wave it runs in, coloured by the status of its last run, and links to
//! the list of its latest runs below the picture. This module builds the graph and the page;
//! it does no I/O.

use std::collections::{BTreeMap, BTreeSet};

use shared::model::JobSpec;
use shared::model::pipeline::{dag_graph, dag_waves, job_list};

/// Each child and the children it runs after.
pub type Graph = BTreeMap<String, BTreeSet<String>>;

/// One run of a child, as the page lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunLine {
    /// The run id.
    pub run_id: String,
    /// Its latest status.
    pub status: String,
    /// Its latest event's time.
    pub when: String,
}

/// The graph of a `dag` job (its payload's map) or a `chain` job (each child after the one
/// before it; a child named twice is drawn twice, the second as `id (2)`).
pub fn graph_of(job: &JobSpec) -> Result<Graph, String> {
    let prefix = job
        .parameters
        .as_ref()
        .and_then(|p| p.get("job_prefix"))
        .and_then(|p| p.as_str())
        .unwrap_or_default()
        .to_string();
    let payload = job.payload.clone().unwrap_or_default();
    match job.job_type.name() {
        "dag" => dag_graph(&payload, &prefix),
        "chain" => {
            let mut graph = Graph::new();
            let mut seen: BTreeMap<String, usize> = BTreeMap::new();
            let mut before: Option<String> = None;
            for child in job_list(&payload)? {
                let id = format!("{prefix}{child}");
                let n = seen.entry(id.clone()).and_modify(|n| *n += 1).or_insert(1);
                let node = if *n == 1 { id } else { format!("{id} ({n})") };
                graph.insert(node.clone(), before.iter().cloned().collect());
                before = Some(node);
            }
            Ok(graph)
        }
        other => Err(format!("{}: a {other} job has no pipeline to draw (dag and chain jobs have)", job.job_id)),
    }
}

/// The job id of a node (a chain's repeated child is `id (n)`).
pub fn node_job(node: &str) -> &str {
    match node.rsplit_once(" (") {
        Some((id, n)) if n.ends_with(')') && n[..n.len() - 1].parse::<usize>().is_ok() => id,
        _ => node,
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The fill of a status (none: never ran).
fn colour(status: Option<&str>) -> &'static str {
    match status {
        Some("complete") => "#2e7d32",
        Some("failed" | "rejected") => "#c62828",
        Some("skipped") => "#9e9e9e",
        Some(_) => "#1565c0",
        None => "#ffffff",
    }
}

/// The page: the pipeline as SVG (waves left to right, an arrow from each child to those that
/// wait for it, each child a link to its runs), then each child's latest runs. The page counts
/// the children and arrows the browser drew into `#drawn` (what a test in a headless browser
/// reads).
pub fn page(job: &JobSpec, graph: &Graph, runs: &BTreeMap<String, Vec<RunLine>>) -> Result<String, String> {
    let waves = dag_waves(graph)?;
    let (width, height, across, down) = (190.0, 40.0, 250.0, 60.0);
    let mut at: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for (i, wave) in waves.iter().enumerate() {
        for (j, node) in wave.iter().enumerate() {
            at.insert(node, (20.0 + across * i as f64, 20.0 + down * j as f64));
        }
    }
    let tallest = waves.iter().map(Vec::len).max().unwrap_or(1) as f64;
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" font-size="12"><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>"##,
        40.0 + across * waves.len() as f64,
        40.0 + down * tallest
    );
    for (node, before) in graph {
        let (x2, y2) = at[node.as_str()];
        for b in before {
            let (x1, y1) = at[b.as_str()];
            svg.push_str(&format!(
                r##"<path class="edge" data-from="{}" data-to="{}" d="M{:.1},{:.1} C{:.1},{:.1} {:.1},{:.1} {x2:.1},{:.1}" fill="none" stroke="#555" marker-end="url(#arrow)"/>"##,
                escape(b),
                escape(node),
                x1 + width,
                y1 + height / 2.0,
                x1 + width + 30.0,
                y1 + height / 2.0,
                x2 - 30.0,
                y2 + height / 2.0,
                y2 + height / 2.0
            ));
        }
    }
    for (n, (node, (x, y))) in at.iter().enumerate() {
        let last = runs.get(node_job(node)).and_then(|r| r.first());
        let status = last.map(|r| r.status.as_str());
        let tip = match last {
            Some(r) => format!("{node}: {} ({} at {})", r.status, r.run_id, r.when),
            None => format!("{node}: no runs"),
        };
        let text = if status.is_some() { "#ffffff" } else { "#333333" };
        svg.push_str(&format!(
            r##"<a href="#runs-{n}"><g class="job" data-job="{}" data-status="{}"><rect x="{x:.1}" y="{y:.1}" width="{width}" height="{height}" rx="6" fill="{}" stroke="#555"/><text x="{:.1}" y="{:.1}" fill="{text}">{}</text><title>{}</title></g></a>"##,
            escape(node),
            escape(status.unwrap_or("none")),
            colour(status),
            x + 8.0,
            y + height / 2.0 + 4.0,
            escape(node),
            escape(&tip)
        ));
    }
    svg.push_str("</svg>");
    let mut lists = String::new();
    for (n, node) in at.keys().enumerate() {
        lists.push_str(&format!(r##"<h3 id="runs-{n}">{}</h3>"##, escape(node)));
        match runs.get(node_job(node)).filter(|r| !r.is_empty()) {
            None => lists.push_str("<p>No runs.</p>"),
            Some(lines) => {
                lists.push_str("<table><tr><th>Run id</th><th>Status</th><th>Last event</th></tr>");
                for r in lines {
                    lists.push_str(&format!(
                        "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                        escape(&r.run_id),
                        escape(&r.status),
                        escape(&r.when)
                    ));
                }
                lists.push_str("</table>");
            }
        }
    }
    Ok(format!(
        r##"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>body {{ font-family: sans-serif; margin: 1em; }} g.job:hover {{ opacity: 0.8; }} td, th {{ padding: 2px 8px; text-align: left; }}</style></head>
<body><h1>{title}</h1><p>A {kind} job of {count} jobs in {waves} waves; each job coloured by its last run: green complete, red failed or rejected, blue under way, grey skipped, white never run. Click a job for its runs (<code>lava run show RUN_ID</code> shows one).</p>
{svg}
{lists}
<p id="drawn"></p>
<script>
const seen = el => {{ const b = el.getBBox(); return b.width > 0 || b.height > 0; }};
const jobs = [...document.querySelectorAll("g.job")].filter(seen);
const edges = [...document.querySelectorAll("path.edge")].filter(seen);
document.getElementById("drawn").textContent = "drawn " + jobs.length + " jobs and " + edges.length + " edges: " + jobs.map(g => g.dataset.job + "=" + g.dataset.status).join(" ");
</script></body></html>
"##,
        title = escape(&job.job_id),
        kind = job.job_type.name(),
        count = graph.len(),
        waves = waves.len(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(v: serde_json::Value) -> JobSpec {
        JobSpec::from_value(&v).unwrap()
    }

    #[test]
    fn dag_and_chain_jobs_have_graphs_and_others_do_not() {
        let dag = job(json!({"job_id": "d", "type": "dag", "worker": "core", "payload": {"c": ["a", "b"], "b": "a"},
            "parameters": {"job_prefix": "p/"}}));
        let graph = graph_of(&dag).unwrap();
        assert_eq!(graph.keys().collect::<Vec<_>>(), ["p/a", "p/b", "p/c"]);
        assert_eq!(graph["p/c"], BTreeSet::from(["p/a".to_string(), "p/b".to_string()]));
        let chain = job(json!({"job_id": "c", "type": "chain", "worker": "core", "payload": "x, y, x"}));
        let graph = graph_of(&chain).unwrap();
        assert_eq!(graph["y"], BTreeSet::from(["x".to_string()]));
        assert_eq!(graph["x (2)"], BTreeSet::from(["y".to_string()]));
        assert_eq!(node_job("x (2)"), "x");
        assert_eq!(node_job("odd (name)"), "odd (name)");
        let cmd = job(json!({"job_id": "e", "type": "cmd", "worker": "core", "payload": "true"}));
        assert_eq!(graph_of(&cmd).unwrap_err(), "e: a cmd job has no pipeline to draw (dag and chain jobs have)");
    }

    #[test]
    fn the_page_draws_each_job_coloured_by_its_last_run_and_lists_its_runs() {
        let dag = job(json!({"job_id": "d", "type": "dag", "worker": "core", "payload": {"b": "a", "c": "a"}}));
        let graph = graph_of(&dag).unwrap();
        let runs = BTreeMap::from([(
            "a".to_string(),
            vec![RunLine { run_id: "r1".into(), status: "failed".into(), when: "2026-12-07 01:00:00".into() }],
        )]);
        let html = page(&dag, &graph, &runs).unwrap();
        assert_eq!(html.matches("<g class=\"job\"").count(), 3);
        assert_eq!(html.matches("<path class=\"edge\"").count(), 2);
        assert!(html.contains(r##"data-job="a" data-status="failed"><rect x="20.0" y="20.0" width="190" height="40" rx="6" fill="#c62828""##));
        assert!(html.contains(r##"data-job="b" data-status="none""##));
        assert!(html.contains("<td><code>r1</code></td><td>failed</td>"));
    }
}
