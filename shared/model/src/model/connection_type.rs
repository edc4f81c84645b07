//! Connection types: the `type` field of a connection entry, matched case-insensitively. One
//! enum, so every place that depends on the type is a `match` the compiler checks when a type is
//! added. A name lava does not know is kept as [`ConnectionType::Unknown`] (lower-cased).

/// Declares [`ConnectionType`] with each variant's name, and the list of them, in one place.
macro_rules! connection_types {
    ($($(#[doc = $doc:literal])+ $variant:ident = $name:literal,)+) => {
        /// The type of a connection (its connector).
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum ConnectionType {
            $($(#[doc = $doc])+ $variant,)+
            /// A name lava does not know, lower-cased (validation rejects it).
            Unknown(String),
        }

        impl ConnectionType {
            /// Every type the original knows, in the order its error messages list them.
            pub const KNOWN: &[ConnectionType] = &[$(ConnectionType::$variant),+];

            /// The type's name, lower-case.
            pub fn name(&self) -> &str {
                match self {
                    $(ConnectionType::$variant => $name,)+
                    ConnectionType::Unknown(name) => name,
                }
            }
        }
    };
}

connection_types! {
    /// `aws`: access keys, or a role to assume.
    Aws = "aws",
    /// `docker`: a registry's login.
    Docker = "docker",
    /// `email`: SES or an SMTP server.
    Email = "email",
    /// `generic`: named attributes, some from SSM.
    Generic = "generic",
    /// `git`: a repository over SSH.
    Git = "git",
    /// `mariadb`.
    Mariadb = "mariadb",
    /// `mariadb-rds`.
    MariadbRds = "mariadb-rds",
    /// `mssql` (no driver in this worker).
    Mssql = "mssql",
    /// `mysql`.
    Mysql = "mysql",
    /// `mysql-aurora` (IAM authentication possible).
    MysqlAurora = "mysql-aurora",
    /// `mysql-rds` (IAM authentication possible).
    MysqlRds = "mysql-rds",
    /// `oracle` (no driver in this worker).
    Oracle = "oracle",
    /// `oracle-rds` (no driver in this worker).
    OracleRds = "oracle-rds",
    /// `postgres`.
    Postgres = "postgres",
    /// `postgres-aurora` (IAM authentication possible).
    PostgresAurora = "postgres-aurora",
    /// `postgres-rds` (IAM authentication possible).
    PostgresRds = "postgres-rds",
    /// `postgresql`.
    Postgresql = "postgresql",
    /// `psql`.
    Psql = "psql",
    /// `redshift` (IAM credentials possible).
    Redshift = "redshift",
    /// `redshift-serverless` (IAM credentials possible).
    RedshiftServerless = "redshift-serverless",
    /// `ses`: the legacy email connection.
    Ses = "ses",
    /// `sharepoint` (refused: no server can run here).
    Sharepoint = "sharepoint",
    /// `slack`: a webhook.
    Slack = "slack",
    /// `smb`: a file share.
    Smb = "smb",
    /// `sqlite3`: a database file, local or in S3.
    Sqlite3 = "sqlite3",
    /// `ssh`.
    Ssh = "ssh",
    /// `scp`.
    Scp = "scp",
    /// `sftp`.
    Sftp = "sftp",
}

impl ConnectionType {
    /// The type named `name`, in any case.
    pub fn parse(name: &str) -> ConnectionType {
        let lower = name.to_ascii_lowercase();
        ConnectionType::KNOWN.iter().find(|t| t.name() == lower).cloned().unwrap_or(ConnectionType::Unknown(lower))
    }

    /// Whether the type is one lava knows.
    pub fn is_known(&self) -> bool {
        !matches!(self, ConnectionType::Unknown(_))
    }

    /// Whether the type is a database server (host, port, user, database and a password, or
    /// IAM authentication); SQLite is a file, not one of them.
    pub fn is_database_server(&self) -> bool {
        use ConnectionType::*;
        match self {
            Mariadb | MariadbRds | Mssql | Mysql | MysqlAurora | MysqlRds | Oracle | OracleRds | Postgres
            | PostgresAurora | PostgresRds | Postgresql | Psql | Redshift | RedshiftServerless => true,
            Aws | Docker | Email | Generic | Git | Ses | Sharepoint | Slack | Smb | Sqlite3 | Ssh | Scp | Sftp
            | Unknown(_) => false,
        }
    }

    /// Whether a database of this type may authenticate through IAM instead of a stored password.
    pub fn has_iam_auth(&self) -> bool {
        use ConnectionType::*;
        matches!(self, PostgresAurora | PostgresRds | MysqlAurora | MysqlRds | Redshift | RedshiftServerless)
    }
}

impl std::fmt::Display for ConnectionType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_in_any_case_and_unknown_ones_are_kept() {
        for known in ConnectionType::KNOWN {
            assert_eq!(&ConnectionType::parse(&known.name().to_uppercase()), known);
        }
        assert_eq!(ConnectionType::parse("Postgres-RDS"), ConnectionType::PostgresRds);
        assert_eq!(ConnectionType::parse("Cobol"), ConnectionType::Unknown("cobol".into()));
        assert!(!ConnectionType::parse("cobol").is_known());
        assert_eq!(ConnectionType::KNOWN.len(), 28);
    }

    #[test]
    fn iam_databases_are_database_servers() {
        let iam: Vec<&ConnectionType> = ConnectionType::KNOWN.iter().filter(|t| t.has_iam_auth()).collect();
        assert_eq!(iam.len(), 6);
        assert!(iam.iter().all(|t| t.is_database_server()));
        assert!(!ConnectionType::Sqlite3.is_database_server());
    }
}
