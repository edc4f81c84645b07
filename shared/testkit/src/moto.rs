//! moto, the AWS emulator `lava local up` and the tests run the realm on: installed into a
//! virtualenv when missing, launched with DynamoDB's per-item atomicity, and waited for.

use anyhow::{Context, Result, bail};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What every machine installs: moto, jsonpath-ng, which moto's EventBridge needs for rules
/// with input transformers, and cbor2, with which the launcher (`moto_server.py`) reads and
/// writes CloudWatch's RPC v2 CBOR protocol for moto.
pub const MOTO_REQUIREMENTS: [&str; 3] = ["moto[server]==5.2.5", "jsonpath-ng==1.7.0", "cbor2==5.9.0"];

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
        .args(["-c", "import moto, jsonpath_ng, cbor2"])
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

/// Whether a moto server answers on `address` (`host:port`): a question only moto's API answers,
/// and cheaply (`/moto-api/data.json` would serialise every service's state, and fails while an
/// S3 multipart upload holds parts).
pub fn moto_answers(address: &str) -> bool {
    http_get(address, "/moto-api/state-manager/get-transition?model_name=lava").is_ok_and(|b| b.contains("progression"))
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
    let command = moto_command(server)?;
    let mut moto = Command::new(&command[0]);
    moto.args(&command[1..]).args(["-H", host, "-p", &port.to_string()]);
    let what = format!("starting {}", server.display());
    start_detached(moto, &what, log, || wait_for_moto(&format!("{host}:{port}"), Duration::from_secs(30)))
}

/// Spawns `command` in a process group of its own (so it outlives this process), its output
/// to `log`, and returns its process id once `ready` says it answers; stops it otherwise.
pub fn start_detached(mut command: Command, what: &str, log: &Path, ready: impl Fn() -> Result<()>) -> Result<u32> {
    let log_file = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let child = command
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .spawn()
        .with_context(|| what.to_string())?;
    let pid = child.id();
    if let Err(e) = ready() {
        let _ = Command::new("kill").arg(pid.to_string()).status();
        return Err(e.context(format!("see {}", log.display())));
    }
    Ok(pid)
}
