//! Test harness: a real moto server on a free loopback port, started once per test binary and
//! stopped when the binary exits; uniquely named resources per test.

use shared::aws::{AwsOptions, Clients};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// The running emulator.
pub struct Emulator {
    /// `http://127.0.0.1:<port>`
    pub endpoint_url: String,
    /// Its port.
    pub port: u16,
    _watchdog: Mutex<Child>,
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is inside the workspace").to_path_buf()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free loopback port")
}

/// The moto server for this test binary, started on first use. Moto is installed into the
/// workspace's `.venv` when missing (`MOTO_VENV` names another virtualenv). A missing Python or
/// a failed install fails the test with the reason; nothing is skipped.
pub fn emulator() -> &'static Emulator {
    static EMULATOR: OnceLock<Emulator> = OnceLock::new();
    EMULATOR.get_or_init(|| {
        let venv = std::env::var_os("MOTO_VENV").map(PathBuf::from).unwrap_or_else(|| workspace_root().join(".venv"));
        let server = cli::local::ensure_moto(&venv).unwrap_or_else(|e| panic!("moto is needed for the emulator tests: {e:#}"));
        let port = free_port();
        // A shell watchdog owns moto and kills it when our end of its stdin closes, which happens
        // when this test process exits however it exits. Arguments are passed positionally.
        let mut watchdog = Command::new("sh")
            .args(["-c", r#""$1" -H 127.0.0.1 -p "$2" >"$3" 2>&1 & pid=$!; read _; kill $pid"#, "sh"])
            .arg(&server)
            .arg(port.to_string())
            .arg(std::env::temp_dir().join(format!("lava-moto-{port}.log")))
            .stdin(Stdio::piped())
            .spawn()
            .expect("starting the moto watchdog shell");
        if let Err(e) = cli::local::wait_for_moto(port, std::time::Duration::from_secs(60)) {
            let _ = watchdog.stdin.take().map(|mut s| s.write_all(b"\n"));
            panic!("{e:#}");
        }
        Emulator { endpoint_url: format!("http://127.0.0.1:{port}"), port, _watchdog: Mutex::new(watchdog) }
    })
}

/// AWS options pointing at the emulator.
pub fn aws_options() -> AwsOptions {
    AwsOptions { endpoint_url: Some(emulator().endpoint_url.clone()), region: Some("us-east-1".into()), emulator: true, profile: None }
}

/// Clients for the emulator.
pub async fn clients() -> Clients {
    Clients::load(&aws_options()).await
}

/// A unique lowercase name: `prefix` and 6 random hex digits (fits realm and worker rules when
/// `prefix` has at most 5 characters).
pub fn unique(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}{}", &id[..6])
}

/// The emulator's recorded state (`/moto-api/data.json`), e.g. sent emails under `ses`.
pub fn moto_data() -> serde_json::Value {
    let body = cli::local::http_get(emulator().port, "/moto-api/data.json").expect("moto answers its API");
    serde_json::from_str(&body).expect("moto's data is JSON")
}
