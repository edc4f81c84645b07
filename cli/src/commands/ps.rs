//! `lava ps` and `lava stop`: the lava workers on this host, read from `/proc`, and signals to
//! them (the original's `lava-ps` and `lava-stop`). What is a worker and how the table looks is
//! in `crate::ops::ps`.

use crate::ops::ps::{Worker, cpu_time, ps_time, status_name, table, worker_args};
use anyhow::{Context, Result, bail};
use clap::Args;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
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
}

impl StopArgs {
    pub(crate) async fn run(self) -> Result<String> {
        let signal = parse_signal(&self.signal)?;
        let wait = self
            .wait
            .as_deref()
            .map(|w| shared::model::values::parse_duration(w).map_err(anyhow::Error::msg))
            .transpose()?;
        let workers = workers(self.only_realm.as_deref())?;
        if workers.is_empty() {
            return Ok("No lava workers found".into());
        }
        let mut lines = Vec::new();
        if self.no_dispatch {
            let marker = std::env::var("LAVA_NO_DISPATCH").unwrap_or_else(|_| "/tmp/lava/__nodispatch__".into());
            if let Some(dir) = Path::new(&marker).parent() {
                std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
            }
            std::fs::write(&marker, b"").with_context(|| marker.clone())?;
            lines.push(format!("Creating {marker}"));
        }
        for w in &workers {
            match kill(Pid::from_raw(w.pid), signal) {
                Ok(()) => lines.push(format!(
                    "{}-{} [{}] sent signal {}",
                    w.realm,
                    w.worker,
                    w.pid,
                    signal.map_or(0, |s| s as i32)
                )),
                Err(e) => lines.push(format!("PID {}: {}", w.pid, e.desc())),
            }
        }
        if let Some(wait) = wait {
            lines.extend(wait_then_end(&workers, Duration::from_secs_f64(wait)).await);
        }
        Ok(lines.join("\n"))
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
