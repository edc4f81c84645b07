//! `lava schedule …`: the next fire times of scheduled jobs, in their dispatchers' time zones.

use crate::{Target, catalog, connect};
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use jiff::Timestamp;
use shared::config::Config;
use shared::dispatch::DispatchRequest;
use shared::dispatch::function::dispatcher_zones;
use shared::dispatch::function::scheduled_run_id;
use shared::model::JobSpec;
use shared::model::schedule::schedule_entries;
use shared::schedule::{Entry, floor_minute, next_fire_times, schedule_fire_times};

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// The next fire times of a job, or of every scheduled job, in its dispatcher's time zone.
    Preview {
        /// One job (default: every job with a schedule).
        job_id: Option<String>,
        /// How many fire times per job.
        #[arg(short = 'n', long, default_value_t = 5)]
        count: usize,
        /// Start from this instant (RFC 3339; default: now).
        #[arg(long)]
        from: Option<String>,
        /// Print `[{job_id, dispatcher, zone, schedule, next}]` as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Dispatch the runs a job's schedule would have fired from one instant to another, under
    /// the run ids its ticks give them: a run that has already run is not sent again, and a
    /// copy of one still queued is run once by the worker's lease.
    Backfill(BackfillArgs),
}

/// `lava schedule backfill`.
#[derive(Debug, clap::Args)]
pub struct BackfillArgs {
    /// The job.
    job_id: String,
    /// The first instant (RFC 3339), included.
    #[arg(long)]
    from: String,
    /// The last instant (RFC 3339), included; not in the future.
    #[arg(long)]
    to: String,
    /// List the runs and what would be done, and send nothing.
    #[arg(long)]
    dry_run: bool,
    /// Refuse a range with more fire times than this.
    #[arg(long, default_value_t = 1000)]
    max_runs: usize,
}

impl ScheduleCommand {
    /// Runs the command.
    pub(crate) async fn run(self, target: &Target) -> Result<String> {
        match self {
            ScheduleCommand::Preview { job_id, count, from, json } => {
                let start = match &from {
                    Some(text) => text
                        .parse::<Timestamp>()
                        .with_context(|| format!("--from {text}: expected an RFC 3339 instant"))?,
                    None => Timestamp::now(),
                };
                let (ports, names) = connect(target).await?;
                let catalog = catalog(&ports, names);
                let realm_config = catalog.realm().await.ok().and_then(|r| r.config);
                let jobs = catalog.jobs().await?;
                let config = Config::new(std::env::vars(), realm_config.as_ref());
                if json {
                    return Ok(crate::pretty(&schedule_preview_json(&jobs, &config, job_id.as_deref(), count, start)?));
                }
                schedule_preview(&jobs, &config, job_id.as_deref(), count, start)
            }
            ScheduleCommand::Backfill(args) => args.run(target).await,
        }
    }
}

impl BackfillArgs {
    async fn run(self, target: &Target) -> Result<String> {
        let instant = |name: &str, text: &str| {
            text.parse::<Timestamp>().with_context(|| format!("--{name} {text}: expected an RFC 3339 instant"))
        };
        let (from, to) = (instant("from", &self.from)?, instant("to", &self.to)?);
        if to > Timestamp::now() {
            bail!("--to {}: in the future, where the schedule itself dispatches", self.to);
        }
        let (ports, names) = connect(target).await?;
        let realm = names.realm.clone();
        let catalog = catalog(&ports, names.clone());
        let job = catalog.job(&self.job_id).await?;
        let config = Config::new(std::env::vars(), catalog.realm().await.ok().and_then(|r| r.config).as_ref());
        // The lavasched jobs say which time zone each dispatcher's schedules are in.
        let schedulers: Vec<JobSpec> = catalog
            .lavasched_jobs()
            .await?
            .into_iter()
            .filter_map(|item| JobSpec::from_value(&serde_json::Value::Object(item)).ok())
            .collect();
        let minutes = backfill_minutes(&job, &schedulers, &config, (from, to))?;
        if minutes.len() > self.max_runs {
            bail!(
                "{} fire times from {} to {}: more than --max-runs {}",
                minutes.len(),
                self.from,
                self.to,
                self.max_runs
            );
        }
        let history = shared::history::History::new(ports.tables.clone(), names);
        let limits = crate::realm_limits(&catalog).await;
        let mut lines = Vec::new();
        for minute in minutes {
            let run_id = scheduled_run_id(&realm, &job.job_id, minute);
            let done = match history.run(&job.job_id, &run_id).await? {
                Some(record) => format!("already {}", record.status.as_str()),
                None if self.dry_run => "would be dispatched".to_string(),
                None => {
                    let request = DispatchRequest {
                        job_id: job.job_id.clone(),
                        run_id: Some(run_id.clone()),
                        ..Default::default()
                    };
                    shared::dispatch::dispatch(&catalog, &*ports.queues, &request, &limits).await?;
                    "dispatched".to_string()
                }
            };
            lines.push(format!("{minute} {run_id} {done}"));
        }
        if lines.is_empty() {
            lines.push(format!("{}: no fire time from {} to {}", job.job_id, self.from, self.to));
        }
        Ok(lines.join("\n"))
    }
}

/// The minutes in `[from, to]` at which `job`'s schedule fires, in its dispatcher's time zone
/// (as `schedulers`, the realm's lavasched jobs, and `config` set it).
pub fn backfill_minutes(
    job: &JobSpec,
    schedulers: &[JobSpec],
    config: &Config,
    (from, to): (Timestamp, Timestamp),
) -> Result<Vec<Timestamp>> {
    let schedule = job.schedule.as_ref().with_context(|| format!("{}: no schedule", job.job_id))?;
    let (zones, default_zone) = dispatcher_zones(config, schedulers);
    let tz = job.dispatcher.as_ref().and_then(|d| zones.get(d)).unwrap_or(&default_zone);
    let entries = schedule_entries(schedule)
        .and_then(|es| es.iter().map(|e| Entry::new(e, tz)).collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| anyhow::anyhow!("{}: {e}", job.job_id))?;
    let after = floor_minute(from).checked_sub(jiff::SignedDuration::from_mins(1))?;
    Ok(schedule_fire_times(&entries, tz, after, floor_minute(to)))
}

/// The next fire times of the scheduled jobs (or of `only`), one block per job.
pub fn schedule_preview(
    jobs: &[JobSpec],
    config: &Config,
    only: Option<&str>,
    count: usize,
    start: Timestamp,
) -> Result<String> {
    let (zones, default_zone) = dispatcher_zones(config, jobs);
    let mut lines = Vec::new();
    let selected: Vec<&JobSpec> = jobs.iter().filter(|j| only.is_none_or(|id| j.job_id == id)).collect();
    if let Some(id) = only
        && selected.is_empty()
    {
        bail!("{id}: no such job");
    }
    for job in selected {
        let Some(schedule) = &job.schedule else {
            if only.is_some() {
                lines.push(format!("{}: no schedule", job.job_id));
            }
            continue;
        };
        let tz = job.dispatcher.as_ref().and_then(|d| zones.get(d)).unwrap_or(&default_zone);
        let entries = schedule_entries(schedule)
            .and_then(|es| es.iter().map(|e| Entry::new(e, tz)).collect::<std::result::Result<Vec<_>, _>>())
            .map_err(|e| anyhow::anyhow!("{}: {e}", job.job_id))?;
        let zone_name = tz.iana_name().unwrap_or("UTC");
        lines.push(format!(
            "{} (dispatcher {}, {zone_name}): {schedule}",
            job.job_id,
            job.dispatcher.as_deref().unwrap_or("-")
        ));
        let next = next_fire_times(&entries, tz, start, count, 366);
        if next.is_empty() {
            lines.push("  (no fire time in the next year)".into());
        }
        for t in next {
            lines.push(format!("  {}", t.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M %a %:z")));
        }
    }
    Ok(lines.join("\n"))
}

/// [`schedule_preview`] as JSON: each scheduled job (or `only`) with its next fire times.
pub fn schedule_preview_json(
    jobs: &[JobSpec],
    config: &Config,
    only: Option<&str>,
    count: usize,
    start: Timestamp,
) -> Result<serde_json::Value> {
    let (zones, default_zone) = dispatcher_zones(config, jobs);
    let selected: Vec<&JobSpec> = jobs.iter().filter(|j| only.is_none_or(|id| j.job_id == id)).collect();
    if let Some(id) = only
        && selected.is_empty()
    {
        bail!("{id}: no such job");
    }
    let mut out = Vec::new();
    for job in selected {
        let Some(schedule) = &job.schedule else { continue };
        let tz = job.dispatcher.as_ref().and_then(|d| zones.get(d)).unwrap_or(&default_zone);
        let entries = schedule_entries(schedule)
            .and_then(|es| es.iter().map(|e| Entry::new(e, tz)).collect::<std::result::Result<Vec<_>, _>>())
            .map_err(|e| anyhow::anyhow!("{}: {e}", job.job_id))?;
        let next: Vec<String> = next_fire_times(&entries, tz, start, count, 366)
            .into_iter()
            .map(|t| t.to_zoned(tz.clone()).to_string())
            .collect();
        out.push(serde_json::json!({
            "job_id": job.job_id, "dispatcher": job.dispatcher, "zone": tz.iana_name().unwrap_or("UTC"),
            "schedule": schedule, "next": next,
        }));
    }
    Ok(serde_json::Value::Array(out))
}
