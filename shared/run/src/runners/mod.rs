//! Job runners: one per job type. A runner gets the run's context and returns the result map
//! (success) or a [`Failure`] whose message becomes `result.error` and whose data becomes
//! `result.error_data`.

#[cfg(feature = "sql")]
pub mod db_from_s3;
pub mod docker;
pub mod executable;
#[cfg(feature = "sql")]
pub mod mysql_load;
pub mod process;
pub mod reaper;
#[cfg(feature = "sql")]
pub mod redshift_unload;
#[cfg(feature = "smb")]
pub mod smb;
#[cfg(feature = "sql")]
pub mod sql;
pub mod sql_client;

use minijinja::Value as JinjaValue;
use serde_json::{Map, Value, json};
use std::path::PathBuf;
use tokio::sync::watch;

use crate::config::Config;
use crate::error::Error;
use crate::model::{JobSpec, JobType, RealmEntry, S3Location};
use crate::ports::{BlobStore, Encryption, Upload};
use crate::render::Renderer;

/// Why the worker stops a run before it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The worker is shutting down; the run goes back to the queue for another worker.
    Shutdown,
    /// The worker lost the run's lease (it could not renew it in time and another worker took
    /// the run over): this copy stops so the run goes on in one place only.
    LeaseLost,
}

impl Stop {
    /// What the run's `retrying` event says.
    pub fn reason(self) -> &'static str {
        match self {
            Stop::Shutdown => "Worker shutting down: the run was stopped and released for another worker",
            Stop::LeaseLost => "Run stopped: this worker lost its lease and another worker took the run over",
        }
    }
}

/// Becomes `Some` when the worker stops the run.
pub type StopSignal = watch::Receiver<Option<Stop>>;

/// A handler failure.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// Becomes `result.error`.
    pub message: String,
    /// Becomes `result.error_data` (usually the partial result map).
    pub data: Option<Value>,
}

impl Failure {
    /// A failure with only a message.
    pub fn message(message: impl Into<String>) -> Self {
        Failure { message: message.into(), data: None }
    }
}

impl From<crate::error::Error> for Failure {
    fn from(e: crate::error::Error) -> Self {
        Failure::message(e.to_string())
    }
}

/// What a runner produces.
pub type Outcome = Result<Value, Failure>;

/// Everything a runner needs for one iteration of one run.
pub struct RunContext<'a> {
    /// The augmented job spec (parameters and globals merged).
    pub spec: &'a JobSpec,
    /// The realm entry.
    pub realm: &'a RealmEntry,
    /// The worker's name.
    pub worker: &'a str,
    /// The run id.
    pub run_id: &'a str,
    /// The run's private directory.
    pub run_dir: PathBuf,
    /// `<s3_temp>/<job_id>/<run_id>`.
    pub s3tmp: S3Location,
    /// Developer mode: output to the worker's own streams, nothing uploaded.
    pub dev: bool,
    /// Worker configuration.
    pub config: &'a Config,
    /// The template engine.
    pub renderer: &'a Renderer,
    /// The render variables of the run (`job`, `realm`, `globals`, `state`, `start`, …).
    pub template_context: JinjaValue,
    /// S3.
    pub blobs: &'a dyn BlobStore,
    /// The realm's connections.
    pub connections: &'a crate::connections::Connections,
    /// The Docker engine, where the worker has one.
    pub containers: Option<&'a dyn crate::ports::ContainerEngine>,
    /// ECS, for docker jobs when `DOCKER_RUNNER` is `ecs`.
    pub tasks: &'a dyn crate::ports::ContainerTasks,
    /// Becomes `Some` when the worker stops the run (shutdown, lost lease).
    pub cancel: StopSignal,
}

impl RunContext<'_> {
    /// The render variables plus `vars`.
    pub fn with_vars(&self, vars: &Map<String, Value>) -> JinjaValue {
        minijinja::context! { vars => crate::render::from_json(&Value::Object(vars.clone())), ..self.template_context.clone() }
    }

    /// A session on `db`, named for this job as the original names its connections, within
    /// `SQL_CONNECT_TIMEOUT`. An SQLite database in S3 is copied into the run's directory
    /// first, and uploaded back when the session is closed (if it changed).
    #[cfg(feature = "sql")]
    pub async fn connect_sql(&self, db: &crate::connections::Database) -> crate::error::Result<SqlSession<'_>> {
        let app = crate::connections::application_name(
            self.config,
            self.renderer,
            &self.realm.realm,
            &self.spec.job_id,
            &db.conn_id,
        );
        let timeout = std::time::Duration::from_secs_f64(self.config.get(crate::config::keys::SQL_CONNECT_TIMEOUT));
        let (db, s3) = crate::sql::sqlite_s3::S3Database::fetch(db, self.blobs, &self.run_dir).await?;
        let session = crate::sql::driver::Session::connect(&db, app.as_deref(), timeout).await?;
        Ok(SqlSession { session, s3, blobs: self.blobs, encryption: self.encryption() })
    }

    /// How Redshift is to reach S3: `IAM_ROLE '<role>'`, else the keys of the `aws` connection
    /// `conn_id` (for the statement sent only; never recorded).
    #[cfg(feature = "sql")]
    pub async fn redshift_authorization(
        &self,
        role: Option<&str>,
        conn_id: Option<&str>,
    ) -> crate::error::Result<String> {
        let keys = match (role, conn_id) {
            (None, Some(conn_id)) => Some(self.connections.aws_keys(conn_id).await?),
            _ => None,
        };
        let keys = keys.as_ref().map(|k| (k.id.expose(), k.secret.expose(), k.token.as_ref().map(|t| t.expose())));
        crate::sql::load::redshift_authorization(role, keys).map_err(crate::error::Error::Refused)
    }

    /// Server-side encryption for uploads: the realm's KMS key, else AES256.
    pub fn encryption(&self) -> Encryption {
        Encryption::for_realm(self.realm)
    }

    /// Uploads a local file to `<s3tmp>/<name>` if it is non-empty; returns its `s3://` URI.
    pub async fn upload_if_not_empty(&self, path: &std::path::Path, name: &str) -> Result<Option<String>, Failure> {
        match tokio::fs::metadata(path).await {
            Ok(meta) if meta.len() > 0 => {}
            _ => return Ok(None),
        }
        let mut upload = self.upload_to(name);
        let sent = match upload.write_file(path).await {
            Ok(()) => upload.finish().await,
            Err(e) => {
                upload.abort().await;
                Err(e)
            }
        };
        sent.map(|()| Some(self.uri_of(name))).map_err(|e| self.upload_failed(name, e))
    }

    /// Uploads `body` to `<s3tmp>/<name>` (`name` may hold a sub-directory); returns its URI.
    pub async fn upload(&self, body: Vec<u8>, name: &str) -> Result<String, Failure> {
        let key = self.key_of(name);
        self.blobs
            .put_object(&self.s3tmp.bucket, &key, body, &self.encryption())
            .await
            .map_err(|e| self.upload_failed(name, e))?;
        Ok(self.uri_of(name))
    }

    /// A streamed upload to `<s3tmp>/<name>` (its URI is [`Self::uri_of`]): what is written
    /// goes up a part at a time, never whole in memory.
    pub fn upload_to(&self, name: &str) -> Upload<'_> {
        Upload::new(self.blobs, &self.s3tmp.bucket, &self.key_of(name), self.encryption())
    }

    /// The URI of `<s3tmp>/<name>`.
    pub fn uri_of(&self, name: &str) -> String {
        format!("s3://{}/{}", self.s3tmp.bucket, self.key_of(name))
    }

    /// A failed upload of `name`, worded for the run's result.
    fn upload_failed(&self, name: &str, e: Error) -> Failure {
        Failure::message(format!("Cannot upload {name} to {}: {e}", self.uri_of(name)))
    }

    fn key_of(&self, name: &str) -> String {
        if self.s3tmp.key.is_empty() { name.to_string() } else { format!("{}/{name}", self.s3tmp.key) }
    }

    /// lava's identity variables for a job's environment.
    pub fn identity_vars(&self) -> [(&'static str, String); 6] {
        [
            ("LAVA_REALM", self.realm.realm.clone()),
            ("LAVA_WORKER", self.worker.to_string()),
            ("LAVA_OWNER", self.spec.owner.clone().unwrap_or_default()),
            ("LAVA_JOB_ID", self.spec.job_id.clone()),
            ("LAVA_RUN_ID", self.run_id.to_string()),
            ("LAVA_S3_KEY", self.realm.s3_key.clone().unwrap_or_default()),
        ]
    }

    /// The payload as S3 keys or prefixes: one string or a list of them (pkg, sql, sqlc, sqlv).
    pub fn payload_keys(&self) -> Result<Vec<String>, Failure> {
        match &self.spec.payload {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(vec![s.trim().to_string()]),
            Some(Value::Array(items)) if !items.is_empty() => {
                Ok(items.iter().filter_map(Value::as_str).map(str::to_string).collect())
            }
            _ => Err(Failure::message("Bad payload: must be an S3 key or prefix, or a list of them")),
        }
    }
}

/// Whether a worker of this build runs jobs of this type (the rest fail with
/// `<type>: Unknown job type`, as the original's worker says of a handler it lacks).
pub fn is_runnable(job_type: &JobType) -> bool {
    match job_type {
        JobType::Cmd
        | JobType::Exe
        | JobType::Pkg
        | JobType::Docker
        | JobType::Log
        | JobType::Lavasched
        | JobType::Sqlc
        | JobType::Sqlv
        | JobType::Chain
        | JobType::Dag
        | JobType::Dispatch
        | JobType::Foreach => true,
        JobType::Sql | JobType::Sqli | JobType::DbFromS3 | JobType::RedshiftUnload => cfg!(feature = "sql"),
        JobType::SmbGet | JobType::SmbPut => cfg!(feature = "smb"),
        JobType::SharepointGetDoc
        | JobType::SharepointGetList
        | JobType::SharepointGetMultiDoc
        | JobType::SharepointPutDoc
        | JobType::SharepointPutList
        | JobType::Unknown(_) => false,
    }
}

/// Runs the handler for the job's type. A type this worker does not run
/// ([`is_runnable`] is false) fails with `<type>: Unknown job type`.
pub async fn run(ctx: &RunContext<'_>) -> Outcome {
    match &ctx.spec.job_type {
        JobType::Cmd => executable::run_cmd(ctx).await,
        JobType::Exe => executable::run_exe(ctx).await,
        JobType::Pkg => executable::run_pkg(ctx).await,
        JobType::Docker => docker::run_docker(ctx).await,
        JobType::Log => {
            let text = serde_json::to_string_pretty(&ctx.spec.to_value()).unwrap_or_default();
            tracing::info!("{text}");
            Ok(json!({"exit_status": 0}))
        }
        JobType::Lavasched => Ok(json!({"exit_status": 0})),
        JobType::Sqlc => sql_client::run_sqlc(ctx).await,
        JobType::Sqlv => sql_client::run_sqlv(ctx).await,
        #[cfg(feature = "sql")]
        JobType::Sql => sql::run_sql(ctx).await,
        #[cfg(feature = "sql")]
        JobType::Sqli => sql::run_sqli(ctx).await,
        #[cfg(feature = "sql")]
        JobType::DbFromS3 => db_from_s3::run_db_from_s3(ctx).await,
        #[cfg(feature = "sql")]
        JobType::RedshiftUnload => redshift_unload::run_redshift_unload(ctx).await,
        #[cfg(not(feature = "sql"))]
        JobType::Sql | JobType::Sqli | JobType::DbFromS3 | JobType::RedshiftUnload => {
            Err(unknown_type(&ctx.spec.job_type))
        }
        #[cfg(feature = "smb")]
        JobType::SmbGet => smb::run_smb(ctx, crate::smb::Direction::Get).await,
        #[cfg(feature = "smb")]
        JobType::SmbPut => smb::run_smb(ctx, crate::smb::Direction::Put).await,
        #[cfg(not(feature = "smb"))]
        JobType::SmbGet | JobType::SmbPut => Err(unknown_type(&ctx.spec.job_type)),
        JobType::SharepointGetDoc
        | JobType::SharepointGetList
        | JobType::SharepointGetMultiDoc
        | JobType::SharepointPutDoc
        | JobType::SharepointPutList
        | JobType::Chain
        | JobType::Dag
        | JobType::Dispatch
        | JobType::Foreach
        | JobType::Unknown(_) => Err(unknown_type(&ctx.spec.job_type)),
    }
}

/// A runner's database session ([`RunContext::connect_sql`]): a [`crate::sql::driver::Session`]
/// that, when closed, puts an SQLite database kept in S3 back.
#[cfg(feature = "sql")]
pub struct SqlSession<'a> {
    session: crate::sql::driver::Session,
    s3: Option<crate::sql::sqlite_s3::S3Database>,
    blobs: &'a dyn BlobStore,
    encryption: Encryption,
}

#[cfg(feature = "sql")]
impl SqlSession<'_> {
    /// Closes the session, then uploads an S3 SQLite database that changed.
    pub async fn close(self) -> crate::error::Result<()> {
        self.session.close().await;
        if let Some(copy) = self.s3 {
            copy.finish(self.blobs, &self.encryption).await?;
        }
        Ok(())
    }
}

#[cfg(feature = "sql")]
impl std::ops::Deref for SqlSession<'_> {
    type Target = crate::sql::driver::Session;
    fn deref(&self) -> &Self::Target {
        &self.session
    }
}

#[cfg(feature = "sql")]
impl std::ops::DerefMut for SqlSession<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.session
    }
}

/// The failure of a run whose type this worker does not run.
pub fn unknown_type(job_type: &JobType) -> Failure {
    if job_type.name().starts_with("sharepoint_") {
        return Failure::message(format!(
            "{job_type}: SharePoint is not supported by this lava (no SharePoint server can run where it is built and tested)"
        ));
    }
    Failure::message(format!("{job_type}: Unknown job type"))
}
