//! The local realm: a moto server on loopback standing in for AWS, installed into a
//! project-local virtualenv when missing, with a realm created in it; the processes that run
//! the realm on it ([`realm`]), the deployed functions among them ([`lambda`]).

pub mod lambda;
pub mod realm;

use anyhow::{Context, Result, bail};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What every machine installs: moto, and jsonpath-ng, which moto's EventBridge needs for
/// rules with input transformers.
pub const MOTO_REQUIREMENTS: [&str; 2] = ["moto[server]==5.2.5", "jsonpath-ng==1.7.0"];

/// The moto server in `venv`, installing (or completing) it first when needed. The installed
/// requirement list is remembered in `<venv>/lava-requirements.txt`.
pub fn ensure_moto(venv: &Path) -> Result<PathBuf> {
    let server = venv.join("bin/moto_server");
    let marker = venv.join("lava-requirements.txt");
    let wanted = MOTO_REQUIREMENTS.join("\n");
    let installed = std::fs::read_to_string(&marker).unwrap_or_default();
    if server.exists()
        && (installed == wanted || installed.is_empty() && venv.join("bin/python").exists() && has_all(venv))
    {
        return Ok(server);
    }
    eprintln!("Installing {} into {} (about 90 seconds, once)...", MOTO_REQUIREMENTS.join(" "), venv.display());
    if !venv.join("bin/pip").exists() {
        let status =
            Command::new("python3").arg("-m").arg("venv").arg(venv).status().context("running python3 -m venv")?;
        if !status.success() {
            bail!("python3 -m venv {} failed ({status})", venv.display());
        }
    }
    let status = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet"])
        .args(MOTO_REQUIREMENTS)
        .status()
        .context("running pip install")?;
    if !status.success() || !server.exists() {
        bail!(
            "pip install failed ({status}); install by hand: {}/bin/pip install {}",
            venv.display(),
            MOTO_REQUIREMENTS.map(|r| format!("'{r}'")).join(" ")
        );
    }
    std::fs::write(&marker, wanted).context("writing the requirements marker")?;
    Ok(server)
}

/// Whether a virtualenv made before the marker existed already has every requirement.
fn has_all(venv: &Path) -> bool {
    Command::new(venv.join("bin/python"))
        .args(["-c", "import moto, jsonpath_ng"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Sends `GET path` to `address` (`host:port`) and returns the response body (HTTP/1.0, no
/// keep-alive).
pub fn http_get(address: &str, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
        return Err(std::io::Error::other(format!("GET {path}: {}", head.lines().next().unwrap_or("no response"))));
    }
    Ok(body.to_string())
}

/// Whether a moto server answers on `address` (`host:port`).
pub fn moto_answers(address: &str) -> bool {
    http_get(address, "/moto-api/data.json").is_ok()
}

/// Waits until a moto server answers on `address` (`host:port`).
pub fn wait_for_moto(address: &str, timeout: Duration) -> Result<()> {
    let start = Instant::now();
    loop {
        if moto_answers(address) {
            return Ok(());
        }
        if start.elapsed() > timeout {
            bail!("moto_server did not answer on {address} within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What `lava local up` leaves behind for `--local`, `status` and `down`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LocalState {
    /// Realm name.
    pub realm: String,
    /// The emulator's endpoint URL.
    pub endpoint_url: String,
    /// The moto server's process id.
    pub pid: u32,
    /// The process id of the supervisor running the rest of the realm (its process group).
    #[serde(default)]
    pub supervisor: Option<u32>,
}

impl LocalState {
    /// Where the state file lives under the project's `.lava-local` folder.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("state.json")
    }

    /// Reads the state of a local realm brought up in `dir`.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = Self::path(dir);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("no local realm is up (no {}); run `lava local up` first", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))
    }

    /// Writes the state file.
    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(Self::path(dir), serde_json::to_string_pretty(self)?)?;
        Ok(())
    }
}

/// The launcher that runs moto's server with DynamoDB's per-item atomicity (`moto_server.py`
/// says why), written beside the venv's Python.
const MOTO_LAUNCHER: &str = include_str!("moto_server.py");

/// The command that serves moto from the venv of `server` (its `moto_server`): its Python and
/// the launcher, which takes `moto_server`'s arguments.
pub fn moto_command(server: &Path) -> Result<Vec<std::ffi::OsString>> {
    let launcher = server.with_file_name("lava_moto_server.py");
    if std::fs::read_to_string(&launcher).ok().as_deref() != Some(MOTO_LAUNCHER) {
        std::fs::write(&launcher, MOTO_LAUNCHER).with_context(|| format!("writing {}", launcher.display()))?;
    }
    Ok(vec![server.with_file_name("python").into(), launcher.into()])
}

/// Starts a moto server on `host`:`port` that outlives this process, logging to `log`.
pub fn start_moto(server: &Path, host: &str, port: u16, log: &Path) -> Result<u32> {
    let log_file = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let command = moto_command(server)?;
    let child = Command::new(&command[0])
        .args(&command[1..])
        .args(["-H", host, "-p", &port.to_string()])
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .spawn()
        .with_context(|| format!("starting {}", server.display()))?;
    let pid = child.id();
    if let Err(e) = wait_for_moto(&format!("{host}:{port}"), Duration::from_secs(30)) {
        let _ = Command::new("kill").arg(pid.to_string()).status();
        return Err(e.context(format!("see {}", log.display())));
    }
    Ok(pid)
}

/// Stops a process by id (SIGTERM).
pub fn stop_process(pid: u32) -> Result<()> {
    let status = Command::new("kill").arg(pid.to_string()).status().context("running kill")?;
    if !status.success() {
        bail!("process {pid} was not running");
    }
    Ok(())
}

/// A process's state letter and process group, from `/proc/<pid>/stat` (Linux).
fn proc_stat(pid: &str) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let group = fields.nth(1)?.parse().ok()?;
    Some((state, group))
}

/// Whether a process with this id runs. A zombie (ended, not yet reaped: in a container
/// whose first process reaps nothing, orphans stay so) does not.
pub fn is_running(pid: u32) -> bool {
    if Path::new("/proc/self/stat").exists() {
        return proc_stat(&pid.to_string()).is_some_and(|(state, _)| state != 'Z');
    }
    kill(&["-0", &pid.to_string()])
}

/// Whether any process of the process group `group` runs (zombies aside, as for [`is_running`]).
pub fn group_is_running(group: u32) -> bool {
    if let Ok(entries) = std::fs::read_dir("/proc")
        && Path::new("/proc/self/stat").exists()
    {
        return entries.filter_map(|e| e.ok()).any(|e| {
            e.file_name().to_str().is_some_and(|pid| {
                pid.bytes().all(|b| b.is_ascii_digit()) && proc_stat(pid).is_some_and(|(s, g)| g == group && s != 'Z')
            })
        });
    }
    kill(&["-0", "--", &format!("-{group}")])
}

/// Sends `signal` (TERM, KILL) to every process of the process group `group`.
pub fn signal_group(group: u32, signal: &str) {
    kill(&[&format!("-{signal}"), "--", &format!("-{group}")]);
}

fn kill(args: &[&str]) -> bool {
    Command::new("kill").args(args).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// The whole lines appended to `path` since `offset`, which moves past them.
pub fn read_lines_from(path: &Path, offset: &mut u64) -> Result<String> {
    use std::io::{Seek, SeekFrom};
    let mut file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    if file.metadata()?.len() < *offset {
        *offset = 0; // truncated or replaced
    }
    file.seek(SeekFrom::Start(*offset))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let whole = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    *offset += whole as u64;
    Ok(String::from_utf8_lossy(&bytes[..whole]).into_owned())
}

/// The `host:port` of an endpoint URL (`http://host:port/`).
pub fn address_of(endpoint_url: &str) -> String {
    let rest = endpoint_url.split_once("://").map_or(endpoint_url, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest).to_string()
}
