//! The local realm: a moto server on loopback standing in for AWS, installed into a
//! project-local virtualenv when missing, with a realm created in it, or LocalStack beside it
//! (everything but the tables, which stay on moto: LocalStack's free DynamoDB needs a download);
//! the processes that run the realm on it ([`realm`]), the deployed functions among them
//! ([`lambda`]).

pub mod lambda;
pub mod realm;

use anyhow::{Context, Result, bail};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Starting and asking LocalStack, shared with the tests' harness.
pub use lava_testkit::localstack::{localstack_answers, localstack_python, start_localstack};
/// Installing, starting and waiting for moto, shared with the tests' harness.
pub use lava_testkit::moto::{MOTO_REQUIREMENTS, ensure_moto, moto_answers, start_moto, wait_for_moto};

/// The emulator the local realm runs on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Emulator {
    /// moto alone (the supervisor puts the schedule tick on the dispatch queue).
    #[default]
    Moto,
    /// LocalStack, with the tables on moto (LocalStack's schedule rule fires the tick).
    Localstack,
}

/// What `lava local up` leaves behind for `--local`, `status` and `down`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// The emulator the realm runs on.
    #[serde(default)]
    pub emulator: Emulator,
    /// On LocalStack: moto's endpoint URL, where the tables are (`endpoint_url` is LocalStack's).
    #[serde(default)]
    pub tables_endpoint_url: Option<String>,
    /// On LocalStack: its process id.
    #[serde(default)]
    pub localstack: Option<u32>,
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

    /// moto's endpoint URL: where the tables are, and on moto everything else.
    pub fn moto_url(&self) -> &str {
        self.tables_endpoint_url.as_deref().unwrap_or(&self.endpoint_url)
    }

    /// Whether every emulator of the realm answers.
    pub fn answers(&self) -> bool {
        moto_answers(&address_of(self.moto_url()))
            && (self.emulator == Emulator::Moto || localstack_answers(&address_of(&self.endpoint_url)))
    }

    /// Writes the state file.
    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(Self::path(dir), serde_json::to_string_pretty(self)?)?;
        Ok(())
    }
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
