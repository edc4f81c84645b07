//! Test harness: a real moto server on a free loopback port, started once per test binary and
//! stopped when the binary exits; uniquely named resources per test.

pub mod cfn;
pub mod original;
pub mod pg_cluster;
pub mod samba;
pub mod smtp;

pub use lava_testkit::{
    DB_PASSWORD, Emulator, FreezableProxy, TEST_IMAGE, aws_options, clients, emulator, emulator_env, free_port,
    localstack, moto_data, require_databases, require_docker, test_postgres, unique, venv_tool, workspace_root,
    zipped_size,
};

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
