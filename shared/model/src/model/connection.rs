//! Connection entries: items of the `lava.<realm>.connections` table. Secrets are never stored
//! here: fields such as `password` hold the *name* of an SSM parameter.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::validation::{Report, ValidationError, ValidationErrors, check_keys, from_value, kind_of};

/// Connection types the original knows (matched case-insensitively).
pub const CONNECTION_TYPES: &[&str] = &[
    "aws",
    "docker",
    "email",
    "generic",
    "git",
    "mariadb",
    "mariadb-rds",
    "mssql",
    "mysql",
    "mysql-aurora",
    "mysql-rds",
    "oracle",
    "oracle-rds",
    "postgres",
    "postgres-aurora",
    "postgres-rds",
    "postgresql",
    "psql",
    "redshift",
    "redshift-serverless",
    "ses",
    "sharepoint",
    "slack",
    "smb",
    "sqlite3",
    "ssh",
    "scp",
    "sftp",
];

/// Database types whose password may come from IAM instead of a stored secret.
const IAM_DATABASES: &[&str] =
    &["postgres-aurora", "postgres-rds", "mysql-aurora", "mysql-rds", "redshift", "redshift-serverless"];
/// Database types.
const DATABASES: &[&str] = &[
    "mariadb",
    "mariadb-rds",
    "mssql",
    "mysql",
    "mysql-aurora",
    "mysql-rds",
    "oracle",
    "oracle-rds",
    "postgres",
    "postgres-aurora",
    "postgres-rds",
    "postgresql",
    "psql",
    "redshift",
    "redshift-serverless",
];

/// A connection entry; type-specific fields are kept in `fields`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionEntry {
    /// Key.
    pub conn_id: String,
    /// Connector type, one of [`CONNECTION_TYPES`].
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

    /// The type, lower-cased.
    pub fn kind(&self) -> String {
        self.conn_type.to_ascii_lowercase()
    }

    /// Checks the entry; returns the warnings when it is usable.
    pub fn validate(&self) -> Result<Vec<ValidationError>, ValidationErrors> {
        let mut report = Report::default();
        let at = |field: &str| format!("connections[{}].{field}", self.conn_id);
        let kind = self.kind();
        if self.conn_id.trim().is_empty() {
            report.error("connections[].conn_id", "must not be empty");
        }
        if !CONNECTION_TYPES.contains(&kind.as_str()) {
            report.error(
                at("type"),
                format!("{:?}: unknown connection type (known types: {})", self.conn_type, CONNECTION_TYPES.join(", ")),
            );
        }
        if self.enabled != Some(true) {
            report.warn(at("enabled"), "not true: the connection cannot be used until it is enabled");
        }
        let has = |k: &str| self.fields.get(k).is_some_and(|v| !v.is_null());
        if DATABASES.contains(&kind.as_str()) && self.secret_id.is_none() {
            for field in ["host", "port", "user", "database"] {
                if !has(field) {
                    report.error(at(field), "is required (or give a secret_id that supplies it)");
                }
            }
            if !has("password") && !IAM_DATABASES.contains(&kind.as_str()) {
                report.error(at("password"), "is required: the name of an SSM parameter holding the password");
            }
        }
        let strict = |allowed: &[&str], required: &[&str], report: &mut Report| {
            if let Err(reason) = check_keys(&self.fields, allowed, required) {
                report.error(format!("connections[{}]", self.conn_id), format!("Bad connection record: {reason}"));
            }
        };
        match kind.as_str() {
            "sqlite3" if !has("host") => report.error(at("host"), "is required: the database file or s3:// location"),
            "slack" => strict(&["webhook_url", "from", "style", "colour", "preamble"], &["webhook_url"], &mut report),
            "generic" => {
                strict(&["attributes"], &["attributes"], &mut report);
                if let Some(attrs) = self.fields.get("attributes") {
                    match attrs {
                        Value::Object(m) => {
                            for name in m.keys() {
                                let ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                                    && name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-');
                                if !ok {
                                    report.error(at(&format!("attributes.{name}")), "bad attribute name");
                                }
                            }
                        }
                        other => report.error(at("attributes"), format!("must be a map, not {}", kind_of(other))),
                    }
                }
            }
            "aws" => {
                strict(
                    &["access_keys", "role_arn", "duration", "external_id", "policy_arns", "policy", "tags", "region"],
                    &[],
                    &mut report,
                );
                if !has("access_keys") && !has("role_arn") {
                    report
                        .error(format!("connections[{}]", self.conn_id), "One of access_keys or role_arn is required");
                }
            }
            "email" | "ses" => strict(
                &[
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
                ],
                &[],
                &mut report,
            ),
            "docker" => {
                strict(&["registry", "user", "password", "email", "server", "tls", "timeout", "pull"], &[], &mut report)
            }
            "smb" => {
                let required: &[&str] = if self.secret_id.is_some() {
                    &["remote_name"]
                } else {
                    &["host", "remote_name", "user", "password"]
                };
                strict(
                    &[
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
                    ],
                    required,
                    &mut report,
                );
            }
            "ssh" | "scp" | "sftp" | "git" if !has("ssh_key") => {
                report.error(at("ssh_key"), "is required: the name of an SSM parameter holding the private key")
            }
            _ => {}
        }
        report.into_result()
    }
}
