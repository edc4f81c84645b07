//! AWS adapters, above `lava-core`: the only crate that imports the AWS SDK. Implements the
//! ports, builds the SDK configuration in one place, and (feature `provision`) creates realm
//! resources (tables, queues, buckets, topics). Which adapters a deployable gets is decided by
//! the composition root (`shared::wiring`), not here; which SDK crates it builds, by features:
//! DynamoDB, SQS and KMS always (the dispatch and s3trigger functions), `actions` adds S3, SNS,
//! SES, EventBridge and SSM (the actions function), `fleet` every other service (the worker and
//! the CLI), so a function's build compiles none of the clients it never calls.
//!
//! Endpoints are never built here: the SDK's own `AWS_ENDPOINT_URL` (and per-service
//! `AWS_ENDPOINT_URL_<SERVICE>`) variables, or an explicit override, point it at an emulator.

#[cfg(feature = "fleet")]
mod cloudwatch;
mod dynamodb;
#[cfg(feature = "fleet")]
mod ecs;
#[cfg(feature = "actions")]
mod eventbridge;
mod item;
mod kms;
#[cfg(feature = "provision")]
pub mod lifecycle;
#[cfg(feature = "provision")]
pub mod project;
#[cfg(feature = "provision")]
pub mod provision;
#[cfg(feature = "fleet")]
pub mod rds;
#[cfg(feature = "actions")]
mod s3;
#[cfg(feature = "fleet")]
mod secrets;
#[cfg(feature = "actions")]
mod ses;
#[cfg(feature = "actions")]
mod sns;
mod sqs;
#[cfg(feature = "actions")]
mod ssm;

use aws_config::{BehaviorVersion, Region, retry::RetryConfig, timeout::TimeoutConfig};
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use std::time::Duration;

#[cfg(feature = "fleet")]
pub use cloudwatch::CloudWatchMetrics;
pub use dynamodb::DynamoTables;
#[cfg(feature = "fleet")]
pub use ecs::EcsTasks;
#[cfg(feature = "actions")]
pub use eventbridge::EventBridgeBus;
pub use kms::KmsKeys;
#[cfg(feature = "actions")]
pub use s3::S3Blobs;
#[cfg(feature = "fleet")]
pub use secrets::AwsSecrets;
#[cfg(feature = "actions")]
pub use ses::SesMailer;
#[cfg(feature = "actions")]
pub use sns::SnsTopics;
pub use sqs::SqsQueues;
#[cfg(feature = "actions")]
pub use ssm::SsmParameters;

pub use aws_config::SdkConfig;

#[cfg(feature = "provision")]
use lava_core::catalog;
use lava_core::ports;
use lava_model::error::{self, Error, Retry};
use lava_model::model;
#[cfg(feature = "provision")]
use lava_model::names;

/// Where and how to reach AWS. Deployed code passes the defaults; tests and local tools pass an
/// explicit emulator endpoint instead of changing the process environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsOptions {
    /// Endpoint override for every service (otherwise the SDK's environment and profile rules).
    pub endpoint_url: Option<String>,
    /// Region (otherwise the SDK's provider chain, then `us-east-1`).
    pub region: Option<String>,
    /// Named profile from the shared config files.
    pub profile: Option<String>,
    /// The endpoint is an emulator: when the environment gives no credentials, use dummy ones
    /// instead of searching instance metadata.
    pub emulator: bool,
    /// Act in this account: the configuration assumes the role `lava-emulator` there (moto and
    /// LocalStack give out credentials that belong to the role's account), for local setups
    /// with more than one account (feature `fleet`: the functions never act in another).
    #[cfg(feature = "fleet")]
    pub account: Option<String>,
    /// How long one attempt of a call may take before it is abandoned and retried
    /// ([`DEFAULT_CALL_TIMEOUT`] if unset). SQS long polls get their wait on top; S3 calls get
    /// [`S3_ATTEMPT_TIMEOUT`], since an object transfer may take minutes.
    pub call_timeout: Option<Duration>,
    /// DynamoDB's own endpoint, when it is not the other services' (feature `fleet`: the CLI's
    /// local realm on LocalStack, whose free core has no DynamoDB, keeps its tables on moto).
    /// Processes given their endpoints by the environment use `AWS_ENDPOINT_URL_DYNAMODB`.
    pub dynamodb_endpoint_url: Option<String>,
}

/// Default limit of one attempt of an AWS call: a connection that silently stops answering is
/// abandoned after this long, and the call retried (standard retries, 4 attempts).
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Limit of one attempt of an S3 call, transfers included (a stalled transfer is cut sooner by
/// the SDK's stalled-stream protection).
pub const S3_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// Limit of opening a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// True when every endpoint is a plain-HTTP emulator: a global endpoint (`endpoint_url` or
/// `AWS_ENDPOINT_URL`) that starts with `http://`, and every service-specific one
/// (`AWS_ENDPOINT_URL_<SERVICE>`, DynamoDB's own) too.
fn plain_http_endpoints(global: Option<&str>, variables: impl IntoIterator<Item = (String, String)>) -> bool {
    global.is_some_and(|url| url.starts_with("http://"))
        && variables
            .into_iter()
            .all(|(name, value)| !name.starts_with("AWS_ENDPOINT_URL_") || value.starts_with("http://"))
}

/// Builds the SDK configuration: one TLS stack (rustls with ring), standard retries, connect
/// and per-attempt timeouts, and the region and endpoint rules above. Against a plain-HTTP emulator the client
/// has no TLS at all, so the system's root certificates are never parsed (most of a worker's
/// start-up otherwise).
pub async fn sdk_config(options: &AwsOptions) -> SdkConfig {
    let global = options.endpoint_url.clone().or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
    let own = options.dynamodb_endpoint_url.clone().map(|url| ("AWS_ENDPOINT_URL_DYNAMODB".to_string(), url));
    let variables =
        std::env::vars_os().map(|(n, v)| (n.to_string_lossy().into_owned(), v.to_string_lossy().into_owned()));
    let plain_http = plain_http_endpoints(global.as_deref(), variables.chain(own));
    let loader = |region: Option<Region>| {
        let builder = aws_smithy_http_client::Builder::new();
        let http = if plain_http {
            builder.build_http()
        } else {
            builder.tls_provider(tls::Provider::Rustls(CryptoMode::Ring)).build_https()
        };
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .retry_config(RetryConfig::standard().with_max_attempts(4))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .operation_attempt_timeout(options.call_timeout.unwrap_or(DEFAULT_CALL_TIMEOUT))
                    .build(),
            );
        if let Some(region) = region {
            loader = loader.region(region);
        }
        if let Some(url) = &options.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(profile) = &options.profile {
            loader = loader.profile_name(profile);
        }
        let env_has_credentials =
            std::env::var_os("AWS_ACCESS_KEY_ID").is_some() || std::env::var_os("AWS_PROFILE").is_some();
        if options.emulator && !env_has_credentials {
            loader = loader.credentials_provider(Credentials::new("test", "test", None, None, "lava-emulator"));
        }
        loader
    };
    let mut config = loader(options.region.clone().map(Region::new)).load().await;
    if config.region().is_none() {
        config = loader(Some(Region::new("us-east-1"))).load().await;
    }
    #[cfg(feature = "fleet")]
    if let Some(account) = &options.account {
        config = in_account(config, account).await;
    }
    config
}

/// `config` with the credentials of the role `lava-emulator` in `account` (see
/// [`AwsOptions::account`]), or unchanged when the role cannot be assumed.
#[cfg(feature = "fleet")]
async fn in_account(config: SdkConfig, account: &str) -> SdkConfig {
    let role = format!("arn:aws:iam::{account}:role/lava-emulator");
    let assumed =
        aws_sdk_sts::Client::new(&config).assume_role().role_arn(&role).role_session_name("lava").send().await;
    match assumed.ok().and_then(|a| a.credentials) {
        Some(c) => {
            let credentials = Credentials::new(
                c.access_key_id,
                c.secret_access_key,
                Some(c.session_token),
                None,
                "lava-assumed-role",
            );
            config
                .into_builder()
                .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(credentials))
                .build()
        }
        None => {
            tracing::warn!(%role, "Cannot assume the role; staying in the configured account.");
            config
        }
    }
}

/// Every client lava uses, built once from one configuration (the worker and the CLI).
#[cfg(feature = "fleet")]
#[derive(Clone, Debug)]
pub struct Clients {
    /// DynamoDB.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// SQS.
    pub sqs: aws_sdk_sqs::Client,
    /// S3 (path-style addressing when an endpoint override is in force).
    pub s3: aws_sdk_s3::Client,
    /// SNS.
    pub sns: aws_sdk_sns::Client,
    /// SES v2.
    pub ses: aws_sdk_sesv2::Client,
    /// EventBridge.
    pub events: aws_sdk_eventbridge::Client,
    /// ECS.
    pub ecs: aws_sdk_ecs::Client,
    /// KMS.
    pub kms: aws_sdk_kms::Client,
    /// SSM Parameter Store.
    pub ssm: aws_sdk_ssm::Client,
    /// Secrets Manager.
    pub secretsmanager: aws_sdk_secretsmanager::Client,
    /// STS.
    pub sts: aws_sdk_sts::Client,
    /// ECR.
    pub ecr: aws_sdk_ecr::Client,
    /// CloudWatch Logs.
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// CloudWatch metrics.
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// The configuration the clients were built from (credentials and region for signing).
    pub config: SdkConfig,
    /// Redshift (the worker's IAM database credentials).
    #[cfg(feature = "redshift")]
    pub redshift: aws_sdk_redshift::Client,
    /// Redshift Serverless (the worker's IAM database credentials).
    #[cfg(feature = "redshift")]
    pub redshift_serverless: aws_sdk_redshiftserverless::Client,
}

#[cfg(feature = "fleet")]
impl Clients {
    /// Builds every client from `config`.
    pub fn new(config: &SdkConfig) -> Self {
        Clients {
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            sqs: aws_sdk_sqs::Client::new(config),
            s3: s3_client(config),
            sns: aws_sdk_sns::Client::new(config),
            ses: aws_sdk_sesv2::Client::new(config),
            events: aws_sdk_eventbridge::Client::new(config),
            ecs: aws_sdk_ecs::Client::new(config),
            kms: aws_sdk_kms::Client::new(config),
            ssm: aws_sdk_ssm::Client::new(config),
            secretsmanager: aws_sdk_secretsmanager::Client::new(config),
            sts: aws_sdk_sts::Client::new(config),
            ecr: aws_sdk_ecr::Client::new(config),
            logs: aws_sdk_cloudwatchlogs::Client::new(config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(config),
            config: config.clone(),
            #[cfg(feature = "redshift")]
            redshift: aws_sdk_redshift::Client::new(config),
            #[cfg(feature = "redshift")]
            redshift_serverless: aws_sdk_redshiftserverless::Client::new(config),
        }
    }

    /// The secrets adapter over these clients.
    pub fn secrets(&self) -> AwsSecrets {
        let secrets =
            AwsSecrets::new(self.ssm.clone(), self.secretsmanager.clone(), self.sts.clone(), self.ecr.clone())
                .with_identity(&self.config);
        #[cfg(feature = "redshift")]
        let secrets = secrets.with_redshift(self.redshift.clone(), self.redshift_serverless.clone());
        secrets
    }

    /// Loads the configuration for `options` and builds every client.
    pub async fn load(options: &AwsOptions) -> Self {
        let config = sdk_config(options).await;
        let mut clients = Self::new(&config);
        if let Some(url) = &options.dynamodb_endpoint_url {
            let own = aws_sdk_dynamodb::config::Builder::from(&config).endpoint_url(url).build();
            clients.dynamodb = aws_sdk_dynamodb::Client::from_conf(own);
        }
        clients
    }
}

/// The S3 client: path-style addressing when an endpoint override is in force, and the longer
/// attempt limit of object transfers.
#[cfg(feature = "actions")]
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let path_style = config.endpoint_url().is_some()
        || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some()
        || std::env::var_os("AWS_ENDPOINT_URL").is_some();
    let s3_timeouts =
        TimeoutConfig::builder().connect_timeout(CONNECT_TIMEOUT).operation_attempt_timeout(S3_ATTEMPT_TIMEOUT).build();
    let s3_config =
        aws_sdk_s3::config::Builder::from(config).force_path_style(path_style).timeout_config(s3_timeouts).build();
    aws_sdk_s3::Client::from_conf(s3_config)
}

/// Gives each adapter over one SDK client a `from_config`: the adapter over a client built from
/// an SDK configuration, so the composition root picks adapters without naming the SDK.
macro_rules! from_config {
    ($($adapter:ty => $client:ty),* $(,)?) => {
        $(impl $adapter {
            /// The adapter over a client built from `config`.
            pub fn from_config(config: &SdkConfig) -> Self {
                Self::new(<$client>::new(config))
            }
        })*
    };
}

from_config!(
    DynamoTables => aws_sdk_dynamodb::Client,
    SqsQueues => aws_sdk_sqs::Client,
    KmsKeys => aws_sdk_kms::Client,
);

#[cfg(feature = "actions")]
from_config!(
    SnsTopics => aws_sdk_sns::Client,
    SesMailer => aws_sdk_sesv2::Client,
    EventBridgeBus => aws_sdk_eventbridge::Client,
    SsmParameters => aws_sdk_ssm::Client,
);

#[cfg(feature = "actions")]
impl S3Blobs {
    /// The adapter over the S3 client [`s3_client`] builds from `config`.
    pub fn from_config(config: &SdkConfig) -> Self {
        Self::new(s3_client(config))
    }
}

/// A function's AWS options: the defaults, or the emulator named by `LAVA_ENDPOINT_URL` when it
/// is not empty. The realm template declares that variable (from its `EndpointUrl` parameter,
/// empty on AWS) so that `sam local` can set it: `sam local` only passes variables a template
/// declares, and it gives a declared `AWS_ENDPOINT_URL` it cannot resolve the value "", which
/// the SDK cannot parse.
pub fn function_options() -> AwsOptions {
    match std::env::var("LAVA_ENDPOINT_URL") {
        Ok(url) if !url.trim().is_empty() => {
            AwsOptions { endpoint_url: Some(url.trim().to_string()), emulator: true, ..Default::default() }
        }
        _ => AwsOptions::default(),
    }
}

/// Error codes that mean "try again later".
const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "SlowDown",
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
    "ExpiredToken",
    "ExpiredTokenException",
];

/// Turns an SDK error into [`Error::Aws`], keeping the source and classifying it for retry:
/// timeouts, connection failures, 5xx, 429 and throttling codes are transient.
pub(crate) fn aws_error<E>(service: &'static str, operation: &'static str, err: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = err.code().map(str::to_string);
    let retry = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => Retry::Transient,
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            if status >= 500 || status == 429 || code.as_deref().is_some_and(|c| TRANSIENT_CODES.contains(&c)) {
                Retry::Transient
            } else {
                Retry::Permanent
            }
        }
        _ => Retry::Permanent,
    };
    // With a code, the text is botocore's (`Error::Aws`); its message is "Unknown" when the
    // service gave none.
    let message = match (err.code(), err.message()) {
        (Some(_), Some(m)) => m.to_string(),
        (Some(_), None) => "Unknown".to_string(),
        _ => DisplayErrorContext(&err).to_string(),
    };
    Error::Aws { service, operation, code, message, retry, source: Some(Box::new(err)) }
}

#[cfg(test)]
mod tests {
    use super::plain_http_endpoints;

    #[test]
    fn only_an_all_plain_http_setup_goes_without_tls() {
        let none = || Vec::<(String, String)>::new();
        let var = |name: &str, value: &str| vec![(name.to_string(), value.to_string())];
        assert!(plain_http_endpoints(Some("http://127.0.0.1:5000"), none()));
        assert!(!plain_http_endpoints(Some("https://localhost.localstack.cloud:4566"), none()));
        assert!(!plain_http_endpoints(None, none()), "real AWS endpoints are HTTPS");
        assert!(
            !plain_http_endpoints(Some("http://127.0.0.1:5000"), var("AWS_ENDPOINT_URL_S3", "https://s3.example.com")),
            "a service-specific endpoint may be HTTPS"
        );
        assert!(
            plain_http_endpoints(
                Some("http://127.0.0.1:4566"),
                var("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:5000")
            ),
            "LocalStack beside moto's DynamoDB"
        );
        assert!(plain_http_endpoints(Some("http://127.0.0.1:5000"), var("AWS_REGION", "us-east-1")));
    }
}
