//! KMS, SSM parameters and Secrets Manager in memory, with made-up STS credentials and ECR logins.

use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::ports::{
    AssumeRole, DbCredentials, DbCredentialsRequest, KeyService, RegistryLogin, SecretStore, TemporaryCredentials,
};

/// KMS in memory: the "ciphertext" is the key id and the hex of the plaintext, so tests can
/// see that a value was not stored in the clear.
#[derive(Default)]
pub struct FakeKeys;

#[async_trait]
impl KeyService for FakeKeys {
    async fn encrypt(&self, key_id: &str, plaintext: &[u8]) -> Result<String> {
        Ok(format!("{key_id}|{}", plaintext.iter().map(|b| format!("{b:02x}")).collect::<String>()))
    }

    async fn decrypt(&self, ciphertext: &str) -> Result<Vec<u8>> {
        let hex = ciphertext.rsplit('|').next().unwrap_or_default();
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|e| Error::unexpected("fake kms", e.to_string())))
            .collect()
    }
}

/// SSM parameters and Secrets Manager secrets in memory.
#[derive(Default)]
pub struct FakeSecrets {
    /// Parameter name → value.
    pub parameters: Mutex<HashMap<String, String>>,
    /// Secret id → secret string.
    pub secrets: Mutex<HashMap<String, String>>,
    /// The IAM database credential requests made, in order.
    pub credential_requests: Mutex<Vec<DbCredentialsRequest>>,
}

impl FakeSecrets {
    /// Stores an SSM parameter.
    pub fn put_parameter(&self, name: &str, value: &str) {
        self.parameters.lock().unwrap().insert(name.into(), value.into());
    }

    /// Stores a Secrets Manager secret.
    pub fn put_secret(&self, id: &str, value: &str) {
        self.secrets.lock().unwrap().insert(id.into(), value.into());
    }
}

#[async_trait]
impl SecretStore for FakeSecrets {
    async fn parameter(&self, name: &str) -> Result<String> {
        self.parameters
            .lock()
            .unwrap()
            .get(name)
            .cloned()
            .ok_or_else(|| Error::NotFound { what: "parameter", id: name.into() })
    }

    async fn secret(&self, secret_id: &str) -> Result<String> {
        self.secrets
            .lock()
            .unwrap()
            .get(secret_id)
            .cloned()
            .ok_or_else(|| Error::NotFound { what: "secret", id: secret_id.into() })
    }

    /// A login for the first account (or `000000000000`).
    async fn registry_login(&self, account_ids: &[String]) -> Result<RegistryLogin> {
        let account = account_ids.first().cloned().unwrap_or_else(|| "000000000000".into());
        Ok(RegistryLogin {
            server: format!("{account}.dkr.ecr.us-east-1.amazonaws.com"),
            username: "AWS".into(),
            password: "ecr-token".into(),
        })
    }

    /// Credentials named after the role and session.
    async fn assume_role(&self, request: &AssumeRole) -> Result<TemporaryCredentials> {
        Ok(TemporaryCredentials {
            access_key_id: format!("ASIA-{}", request.session_name),
            secret_access_key: format!("secret-for-{}", request.role_arn),
            session_token: "token".into(),
        })
    }

    /// RDS answers with the user asked for; Redshift as AWS does, `IAM:<user>` (cluster) or
    /// `IAMR:<role name>` / `IAM:caller` (serverless). Passwords number the requests.
    async fn database_credentials(&self, request: &DbCredentialsRequest) -> Result<DbCredentials> {
        let mut requests = self.credential_requests.lock().unwrap();
        requests.push(request.clone());
        let password = format!("temporary-{}", requests.len());
        let user = match request {
            DbCredentialsRequest::Rds { user, .. } => user.clone(),
            DbCredentialsRequest::RedshiftCluster { user, .. } => format!("IAM:{user}"),
            DbCredentialsRequest::RedshiftServerless { role: Some(role), .. } => {
                format!("IAMR:{}", role.role_arn.rsplit('/').next().unwrap_or_default())
            }
            DbCredentialsRequest::RedshiftServerless { role: None, .. } => "IAM:caller".into(),
        };
        Ok(DbCredentials { user, password })
    }
}
