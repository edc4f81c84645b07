//! The reaper: a small process beside the worker that ends its jobs' process groups when the
//! worker ends, however it ends (`kill -9` included), so a run taken over by another worker
//! never meets an orphan of the first still at work.
//!
//! The worker starts it as `lava-worker --reaper <grace seconds>` with a pipe on its standard
//! input, and tells it `+<pgid>` when a job's process group starts and `-<pgid>` when it is
//! gone. The pipe ends when the worker's process does (the kernel closes its end): the reaper
//! then sends SIGTERM to every group still listed, waits the grace, sends SIGKILL, and exits.
//! It runs in a process group of its own, so a signal to the worker's group (a terminal's
//! Ctrl-C) does not end it first.

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// The argument that starts `lava-worker` as the reaper.
pub const REAPER_ARG: &str = "--reaper";

static REAPER: OnceLock<Mutex<std::process::ChildStdin>> = OnceLock::new();

/// Starts the reaper (`program --reaper <grace>`) for this process's jobs; a second call does
/// nothing.
pub fn start(program: &std::path::Path, grace: Duration) -> std::io::Result<()> {
    if REAPER.get().is_some() {
        return Ok(());
    }
    use std::os::unix::process::CommandExt;
    let mut child = std::process::Command::new(program)
        .arg(REAPER_ARG)
        .arg(grace.as_secs().to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .process_group(0)
        .spawn()?;
    let stdin = child.stdin.take().expect("the reaper's stdin is piped");
    // Nobody waits for it: it outlives this process by design, and init reaps it.
    std::mem::forget(child);
    let _ = REAPER.set(Mutex::new(stdin));
    Ok(())
}

/// Tells the reaper a job's process group started (`started`) or is gone.
pub fn track(pgid: u32, started: bool) {
    if let Some(reaper) = REAPER.get() {
        let line = format!("{}{pgid}\n", if started { '+' } else { '-' });
        let mut pipe = reaper.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Err(e) = pipe.write_all(line.as_bytes()) {
            tracing::warn!(error = %e, "Cannot tell the reaper about a job's process group.");
        }
    }
}

/// The reaper's life: reads the worker's lines until the pipe ends, then ends the groups still
/// listed (SIGTERM, the grace, SIGKILL). Never returns.
pub fn run(grace: Duration) -> ! {
    let mut groups = BTreeSet::new();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let (sign, pgid) = line.split_at(line.len().min(1));
        match (sign, pgid.parse::<i32>()) {
            ("+", Ok(pgid)) if pgid > 1 => {
                groups.insert(pgid);
            }
            ("-", Ok(pgid)) => {
                groups.remove(&pgid);
            }
            _ => {}
        }
    }
    end_groups(&groups, grace);
    std::process::exit(0)
}

/// SIGTERM to each group, then SIGKILL to those still there after `grace`.
fn end_groups(groups: &BTreeSet<i32>, grace: Duration) {
    let alive = |pgid: i32| killpg(Pid::from_raw(pgid), None).is_ok();
    for &pgid in groups {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGTERM);
    }
    let deadline = std::time::Instant::now() + grace;
    while groups.iter().any(|&g| alive(g)) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    for &pgid in groups {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    }
}
