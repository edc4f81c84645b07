//! The original lava (jinlava 8.3.0 from PyPI), run beside this project on the same emulator,
//! realm and servers: the reference the differential suite compares against.

use std::path::PathBuf;
use std::process::Command;

/// The version of the original the suite compares against (`tests/setup.sh` installs it).
pub const VERSION: &str = shared::ORIGINAL_VERSION;

/// A program of the original's, from `.venv-jinlava` (`tests/setup.sh` installs it); a missing
/// one fails the test with the command that installs it.
pub fn program(name: &str) -> PathBuf {
    let path = crate::workspace_root().join(".venv-jinlava/bin").join(name);
    assert!(
        path.exists(),
        "the original's {name} is missing ({}): run `bash tests/setup.sh` (.ci/run does), which installs jinlava {VERSION}",
        path.display()
    );
    path
}

/// A command running the original's `program` against the emulator, with `LAVA_TMPDIR` under the
/// temporary folder (the original's default is `/tmp/lava`).
pub fn command(program_name: &str) -> Command {
    let program = program(program_name);
    // The original's own programs (lava-sql for sqlv jobs) first on the path, as on its hosts.
    let path = format!("{}:{}", program.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
    let mut command = Command::new(program);
    crate::emulator_env(&mut command)
        .env("PATH", path)
        .env("AWS_CONFIG_FILE", aws_config_file())
        .env("AWS_SHARED_CREDENTIALS_FILE", aws_config_file())
        .env("LAVA_TMPDIR", std::env::temp_dir().join("lava-original"))
        .env("LAVA_LOGLEVEL", "warning")
        .env_remove("AWS_PROFILE");
    command
}

/// An AWS configuration file with a `default` profile of the emulator's test credentials: parts
/// of the original (its dag threads, lava-sql) open sessions by profile name.
fn aws_config_file() -> PathBuf {
    let path = std::env::temp_dir().join("lava-original-aws-config");
    std::fs::write(&path, "[default]\nregion = us-east-1\naws_access_key_id = test\naws_secret_access_key = test\n")
        .expect("writing the original's AWS configuration file");
    path
}

/// Runs the original's `lava-worker` on `realm`'s `worker` queue in batch mode (it exits once the
/// queue is empty and its jobs are done), with `threads` threads and `env` added; returns what it
/// logged. Fails the test if it exits with an error.
pub fn run_worker(realm: &str, worker: &str, threads: usize, env: &[(String, String)]) -> String {
    let mut command = batch_worker(realm, worker, threads, 2);
    command.envs(env.iter().map(|(k, v)| (k, v)));
    let output = command.output().expect("starting the original's lava-worker");
    let log = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "the original's lava-worker failed ({}):\n{log}", output.status);
    log
}

/// The original's `lava-worker` in batch mode on `realm`'s `worker` queue, with `threads`
/// threads, long polls of `wait` seconds and no sleep between them, logging warnings only.
pub fn batch_worker(realm: &str, worker: &str, threads: usize, wait: u32) -> Command {
    let mut command = command("lava-worker");
    command.args(["--realm", realm, "--worker", worker, "--batch", "--root", "--no-colour"]).args([
        "--wait",
        &wait.to_string(),
        "--sleep",
        "0",
        "--threads",
        &threads.to_string(),
        "--level",
        "warning",
    ]);
    command
}
