//! The `actions` Lambda's handler: an SQS batch of action lists in, the partial batch
//! failure response out. The rules live in `shared::actions::function`.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use shared::actions::function::{ActionsFunction, Incoming};

fn incoming(record: SqsMessage) -> Incoming {
    Incoming {
        message_id: record.message_id.unwrap_or_default(),
        body: record.body.unwrap_or_default(),
        receive_count: record.attributes.get("ApproximateReceiveCount").and_then(|c| c.parse().ok()).unwrap_or(1),
    }
}

/// Runs every list in the batch; the response names the messages to receive again.
pub async fn handle(function: &ActionsFunction, event: SqsEvent) -> SqsBatchResponse {
    let retry = function.handle(event.records.into_iter().map(incoming).collect()).await;
    let mut response = SqsBatchResponse::default();
    for id in retry {
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = id;
        response.batch_item_failures.push(failure);
    }
    response
}
