//! SSM parameters only: the actions function's [`SecretStore`] (SMTP passwords; feature
//! `actions`). Values never appear in errors or logs.

use async_trait::async_trait;

use super::aws_error;
use crate::error::{Error, Result};
use crate::ports::{AssumeRole, RegistryLogin, SecretStore, TemporaryCredentials};

/// An SSM parameter's decrypted value.
pub(crate) async fn get_parameter(ssm: &aws_sdk_ssm::Client, name: &str) -> Result<String> {
    let out = ssm.get_parameter().name(name).with_decryption(true).send().await.map_err(|e| {
        if e.as_service_error().is_some_and(|s| s.is_parameter_not_found()) {
            Error::NotFound { what: "SSM parameter", id: name.to_string() }
        } else {
            aws_error("ssm", "GetParameter", e)
        }
    })?;
    out.parameter.and_then(|p| p.value).ok_or_else(|| Error::NotFound { what: "SSM parameter", id: name.to_string() })
}

/// SSM parameters only (the actions function's SMTP passwords): Secrets Manager, STS and ECR
/// are [`Absent`](crate::ports::Absent) from it, so the actions function builds none of their
/// clients.
#[derive(Clone, Debug)]
pub struct SsmParameters {
    ssm: aws_sdk_ssm::Client,
}

impl SsmParameters {
    /// Uses `ssm` for every call.
    pub fn new(ssm: aws_sdk_ssm::Client) -> Self {
        SsmParameters { ssm }
    }
}

#[async_trait]
impl SecretStore for SsmParameters {
    async fn parameter(&self, name: &str) -> Result<String> {
        get_parameter(&self.ssm, name).await
    }

    async fn secret(&self, secret_id: &str) -> Result<String> {
        crate::ports::Absent("Secrets Manager").secret(secret_id).await
    }

    async fn assume_role(&self, request: &AssumeRole) -> Result<TemporaryCredentials> {
        crate::ports::Absent("STS").assume_role(request).await
    }

    async fn registry_login(&self, account_ids: &[String]) -> Result<RegistryLogin> {
        crate::ports::Absent("ECR").registry_login(account_ids).await
    }
}
