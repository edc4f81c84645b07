//! lava's local AWS and the integration tests' harness: moto installed and launched
//! ([`moto`], which `lava local up` uses too), one emulator per test process started on first
//! use and stopped when the process exits, clients and options on it, unique resource names,
//! and the other servers the tests need (the test databases, the Docker engine), each failing
//! with the command that starts it when missing. The layer crates' own integration tests use it
//! (`shared/aws/tests`); `lava-tests` adds the realm and the deployables on top.

pub mod localstack;
pub mod moto;

use lava_aws::{AwsOptions, Clients};
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
    _watchdog: Option<Mutex<Child>>,
}

/// LocalStack (the free core, in host mode, from `.venv-localstack`, which `tests/setup.sh`
/// installs), started once per test process on a free loopback port and stopped with it, as
/// [`emulator`]'s moto. Its DynamoDB needs a download it cannot make here: tests keep their
/// tables on moto.
pub fn localstack() -> &'static Emulator {
    static LOCALSTACK: OnceLock<Emulator> = OnceLock::new();
    LOCALSTACK.get_or_init(|| {
        let python = localstack::localstack_python(&workspace_root().join(".venv-localstack"))
            .unwrap_or_else(|e| panic!("{e:#} (.ci/run runs `bash tests/setup.sh`)"));
        let port = free_port();
        let address = format!("127.0.0.1:{port}");
        let server = localstack::localstack_command(&python, &address);
        let mut watchdog = Command::new("sh")
            .args(["-c", r#"log=$1; shift; "$@" >"$log" 2>&1 & pid=$!; read _; kill $pid"#, "sh"])
            .arg(std::env::temp_dir().join(format!("lava-localstack-{port}.log")))
            .arg(server.get_program())
            .args(server.get_args())
            .envs(server.get_envs().filter_map(|(k, v)| Some((k, v?))))
            .stdin(Stdio::piped())
            .spawn()
            .expect("starting the LocalStack watchdog shell");
        if let Err(e) = localstack::wait_for_localstack(&address, localstack::START_TIMEOUT) {
            let _ = watchdog.stdin.take().map(|mut s| s.write_all(b"\n"));
            panic!("{e:#}: see lava-localstack-{port}.log in the temporary folder");
        }
        Emulator { endpoint_url: format!("http://{address}"), port, _watchdog: Some(Mutex::new(watchdog)) }
    })
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.ancestors().nth(2).expect("shared/testkit is inside the workspace").to_path_buf()
}

/// A tool `tests/setup.sh` installs into the workspace's `.venv` (the AWS CLI, the SAM CLI,
/// cfn-lint, cargo-lambda); a missing one fails the test with the command that installs it.
pub fn venv_tool(name: &str) -> PathBuf {
    let path = workspace_root().join(".venv/bin").join(name);
    assert!(path.exists(), "{} is missing: run `bash tests/setup.sh` (.ci/run does)", path.display());
    path
}

/// The size of `file` in a zip archive compressed as `sam package` does (deflate), made with
/// the `.venv`'s Python (no zip tool needed).
pub fn zipped_size(file: &std::path::Path) -> u64 {
    let script = "import io, sys, zipfile\nb = io.BytesIO()\nwith zipfile.ZipFile(b, 'w', zipfile.ZIP_DEFLATED, compresslevel=9) as z:\n    z.write(sys.argv[1], 'bootstrap')\nprint(len(b.getvalue()))";
    let out = std::process::Command::new(venv_tool("python")).args(["-c", script]).arg(file).output().unwrap();
    assert!(out.status.success(), "zipping {}: {}", file.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("a size")
}

/// A port on loopback that nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The moto server for this test binary, started on first use. Moto is installed into the
/// workspace's `.venv` when missing (`MOTO_VENV` names another virtualenv). A missing Python or
/// a failed install fails the test with the reason; nothing is skipped. `LAVA_EMULATOR_URL`
/// (`http://127.0.0.1:<port>`) uses a moto that is already running instead, e.g. one served
/// with HTTP keep-alive for the benchmarks.
pub fn emulator() -> &'static Emulator {
    static EMULATOR: OnceLock<Emulator> = OnceLock::new();
    EMULATOR.get_or_init(|| {
        if let Ok(url) = std::env::var("LAVA_EMULATOR_URL") {
            let port = url
                .rsplit(':')
                .next()
                .and_then(|p| p.trim_end_matches('/').parse().ok())
                .expect("LAVA_EMULATOR_URL ends with :<port>");
            return Emulator { endpoint_url: url.trim_end_matches('/').to_string(), port, _watchdog: None };
        }
        let venv = std::env::var_os("MOTO_VENV").map(PathBuf::from).unwrap_or_else(|| workspace_root().join(".venv"));
        let server =
            moto::ensure_moto(&venv).unwrap_or_else(|e| panic!("moto is needed for the emulator tests: {e:#}"));
        let port = free_port();
        // The benchmarks' moto whose SendMessage does not slow down as a queue fills
        // (tests/bench/moto_flat_sqs.py says why); the tests use moto with DynamoDB's per-item
        // atomicity, as `lava local up` does (shared/testkit/src/moto_server.py).
        let command: Vec<std::ffi::OsString> = if std::env::var_os("LAVA_MOTO_FLAT_SQS").is_some() {
            let python = server.with_file_name("python");
            vec![python.into(), workspace_root().join("tests/bench/moto_flat_sqs.py").into()]
        } else {
            moto::moto_command(&server).unwrap_or_else(|e| panic!("{e:#}"))
        };
        // A shell watchdog owns moto and kills it when our end of its stdin closes, which happens
        // when this test process exits however it exits. Arguments are passed positionally.
        let mut watchdog = Command::new("sh")
            .args(["-c", r#"log=$1; shift; "$@" >"$log" 2>&1 & pid=$!; read _; kill $pid"#, "sh"])
            .arg(std::env::temp_dir().join(format!("lava-moto-{port}.log")))
            .args(command)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::piped())
            .spawn()
            .expect("starting the moto watchdog shell");
        if let Err(e) = moto::wait_for_moto(&format!("127.0.0.1:{port}"), std::time::Duration::from_secs(60)) {
            let _ = watchdog.stdin.take().map(|mut s| s.write_all(b"\n"));
            panic!("{e:#}");
        }
        Emulator { endpoint_url: format!("http://127.0.0.1:{port}"), port, _watchdog: Some(Mutex::new(watchdog)) }
    })
}

/// AWS options pointing at the emulator.
pub fn aws_options() -> AwsOptions {
    AwsOptions {
        endpoint_url: Some(emulator().endpoint_url.clone()),
        region: Some("us-east-1".into()),
        emulator: true,
        ..Default::default()
    }
}

/// Points a child process's AWS SDK or CLI at the emulator, with its test credentials.
pub fn emulator_env(command: &mut std::process::Command) -> &mut std::process::Command {
    command
        .env("AWS_ENDPOINT_URL", &emulator().endpoint_url)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
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
///
/// moto cannot serialise an S3 multipart upload that holds parts (it answers 500), and tests
/// running beside this one stream results to S3 a part at a time; such an upload lasts a
/// moment (it is completed or aborted), so a 500 is asked again for up to 30 s.
pub fn moto_data() -> serde_json::Value {
    let address = format!("127.0.0.1:{}", emulator().port);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let body = loop {
        match moto::http_get(&address, "/moto-api/data.json") {
            Ok(body) => break body,
            Err(e) if e.to_string().contains(" 500 ") && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Err(e) => panic!("moto answers its API: {e}"),
        }
    };
    serde_json::from_str(&body).expect("moto's data is JSON")
}

/// The password of the `lava` user on the test databases (`tests/setup.sh`).
pub const DB_PASSWORD: &str = "lava-test-pw";

/// The test PostgreSQL server's `lava_test` database, as the `pg` connection resolves.
pub fn test_postgres() -> lava_core::connections::Database {
    lava_core::connections::Database {
        conn_id: "pg".into(),
        kind: lava_model::model::ConnectionType::Postgres,
        engine: lava_core::connections::Engine::Postgres,
        host: "127.0.0.1".into(),
        port: 5432,
        user: "lava".into(),
        password: lava_core::connections::Secret::new(DB_PASSWORD),
        database: Some("lava_test".into()),
        tls: lava_core::connections::TlsMode::Prefer,
        ca_cert: None,
    }
}

/// Fails with a clear message unless the test databases are listening (PostgreSQL on
/// 127.0.0.1:5432, MariaDB on 127.0.0.1:3306); `bash tests/setup.sh` starts them.
pub fn require_databases() {
    for (name, port) in [("PostgreSQL", 5432), ("MariaDB", 3306)] {
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        if std::net::TcpStream::connect_timeout(&address, std::time::Duration::from_secs(2)).is_err() {
            panic!(
                "{name} is not listening on 127.0.0.1:{port}: start the test databases with `bash tests/setup.sh` (.ci/run does)"
            );
        }
    }
}

/// The image `tests/setup.sh` imports into the test Docker engine (busybox tools, no registry).
pub const TEST_IMAGE: &str = "lava-test/busybox:1";

/// Fails with a clear message unless the test Docker engine answers with the test image.
pub fn require_docker() {
    let ok = std::process::Command::new("docker")
        .args(["image", "inspect", TEST_IMAGE])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        panic!("the Docker engine or the image {TEST_IMAGE} is missing: run `bash tests/setup.sh` (.ci/run does)");
    }
}

/// A TCP proxy on loopback in front of a local server, which can be frozen: while frozen it
/// passes no byte either way and connections stay open and silent, as a paused server or a
/// network partition looks to a client. Needs a multi-threaded runtime when the test blocks.
pub struct FreezableProxy {
    /// `http://127.0.0.1:<port>` of the proxy.
    pub url: String,
    frozen: tokio::sync::watch::Sender<bool>,
    /// Milliseconds added before each chunk a client sends is passed on (a round trip's worth
    /// of distance from the server).
    pub latency_ms: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Connections accepted so far (one per call against moto, which closes each after its answer).
    pub connections: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// Microseconds the server spent on connections so far, each from its opening to the
    /// server closing it (against moto: the calls' time in the emulator, loopback included).
    pub server_micros: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// The bytes clients sent, kept while `recording` is on (what went over the wire).
    pub sent: std::sync::Arc<Mutex<Vec<u8>>>,
    /// Whether `sent` and `by_connection` record.
    pub recording: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The bytes clients sent, one entry per connection, added when it closes (each holds
    /// whole requests: what counting them by service and operation reads).
    pub by_connection: std::sync::Arc<Mutex<Vec<Vec<u8>>>>,
}

impl FreezableProxy {
    /// A proxy to `127.0.0.1:<target_port>`.
    pub async fn start(target_port: u16) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port for the proxy");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (frozen, watch) = tokio::sync::watch::channel(false);
        let latency_ms = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let server_micros = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let sent = std::sync::Arc::new(Mutex::new(Vec::new()));
        let recording = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let by_connection = std::sync::Arc::new(Mutex::new(Vec::new()));
        let (latency, accepted, busy) = (latency_ms.clone(), connections.clone(), server_micros.clone());
        let recorder = (recording.clone(), sent.clone(), by_connection.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                accepted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let (watch, latency, busy, recorder) = (watch.clone(), latency.clone(), busy.clone(), recorder.clone());
                tokio::spawn(async move {
                    let opened = std::time::Instant::now();
                    let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", target_port)).await else {
                        return;
                    };
                    let (client_in, client_out) = client.into_split();
                    let (server_in, server_out) = server.into_split();
                    let from_server = async {
                        pump(server_in, client_out, watch.clone(), None, None).await;
                        let micros = u64::try_from(opened.elapsed().as_micros()).unwrap_or(u64::MAX);
                        busy.fetch_add(micros, std::sync::atomic::Ordering::Relaxed);
                    };
                    let to_server = pump(client_in, server_out, watch.clone(), Some(latency), Some(recorder));
                    tokio::join!(to_server, from_server);
                });
            }
        });
        FreezableProxy { url, frozen, latency_ms, connections, server_micros, sent, recording, by_connection }
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.url.rsplit(':').next().and_then(|p| p.parse().ok()).expect("the proxy's port")
    }

    /// The bytes clients sent since the last call (recording from now on).
    pub fn take_sent(&self) -> Vec<u8> {
        self.recording.store(true, std::sync::atomic::Ordering::Relaxed);
        std::mem::take(&mut *self.sent.lock().unwrap())
    }

    /// What clients sent since the last call, one entry per closed connection (recording from
    /// now on).
    pub fn take_connections(&self) -> Vec<Vec<u8>> {
        self.recording.store(true, std::sync::atomic::Ordering::Relaxed);
        std::mem::take(&mut *self.by_connection.lock().unwrap())
    }

    /// Stops (`true`) or resumes (`false`) all traffic.
    pub fn freeze(&self, frozen: bool) {
        self.frozen.send_replace(frozen);
    }
}

/// Whether to record, and where: the bytes a proxy's clients sent, as one stream and by connection.
type Recorder = (
    std::sync::Arc<std::sync::atomic::AtomicBool>,
    std::sync::Arc<Mutex<Vec<u8>>>,
    std::sync::Arc<Mutex<Vec<Vec<u8>>>>,
);

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut frozen: tokio::sync::watch::Receiver<bool>,
    latency_ms: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
    recorder: Option<Recorder>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer = vec![0u8; 16 * 1024];
    let mut this_connection = Vec::new();
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                if let Some((_, _, by_connection)) = &recorder
                    && !this_connection.is_empty()
                {
                    by_connection.lock().unwrap().push(this_connection);
                }
                return;
            }
            Ok(n) => n,
        };
        if let Some((on, sent, _)) = &recorder
            && on.load(std::sync::atomic::Ordering::Relaxed)
        {
            sent.lock().unwrap().extend_from_slice(&buffer[..read]);
            this_connection.extend_from_slice(&buffer[..read]);
        }
        let delay = latency_ms.as_ref().map_or(0, |l| l.load(std::sync::atomic::Ordering::Relaxed));
        if delay > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
        }
        // Bytes that arrive while frozen are held until the thaw.
        if frozen.wait_for(|f| !*f).await.is_err() || to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}
