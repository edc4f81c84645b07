//! Connection entries: items of the `lava.<realm>.connections` table. Secrets are never stored
//! here: fields such as `password` hold the *name* of an SSM parameter.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::connection_type::ConnectionType;
use super::validation::{Report, ValidationError, ValidationErrors, check_keys, from_value, kind_of};

/// A connection entry; type-specific fields are kept in `fields`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionEntry {
    /// Key.
    pub conn_id: String,
    /// Connector type, one of [`ConnectionType::KNOWN`] in any case (kept as written).
    #[serde(rename = "type")]
    pub conn_type: String,
    /// A disabled connection cannot be used (absent means disabled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Secrets Manager secret that supplies missing fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_id: Option<String>,
    /// Type-specific fields.
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

impl ConnectionEntry {
    /// Reads a connection entry, naming the field with the wrong type.
    pub fn from_value(value: &Value) -> Result<Self, ValidationErrors> {
        let id = value.get("conn_id").and_then(Value::as_str).unwrap_or("?");
        from_value(value).map_err(|e| {
            let path =
                if e.path.is_empty() { format!("connections[{id}]") } else { format!("connections[{id}].{}", e.path) };
            ValidationErrors(vec![ValidationError { path, reason: e.reason }])
        })
    }

    /// The entry as a JSON value.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("a connection entry always serialises")
    }

    /// The type.
    pub fn kind(&self) -> ConnectionType {
        ConnectionType::parse(&self.conn_type)
    }

    /// Checks the entry; returns the warnings when it is usable.
    pub fn validate(&self) -> Result<Vec<ValidationError>, ValidationErrors> {
        let mut report = Report::default();
        let kind = self.kind();
        if self.conn_id.trim().is_empty() {
            report.error("connections[].conn_id", "must not be empty");
        }
        if !kind.is_known() {
            let known: Vec<&str> = ConnectionType::KNOWN.iter().map(ConnectionType::name).collect();
            report.error(
                self.at("type"),
                format!("{:?}: unknown connection type (known types: {})", self.conn_type, known.join(", ")),
            );
        }
        if self.enabled != Some(true) {
            report.warn(self.at("enabled"), "not true: the connection cannot be used until it is enabled");
        }
        if kind.is_database_server() && self.secret_id.is_none() {
            for field in ["host", "port", "user", "database"] {
                if !self.has(field) {
                    report.error(self.at(field), "is required (or give a secret_id that supplies it)");
                }
            }
            if !self.has("password") && !kind.has_iam_auth() {
                report.error(self.at("password"), "is required: the name of an SSM parameter holding the password");
            }
        }
        if let Some((allowed, required)) = type_fields(&kind, self.secret_id.is_some())
            && let Err(reason) = check_keys(&self.fields, allowed, required)
        {
            report.error(format!("connections[{}]", self.conn_id), format!("Bad connection record: {reason}"));
        }
        self.check_type_fields(&kind, &mut report);
        report.into_result()
    }

    /// The path of one of the entry's fields in an error.
    fn at(&self, field: &str) -> String {
        format!("connections[{}].{field}", self.conn_id)
    }

    /// Whether the entry has `field`, not null.
    fn has(&self, field: &str) -> bool {
        self.fields.get(field).is_some_and(|v| !v.is_null())
    }

    /// The checks of one type's fields beyond which are allowed.
    fn check_type_fields(&self, kind: &ConnectionType, report: &mut Report) {
        use ConnectionType::*;
        match kind {
            Sqlite3 if !self.has("host") => {
                report.error(self.at("host"), "is required: the database file or s3:// location")
            }
            Generic => match self.fields.get("attributes") {
                Some(Value::Object(attributes)) => {
                    for name in attributes.keys() {
                        let ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                            && name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-');
                        if !ok {
                            report.error(self.at(&format!("attributes.{name}")), "bad attribute name");
                        }
                    }
                }
                Some(other) => report.error(self.at("attributes"), format!("must be a map, not {}", kind_of(other))),
                None => {}
            },
            Aws if !self.has("access_keys") && !self.has("role_arn") => {
                report.error(format!("connections[{}]", self.conn_id), "One of access_keys or role_arn is required")
            }
            Ssh | Scp | Sftp | Git if !self.has("ssh_key") => {
                report.error(self.at("ssh_key"), "is required: the name of an SSM parameter holding the private key")
            }
            _ => {}
        }
    }
}

/// The fields (other than `conn_id`, `type`, `enabled`, `description`, `owner` and `secret_id`)
/// a type allows and requires, for the types the original checks strictly; an SMB connection
/// whose details come from a secret (`with_secret`) requires only `remote_name`.
pub fn type_fields(
    kind: &ConnectionType,
    with_secret: bool,
) -> Option<(&'static [&'static str], &'static [&'static str])> {
    use ConnectionType::*;
    const EMAIL: &[&str] = &[
        "from",
        "reply_to",
        "subtype",
        "region",
        "configuration_set",
        "host",
        "port",
        "tls",
        "user",
        "password",
        "return_path",
    ];
    const SMB: &[&str] = &[
        "host",
        "remote_name",
        "user",
        "password",
        "domain",
        "my_name",
        "port",
        "use_ntlm_v2",
        "is_direct_tcp",
        "encrypt",
        "subtype",
    ];
    const AWS: &[&str] =
        &["access_keys", "role_arn", "duration", "external_id", "policy_arns", "policy", "tags", "region"];
    match kind {
        Slack => Some((&["webhook_url", "from", "style", "colour", "preamble"], &["webhook_url"])),
        Generic => Some((&["attributes"], &["attributes"])),
        Aws => Some((AWS, &[])),
        Email | Ses => Some((EMAIL, &[])),
        Docker => Some((&["registry", "user", "password", "email", "server", "tls", "timeout", "pull"], &[])),
        Smb if with_secret => Some((SMB, &["remote_name"])),
        Smb => Some((SMB, &["host", "remote_name", "user", "password"])),
        Git | Mariadb | MariadbRds | Mssql | Mysql | MysqlAurora | MysqlRds | Oracle | OracleRds | Postgres
        | PostgresAurora | PostgresRds | Postgresql | Psql | Redshift | RedshiftServerless | Sharepoint | Sqlite3
        | Ssh | Scp | Sftp | Unknown(_) => None,
    }
}
