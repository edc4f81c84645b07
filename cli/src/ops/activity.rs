//! `lava job activity`: when jobs ran over a window, from their event records. Each run spans
//! its first event to its final one (or the window's end while it goes on); the runs' seconds
//! are summed per job and per worker into fixed slices (the original's CSV tables), and drawn as
//! a timeline (an HTML page with an SVG picture, one row per job, one bar per run).

use serde_json::{Value, json};
use std::collections::BTreeMap;

use shared::model::EventRecord;
use shared::model::values::parse_timestamp;

/// One run within the window.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RunSpan {
    /// The job.
    pub job_id: String,
    /// The run.
    pub run_id: String,
    /// Its worker.
    pub worker: String,
    /// Its latest status.
    pub status: String,
    /// When it started (its first event), in Unix seconds.
    pub start: i64,
    /// When it ended (its final event), or none while it goes on.
    pub end: Option<i64>,
}

/// The runs of `records` that overlap `[start, end)`, by start time. A record whose times do
/// not parse is left out.
pub fn spans(records: &[EventRecord], start: i64, end: i64) -> Vec<RunSpan> {
    let mut spans: Vec<RunSpan> = records
        .iter()
        .filter_map(|r| {
            let first = r.log.first().and_then(|e| parse_timestamp(&e.ts_event).ok())?.as_second();
            let last = r.log.iter().rev().find(|e| e.status.ends_run());
            let finished = last.and_then(|e| parse_timestamp(&e.ts_event).ok()).map(|t| t.as_second());
            Some(RunSpan {
                job_id: r.job_id.clone(),
                run_id: r.run_id.clone(),
                worker: r.worker.clone(),
                status: r.status.as_str().to_string(),
                start: first,
                end: finished,
            })
        })
        .filter(|s| s.start < end && s.end.unwrap_or(end) >= start)
        .collect();
    spans.sort_by(|a, b| (a.start, &a.job_id, &a.run_id).cmp(&(b.start, &b.job_id, &b.run_id)));
    spans
}

/// Run-seconds per slice: the slices' starts, and for each job and each worker the seconds its
/// runs spent in each slice (more than the slice when runs overlap).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Activity {
    /// Each slice's start, in Unix seconds.
    pub slices: Vec<i64>,
    /// The slices' length in seconds.
    pub interval: i64,
    /// Run-seconds per slice, by job.
    pub jobs: BTreeMap<String, Vec<i64>>,
    /// Run-seconds per slice, by worker.
    pub workers: BTreeMap<String, Vec<i64>>,
}

/// Sums `spans` into slices of `interval` seconds over `[start, end)`.
pub fn activity(spans: &[RunSpan], start: i64, end: i64, interval: i64) -> Activity {
    let interval = interval.max(1);
    let slices: Vec<i64> = (0..).map(|i| start + i * interval).take_while(|s| *s < end).collect();
    let mut jobs: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut workers: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for span in spans {
        let (from, to) = (span.start.max(start), span.end.unwrap_or(end).min(end));
        let job = jobs.entry(span.job_id.clone()).or_insert_with(|| vec![0; slices.len()]);
        let worker = workers.entry(span.worker.clone()).or_insert_with(|| vec![0; slices.len()]);
        for (i, slice) in slices.iter().enumerate() {
            let overlap = (to.min(slice + interval) - from.max(*slice)).max(0);
            job[i] += overlap;
            worker[i] += overlap;
        }
    }
    Activity { slices, interval, jobs, workers }
}

fn slice_label(second: i64, zone: &jiff::tz::TimeZone) -> String {
    let at = jiff::Timestamp::from_second(second).expect("slice times are in range").to_zoned(zone.clone());
    at.strftime("%Y-%m-%d %H:%M").to_string()
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
}

/// The two tables as CSV, as the original prints them: run-seconds per slice by job, then by
/// worker; slices labelled in `zone`.
pub fn csv(activity: &Activity, zone: &jiff::tz::TimeZone) -> String {
    let header: Vec<String> = activity.slices.iter().map(|s| slice_label(*s, zone)).collect();
    let table = |title: &str, rows: &BTreeMap<String, Vec<i64>>| {
        let mut lines = vec![format!("{title},{}", header.join(","))];
        for (name, seconds) in rows {
            let cells: Vec<String> = seconds.iter().map(i64::to_string).collect();
            lines.push(format!("{},{}", csv_field(name), cells.join(",")));
        }
        lines.join("\n")
    };
    format!("{}\n\n{}\n", table("Job ID", &activity.jobs), table("Worker", &activity.workers))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The timeline as a page a person opens: one row per job, one bar per run from its start to
/// its end (to the window's end while it goes on), coloured by status, with the run's id,
/// times and status in its tooltip; slice lines and labels on the time axis. The page counts
/// the bars the browser drew into `#drawn` (what a test in a headless browser reads).
pub fn html(
    spans: &[RunSpan],
    activity: &Activity,
    start: i64,
    end: i64,
    zone: &jiff::tz::TimeZone,
    title: &str,
) -> String {
    let jobs: Vec<&String> = activity.jobs.keys().collect();
    let (left, top, row, width) = (220.0, 40.0, 28.0, 1000.0);
    let span_seconds = (end - start).max(1) as f64;
    let x = |t: i64| left + (t.clamp(start, end) - start) as f64 / span_seconds * width;
    let height = top + row * jobs.len().max(1) as f64 + 20.0;
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{height}" font-family="sans-serif" font-size="12">"##,
        left + width + 20.0
    );
    for slice in &activity.slices {
        let sx = x(*slice);
        svg.push_str(&format!(
            r##"<line x1="{sx:.1}" y1="{}" x2="{sx:.1}" y2="{:.1}" stroke="#ddd"/><text x="{sx:.1}" y="{}" fill="#555">{}</text>"##,
            top - 5.0,
            height - 20.0,
            top - 12.0,
            escape(&slice_label(*slice, zone)[11..])
        ));
    }
    for (i, job) in jobs.iter().enumerate() {
        let y = top + row * i as f64;
        svg.push_str(&format!(r##"<text x="4" y="{:.1}">{}</text>"##, y + row * 0.65, escape(job)));
        for span in spans.iter().filter(|s| &&s.job_id == job) {
            let (x1, x2) = (x(span.start), x(span.end.unwrap_or(end)));
            let colour = match span.status.as_str() {
                "complete" => "#2e7d32",
                "failed" | "rejected" => "#c62828",
                "skipped" => "#9e9e9e",
                _ => "#1565c0",
            };
            let ended = span.end.map_or("still running".to_string(), |e| slice_label(e, zone));
            svg.push_str(&format!(
                r##"<rect class="run" data-run-id="{}" x="{x1:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{colour}"><title>{} {} ({}) {} to {}</title></rect>"##,
                escape(&span.run_id),
                y + 4.0,
                (x2 - x1).max(2.0),
                row - 8.0,
                escape(&span.job_id),
                escape(&span.run_id),
                escape(&span.status),
                slice_label(span.start, zone),
                ended
            ));
        }
    }
    svg.push_str("</svg>");
    let from = slice_label(start, zone);
    let to = slice_label(end, zone);
    format!(
        r##"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>body {{ font-family: sans-serif; margin: 1em; }} rect.run:hover {{ opacity: 0.7; }}</style></head>
<body><h1>{title}</h1><p>{from} to {to} ({zone}); {runs} runs of {jobs} jobs; green complete, red failed or rejected, blue running, grey skipped.</p>
{svg}
<p id="drawn"></p>
<script>
const bars = [...document.querySelectorAll("rect.run")].filter(r => r.getBBox().width > 0 && r.getBBox().height > 0);
document.getElementById("drawn").textContent = "drawn " + bars.length + " runs: " + bars.map(r => r.dataset.runId).join(" ");
</script></body></html>
"##,
        title = escape(title),
        zone = escape(zone.iana_name().unwrap_or("UTC")),
        runs = spans.len(),
        jobs = jobs.len(),
    )
}

/// The activity and runs as JSON (`--json`).
pub fn to_json(spans: &[RunSpan], activity: &Activity) -> Value {
    json!({"interval": activity.interval, "slices": activity.slices, "jobs": activity.jobs, "workers": activity.workers, "runs": spans})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(job: &str, worker: &str, start: i64, end: Option<i64>) -> RunSpan {
        RunSpan {
            job_id: job.into(),
            run_id: format!("{job}-{start}"),
            worker: worker.into(),
            status: "complete".into(),
            start,
            end,
        }
    }

    #[test]
    fn run_seconds_are_summed_per_slice_and_clipped_to_the_window() {
        let spans = [
            span("a", "core", 100, Some(700)), // 500 in the first slice, 100 in the second
            span("a", "core", 650, Some(660)), // 10 in the second
            span("b", "other", 1100, None),    // runs on to the window's end: 700 in the last
            span("c", "core", -500, Some(50)), // started before the window: 50 in the first
        ];
        let a = activity(&spans, 0, 1800, 600);
        assert_eq!(a.slices, [0, 600, 1200]);
        assert_eq!(a.jobs["a"], [500, 110, 0]);
        assert_eq!(a.jobs["b"], [0, 100, 600]);
        assert_eq!(a.jobs["c"], [50, 0, 0]);
        assert_eq!(a.workers["core"], [550, 110, 0]);
        let text = csv(&a, &jiff::tz::TimeZone::UTC);
        assert_eq!(text.lines().next(), Some("Job ID,1970-01-01 00:00,1970-01-01 00:10,1970-01-01 00:20"));
        assert!(
            text.contains("\na,500,110,0\n") && text.contains("\n\nWorker,") && text.contains("\nother,0,100,600\n"),
            "{text}"
        );
        let page = html(&spans, &a, 0, 1800, &jiff::tz::TimeZone::UTC, "t <x>");
        assert_eq!(page.matches("<rect class=\"run\"").count(), 4);
        assert!(page.contains("<title>t &lt;x&gt;</title>") && page.contains("still running"));
    }
}
