//! SQS-triggered Lambda plumbing shared by the functions: records in, partial batch failures out.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};

use crate::ports::Incoming;

/// The messages of an SQS event.
pub fn incoming(event: SqsEvent) -> Vec<Incoming> {
    event
        .records
        .into_iter()
        .map(|record| Incoming {
            message_id: record.message_id.unwrap_or_default(),
            body: record.body.unwrap_or_default(),
            receive_count: record.attributes.get("ApproximateReceiveCount").and_then(|c| c.parse().ok()).unwrap_or(1),
        })
        .collect()
}

/// The response naming the messages SQS must deliver again.
pub fn batch_response(retry: Vec<String>) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for id in retry {
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = id;
        response.batch_item_failures.push(failure);
    }
    response
}

/// What every function starts from: the realm named by `LAVA_REALM` (resource names overridable
/// from the environment), the AWS ports, and the process environment for configuration.
pub async fn start() -> Result<(crate::names::ResourceNames, crate::ports::Ports, Vec<(String, String)>), String> {
    let realm = std::env::var("LAVA_REALM")
        .map_err(|_| "LAVA_REALM is not set: it names the realm this function serves".to_string())?;
    let names = crate::names::ResourceNames::with_overrides(&realm, |k| std::env::var(k).ok());
    let clients = crate::aws::Clients::load(&crate::aws::AwsOptions::default()).await;
    let webhook = crate::webhook::HttpWebhook::new();
    Ok((names, clients.ports(std::sync::Arc::new(webhook)), std::env::vars().collect()))
}
