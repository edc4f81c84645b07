//! SQS-triggered Lambda plumbing shared by the functions: records in, partial batch failures out.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};

use crate::error::{Error, Result};
use crate::names::ResourceNames;
use crate::ports::{Incoming, Ports};

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

/// Whether `event` is a batch of SQS records (every record's `eventSource` is `aws:sqs`), as the
/// queue's event source mapping delivers them; anything else is a direct invocation.
pub fn is_sqs_batch(event: &serde_json::Value) -> bool {
    use serde_json::Value;
    event.get("Records").and_then(Value::as_array).is_some_and(|records| {
        !records.is_empty() && records.iter().all(|r| r.get("eventSource").and_then(Value::as_str) == Some("aws:sqs"))
    })
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

/// What every function starts from.
pub struct LambdaStart {
    /// The realm named by `LAVA_REALM` (resource names overridable from the environment).
    pub names: ResourceNames,
    /// The AWS ports, built once per cold start.
    pub ports: Ports,
    /// The process environment, for configuration (`LAVA_<KEY>`).
    pub env: Vec<(String, String)>,
}

/// Reads `LAVA_REALM`, then builds the function's ports with `ports`, which decides the SDK
/// clients linked into the function ([`crate::wiring::load_function_ports`] or
/// [`crate::wiring::load_actions_ports`]): what every function starts from.
pub async fn start(ports: impl Future<Output = Ports>) -> Result<LambdaStart> {
    let realm = std::env::var("LAVA_REALM")
        .map_err(|_| Error::config("LAVA_REALM", "is not set: it names the realm this function serves"))?;
    let names = ResourceNames::with_overrides(&realm, |k| std::env::var(k).ok());
    Ok(LambdaStart { names, ports: ports.await, env: std::env::vars().collect() })
}
