//! Secret ports: KMS keys, SSM parameters and Secrets Manager, STS credentials and ECR logins
//! (whose `Debug` leaves the secret parts out).

use async_trait::async_trait;

use crate::error::Result;

/// KMS: encryption of secure state values.
#[async_trait]
pub trait KeyService: Send + Sync {
    /// Encrypts `plaintext` with `key_id` (ARN or `alias/...`); returns the ciphertext, base64.
    async fn encrypt(&self, key_id: &str, plaintext: &[u8]) -> Result<String>;
    /// Decrypts base64 ciphertext.
    async fn decrypt(&self, ciphertext: &str) -> Result<Vec<u8>>;
}

/// Secrets: SSM parameters (decrypted) and Secrets Manager secret strings.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// The value of an SSM parameter, decrypted.
    async fn parameter(&self, name: &str) -> Result<String>;
    /// The secret string of a Secrets Manager secret.
    async fn secret(&self, secret_id: &str) -> Result<String>;
    /// Temporary credentials from STS AssumeRole (for `aws` connections with `role_arn`).
    async fn assume_role(&self, request: &AssumeRole) -> Result<TemporaryCredentials>;
    /// An ECR registry login (for `docker` connections with `registry: ecr[:<account>]`).
    async fn registry_login(&self, account_ids: &[String]) -> Result<RegistryLogin>;
    /// Database credentials from the caller's AWS identity (a database connection with no
    /// password). By default, none can be had.
    async fn database_credentials(&self, request: &DbCredentialsRequest) -> Result<DbCredentials> {
        Err(crate::error::Error::Refused(format!(
            "IAM database credentials ({}) are not available in this build",
            request.mechanism()
        )))
    }
}

/// How a database connection with no password gets one from AWS.
#[derive(Debug, Clone, PartialEq)]
pub enum DbCredentialsRequest {
    /// RDS and Aurora PostgreSQL or MySQL: an IAM authentication token for `user`.
    Rds {
        /// The database's host name.
        host: String,
        /// Its port.
        port: u16,
        /// The database user (granted `rds_iam`).
        user: String,
    },
    /// A provisioned Redshift cluster: `GetClusterCredentials` (no automatic user creation).
    RedshiftCluster {
        /// The cluster identifier.
        cluster_id: String,
        /// The database.
        database: String,
        /// The database user.
        user: String,
        /// How long the password lasts (900 to 3600 seconds).
        duration_seconds: i32,
    },
    /// Redshift Serverless: `GetCredentials` for a workgroup, as the caller or as a role
    /// assumed first.
    RedshiftServerless {
        /// The workgroup.
        workgroup: String,
        /// The database.
        database: String,
        /// How long the password lasts (900 to 3600 seconds).
        duration_seconds: i32,
        /// A role to assume first, if the connection names one.
        role: Option<AssumeRole>,
    },
}

impl DbCredentialsRequest {
    /// The AWS call the request makes, for messages.
    pub fn mechanism(&self) -> &'static str {
        match self {
            DbCredentialsRequest::Rds { .. } => "RDS generate-db-auth-token",
            DbCredentialsRequest::RedshiftCluster { .. } => "Redshift GetClusterCredentials",
            DbCredentialsRequest::RedshiftServerless { .. } => "Redshift Serverless GetCredentials",
        }
    }
}

/// A database user and its temporary password.
#[derive(Clone, PartialEq)]
pub struct DbCredentials {
    /// The user to connect as (Redshift's answer names it: `IAM:<user>`, `IAMR:<role>`).
    pub user: String,
    /// The password or token.
    pub password: String,
}

impl std::fmt::Debug for DbCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbCredentials").field("user", &self.user).finish_non_exhaustive()
    }
}

/// An STS AssumeRole request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssumeRole {
    /// The role.
    pub role_arn: String,
    /// Session name.
    pub session_name: String,
    /// Seconds.
    pub duration_seconds: i32,
    /// External id, if the role requires one.
    pub external_id: Option<String>,
    /// Managed policies limiting the session.
    pub policy_arns: Vec<String>,
    /// An inline policy (JSON) limiting the session.
    pub policy: Option<String>,
    /// Session tags.
    pub tags: Vec<(String, String)>,
}

/// Temporary AWS credentials.
#[derive(Clone, PartialEq)]
pub struct TemporaryCredentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token.
    pub session_token: String,
}

impl std::fmt::Debug for TemporaryCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemporaryCredentials").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

/// Registry credentials for a pull.
#[derive(Clone, PartialEq, Default)]
pub struct RegistryLogin {
    /// Registry server.
    pub server: String,
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: String,
}

impl std::fmt::Debug for RegistryLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryLogin")
            .field("server", &self.server)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}
