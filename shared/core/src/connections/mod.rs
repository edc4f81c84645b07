//! Connections at run time: a `lava.<realm>.connections` entry with its secrets resolved (SSM
//! parameters, Secrets Manager), typed database details, and the connector scripts executable
//! jobs call (`LAVA_CONN_<LABEL>`). Secret values are held in [`Secret`], whose `Debug` and
//! `Display` never show them.

pub mod scripts;

use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::catalog::Catalog;
use crate::config::Config;
use crate::config::keys;
use crate::error::{Error, Result};
use crate::model::{ConnectionEntry, ConnectionType};
use crate::ports::SecretStore;
use crate::render::Renderer;

/// A secret value: printed as `***`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself, for the one place that needs it (a driver, a credentials file).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// The database engines this worker has drivers and clients for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// PostgreSQL and its variants (psql client).
    Postgres,
    /// MySQL and MariaDB (mysql client).
    MySql,
    /// SQLite (sqlite3 client); `host` is the database file.
    Sqlite,
}

impl Engine {
    /// The engine of a connection type, if it is a database this worker supports.
    pub fn of(kind: &ConnectionType) -> Result<Engine, String> {
        use ConnectionType::*;
        match kind {
            Postgres | Psql | Postgresql | PostgresAurora | PostgresRds | Redshift | RedshiftServerless => {
                Ok(Engine::Postgres)
            }
            Mysql | Mariadb | MysqlAurora | MysqlRds | MariadbRds => Ok(Engine::MySql),
            Sqlite3 => Ok(Engine::Sqlite),
            Oracle | OracleRds | Mssql => {
                Err(format!("Unsupported connection type - {kind}: this worker has no {kind} driver"))
            }
            Aws | Docker | Email | Generic | Git | Ses | Sharepoint | Slack | Smb | Ssh | Scp | Sftp | Unknown(_) => {
                Err(format!("Unsupported connection type - {kind}"))
            }
        }
    }

    /// Subtypes (original driver names) accepted for each engine.
    fn subtypes(kind: &ConnectionType) -> &'static [&'static str] {
        use ConnectionType::*;
        match kind {
            Redshift | RedshiftServerless => &["pg8000", "redshift"],
            Postgres | Psql | Postgresql | PostgresAurora | PostgresRds => &["pg8000", "pygresql"],
            Sqlite3 => &["sqlite3"],
            _ => &["pymysql"],
        }
    }
}

/// A database connection's details, secrets resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Database {
    /// The connection id.
    pub conn_id: String,
    /// The connection type.
    pub kind: ConnectionType,
    /// The engine.
    pub engine: Engine,
    /// Host name (SQLite: the database file).
    pub host: String,
    /// Port.
    pub port: u16,
    /// User name.
    pub user: String,
    /// Password.
    pub password: Secret,
    /// Database name.
    pub database: Option<String>,
    /// How the session uses TLS.
    pub tls: TlsMode,
    /// The CA certificate file the server's certificate is checked against (`ssl_ca_file`, or
    /// MySQL's `ca_cert`); the system's roots when absent.
    pub ca_cert: Option<String>,
}

impl Database {
    /// An SQLite database: the file (or `s3://` URI) `host`, under the connection id `conn_id`.
    pub fn sqlite(conn_id: &str, host: &str) -> Database {
        Database {
            conn_id: conn_id.into(),
            kind: ConnectionType::Sqlite3,
            engine: Engine::Sqlite,
            host: host.into(),
            port: 0,
            user: String::new(),
            password: Secret::default(),
            database: None,
            tls: TlsMode::Prefer,
            ca_cert: None,
        }
    }

    /// Whether the password is an RDS IAM authentication token (which MySQL servers take only
    /// in clear text, so only over TLS).
    pub fn password_is_iam_token(&self) -> bool {
        self.password.expose().contains("X-Amz-Credential=")
    }
}

/// An `smb` connection's details, the password resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct SmbServer {
    /// The connection id.
    pub conn_id: String,
    /// Host name or address.
    pub host: String,
    /// Port: `port`, else 445 with `is_direct_tcp`, else 139.
    pub port: u16,
    /// Whether SMB runs straight over TCP (`is_direct_tcp`); otherwise a NetBIOS session is
    /// requested first, as on port 139.
    pub direct_tcp: bool,
    /// The server's NetBIOS name (`remote_name`), called in the NetBIOS session request.
    pub remote_name: String,
    /// This client's NetBIOS name (`my_name`, default the first 15 characters of
    /// `lava-<realm>`).
    pub my_name: String,
    /// User name.
    pub user: String,
    /// Password.
    pub password: Secret,
    /// The user's domain (default none).
    pub domain: String,
    /// Every request encrypted (`encrypt`; SMB 3), whether or not the server asks for it.
    pub encrypt: bool,
}

/// An `aws` connection's keys and region.
#[derive(Debug)]
pub struct AwsKeys {
    /// Access key id.
    pub id: Secret,
    /// Secret access key.
    pub secret: Secret,
    /// Session token, for assumed roles.
    pub token: Option<Secret>,
    /// The connection's `region`, else this process's ([`default_region`]).
    pub region: String,
}

/// This process's region: `AWS_REGION`, else `AWS_DEFAULT_REGION`, else `us-east-1`.
pub fn default_region() -> String {
    std::env::var("AWS_REGION").or_else(|_| std::env::var("AWS_DEFAULT_REGION")).unwrap_or_else(|_| "us-east-1".into())
}

/// How a database session uses TLS: `ssl_mode` (PostgreSQL's names), else `ssl: true` for
/// `require`, else `prefer`, as the original's drivers did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// No TLS.
    Disable,
    /// TLS when the server offers it, its certificate unchecked.
    Prefer,
    /// TLS always, the certificate unchecked (checked against `ca_cert` when one is given).
    Require,
    /// TLS always, the certificate checked against the CA.
    VerifyCa,
    /// TLS always, the certificate checked against the CA and the host name.
    VerifyFull,
}

impl TlsMode {
    /// Reads an `ssl_mode` value.
    pub fn parse(text: &str) -> Result<TlsMode, String> {
        Ok(match text.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "disable" | "disabled" => TlsMode::Disable,
            "allow" | "prefer" | "preferred" => TlsMode::Prefer,
            "require" | "required" => TlsMode::Require,
            "verify-ca" => TlsMode::VerifyCa,
            "verify-full" | "verify-identity" => TlsMode::VerifyFull,
            other => {
                return Err(format!("{other:?}: expected disable, prefer, require, verify-ca or verify-full"));
            }
        })
    }

    /// The mode's name as libpq (`PGSSLMODE`) writes it.
    pub fn libpq_name(self) -> &'static str {
        match self {
            TlsMode::Disable => "disable",
            TlsMode::Prefer => "prefer",
            TlsMode::Require => "require",
            TlsMode::VerifyCa => "verify-ca",
            TlsMode::VerifyFull => "verify-full",
        }
    }

    /// Whether the session must use TLS.
    pub fn required(self) -> bool {
        matches!(self, TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull)
    }
}

/// A connection entry whose secret fields hold their values.
#[derive(Clone)]
pub struct Resolved {
    /// The connection id.
    pub conn_id: String,
    /// The connection type.
    pub kind: ConnectionType,
    /// Fields, secrets resolved.
    pub fields: Map<String, Value>,
}

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&String> = self.fields.keys().collect();
        f.debug_struct("Resolved")
            .field("conn_id", &self.conn_id)
            .field("kind", &self.kind)
            .field("fields", &names)
            .finish()
    }
}

impl Resolved {
    fn text(&self, name: &str) -> Option<String> {
        match self.fields.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }
}

/// Secrets Manager keys and the connection fields they fill (only where the field is absent).
const SECRET_FIELDS: &[(&str, &str)] = &[
    ("username", "user"),
    ("password", "password"),
    ("host", "host"),
    ("port", "port"),
    ("dbname", "database"),
    ("dbClusterIdentifier", "description"),
    ("serviceName", "service_name"),
    ("sid", "sid"),
];

/// Looks connections up and resolves their secrets. SSM values are cached per parameter name
/// for `PARAM_CACHE_TTL` (default 2 minutes).
pub struct Connections {
    catalog: Catalog,
    secrets: Arc<dyn SecretStore>,
    config: Config,
    cache: Mutex<HashMap<String, (Instant, Secret)>>,
    blobs: Option<Arc<dyn crate::ports::BlobStore>>,
}

impl Connections {
    /// Connections of `catalog`'s realm, secrets from `secrets`.
    pub fn new(catalog: Catalog, secrets: Arc<dyn SecretStore>, config: Config) -> Self {
        Connections { catalog, secrets, config, cache: Mutex::new(HashMap::new()), blobs: None }
    }

    /// Also reads `ssl_ca_file`s given as `s3://` URIs, from `blobs`.
    pub fn with_blobs(self, blobs: Arc<dyn crate::ports::BlobStore>) -> Self {
        Connections { blobs: Some(blobs), ..self }
    }

    /// A CA file named by an `s3://` URI, downloaded afresh to a file of this process's own
    /// (`<temp>/lava-ca-<pid>/`, named by the URI); other names are local paths, used as given.
    async fn ca_file(&self, conn_id: &str, name: String) -> Result<String> {
        let Some(location) = name.strip_prefix("s3://") else { return Ok(name) };
        let refused = |reason: String| Error::refused(format!("Connection {conn_id}"), reason);
        let (bucket, key) = location
            .split_once('/')
            .filter(|(b, k)| !b.is_empty() && !k.is_empty())
            .ok_or_else(|| refused(format!("ssl_ca_file {name}: not s3://bucket/key")))?;
        let blobs =
            self.blobs.as_ref().ok_or_else(|| refused(format!("ssl_ca_file {name}: S3 is not available here")))?;
        let body =
            blobs.get_object(bucket, key).await.map_err(|e| e.within(format!("Connection {conn_id}: ssl_ca_file")))?;
        let dir = std::env::temp_dir().join(format!("lava-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        let file_name: String =
            location.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '_' }).collect();
        let path = dir.join(file_name);
        let partial = path.with_extension(format!("part{}", uuid::Uuid::new_v4().simple()));
        std::fs::write(&partial, &body).map_err(|e| Error::io(format!("cannot write {}", partial.display()), e))?;
        std::fs::rename(&partial, &path).map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
        Ok(path.display().to_string())
    }

    /// Temporary credentials for a role (`aws` connections with `role_arn`).
    pub async fn assume_role(&self, request: &crate::ports::AssumeRole) -> Result<crate::ports::TemporaryCredentials> {
        self.secrets.assume_role(request).await
    }

    /// An ECR registry login (the worker's own credentials).
    pub async fn registry_login(&self, account_ids: &[String]) -> Result<crate::ports::RegistryLogin> {
        self.secrets.registry_login(account_ids).await
    }

    /// Configuration (for defaults such as `AWS_CONN_DURATION`).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The realm's name.
    pub fn realm(&self) -> &str {
        &self.catalog.names().realm
    }

    /// The enabled entry for `conn_id`.
    pub async fn entry(&self, conn_id: &str) -> Result<ConnectionEntry> {
        let entry = self.catalog.connection(conn_id).await.map_err(|e| match e {
            Error::NotFound { .. } => Error::refused(conn_id, "No such connection"),
            Error::Invalid(v) => Error::refused(conn_id, format!("Bad connection record: {v}")),
            other => other.within(conn_id),
        })?;
        if entry.enabled != Some(true) {
            return Err(Error::refused(format!("Connection {conn_id}"), "Not enabled"));
        }
        Ok(entry)
    }

    /// The value of an SSM parameter (decrypted), cached.
    pub async fn parameter(&self, name: &str) -> Result<Secret> {
        let ttl = Duration::from_secs_f64(self.config.get(keys::PARAM_CACHE_TTL));
        if let Some((at, value)) = self.cache.lock().expect("cache lock").get(name)
            && at.elapsed() < ttl
        {
            return Ok(value.clone());
        }
        let value = Secret::new(self.secrets.parameter(name).await.map_err(|e| match e {
            Error::NotFound { .. } => Error::refused(format!("SSM parameter {name}"), "not found"),
            other => other,
        })?);
        let mut cache = self.cache.lock().expect("cache lock");
        let max = self.config.get(keys::PARAM_CACHE_SIZE).max(0) as usize;
        if cache.len() >= max {
            cache.clear();
        }
        if max > 0 {
            cache.insert(name.to_string(), (Instant::now(), value.clone()));
        }
        Ok(value)
    }

    /// The entry with its secrets resolved: database `password` from SSM, then missing fields
    /// from the Secrets Manager secret `secret_id`; generic `ssm` attributes from SSM.
    pub async fn resolve(&self, conn_id: &str) -> Result<Resolved> {
        let entry = self.entry(conn_id).await?;
        self.resolve_entry(conn_id, &entry).await
    }

    /// [`Connections::resolve`] of an entry already read.
    async fn resolve_entry(&self, conn_id: &str, entry: &crate::model::ConnectionEntry) -> Result<Resolved> {
        let kind = entry.kind();
        let mut fields = entry.fields.clone();
        let wrap = |e: Error| e.within(format!("Connection {conn_id}"));
        let refused = |reason: String| Error::refused(format!("Connection {conn_id}"), reason);
        if kind.is_database_server()
            && let Some(Value::String(name)) = fields.get("password").cloned()
        {
            let value = self.parameter(&name).await.map_err(wrap)?;
            fields.insert("password".into(), Value::String(value.expose().to_string()));
        }
        if let Some(secret_id) = &entry.secret_id {
            let text =
                self.secrets.secret(secret_id).await.map_err(|e| wrap(e.within(format!("secret {secret_id}"))))?;
            let secret: Map<String, Value> = serde_json::from_str(&text)
                .map_err(|_| refused(format!("secret {secret_id}: the secret string is not a JSON object")))?;
            for (from, to) in SECRET_FIELDS {
                if let Some(v) = secret.get(*from)
                    && fields.get(*to).is_none_or(Value::is_null)
                {
                    fields.insert(to.to_string(), v.clone());
                }
            }
        }
        if kind == ConnectionType::Generic {
            let attributes = fields.get("attributes").and_then(Value::as_object).cloned().unwrap_or_default();
            let mut values = Map::new();
            for (name, spec) in attributes {
                let value = match &spec {
                    Value::Object(m) => match m.get("type").and_then(Value::as_str).unwrap_or("local") {
                        "local" => m.get("value").cloned().unwrap_or(Value::Null),
                        "ssm" => {
                            let param = m
                                .get("parameter")
                                .and_then(Value::as_str)
                                .ok_or_else(|| refused(format!("attribute {name}: ssm needs a parameter")))?;
                            Value::String(self.parameter(param).await.map_err(wrap)?.expose().to_string())
                        }
                        other => return Err(refused(format!("attribute {name}: Unknown type {other}"))),
                    },
                    scalar => scalar.clone(),
                };
                values.insert(name, value);
            }
            fields.insert("attributes".into(), Value::Object(values));
        }
        Ok(Resolved { conn_id: conn_id.to_string(), kind, fields })
    }

    /// The access keys of an `aws` connection (its stored keys, or the role it names assumed)
    /// and its region.
    pub async fn aws_keys(&self, conn_id: &str) -> Result<AwsKeys> {
        let resolved = self.resolve(conn_id).await?;
        if resolved.kind != ConnectionType::Aws {
            return Err(Error::refused(conn_id, format!("Not an aws connection: {}", resolved.kind)));
        }
        let (id, secret, token) = scripts::aws_credentials(self, &resolved, None).await?;
        Ok(AwsKeys {
            id: Secret::new(id),
            secret: Secret::new(secret),
            token: token.map(Secret::new),
            region: resolved.text("region").unwrap_or_else(default_region),
        })
    }

    /// An `smb` connection's details, the password from SSM (or its `secret_id`).
    pub async fn smb(&self, conn_id: &str) -> Result<SmbServer> {
        let entry = self.entry(conn_id).await?;
        let mut resolved = self.resolve_entry(conn_id, &entry).await?;
        let refused = |reason: String| Error::refused(format!("Connection {conn_id}"), reason);
        if resolved.kind != ConnectionType::Smb {
            return Err(refused(format!("Not an smb connection: {}", resolved.kind)));
        }
        // resolve() reads database passwords only; an smb password is an SSM name too, unless
        // the secret supplied it (then it is the value itself, and the entry had none).
        if let Some(Value::String(name)) = entry.fields.get("password") {
            let value = self.parameter(name).await.map_err(|e| e.within(format!("Connection {conn_id}")))?;
            resolved.fields.insert("password".into(), Value::String(value.expose().to_string()));
        }
        let text = |name: &str| resolved.text(name).filter(|t| !t.is_empty());
        let need = |name: &str| text(name).ok_or_else(|| refused(format!("Bad connection record: {name} is required")));
        let flag = |name: &str, default: bool| match resolved.fields.get(name) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(refused(format!("{name} must be true or false, not {other}"))),
        };
        let direct_tcp = flag("is_direct_tcp", false)?;
        if !flag("use_ntlm_v2", true)? {
            return Err(refused(
                "use_ntlm_v2 is false, which asks for NTLMv1 logins: lava refuses them as unsafe (Samba and Windows \
                 refuse them by default); without it the login is NTLMv2"
                    .into(),
            ));
        }
        let encrypt = flag("encrypt", false)?;
        let port = match text("port") {
            Some(p) => p.parse::<u16>().map_err(|_| refused(format!("port {p} is not a port number")))?,
            None if direct_tcp => 445,
            None => 139,
        };
        if let Some(subtype) = text("subtype")
            && !matches!(subtype.as_str(), "pysmb" | "smbprotocol")
        {
            return Err(refused(format!("Unknown smb subtype {subtype}: pysmb or smbprotocol")));
        }
        Ok(SmbServer {
            conn_id: conn_id.to_string(),
            host: need("host")?,
            port,
            direct_tcp,
            remote_name: need("remote_name")?,
            my_name: text("my_name").unwrap_or_else(|| format!("lava-{}", self.realm()).chars().take(15).collect()),
            user: need("user")?,
            password: Secret::new(need("password")?),
            domain: text("domain").unwrap_or_default(),
            encrypt,
        })
    }

    /// A database connection's details, secrets resolved.
    pub async fn database(&self, conn_id: &str) -> Result<Database> {
        let resolved = self.resolve(conn_id).await?;
        self.database_from(resolved).await
    }

    /// A resolved database connection's details; with no password, IAM credentials where the
    /// connection type has them (RDS and Aurora tokens, Redshift temporary credentials), made
    /// afresh each time (never cached).
    pub async fn database_from(&self, mut resolved: Resolved) -> Result<Database> {
        if resolved.text("password").is_none()
            && let Some(request) = self.iam_request(&resolved).await?
        {
            let conn_id = resolved.conn_id.clone();
            let credentials = self
                .secrets
                .database_credentials(&request)
                .await
                .map_err(|e| e.within(format!("Connection {conn_id}: {}", request.mechanism())))?;
            resolved.fields.insert("user".into(), Value::String(credentials.user));
            resolved.fields.insert("password".into(), Value::String(credentials.password));
        }
        let mut db = database_of(&resolved)?;
        if let Some(ca) = db.ca_cert.take() {
            db.ca_cert = Some(self.ca_file(&resolved.conn_id, ca).await?);
        }
        Ok(db)
    }

    /// What a connection with no password asks AWS for, by its type (the original's table).
    async fn iam_request(&self, resolved: &Resolved) -> Result<Option<crate::ports::DbCredentialsRequest>> {
        use crate::ports::DbCredentialsRequest as Request;
        let refused = |reason: &str| Error::refused(format!("Connection {}", resolved.conn_id), reason.to_string());
        let first_label = || resolved.text("host").and_then(|h| h.split('.').next().map(str::to_string));
        let duration = || -> Result<i32> {
            let seconds = match resolved.fields.get("password_duration") {
                Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
                Some(Value::String(d)) => {
                    crate::model::values::parse_duration(d).map_err(|e| refused(&format!("password_duration {e}")))?
                }
                _ => self.config.get(keys::RS_PASSWORD_DURATION),
            };
            Ok(seconds.round() as i32)
        };
        let need = |name: &str| resolved.text(name).ok_or_else(|| refused(&format!("{name} must be specified")));
        Ok(Some(match resolved.kind {
            ConnectionType::PostgresAurora
            | ConnectionType::PostgresRds
            | ConnectionType::MysqlAurora
            | ConnectionType::MysqlRds => {
                let port = match resolved.fields.get("port") {
                    Some(Value::Number(n)) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
                    Some(Value::String(s)) => s.trim().parse().ok(),
                    _ => None,
                };
                Request::Rds {
                    host: need("host")?,
                    port: port.ok_or_else(|| refused("port must be an integer port number"))?,
                    user: need("user")?,
                }
            }
            ConnectionType::Redshift => Request::RedshiftCluster {
                cluster_id: resolved
                    .text("cluster_id")
                    .or_else(first_label)
                    .ok_or_else(|| refused("cluster_id must be specified"))?,
                database: need("database")?,
                user: need("user")?,
                duration_seconds: duration()?,
            },
            ConnectionType::RedshiftServerless => {
                let role = match resolved.text("role_arn") {
                    None => None,
                    Some(role_arn) => Some(crate::ports::AssumeRole {
                        role_arn,
                        session_name: scripts::session_name(None),
                        duration_seconds: 900,
                        external_id: match resolved.text("external_id") {
                            Some(name) => Some(self.parameter(&name).await?.expose().to_string()),
                            None => None,
                        },
                        tags: scripts::tags(resolved),
                        ..Default::default()
                    }),
                };
                Request::RedshiftServerless {
                    workgroup: resolved
                        .text("workgroup")
                        .or_else(first_label)
                        .ok_or_else(|| refused("workgroup must be specified"))?,
                    database: need("database")?,
                    duration_seconds: duration()?,
                    role,
                }
            }
            _ => return Ok(None),
        }))
    }
}

/// Typed database details from a resolved entry.
pub fn database_of(resolved: &Resolved) -> Result<Database> {
    let conn_id = &resolved.conn_id;
    let kind = resolved.kind.clone();
    let engine = Engine::of(&kind).map_err(|e| Error::refused(conn_id, e))?;
    let bad = |reason: String| Error::refused(format!("Connection {conn_id}"), reason);
    if let Some(subtype) = resolved.text("subtype")
        && !Engine::subtypes(&kind).contains(&subtype.as_str())
    {
        return Err(bad(format!("Unsupported connection type - {kind} = ({kind}, {subtype})")));
    }
    let host = resolved.text("host").ok_or_else(|| bad("host must be specified".into()))?;
    let port = match resolved.fields.get("port") {
        Some(Value::Number(n)) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ if engine == Engine::Sqlite => Some(0),
        _ => return Err(bad("port must be specified".into())),
    }
    .ok_or_else(|| bad("port must be an integer port number".into()))?;
    let user = match resolved.text("user") {
        Some(u) => u,
        None if engine == Engine::Sqlite => String::new(),
        None => return Err(bad("user must be specified".into())),
    };
    let password = match resolved.text("password") {
        Some(p) => Secret::new(p),
        None if engine == Engine::Sqlite => Secret::default(),
        None => return Err(bad("Password must be specified".into())),
    };
    let database = resolved.text("database");
    if engine == Engine::Postgres && database.is_none() {
        return Err(bad("database must be specified for Postgres".into()));
    }
    if engine == Engine::Sqlite && host.contains(['\'', '"', '\\']) {
        return Err(bad("host must not contain quotes or backslashes".into()));
    }
    let ssl = resolved.fields.get("ssl").is_some_and(|v| crate::model::values::parse_config_bool(v).unwrap_or(false));
    let tls = match resolved.text("ssl_mode") {
        Some(mode) => TlsMode::parse(&mode).map_err(|e| bad(format!("ssl_mode {e}")))?,
        None if ssl => TlsMode::Require,
        None => TlsMode::Prefer,
    };
    Ok(Database {
        conn_id: conn_id.clone(),
        kind,
        engine,
        host,
        port,
        user,
        password,
        database,
        tls,
        ca_cert: resolved.text("ssl_ca_file").or_else(|| resolved.text("ca_cert")),
    })
}

/// The application name a database session reports (`CONN_APP_NAME`, default
/// `lv-{{ realm }}-{{ job_id }}`), with quotes and backslashes removed; `None` when the realm,
/// job id or template is empty.
pub fn application_name(
    config: &Config,
    renderer: &Renderer,
    realm: &str,
    job_id: &str,
    conn_id: &str,
) -> Option<String> {
    let template = config.get(keys::CONN_APP_NAME);
    if realm.is_empty() || job_id.is_empty() || template.is_empty() {
        return None;
    }
    let context = minijinja::context! { realm => realm, job_id => job_id, conn_id => conn_id };
    let name: String =
        renderer.render(&template, &context).ok()?.chars().filter(|c| !matches!(c, '\'' | '"' | '\\')).collect();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests;
