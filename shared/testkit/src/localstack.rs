//! LocalStack, the second emulator: its free core run from a virtualenv in host mode on
//! loopback (no Docker), as `lava local up --emulator localstack` and the tests start it.
//! `tests/setup.sh` installs it into the workspace's `.venv-localstack` (Python 3.13).

use anyhow::{Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// How long LocalStack may take to answer after it starts (usually 5 to 25 s).
pub const START_TIMEOUT: Duration = Duration::from_secs(120);

/// The Python of the LocalStack virtualenv `venv`, or why there is none.
pub fn localstack_python(venv: &Path) -> Result<PathBuf> {
    let python = venv.join("bin/python");
    let installed = std::fs::read_dir(venv.join("lib"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|python_dir| python_dir.path().join("site-packages/localstack/runtime/main.py").exists());
    if !python.exists() || !installed {
        bail!(
            "LocalStack is not installed in {}: `bash tests/setup.sh` installs it (localstack-core[runtime] \
             into a Python 3.13 virtualenv), or pass the virtualenv that has it",
            venv.display()
        );
    }
    Ok(python)
}

/// The command that serves LocalStack on `address` (`host:port`) from `python`: host mode,
/// no system folders (a machine that looks like a container to it would get them), no DNS
/// server, queue URLs by path.
pub fn localstack_command(python: &Path, address: &str) -> Command {
    let mut command = Command::new(python);
    command
        .args(["-m", "localstack.runtime.main"])
        .env("OVERRIDE_IN_DOCKER", "0")
        .env("GATEWAY_LISTEN", address)
        .env("LOCALSTACK_HOST", address)
        .env("SQS_ENDPOINT_STRATEGY", "path")
        .env("DNS_ADDRESS", "0")
        .env("SKIP_SSL_CERT_DOWNLOAD", "1");
    command
}

/// Whether LocalStack answers on `address` with its SQS ready.
pub fn localstack_answers(address: &str) -> bool {
    crate::moto::http_get(address, "/_localstack/health").is_ok_and(|b| b.contains("\"sqs\""))
}

/// Waits until LocalStack answers on `address`.
pub fn wait_for_localstack(address: &str, timeout: Duration) -> Result<()> {
    let start = Instant::now();
    while !localstack_answers(address) {
        if start.elapsed() > timeout {
            bail!("LocalStack did not answer on {address} within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Ok(())
}

/// Starts LocalStack on `host`:`port` from `python`, outliving this process, logging to `log`;
/// returns its process id once it answers.
pub fn start_localstack(python: &Path, host: &str, port: u16, log: &Path) -> Result<u32> {
    let address = format!("{host}:{port}");
    let what = format!("starting LocalStack with {}", python.display());
    let command = localstack_command(python, &address);
    crate::moto::start_detached(command, &what, log, || wait_for_localstack(&address, START_TIMEOUT))
}
