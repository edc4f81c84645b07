//! Configuration: one table of keys with their defaults and docs ([`keys`]), and the lookup
//! ([`Config`]): for key `XYZ`, the environment's `LAVA_XYZ`, else the realm's `config` map (keys
//! case-insensitive), else the key's default. The worker, the functions and the CLI all read
//! through it, so no default is written anywhere else.

use serde_json::Value;
use std::collections::HashMap;
use std::marker::PhantomData;

use crate::model::Limits;
use crate::model::limits::SQS_DELAY_CEILING;
use crate::model::values::{parse_config_bool, parse_duration, parse_size};

/// How a key's value is read and what it gives.
pub trait Kind {
    /// What a read gives.
    type Value;
    /// The kind's name in [`keys::ALL`].
    const NAME: &'static str;
    /// Reads `raw` (the configured value, if any), falling back to `default` (the table's text).
    fn read(key: &str, raw: Option<Value>, default: &str) -> Self::Value;
}

/// A duration (`nnX` text, or a number of seconds), read as seconds.
#[derive(Debug)]
pub struct Seconds;
/// An integer.
#[derive(Debug)]
pub struct Int;
/// A size in bytes (`100K`, `2MiB`, or a number).
#[derive(Debug)]
pub struct Size;
/// A boolean in the original's forms (`true`, `yes`, `1`, …).
#[derive(Debug)]
pub struct Flag;
/// Text with a default.
#[derive(Debug)]
pub struct Text;
/// Text with no default: `None` when not configured.
#[derive(Debug)]
pub struct OptText;
/// A structured value (e.g. a map), as configured; `None` when not configured.
#[derive(Debug)]
pub struct Json;

fn text_of(raw: Option<Value>) -> Option<String> {
    match raw? {
        Value::String(s) => Some(s),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

impl Kind for Seconds {
    type Value = f64;
    const NAME: &'static str = "duration";
    fn read(key: &str, raw: Option<Value>, default: &str) -> f64 {
        let fallback = || parse_duration(default).expect("the table's duration defaults parse");
        match raw {
            None | Some(Value::Null) => fallback(),
            Some(Value::Number(n)) => n.as_f64().unwrap_or_else(fallback),
            Some(Value::String(s)) => parse_duration(&s).unwrap_or_else(|e| {
                tracing::warn!(key, error = %e, "Bad configuration value; using the default.");
                fallback()
            }),
            Some(_) => fallback(),
        }
    }
}

impl Kind for Int {
    type Value = i64;
    const NAME: &'static str = "integer";
    fn read(_: &str, raw: Option<Value>, default: &str) -> i64 {
        let fallback = || default.parse().expect("the table's integer defaults parse");
        match raw {
            Some(Value::Number(n)) => n.as_i64().unwrap_or_else(fallback),
            Some(Value::String(s)) => s.trim().parse().unwrap_or_else(|_| fallback()),
            _ => fallback(),
        }
    }
}

impl Kind for Size {
    type Value = u64;
    const NAME: &'static str = "size";
    fn read(_: &str, raw: Option<Value>, default: &str) -> u64 {
        let fallback = || parse_size(default).expect("the table's size defaults parse");
        match raw {
            Some(Value::Number(n)) => n.as_u64().unwrap_or_else(fallback),
            Some(Value::String(s)) => parse_size(&s).unwrap_or_else(|_| fallback()),
            _ => fallback(),
        }
    }
}

impl Kind for Flag {
    type Value = bool;
    const NAME: &'static str = "boolean";
    fn read(_: &str, raw: Option<Value>, default: &str) -> bool {
        let fallback = parse_config_bool(&Value::String(default.into())).expect("the table's boolean defaults parse");
        raw.map(|v| parse_config_bool(&v).unwrap_or(fallback)).unwrap_or(fallback)
    }
}

impl Kind for Text {
    type Value = String;
    const NAME: &'static str = "text";
    fn read(_: &str, raw: Option<Value>, default: &str) -> String {
        text_of(raw).unwrap_or_else(|| default.to_string())
    }
}

impl Kind for OptText {
    type Value = Option<String>;
    const NAME: &'static str = "text";
    fn read(_: &str, raw: Option<Value>, _: &str) -> Option<String> {
        text_of(raw)
    }
}

impl Kind for Json {
    type Value = Option<Value>;
    const NAME: &'static str = "json";
    fn read(_: &str, raw: Option<Value>, _: &str) -> Option<Value> {
        raw.filter(|v| !v.is_null())
    }
}

/// One configuration key: its name (without `LAVA_`), its default as the original writes it,
/// and what it sets. `K` says how it is read.
#[derive(Debug)]
pub struct Key<K> {
    /// The name, e.g. `EVENT_TTL` (the environment variable is `LAVA_EVENT_TTL`).
    pub name: &'static str,
    /// The default, as text in the key's own form (`2d`, `100K`, `true`); empty for none.
    pub default: &'static str,
    kind: PhantomData<K>,
}

impl<K> Clone for Key<K> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K> Copy for Key<K> {}

/// A row of the configuration table, for listings and checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key's name.
    pub name: &'static str,
    /// How it is read (`duration`, `integer`, `size`, `boolean`, `text`, `json`).
    pub kind: &'static str,
    /// Its default as text; empty for none.
    pub default: &'static str,
    /// What it sets.
    pub doc: &'static str,
}

macro_rules! config_keys {
    ($($(#[doc = $doc:literal])+ $name:ident: $kind:ident = $default:literal;)+) => {
        $(
            $(#[doc = $doc])+
            pub const $name: Key<$kind> = Key { name: stringify!($name), default: $default, kind: PhantomData };
        )+
        /// Every key, in the table's order.
        pub const ALL: &[KeyInfo] = &[$(KeyInfo {
            name: stringify!($name),
            kind: <$kind as Kind>::NAME,
            default: $default,
            doc: concat!($($doc),+),
        }),+];
    };
}

/// The configuration keys lava reads, with their defaults (the original's, where it has the key).
pub mod keys {
    use super::*;

    config_keys! {
        /// Root of the workers' private run directories (not the environment's TMPDIR).
        TMPDIR: Text = "/tmp/lava";
        /// How long event items are kept (zero: no `ttl` attribute).
        EVENT_TTL: Seconds = "2d";
        /// Bytes of a job's stderr copied into the result's `error` (negative: the tail).
        STDERR_SIZE: Int = "2000";
        /// Set `TMPDIR` for cmd/exe/pkg jobs to the run's own directory.
        JOB_LOCAL_TMPDIR: Flag = "true";
        /// The highest `iteration_limit` a job may have.
        ITERATION_MAX_LIMIT: Int = "10";
        /// The longest `iteration_delay` a job may have.
        ITERATION_MAX_DELAY: Seconds = "5m";
        /// Children a `dag` job runs at once unless it says (0: the worker's CPU count).
        DAG_WORKERS: Int = "0";
        /// The most children a `dag` job runs at once (0: four times the worker's CPU count).
        DAG_MAX_WORKERS: Int = "0";
        /// Iterations a `foreach` job may run unless its `limit` says.
        FOREACH_LIMIT: Int = "10";
        /// The highest `limit` a `foreach` job may have.
        FOREACH_MAX_LIMIT: Int = "25";
        /// The longest delay of a dispatch or a dispatch action, in minutes (SQS allows 15).
        SQS_MAX_DELAY_MINS: Int = "15";
        /// Entries in the SSM parameter cache.
        PARAM_CACHE_SIZE: Int = "100";
        /// How long an SSM parameter stays cached.
        PARAM_CACHE_TTL: Seconds = "2m";
        /// Template of the application name database clients report (empty: none).
        CONN_APP_NAME: Text = "lv-{{ realm }}-{{ job_id }}";
        /// State items' time to live when the writer gives none.
        STATE_TTL: Seconds = "7d";
        /// The longest time to live of a state item.
        STATE_MAX_TTL: Seconds = "366d";
        /// The SES region of the email action without an email connection (with one, the
        /// connection's `region`, else this when configured, else the client's region).
        SES_REGION: Text = "us-east-1";
        /// The sender of the email action when the action gives none.
        SES_FROM: OptText = "";
        /// The SES configuration set of the email action.
        SES_CONFIGURATION_SET: OptText = "";
        /// Attachments an email may have.
        EMAIL_MAX_ATTACHMENTS: Int = "5";
        /// The largest attachment of an email.
        EMAIL_MAX_ATTACHMENT_SIZE: Size = "2M";
        /// The largest email.
        EMAIL_MAX_SIZE: Size = "5M";
        /// Receives of an action message before it goes to the dead-letter queue.
        ACTION_ATTEMPTS: Int = "3";
        /// How long the s3trigger function caches trigger entries and jobs.
        S3TRIGGER_CACHE_TTL: Seconds = "60s";
        /// How long the s3trigger function remembers an object it handled (duplicates dropped).
        S3TRIGGER_DEDUP_TTL: Seconds = "30s";
        /// Objects the s3trigger function remembers (0: no duplicate check).
        S3TRIGGER_DEDUP_CACHE_SIZE: Int = "0";
        /// The realm's default time zone for schedules (else UTC).
        TIMEZONE: OptText = "";
        /// A map of dispatcher name to time zone for schedules.
        DISPATCHER_TIMEZONES: Json = "";
        /// How far back a schedule tick catches up missed fire times (at least a minute).
        SCHEDULE_CATCHUP: Seconds = "5m";
        /// The time limit of a cmd job.
        CMD_TIMEOUT: Seconds = "10m";
        /// The time limit of an exe job.
        EXE_TIMEOUT: Seconds = "10m";
        /// The largest exe payload.
        EXE_MAX_PAYLOAD_SIZE: Size = "10M";
        /// The time limit of a pkg job.
        PKG_TIMEOUT: Seconds = "10m";
        /// The largest pkg payload.
        PKG_MAX_PAYLOAD_SIZE: Size = "20M";
        /// The time limit for unpacking a pkg payload.
        PKG_UNPACK_TIMEOUT: Seconds = "30s";
        /// The time limit of a docker job.
        DOCKER_TIMEOUT: Seconds = "10m";
        /// The pull policy of docker jobs that give none (`always`, `if-not-present`, `never`).
        DOCKER_PULL: OptText = "";
        /// `ecs` runs docker jobs as ECS tasks instead of on the local engine.
        DOCKER_RUNNER: OptText = "";
        /// The ECS cluster of docker jobs run as tasks (required with `DOCKER_RUNNER=ecs`).
        DOCKER_ECS_CLUSTER: OptText = "";
        /// The launch type of docker tasks (`FARGATE` or `EC2`).
        DOCKER_ECS_LAUNCH_TYPE: Text = "FARGATE";
        /// Memory (MiB) of a docker task whose job gives none.
        DOCKER_ECS_MEMORY: Int = "512";
        /// The CloudWatch log group of docker tasks (default `/lava/<realm>/docker`).
        DOCKER_ECS_LOG_GROUP: OptText = "";
        /// Comma-separated subnets of docker tasks (awsvpc).
        DOCKER_ECS_SUBNETS: OptText = "";
        /// Comma-separated security groups of docker tasks (awsvpc).
        DOCKER_ECS_SECURITY_GROUPS: OptText = "";
        /// How often a docker task's state is polled.
        DOCKER_ECS_POLL: Seconds = "5s";
        /// The time limit of each sqlc payload file.
        SQLC_TIMEOUT: Seconds = "10m";
        /// The largest sqlc payload file.
        SQLC_MAX_PAYLOAD_SIZE: Size = "100K";
        /// The time limit of a sqlv job.
        SQLV_TIMEOUT: Seconds = "10m";
        /// The time limit of an smb_get or smb_put transfer.
        SMB_TIMEOUT: Seconds = "10m";
        /// The program sqlv jobs run (default: `lava-sql` beside the worker, else on PATH).
        SQLV_COMMAND: OptText = "";
        /// The largest sql/sqlv payload file.
        SQL_MAX_PAYLOAD_SIZE: Size = "100K";
        /// Rows fetched at a time by SQL jobs.
        SQL_BATCH_SIZE: Int = "1024";
        /// The time limit for connecting to a database.
        SQL_CONNECT_TIMEOUT: Seconds = "30s";
        /// CSV field separator of SQL output.
        SQL_DELIMITER: Text = "|";
        /// CSV dialect of SQL output (`excel`, `excel-tab`, `unix`).
        SQL_DIALECT: Text = "excel";
        /// Double a quote character inside a quoted CSV field.
        SQL_DOUBLEQUOTE: Flag = "false";
        /// CSV escape character of SQL output (none by default).
        SQL_ESCAPECHAR: OptText = "";
        /// CSV quote character of SQL output.
        SQL_QUOTECHAR: Text = "\"";
        /// CSV quoting style of SQL output (`minimal`, `all`, `nonnumeric`, `none`).
        SQL_QUOTING: Text = "minimal";
        /// Suffix of SQL output files.
        SQL_OUTPUT_SUFFIX: Text = ".out";
        /// How long assumed-role credentials of an aws connection last.
        AWS_CONN_DURATION: Seconds = "3h";
        /// The run statuses published on EventBridge as `Lava Job Status` (a comma list;
        /// `none` for none).
        RUN_EVENTS: Text = "complete,failed,skipped,rejected";
        /// The event bus of run events (`default`: the account's default bus).
        RUN_EVENTS_BUS: Text = "default";
        /// The longest a `db_from_s3` copy of one object into PostgreSQL may take.
        PG_COPY_TIMEOUT: Seconds = "30m";
        /// How long Redshift temporary passwords last (connections without `password_duration`).
        RS_PASSWORD_DURATION: Seconds = "15m";
        /// The CloudWatch namespace of the job, worker and backlog metrics.
        CW_NAMESPACE: Text = "Lava";
        /// Put the job metrics (`RunDelay`, `RunTime`, `JobFailed`) for jobs without `cw_metrics`.
        CW_METRICS_JOB: Flag = "false";
        /// Put the worker metrics (memory, disk, RSS, runner slots, running jobs).
        CW_METRICS_WORKER: Flag = "false";
        /// How often the worker metrics are put.
        CW_METRICS_PERIOD: Seconds = "1m";
        /// How often the worker puts its fleet's `WorkerBacklog` (see `WORKER_ECS_SERVICE`).
        WORKER_BACKLOG_PERIOD: Seconds = "1m";
        /// The file touched at each heartbeat, relative to the worker's private directory.
        HEARTBEAT_FILE: Text = ".heartbeat";
        /// The ECS cluster of this worker's fleet (with `WORKER_ECS_SERVICE`: the worker puts
        /// the fleet's `WorkerBacklog` every minute).
        WORKER_ECS_CLUSTER: OptText = "";
        /// The ECS service of this worker's fleet (with `WORKER_ECS_CLUSTER`).
        WORKER_ECS_SERVICE: OptText = "";
        /// How many times a worker may fail to start a message for a passing reason (the tables
        /// unreachable) before it rejects and dead-letters it.
        WORKER_MAX_RECEIVES: Int = "10";
    }
}

/// Configuration lookup for one process: the environment's `LAVA_*` variables and the realm's
/// `config` map.
#[derive(Debug, Clone, Default)]
pub struct Config {
    env: HashMap<String, String>,
    realm: HashMap<String, Value>,
}

impl Config {
    /// A lookup over `env` (variables named `LAVA_<KEY>`) and the realm's `config` map.
    pub fn new(
        env: impl IntoIterator<Item = (String, String)>,
        realm_config: Option<&serde_json::Map<String, Value>>,
    ) -> Self {
        Config {
            env: env.into_iter().filter(|(k, _)| k.starts_with("LAVA_")).collect(),
            realm: realm_config.into_iter().flatten().map(|(k, v)| (k.to_ascii_uppercase(), v.clone())).collect(),
        }
    }

    /// The configured value of `key` (environment, then realm), with no default.
    fn raw(&self, name: &str) -> Option<Value> {
        self.env
            .get(&format!("LAVA_{name}"))
            .map(|v| Value::String(v.clone()))
            .or_else(|| self.realm.get(name).cloned())
    }

    /// The value of `key`: configured, else its default.
    pub fn get<K: Kind>(&self, key: Key<K>) -> K::Value {
        K::read(key.name, self.raw(key.name), key.default)
    }

    /// The value of `key` only when it is configured (environment or realm), as text.
    pub fn configured(&self, key: Key<impl Kind>) -> Option<String> {
        text_of(self.raw(key.name))
    }

    /// Every key's value in force (configured, else its default, as text), in the table's order:
    /// what the worker writes to its log when asked for its state.
    pub fn effective(&self) -> serde_json::Map<String, Value> {
        keys::ALL
            .iter()
            .map(|k| (k.name.to_string(), self.raw(k.name).unwrap_or_else(|| Value::String(k.default.to_string()))))
            .collect()
    }

    /// The limits validation applies to jobs and dispatches under this configuration.
    pub fn limits(&self) -> Limits {
        Limits {
            iteration_max_limit: self.get(keys::ITERATION_MAX_LIMIT),
            iteration_max_delay: self.get(keys::ITERATION_MAX_DELAY),
            max_delay: (self.get(keys::SQS_MAX_DELAY_MINS) as f64 * 60.0).min(f64::from(SQS_DELAY_CEILING)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::keys::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn env_then_realm_then_default() {
        let realm = json!({"event_ttl": "5d", "Stderr_Size": 100, "CMD_TIMEOUT": "1m", "sql_quoting": "all"});
        let env = [("LAVA_CMD_TIMEOUT".to_string(), "30s".to_string()), ("HOME".into(), "/root".into())];
        let c = Config::new(env, realm.as_object());
        assert_eq!(c.get(CMD_TIMEOUT), 30.0);
        assert_eq!(c.get(EVENT_TTL), 432_000.0);
        assert_eq!(c.get(STDERR_SIZE), 100);
        assert_eq!(c.get(EXE_TIMEOUT), 600.0);
        assert!(c.get(JOB_LOCAL_TMPDIR));
        assert_eq!(c.get(SQL_QUOTING), "all");
        assert_eq!(c.get(SQL_DIALECT), "excel");
        assert_eq!(c.get(SES_FROM), None);
        assert_eq!(c.configured(SQL_DELIMITER), None);
        assert_eq!(c.configured(SQL_QUOTING).as_deref(), Some("all"));
    }

    #[test]
    fn unreadable_values_fall_back_to_the_default() {
        let realm = json!({"EVENT_TTL": "soon", "STDERR_SIZE": "many", "EMAIL_MAX_SIZE": "big"});
        let c = Config::new([], realm.as_object());
        assert_eq!(c.get(EVENT_TTL), 172_800.0);
        assert_eq!(c.get(STDERR_SIZE), 2000);
        assert_eq!(c.get(EMAIL_MAX_SIZE), 5_000_000);
    }

    #[test]
    fn every_default_reads_as_its_kind_and_every_key_is_listed_once() {
        let c = Config::default();
        for info in ALL {
            assert!(!info.doc.is_empty(), "{} has no doc", info.name);
            assert_eq!(ALL.iter().filter(|k| k.name == info.name).count(), 1, "{} is listed twice", info.name);
            let ok = match info.kind {
                "duration" => parse_duration(info.default).is_ok(),
                "integer" => info.default.parse::<i64>().is_ok(),
                "size" => parse_size(info.default).is_ok(),
                "boolean" => parse_config_bool(&Value::String(info.default.into())).is_ok(),
                "text" | "json" => true,
                other => panic!("unknown kind {other}"),
            };
            assert!(ok, "{}: the default {:?} is not a {}", info.name, info.default, info.kind);
        }
        assert_eq!(c.get(EMAIL_MAX_ATTACHMENT_SIZE), 2_000_000);
        assert_eq!(c.get(PKG_MAX_PAYLOAD_SIZE), 20_000_000);
        assert_eq!(c.get(SQL_MAX_PAYLOAD_SIZE), 100_000);
    }

    #[test]
    fn limits_follow_the_realm() {
        assert_eq!(Config::default().limits(), Limits::default(), "lava-model's defaults are the key table's");
        assert_eq!(Limits::default(), Limits { iteration_max_limit: 10, iteration_max_delay: 300.0, max_delay: 900.0 });
        let realm = json!({"ITERATION_MAX_LIMIT": 20, "ITERATION_MAX_DELAY": "10m", "SQS_MAX_DELAY_MINS": 5});
        let limits = Config::new([], realm.as_object()).limits();
        assert_eq!(limits, Limits { iteration_max_limit: 20, iteration_max_delay: 600.0, max_delay: 300.0 });
        let beyond_sqs = json!({"SQS_MAX_DELAY_MINS": 20});
        assert_eq!(Config::new([], beyond_sqs.as_object()).limits().max_delay, 900.0, "SQS allows at most 15 minutes");
    }
}
