//! Test harness: a real moto server on a free loopback port, started once per test binary and
//! stopped when the binary exits; uniquely named resources per test.

pub mod cfn;
pub mod original;
pub mod pg_cluster;
pub mod samba;
pub mod smtp;

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
    _watchdog: Option<Mutex<Child>>,
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is inside the workspace").to_path_buf()
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
        let server = lava_cli::local::ensure_moto(&venv)
            .unwrap_or_else(|e| panic!("moto is needed for the emulator tests: {e:#}"));
        let port = free_port();
        // The benchmarks' moto whose SendMessage does not slow down as a queue fills
        // (tests/bench/moto_flat_sqs.py says why); the tests use moto with DynamoDB's per-item
        // atomicity, as `lava local up` does (cli/src/local/moto_server.py).
        let command: Vec<std::ffi::OsString> = if std::env::var_os("LAVA_MOTO_FLAT_SQS").is_some() {
            let python = server.with_file_name("python");
            vec![python.into(), workspace_root().join("tests/bench/moto_flat_sqs.py").into()]
        } else {
            lava_cli::local::moto_command(&server).unwrap_or_else(|e| panic!("{e:#}"))
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
        if let Err(e) = lava_cli::local::wait_for_moto(&format!("127.0.0.1:{port}"), std::time::Duration::from_secs(60))
        {
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
pub fn moto_data() -> serde_json::Value {
    let body = lava_cli::local::http_get(&format!("127.0.0.1:{}", emulator().port), "/moto-api/data.json")
        .expect("moto answers its API");
    serde_json::from_str(&body).expect("moto's data is JSON")
}

/// A realm brought up on the emulator (tables, bucket, queues, sample jobs) with adapters on it.
pub struct TestRealm {
    /// Its resource names.
    pub names: shared::names::ResourceNames,
    /// Typed access to its specs.
    pub catalog: shared::catalog::Catalog,
    /// Its tables.
    pub tables: std::sync::Arc<shared::aws::DynamoTables>,
    /// Queues.
    pub queues: std::sync::Arc<shared::aws::SqsQueues>,
    /// S3.
    pub blobs: std::sync::Arc<shared::aws::S3Blobs>,
    /// Every port, over the emulator (Slack posts go out over real HTTP).
    pub ports: shared::ports::Ports,
    /// The SDK clients.
    pub clients: shared::aws::Clients,
}

impl TestRealm {
    /// Brings up a realm named `prefix` plus a random suffix, loading `samples/jobs`.
    pub async fn up(prefix: &str) -> Self {
        Self::up_named(unique(prefix)).await
    }

    /// A realm whose tables are made as the original's realm template makes them (no index
    /// this project adds, provisioned capacity), the rest as [`Self::up`] makes it.
    pub async fn up_on_original_tables(prefix: &str) -> Self {
        let realm = unique(prefix);
        let clients = clients().await;
        for table in shared::names::ResourceNames::for_realm(&realm).original_tables() {
            shared::aws::provision::create_table(&clients, &table).await.unwrap();
        }
        let r = Self::up_named(realm).await;
        r.set_original_realm_keys().await;
        r
    }

    /// Sets the realm entry's `s3_key` as the original's realm template sets it (the original's
    /// executable jobs fail without it).
    pub async fn set_original_realm_keys(&self) {
        use shared::ports::TableStore;
        let key = serde_json::json!({"realm": self.names.realm});
        let table = &self.names.realms_table;
        let mut item = self.tables.get_item(table, key.as_object().unwrap(), true).await.unwrap().unwrap();
        item.insert("s3_key".into(), serde_json::json!(format!("alias/lava-{}-sys", self.names.realm)));
        self.tables.put_item(table, item).await.unwrap();
    }

    async fn up_named(realm: String) -> Self {
        use std::sync::Arc;
        lava_cli::bring_up(
            &emulator().endpoint_url,
            &realm,
            Some("us-east-1".into()),
            &workspace_root().join("samples/jobs"),
        )
        .await
        .unwrap();
        let clients = clients().await;
        let tables = Arc::new(shared::aws::DynamoTables::new(clients.dynamodb.clone()));
        let names = shared::names::ResourceNames::for_realm(&realm);
        TestRealm {
            catalog: shared::catalog::Catalog::new(tables.clone(), names.clone()),
            names,
            tables,
            queues: Arc::new(shared::aws::SqsQueues::new(clients.sqs.clone())),
            blobs: Arc::new(shared::aws::S3Blobs::new(clients.s3.clone())),
            ports: shared::wiring::ports(&clients, Arc::new(shared::webhook::HttpWebhook::new())),
            clients,
        }
    }

    /// The ports the dispatch and s3trigger functions build when deployed (only their clients).
    pub async fn function_ports() -> shared::ports::Ports {
        shared::wiring::function_ports(&shared::aws::sdk_config(&aws_options()).await)
    }

    /// The ports the actions function builds when deployed (only its clients).
    pub async fn actions_ports() -> shared::ports::Ports {
        let webhook = std::sync::Arc::new(shared::webhook::HttpWebhook::new());
        shared::wiring::actions_ports(&shared::aws::sdk_config(&aws_options()).await, webhook)
    }

    /// Writes a job spec.
    pub async fn put_job(&self, spec: serde_json::Value) {
        self.catalog.put_job(&shared::model::JobSpec::from_value(&spec).unwrap()).await.unwrap();
    }

    /// Dispatches a job to its worker's queue; returns the run id.
    pub async fn dispatch(&self, job_id: &str) -> String {
        let request = shared::dispatch::DispatchRequest { job_id: job_id.into(), ..Default::default() };
        shared::dispatch::dispatch(&self.catalog, self.queues.as_ref(), &request, &Default::default())
            .await
            .unwrap()
            .run_id
    }

    /// A run's event item (empty when there is none).
    pub async fn events(&self, job_id: &str, run_id: &str) -> serde_json::Value {
        use shared::ports::TableStore;
        let key = serde_json::json!({"job_id": job_id, "run_id": run_id});
        let item = self.tables.get_item(&self.names.events_table, key.as_object().unwrap(), true).await.unwrap();
        serde_json::Value::Object(item.unwrap_or_default())
    }

    /// The text of the object an `s3://<bucket>/<key>` URI names (a run's output or log, as
    /// results hold them); fails the test when `uri` is not such a string.
    pub async fn object_text(&self, uri: &serde_json::Value) -> String {
        use shared::ports::BlobStore;
        let text = uri.as_str().unwrap_or_else(|| panic!("not an S3 URI: {uri}"));
        let (bucket, key) = text
            .strip_prefix("s3://")
            .and_then(|rest| rest.split_once('/'))
            .unwrap_or_else(|| panic!("not an S3 URI: {text}"));
        String::from_utf8(self.blobs.get_object(bucket, key).await.unwrap()).unwrap()
    }

    /// The statuses of a run's events, in order.
    pub async fn statuses(&self, job_id: &str, run_id: &str) -> Vec<String> {
        let item = self.events(job_id, run_id).await;
        item["log"]
            .as_array()
            .map(|l| l.iter().map(|e| e["status"].as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    }

    /// A bucket of the test's own, secure as redshift_unload's checks want it (default
    /// encryption, access logging to a second bucket) unless `secure` is false.
    pub async fn own_bucket(&self, secure: bool) -> String {
        let s3 = &self.clients.s3;
        let name = unique("lava-unload-");
        let logs = format!("{name}-logs");
        for b in [&name, &logs] {
            s3.create_bucket().bucket(b).send().await.unwrap();
        }
        if !secure {
            return name;
        }
        use aws_sdk_s3::types::*;
        s3.put_bucket_acl().bucket(&logs).acl(BucketCannedAcl::from("log-delivery-write")).send().await.unwrap();
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(
                ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::Aes256).build().unwrap(),
            )
            .build();
        s3.put_bucket_encryption()
            .bucket(&name)
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder().rules(rule).build().unwrap(),
            )
            .send()
            .await
            .unwrap();
        let logging = LoggingEnabled::builder().target_bucket(&logs).target_prefix("access/").build().unwrap();
        s3.put_bucket_logging()
            .bucket(&name)
            .bucket_logging_status(BucketLoggingStatus::builder().logging_enabled(logging).build())
            .send()
            .await
            .unwrap();
        name
    }

    /// Creates a Redshift cluster `id` in moto (for `GetClusterCredentials`).
    pub async fn redshift_cluster(&self, id: &str) {
        self.clients
            .redshift
            .create_cluster()
            .cluster_identifier(id)
            .node_type("ra3.xlplus")
            .master_username("admin")
            .master_user_password("Passw0rd1")
            .send()
            .await
            .unwrap();
    }

    /// Writes the SQL test connections: `pg` (password from an SSM parameter), `pg_secret`
    /// (everything from a Secrets Manager secret), `my` (MariaDB) and `lite` (a fresh SQLite
    /// file, whose path is returned). Fails unless the test databases are running.
    pub async fn put_sql_connections(&self) -> std::path::PathBuf {
        use serde_json::json;
        use shared::aws::provision;
        require_databases();
        let realm = self.names.realm.clone();
        let parameter = format!("/lava/{realm}/db-password");
        provision::put_parameter(&self.clients, &parameter, DB_PASSWORD, true).await.unwrap();
        let secret = format!("lava/{realm}/pg");
        let secret_body = json!({"username": "lava", "password": DB_PASSWORD, "host": "127.0.0.1", "port": 5432, "dbname": "lava_test"});
        provision::create_secret(&self.clients, &secret, &secret_body.to_string()).await.unwrap();
        let lite = std::env::temp_dir().join(format!("{}.sqlite3", unique("lava-lite-")));
        for entry in [
            json!({"conn_id": "pg", "type": "postgres", "enabled": true, "host": "127.0.0.1", "port": 5432, "user": "lava", "database": "lava_test", "password": parameter}),
            json!({"conn_id": "pg_secret", "type": "postgres-rds", "enabled": true, "secret_id": secret}),
            json!({"conn_id": "my", "type": "mariadb", "enabled": true, "host": "127.0.0.1", "port": "3306", "user": "lava", "database": "lava_test", "password": parameter}),
            json!({"conn_id": "lite", "type": "sqlite3", "enabled": true, "host": lite.display().to_string(), "port": 0, "user": "-"}),
        ] {
            self.catalog.put_connection(&shared::model::ConnectionEntry::from_value(&entry).unwrap()).await.unwrap();
        }
        lite
    }

    /// An ECS cluster and service both named `name` (a fleet's, as the worker stack names them)
    /// with `running` tasks running.
    pub async fn ecs_service(&self, name: &str, running: i32) {
        let ecs = &self.clients.ecs;
        ecs.create_cluster().cluster_name(name).send().await.unwrap();
        let container =
            aws_sdk_ecs::types::ContainerDefinition::builder().name("worker").image("lava-worker").memory(512);
        ecs.register_task_definition().family(name).container_definitions(container.build()).send().await.unwrap();
        ecs.create_service()
            .cluster(name)
            .service_name(name)
            .task_definition(name)
            .desired_count(0)
            .send()
            .await
            .unwrap();
        // moto counts a service's tasks as running once its desired count is updated.
        ecs.update_service().cluster(name).service(name).desired_count(running).send().await.unwrap();
    }

    /// A queue's URL.
    pub async fn queue_url(&self, name: &str) -> String {
        use shared::ports::WorkQueue;
        self.queues.queue_url(name).await.unwrap()
    }

    /// Runs a function's binary as Lambda runs it (under a Runtime API on loopback, configured
    /// for this realm on the emulator), invokes it with each of `events` in turn and returns its
    /// answers. Its log goes to the temporary folder.
    pub async fn invoke_binary(
        &self,
        binary: &str,
        events: Vec<serde_json::Value>,
    ) -> Vec<lava_cli::local::lambda::Answer> {
        self.invoke_binary_with_env(binary, events, &[]).await
    }

    /// [`TestRealm::invoke_binary`] with `extra` added to the function's environment.
    pub async fn invoke_binary_with_env(
        &self,
        binary: &str,
        events: Vec<serde_json::Value>,
        extra: &[(String, String)],
    ) -> Vec<lava_cli::local::lambda::Answer> {
        use lava_cli::local::lambda::FunctionProcess;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let env = [
            ("LAVA_REALM", self.names.realm.as_str()),
            ("AWS_ENDPOINT_URL", emulator().endpoint_url.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("NO_COLOR", "1"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into_iter()
        .chain(extra.iter().cloned())
        .collect();
        let log = std::env::temp_dir().join(format!("{}.log", unique("lava-function-")));
        let timeout = std::time::Duration::from_secs(60);
        let function = FunctionProcess::start("test", binary.into(), env, log.clone(), timeout, stopped)
            .await
            .expect("the function binary starts");
        let mut answers = Vec::new();
        for (n, event) in events.into_iter().enumerate() {
            answers.push(function.api.invoke(&format!("test-{n}"), event).await);
        }
        stop.send_replace(true);
        eprintln!("{}", std::fs::read_to_string(&log).unwrap_or_default());
        answers
    }
}

/// The password of the `lava` user on the test databases (`tests/setup.sh`).
pub const DB_PASSWORD: &str = "lava-test-pw";

/// The test PostgreSQL server's `lava_test` database, as the `pg` connection resolves.
pub fn test_postgres() -> shared::connections::Database {
    shared::connections::Database {
        conn_id: "pg".into(),
        kind: shared::model::ConnectionType::Postgres,
        engine: shared::connections::Engine::Postgres,
        host: "127.0.0.1".into(),
        port: 5432,
        user: "lava".into(),
        password: shared::connections::Secret::new(DB_PASSWORD),
        database: Some("lava_test".into()),
        tls: shared::connections::TlsMode::Prefer,
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

/// Options for a test worker on `realm`'s `core` queue: batch mode (it stops when the queue is
/// empty), one-second polls, a fresh run directory, `env` as its environment.
pub fn worker_options(realm: &str, threads: usize, env: Vec<(String, String)>) -> shared::worker::WorkerOptions {
    shared::worker::WorkerOptions {
        realm: realm.to_string(),
        worker: "core".into(),
        queue: None,
        threads,
        wait_seconds: 1,
        sleep: std::time::Duration::from_millis(100),
        retries: 2,
        batch: true,
        dev: false,
        grace: std::time::Duration::from_secs(5),
        heartbeat_every: std::time::Duration::from_secs(1),
        log_heartbeat: None,
        instance_id: None,
        tmpdir: Some(std::env::temp_dir().join(unique("lava-runs-"))),
        env,
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
    /// Whether `sent` records.
    pub recording: std::sync::Arc<std::sync::atomic::AtomicBool>,
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
        let (latency, accepted, busy) = (latency_ms.clone(), connections.clone(), server_micros.clone());
        let recorder = (recording.clone(), sent.clone());
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
        FreezableProxy { url, frozen, latency_ms, connections, server_micros, sent, recording }
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

    /// Stops (`true`) or resumes (`false`) all traffic.
    pub fn freeze(&self, frozen: bool) {
        self.frozen.send_replace(frozen);
    }
}

/// Whether to record, and where: the bytes a proxy's clients sent.
type Recorder = (std::sync::Arc<std::sync::atomic::AtomicBool>, std::sync::Arc<Mutex<Vec<u8>>>);

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut frozen: tokio::sync::watch::Receiver<bool>,
    latency_ms: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
    recorder: Option<Recorder>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return;
            }
            Ok(n) => n,
        };
        if let Some((on, sent)) = &recorder
            && on.load(std::sync::atomic::Ordering::Relaxed)
        {
            sent.lock().unwrap().extend_from_slice(&buffer[..read]);
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
