//! The `actions` Lambda's handler: an SQS batch of action lists in, the partial batch
//! failure response out. The rules live in `shared::actions::function`.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use shared::actions::function::ActionsFunction;

/// Runs every list in the batch; the response names the messages to receive again.
pub async fn handle(function: &ActionsFunction, event: SqsEvent) -> SqsBatchResponse {
    shared::lambda::batch_response(function.handle(shared::lambda::incoming(event)).await)
}
