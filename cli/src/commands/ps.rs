//! `lava ps` and `lava stop`: the lava workers on this host, read from `/proc`, and signals to
//! them (the original's `lava-ps` and `lava-stop`). What is a worker and how the table looks is
//! in `crate::ops::ps`.

use crate::ops::ps::{Worker, cpu_time, ps_time, status_name, table, worker_args};
use anyhow::{Context, Result, bail};
use clap::Args;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use shared::aws::lifecycle::LifecycleAction;
use std::path::Path;
use std::time::{Duration, Instant};

/// The kernel's clock ticks per second in `/proc/<pid>/stat` (`USER_HZ`, 100 on Linux).
const TICKS: f64 = 100.0;

/// `lava ps`.
#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show more: -l the process's use of the host, -ll its threads, files, ids and command.
    #[arg(short, action = clap::ArgAction::Count)]
    long: u8,
    /// Only the workers of this realm.
    #[arg(long, value_name = "REALM")]
    only_realm: Option<String>,
}

impl PsArgs {
    pub(crate) fn run(self) -> Result<String> {
        let workers = workers(self.only_realm.as_deref())?;
        Ok(if workers.is_empty() { String::new() } else { table(&workers, self.long) })
    }
}

/// `lava stop`.
#[derive(Debug, Args)]
pub struct StopArgs {
    /// The signal: a name (`TERM`, `SIGTERM`, `HUP`) or 0 (only check the workers are there).
    #[arg(long, visible_alias = "sig", default_value = "0")]
    signal: String,
    /// Wait this long (`nn[wdhms]`) for the workers to finish, then terminate and kill those
    /// still running.
    #[arg(short, long)]
    wait: Option<String>,
    /// Also create the no-dispatch marker file (`LAVA_NO_DISPATCH`, else
    /// /tmp/lava/__nodispatch__) when there are workers.
    #[arg(short = 'D', long)]
    no_dispatch: bool,
    /// Only the workers of this realm.
    #[arg(long, value_name = "REALM")]
    only_realm: Option<String>,
    /// Complete this Auto Scaling group's lifecycle action (with CONTINUE: the group goes on
    /// terminating the instance) once the workers are done; needs --lifecycle-hook-name.
    #[arg(long, value_name = "NAME", help_heading = "Auto Scaling lifecycle")]
    auto_scaling_group_name: Option<String>,
    /// The lifecycle hook's name; needs --auto-scaling-group-name.
    #[arg(long, value_name = "NAME", help_heading = "Auto Scaling lifecycle")]
    lifecycle_hook_name: Option<String>,
    /// The EC2 instance of the action (this one or --lifecycle-action-token is required).
    #[arg(long, value_name = "ID", help_heading = "Auto Scaling lifecycle")]
    instance_id: Option<String>,
    /// The action's token.
    #[arg(long, value_name = "UUID", help_heading = "Auto Scaling lifecycle")]
    lifecycle_action_token: Option<String>,
    /// Record a heartbeat for the action this often (`nn[smh]`, at least 60 seconds) while
    /// the workers finish.
    #[arg(long, value_name = "DURATION", help_heading = "Auto Scaling lifecycle")]
    lifecycle_heartbeat: Option<String>,
}

/// The shortest heartbeat interval, in seconds (the original's).
const MIN_HEARTBEAT: f64 = 60.0;

impl StopArgs {
    pub(crate) async fn run(self, target: &crate::Target) -> Result<String> {
        let signal = parse_signal(&self.signal)?;
        let wait = self.wait.as_deref().map(duration).transpose()?;
        let lifecycle = self.lifecycle()?;
        let workers = workers(self.only_realm.as_deref())?;
        let clients = match &lifecycle {
            Some(_) => Some(crate::account_clients(target).await?.1),
            None => None,
        };
        let mut lines = Vec::new();
        if workers.is_empty() {
            lines.push("No lava workers found".to_string());
        } else {
            if self.no_dispatch {
                lines.push(no_dispatch_marker()?);
            }
            let heartbeat = match (&lifecycle, &clients) {
                (Some((action, Some(every))), Some(clients)) => {
                    Some(tokio::spawn(heartbeats(clients.clone(), action.clone(), *every)))
                }
                _ => None,
            };
            lines.extend(signal_workers(&workers, signal));
            if let Some(wait) = wait {
                lines.extend(wait_then_end(&workers, Duration::from_secs_f64(wait)).await);
            }
            if let Some(task) = heartbeat {
                task.abort();
            }
        }
        // Unlike the original (which returned when it found no workers), the action is always
        // completed: an instance with nothing to stop need not wait for the hook's timeout.
        if let (Some((action, _)), Some(clients)) = (&lifecycle, &clients) {
            lines.push("Completing auto scaling lifecycle action".into());
            shared::aws::lifecycle::complete(clients, action).await?;
        }
        Ok(lines.join("\n"))
    }

    /// The lifecycle action and heartbeat interval the options give, checked as the original
    /// checks them.
    fn lifecycle(&self) -> Result<Option<(LifecycleAction, Option<f64>)>> {
        let every = self.lifecycle_heartbeat.as_deref().map(duration).transpose()?;
        if every.is_some_and(|s| s < MIN_HEARTBEAT) {
            bail!("lifecycle-heartbeat must be >= {MIN_HEARTBEAT} seconds");
        }
        let (group, hook) = match (&self.auto_scaling_group_name, &self.lifecycle_hook_name) {
            (Some(group), Some(hook)) => (group.clone(), hook.clone()),
            (None, None) => {
                if self.instance_id.is_some() || self.lifecycle_action_token.is_some() || every.is_some() {
                    bail!("Inconsistent auto scaling arguments");
                }
                return Ok(None);
            }
            _ => bail!("Inconsistent auto scaling arguments"),
        };
        if self.instance_id.is_none() && self.lifecycle_action_token.is_none() {
            bail!("At least one of --instance-id or --lifecycle-action-token are required");
        }
        let action = LifecycleAction {
            group,
            hook,
            instance: self.instance_id.clone(),
            token: self.lifecycle_action_token.clone(),
        };
        Ok(Some((action, every)))
    }
}

fn duration(text: &str) -> Result<f64> {
    shared::model::values::parse_duration(text).map_err(anyhow::Error::msg)
}

/// Creates the no-dispatch marker; the line saying so.
fn no_dispatch_marker() -> Result<String> {
    let marker = std::env::var("LAVA_NO_DISPATCH").unwrap_or_else(|_| "/tmp/lava/__nodispatch__".into());
    if let Some(dir) = Path::new(&marker).parent() {
        std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
    }
    std::fs::write(&marker, b"").with_context(|| marker.clone())?;
    Ok(format!("Creating {marker}"))
}

/// Sends `signal` to each worker; a line for each.
fn signal_workers(workers: &[Worker], signal: Option<Signal>) -> Vec<String> {
    workers
        .iter()
        .map(|w| match kill(Pid::from_raw(w.pid), signal) {
            Ok(()) => format!("{}-{} [{}] sent signal {}", w.realm, w.worker, w.pid, signal.map_or(0, |s| s as i32)),
            Err(e) => format!("PID {}: {}", w.pid, e.desc()),
        })
        .collect()
}

/// Records a heartbeat for `action` every `every` seconds (the first after one interval)
/// until aborted; a failed one is logged and the next tried.
async fn heartbeats(clients: shared::aws::Clients, action: LifecycleAction, every: f64) {
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(every));
    ticks.tick().await;
    loop {
        ticks.tick().await;
        match shared::aws::lifecycle::heartbeat(&clients, &action).await {
            Ok(()) => tracing::info!("Lifecycle hook heartbeat sent"),
            Err(e) => tracing::error!(error = %e, "Lifecycle heartbeat error"),
        }
    }
}

/// A signal by name (`TERM`, `SIGTERM`, any case) or 0.
fn parse_signal(text: &str) -> Result<Option<Signal>> {
    if text == "0" {
        return Ok(None);
    }
    let upper = text.to_uppercase();
    let name = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
    name.parse::<Signal>().map(Some).map_err(|_| anyhow::anyhow!("Unknown signal: {text}"))
}

/// Waits up to `wait` for the workers to end, then terminates and at last kills the rest.
async fn wait_then_end(workers: &[Worker], wait: Duration) -> Vec<String> {
    let alive = |w: &Worker| kill(Pid::from_raw(w.pid), None).is_ok();
    let mut lines = vec![format!("Workers have {:.1} seconds to terminate", wait.as_secs_f64())];
    let deadline = Instant::now() + wait;
    while workers.iter().any(alive) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250).min(deadline - Instant::now())).await;
    }
    for (signal, verb) in [(Signal::SIGTERM, "terminating"), (Signal::SIGKILL, "killing")] {
        let left: Vec<&Worker> = workers.iter().filter(|w| alive(w)).collect();
        for w in &left {
            lines.push(format!("{}-{} ({}): {verb}", w.realm, w.worker, w.pid));
            let _ = kill(Pid::from_raw(w.pid), signal);
        }
        if !left.is_empty() {
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
    }
    for w in workers.iter().filter(|w| !alive(w)) {
        lines.push(format!("{}-{} ({}): finished", w.realm, w.worker, w.pid));
    }
    lines.push("Workers shutdown complete".into());
    lines
}

/// Every lava worker process (of `realm`, if given), by process id.
fn workers(realm: Option<&str>) -> Result<Vec<Worker>> {
    bail_if_not_linux()?;
    let mut pids: Vec<i32> = std::fs::read_dir("/proc")
        .context("/proc")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort();
    let host = Host::read()?;
    let all = pids.into_iter().filter_map(|pid| worker(pid, &host));
    Ok(all.filter(|w| realm.is_none_or(|r| w.realm == r)).collect())
}

/// What every process's figures are measured against.
struct Host {
    boot: f64,
    memory_kib: f64,
    now: jiff::Zoned,
}

impl Host {
    fn read() -> Result<Host> {
        let stat = std::fs::read_to_string("/proc/stat").context("/proc/stat")?;
        let boot = field(&stat, "btime").context("/proc/stat: no btime")?;
        let meminfo = std::fs::read_to_string("/proc/meminfo").context("/proc/meminfo")?;
        let memory_kib = field(&meminfo, "MemTotal:").context("/proc/meminfo: no MemTotal")?;
        Ok(Host { boot, memory_kib, now: jiff::Zoned::now() })
    }
}

/// The first number after `name` at the start of a line.
fn field(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(name)?.split_whitespace().next()?.parse().ok())
}

/// The process `pid` if it is a lava worker (it may end while it is read: then it is not).
fn worker(pid: i32, host: &Host) -> Option<Worker> {
    let dir = Path::new("/proc").join(pid.to_string());
    let cmdline = std::fs::read(dir.join("cmdline")).ok()?;
    let argv: Vec<String> =
        cmdline.split(|b| *b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
    let (realm, worker, command) = worker_args(&argv)?;
    let status = std::fs::read_to_string(dir.join("status")).ok()?;
    let ids = |name: &str| -> Option<Vec<u32>> {
        let line = status.lines().find_map(|l| l.strip_prefix(name))?;
        Some(line.split_whitespace().filter_map(|n| n.parse().ok()).collect())
    };
    let (uids, gids) = (ids("Uid:")?, ids("Gid:")?);
    let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
    // The fields after the command name (which may hold spaces and parentheses).
    let after: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let number = |i: usize| after.get(i).and_then(|f| f.parse::<f64>().ok());
    let cpu = (number(11)? + number(12)?) / TICKS;
    let started_at = host.boot + number(19)? / TICKS;
    let started = jiff::Timestamp::from_second(started_at as i64).ok()?.to_zoned(host.now.time_zone().clone());
    let age = (host.now.timestamp().as_second() as f64 - started_at).max(0.01);
    let rss_kib = field(&status, "VmRSS:").unwrap_or(0.0);
    let user = nix::unistd::User::from_uid(uids[0].into()).ok().flatten().map_or(uids[0].to_string(), |u| u.name);
    Some(Worker {
        user,
        pid,
        realm,
        worker,
        cpu_percent: cpu / age * 100.0,
        mem_percent: rss_kib / host.memory_kib * 100.0,
        rss_kib: rss_kib as u64,
        status: status_name(after.first()?.chars().next()?).to_string(),
        started: ps_time(&started, &host.now),
        time: cpu_time(cpu),
        threads: field(&status, "Threads:")? as u64,
        files: std::fs::read_dir(dir.join("fd")).map(|d| d.count() as u64).unwrap_or(0),
        uid: *uids.get(1)?,
        gid: *gids.get(1)?,
        command,
    })
}

/// `/proc` is Linux's.
fn bail_if_not_linux() -> Result<()> {
    if !cfg!(target_os = "linux") {
        bail!("lava ps reads /proc, which only Linux has");
    }
    Ok(())
}
