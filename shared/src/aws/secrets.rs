//! SSM Parameter Store and Secrets Manager: the [`SecretStore`] port (connection passwords and
//! keys). Values never appear in errors or logs.

use async_trait::async_trait;

use super::aws_error;
use crate::error::{Error, Result};
use crate::ports::SecretStore;

/// Secrets from SSM (decrypted) and Secrets Manager.
#[derive(Clone, Debug)]
pub struct AwsSecrets {
    ssm: aws_sdk_ssm::Client,
    secrets: aws_sdk_secretsmanager::Client,
}

impl AwsSecrets {
    /// Uses these clients for every call.
    pub fn new(ssm: aws_sdk_ssm::Client, secrets: aws_sdk_secretsmanager::Client) -> Self {
        AwsSecrets { ssm, secrets }
    }
}

#[async_trait]
impl SecretStore for AwsSecrets {
    async fn parameter(&self, name: &str) -> Result<String> {
        let out = self.ssm.get_parameter().name(name).with_decryption(true).send().await.map_err(|e| {
            if e.as_service_error().is_some_and(|s| s.is_parameter_not_found()) {
                Error::NotFound { what: "SSM parameter", id: name.to_string() }
            } else {
                aws_error("ssm", "GetParameter", e)
            }
        })?;
        out.parameter.and_then(|p| p.value).ok_or_else(|| Error::NotFound { what: "SSM parameter", id: name.to_string() })
    }

    async fn secret(&self, secret_id: &str) -> Result<String> {
        let out = self.secrets.get_secret_value().secret_id(secret_id).send().await.map_err(|e| {
            if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) {
                Error::NotFound { what: "secret", id: secret_id.to_string() }
            } else {
                aws_error("secretsmanager", "GetSecretValue", e)
            }
        })?;
        out.secret_string.ok_or_else(|| Error::config(format!("secret {secret_id}"), "has no secret string"))
    }
}
