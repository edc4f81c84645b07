//! The `dispatch` Lambda's handler: an SQS batch of dispatch requests and schedule ticks in,
//! the partial batch failure response out. The rules live in `shared::dispatch::function`.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use shared::dispatch::function::DispatchFunction;

/// Handles every message in the batch; the response names the messages to receive again.
pub async fn handle(function: &DispatchFunction, event: SqsEvent) -> SqsBatchResponse {
    shared::lambda::batch_response(function.handle(shared::lambda::incoming(event)).await)
}
