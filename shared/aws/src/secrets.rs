//! SSM Parameter Store, Secrets Manager, STS AssumeRole, ECR logins and database credentials:
//! the worker's and the CLI's [`SecretStore`] (connection passwords, keys and temporary
//! credentials; feature `fleet`). Values never appear in errors or logs.

use async_trait::async_trait;

use super::aws_error;
use crate::error::{Error, Result};
use crate::ports::{AssumeRole, DbCredentials, DbCredentialsRequest, RegistryLogin, SecretStore, TemporaryCredentials};

/// Secrets from SSM (decrypted) and Secrets Manager.
#[derive(Clone, Debug)]
pub struct AwsSecrets {
    ssm: aws_sdk_ssm::Client,
    secrets: aws_sdk_secretsmanager::Client,
    sts: aws_sdk_sts::Client,
    ecr: aws_sdk_ecr::Client,
    /// This process's own credentials and region (RDS tokens are signed with them).
    identity: Option<(aws_credential_types::provider::SharedCredentialsProvider, String)>,
    #[cfg(feature = "redshift")]
    redshift: Option<(aws_sdk_redshift::Client, aws_sdk_redshiftserverless::Client)>,
}

impl AwsSecrets {
    /// Uses these clients for every call.
    pub fn new(
        ssm: aws_sdk_ssm::Client,
        secrets: aws_sdk_secretsmanager::Client,
        sts: aws_sdk_sts::Client,
        ecr: aws_sdk_ecr::Client,
    ) -> Self {
        AwsSecrets {
            ssm,
            secrets,
            sts,
            ecr,
            identity: None,
            #[cfg(feature = "redshift")]
            redshift: None,
        }
    }

    /// Signs RDS tokens with the credentials and region of `config`.
    pub fn with_identity(self, config: &aws_config::SdkConfig) -> Self {
        let region = config.region().map(|r| r.to_string()).unwrap_or_else(lava_core::connections::default_region);
        AwsSecrets { identity: config.credentials_provider().map(|p| (p, region)), ..self }
    }

    /// Also gets Redshift credentials, with these clients.
    #[cfg(feature = "redshift")]
    pub fn with_redshift(
        self,
        redshift: aws_sdk_redshift::Client,
        serverless: aws_sdk_redshiftserverless::Client,
    ) -> Self {
        AwsSecrets { redshift: Some((redshift, serverless)), ..self }
    }

    /// An RDS IAM token signed with this process's own credentials, for its region.
    async fn rds_token(&self, host: &str, port: u16, user: &str) -> Result<String> {
        use aws_credential_types::provider::ProvideCredentials;
        let (provider, region) = self
            .identity
            .as_ref()
            .ok_or_else(|| Error::Refused("RDS IAM token: this process has no AWS credentials".into()))?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| Error::Refused(format!("RDS IAM token: no AWS credentials: {e}")))?;
        super::rds::db_auth_token(host, port, user, region, &credentials, std::time::SystemTime::now())
    }

    /// Redshift's temporary credentials (provisioned or serverless).
    #[cfg(feature = "redshift")]
    async fn redshift_credentials(&self, request: &DbCredentialsRequest) -> Result<DbCredentials> {
        let Some((cluster, serverless)) = &self.redshift else {
            return Err(Error::Refused(format!("{} is not available to this process", request.mechanism())));
        };
        match request {
            DbCredentialsRequest::RedshiftCluster { cluster_id, database, user, duration_seconds } => {
                let out = cluster
                    .get_cluster_credentials()
                    .cluster_identifier(cluster_id)
                    .db_name(database)
                    .db_user(user)
                    .duration_seconds(*duration_seconds)
                    .auto_create(false)
                    .send()
                    .await
                    .map_err(|e| aws_error("redshift", "GetClusterCredentials", e))?;
                Ok(DbCredentials {
                    user: out.db_user.unwrap_or_else(|| user.clone()),
                    password: out.db_password.unwrap_or_default(),
                })
            }
            DbCredentialsRequest::RedshiftServerless { workgroup, database, duration_seconds, role } => {
                let client = match role {
                    None => serverless.clone(),
                    Some(role) => {
                        let assumed = self.assume_role(role).await?;
                        let credentials = aws_credential_types::Credentials::new(
                            assumed.access_key_id,
                            assumed.secret_access_key,
                            Some(assumed.session_token),
                            None,
                            "lava-assumed-role",
                        );
                        let config = serverless.config().to_builder().credentials_provider(credentials).build();
                        aws_sdk_redshiftserverless::Client::from_conf(config)
                    }
                };
                let out = client
                    .get_credentials()
                    .workgroup_name(workgroup)
                    .db_name(database)
                    .duration_seconds(*duration_seconds)
                    .send()
                    .await
                    .map_err(|e| aws_error("redshift-serverless", "GetCredentials", e))?;
                Ok(DbCredentials {
                    user: out.db_user.unwrap_or_default(),
                    password: out.db_password.unwrap_or_default(),
                })
            }
            DbCredentialsRequest::Rds { .. } => Err(Error::Unexpected("an RDS token is not Redshift's".into())),
        }
    }
}

#[async_trait]
impl SecretStore for AwsSecrets {
    async fn parameter(&self, name: &str) -> Result<String> {
        super::ssm::get_parameter(&self.ssm, name).await
    }

    async fn secret(&self, secret_id: &str) -> Result<String> {
        let out = self.secrets.get_secret_value().secret_id(secret_id).send().await.map_err(|e| {
            if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) {
                Error::NotFound { what: "secret", id: secret_id.to_string() }
            } else {
                aws_error("secretsmanager", "GetSecretValue", e)
            }
        })?;
        out.secret_string.ok_or_else(|| Error::unexpected(format!("secret {secret_id}"), "has no secret string"))
    }

    async fn assume_role(&self, request: &AssumeRole) -> Result<TemporaryCredentials> {
        let mut call = self
            .sts
            .assume_role()
            .role_arn(&request.role_arn)
            .role_session_name(&request.session_name)
            .duration_seconds(request.duration_seconds);
        if let Some(id) = &request.external_id {
            call = call.external_id(id);
        }
        for arn in &request.policy_arns {
            call = call.policy_arns(aws_sdk_sts::types::PolicyDescriptorType::builder().arn(arn).build());
        }
        if let Some(policy) = &request.policy {
            call = call.policy(policy);
        }
        for (key, value) in &request.tags {
            let tag = aws_sdk_sts::types::Tag::builder()
                .key(key)
                .value(value)
                .build()
                .map_err(|e| Error::unexpected("tags", e.to_string()))?;
            call = call.tags(tag);
        }
        let out = call.send().await.map_err(|e| aws_error("sts", "AssumeRole", e))?;
        let c = out
            .credentials
            .ok_or_else(|| Error::unexpected(request.role_arn.clone(), "AssumeRole returned no credentials"))?;
        Ok(TemporaryCredentials {
            access_key_id: c.access_key_id,
            secret_access_key: c.secret_access_key,
            session_token: c.session_token,
        })
    }

    async fn registry_login(&self, account_ids: &[String]) -> Result<RegistryLogin> {
        #[allow(deprecated)]
        let call = self
            .ecr
            .get_authorization_token()
            .set_registry_ids((!account_ids.is_empty()).then(|| account_ids.to_vec()));
        let out = call.send().await.map_err(|e| aws_error("ecr", "GetAuthorizationToken", e))?;
        let data = out
            .authorization_data
            .unwrap_or_default()
            .into_iter()
            .next()
            .ok_or_else(|| Error::unexpected("ecr", "GetAuthorizationToken returned no token"))?;
        use base64::Engine;
        let token = base64::engine::general_purpose::STANDARD
            .decode(data.authorization_token.unwrap_or_default())
            .map_err(|_| Error::unexpected("ecr", "the authorization token is not base64"))?;
        let token =
            String::from_utf8(token).map_err(|_| Error::unexpected("ecr", "the authorization token is not text"))?;
        let (username, password) = token
            .split_once(':')
            .ok_or_else(|| Error::unexpected("ecr", "the authorization token is not user:password"))?;
        let server = data.proxy_endpoint.unwrap_or_default().trim_start_matches("https://").to_string();
        Ok(RegistryLogin { server, username: username.to_string(), password: password.to_string() })
    }

    async fn database_credentials(&self, request: &DbCredentialsRequest) -> Result<DbCredentials> {
        match request {
            DbCredentialsRequest::Rds { host, port, user } => {
                Ok(DbCredentials { user: user.clone(), password: self.rds_token(host, *port, user).await? })
            }
            #[cfg(feature = "redshift")]
            _ => self.redshift_credentials(request).await,
            #[cfg(not(feature = "redshift"))]
            _ => Err(Error::Refused(format!("{} is not available in this build", request.mechanism()))),
        }
    }
}
