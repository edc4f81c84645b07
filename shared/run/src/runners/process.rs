//! Running one executable: argv executed directly (no shell), stdin from /dev/null (or a file), output to
//! files (or the worker's own streams in dev mode), a new process group that is killed whole on
//! timeout, on cancellation, and after the child exits (stragglers), and by the worker's reaper
//! if the worker dies first.

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// The exit status lava reports for a timeout.
pub const TIMEOUT_STATUS: i32 = 28;

/// What to run.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// The whole environment (nothing else is inherited).
    pub env: Vec<(String, String)>,
    /// Working directory.
    pub cwd: PathBuf,
    /// Files for stdout and stderr; `None` inherits the worker's streams (dev mode).
    pub output: Option<(PathBuf, PathBuf)>,
    /// A file for stdin (`None`: /dev/null).
    pub stdin: Option<PathBuf>,
    /// Time limit.
    pub timeout: Duration,
}

/// How a process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this status (negative: killed by that signal).
    Status(i32),
    /// It ran past the time limit and was killed.
    TimedOut,
    /// The worker asked it to stop (shutdown) and it was killed.
    Cancelled,
}

impl Exit {
    /// The exit status lava reports (28 for a timeout).
    pub fn status(&self) -> i32 {
        match self {
            Exit::Status(s) => *s,
            Exit::TimedOut => TIMEOUT_STATUS,
            Exit::Cancelled => -(Signal::SIGKILL as i32),
        }
    }
}

/// Python's printing of a float number of seconds (`600.0`, `1.5`).
pub fn python_seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 { format!("{s:.1}") } else { format!("{s}") }
}

/// Why a program could not be started, worded as Python words it (`[Errno 2] No such file or
/// directory: '/bin/x'`, what the original reports), with a hint for scripts saved with DOS
/// line endings.
pub fn spawn_error(program: &str, error: &std::io::Error) -> String {
    let system = match error.raw_os_error() {
        Some(code) => {
            let text = error.to_string();
            let text = text.strip_suffix(&format!(" (os error {code})")).unwrap_or(&text).to_string();
            format!("[Errno {code}] {text}: {}", crate::render::python::quote(program))
        }
        None => format!("{error}: {}", crate::render::python::quote(program)),
    };
    if let Ok(bytes) = std::fs::read(program)
        && bytes.starts_with(b"#!")
        && bytes.split(|b| *b == b'\n').next().is_some_and(|line| line.ends_with(b"\r"))
    {
        return format!(
            "{system} (the script has DOS (CRLF) line endings, so its #! line names an interpreter that does not exist; convert it to Unix (LF) line endings)"
        );
    }
    system
}

fn kill_group(pid: u32) {
    let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
}

/// The file a bare program name runs, found on the job's own `PATH`. Spawning by absolute
/// path lets the standard library use `posix_spawn` (a `vfork`) instead of copying the
/// worker's page tables with `fork`, which it must do when the child's `PATH` differs.
fn resolve(program: &str, env: &[(String, String)]) -> PathBuf {
    if program.contains('/') {
        return PathBuf::from(program);
    }
    let path = env.iter().find(|(k, _)| k == "PATH").map(|(_, v)| v.as_str()).unwrap_or("");
    path.split(':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| Path::new(dir).join(program))
        .find(|candidate| {
            candidate
                .metadata()
                .is_ok_and(|m| m.is_file() && std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0)
        })
        .unwrap_or_else(|| PathBuf::from(program))
}

/// Runs a process to completion, timeout or cancellation.
pub async fn run(spec: &ProcessSpec, mut cancel: super::StopSignal) -> Result<Exit, String> {
    let program = spec.argv.first().ok_or("empty command line")?;
    let mut command = tokio::process::Command::new(resolve(program, &spec.env));
    command.arg0(program).args(&spec.argv[1..]).env_clear().envs(spec.env.iter().cloned()).current_dir(&spec.cwd);
    match &spec.stdin {
        Some(path) => {
            command.stdin(std::fs::File::open(path).map_err(|e| format!("Cannot open {}: {e}", path.display()))?)
        }
        None => command.stdin(Stdio::null()),
    };
    command.process_group(0).kill_on_drop(true);
    if let Some((stdout, stderr)) = &spec.output {
        let open = |p: &Path| std::fs::File::create(p).map_err(|e| format!("Cannot create {}: {e}", p.display()));
        command.stdout(open(stdout)?).stderr(open(stderr)?);
    }
    let mut child = command.spawn().map_err(|e| spawn_error(program, &e))?;
    let pid = child.id().unwrap_or_default();
    // The group ends with the worker too, however the worker ends.
    super::reaper::track(pid, true);
    let outcome = tokio::select! {
        status = child.wait() => {
            let status = status.map_err(|e| format!("Cannot wait for {program}: {e}"))?;
            use std::os::unix::process::ExitStatusExt;
            Exit::Status(status.code().unwrap_or_else(|| -status.signal().unwrap_or(0)))
        }
        _ = tokio::time::sleep(spec.timeout) => Exit::TimedOut,
        _ = cancel.wait_for(Option::is_some) => Exit::Cancelled,
    };
    kill_group(pid);
    super::reaper::track(pid, false);
    if !matches!(outcome, Exit::Status(_)) {
        let _ = child.wait().await;
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::watch;

    fn spec(argv: &[&str], timeout_ms: u64) -> ProcessSpec {
        ProcessSpec {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
            cwd: std::env::temp_dir(),
            output: None,
            stdin: None,
            timeout: Duration::from_millis(timeout_ms),
        }
    }

    fn never() -> crate::runners::StopSignal {
        let (tx, rx) = watch::channel(None);
        std::mem::forget(tx);
        rx
    }

    #[tokio::test]
    async fn exit_codes_timeouts_and_signals() {
        assert_eq!(run(&spec(&["true"], 5000), never()).await, Ok(Exit::Status(0)));
        assert_eq!(run(&spec(&["sh", "-c", "exit 3"], 5000), never()).await, Ok(Exit::Status(3)));
        assert_eq!(run(&spec(&["sh", "-c", "kill -TERM $$"], 5000), never()).await, Ok(Exit::Status(-15)));
        let started = std::time::Instant::now();
        let timed_out = run(&spec(&["sh", "-c", "sleep 30 & sleep 30"], 200), never()).await.unwrap();
        assert_eq!((timed_out.clone(), timed_out.status()), (Exit::TimedOut, 28));
        assert!(started.elapsed() < Duration::from_secs(5), "the whole group is killed at the timeout");
        assert_eq!(python_seconds(Duration::from_secs(600)), "600.0");
        assert_eq!(python_seconds(Duration::from_millis(1500)), "1.5");
    }

    #[tokio::test]
    async fn cancellation_kills_the_group() {
        let (tx, rx) = watch::channel(None);
        let handle = tokio::spawn(async move { run(&spec(&["sleep", "30"], 30_000), rx).await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        tx.send(Some(crate::runners::Stop::Shutdown)).unwrap();
        assert_eq!(handle.await.unwrap(), Ok(Exit::Cancelled));
    }

    #[tokio::test]
    async fn crlf_scripts_are_named() {
        let dir = std::env::temp_dir().join(format!("lava-crlf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("dos.sh");
        std::fs::write(&script, "#!/bin/sh\r\necho hi\r\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = run(&spec(&[script.to_str().unwrap()], 5000), never()).await.unwrap_err();
        assert!(err.contains("DOS (CRLF) line endings"), "{err}");
        let missing = run(&spec(&["/no/such/program"], 5000), never()).await.unwrap_err();
        assert_eq!(missing, "[Errno 2] No such file or directory: '/no/such/program'");
        assert!(err.starts_with("[Errno 2] No such file or directory: '"), "{err}");
    }
}
