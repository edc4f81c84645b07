//! The reaper: a small process beside the worker that ends its jobs' process groups and
//! containers when the worker ends, however it ends (`kill -9` included), so a run taken over
//! by another worker never meets an orphan of the first still at work.
//!
//! The worker starts it as `lava-worker --reaper <grace seconds>` with a pipe on its standard
//! input, and tells it `+<pgid>` when a job's process group starts and `-<pgid>` when it is
//! gone, `+c:<id>` and `-c:<id>` for a docker job's container. The pipe ends when the worker's
//! process does (the kernel closes its end): the reaper then sends SIGTERM to every group still
//! listed, waits the grace, sends SIGKILL, kills and removes every container still listed, and
//! exits.
//! It runs in a process group of its own, so a signal to the worker's group (a terminal's
//! Ctrl-C) does not end it first.

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::ports::ContainerEngine;

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
    tell(&format!("{}{pgid}\n", if started { '+' } else { '-' }));
}

/// Tells the reaper a docker job's container started (`started`) or is removed.
pub fn track_container(id: &str, started: bool) {
    tell(&format!("{}c:{id}\n", if started { '+' } else { '-' }));
}

fn tell(line: &str) {
    if let Some(reaper) = REAPER.get() {
        let mut pipe = reaper.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Err(e) = pipe.write_all(line.as_bytes()) {
            tracing::warn!(error = %e, "Cannot tell the reaper about a job's process group or container.");
        }
    }
}

/// The reaper's life: reads the worker's lines until the pipe ends, then ends the groups still
/// listed (SIGTERM, the grace, SIGKILL) and the containers, through `containers`. Never
/// returns. Call it outside any async runtime (it makes its own for the containers).
pub fn run(grace: Duration, containers: Option<Arc<dyn ContainerEngine>>) -> ! {
    let mut groups = BTreeSet::new();
    let mut running = BTreeSet::new();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let (sign, what) = line.split_at(line.len().min(1));
        match (sign, what.strip_prefix("c:"), what.parse::<i32>()) {
            ("+", Some(id), _) if !id.is_empty() => {
                running.insert(id.to_string());
            }
            ("-", Some(id), _) => {
                running.remove(id);
            }
            ("+", None, Ok(pgid)) if pgid > 1 => {
                groups.insert(pgid);
            }
            ("-", None, Ok(pgid)) => {
                groups.remove(&pgid);
            }
            _ => {}
        }
    }
    end_groups(&groups, grace);
    if let (Some(engine), false) = (containers, running.is_empty()) {
        end_containers(engine.as_ref(), &running);
    }
    std::process::exit(0)
}

/// Kills and removes each container in `ids` (a container already gone is no matter).
fn end_containers(engine: &dyn ContainerEngine, ids: &BTreeSet<String>) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
    runtime.block_on(async {
        for id in ids {
            let _ = engine.kill(id).await;
            let _ = engine.remove(id).await;
        }
    });
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
