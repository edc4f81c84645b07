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
