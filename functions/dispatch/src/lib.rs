//! The `dispatch` Lambda's handler. Its queue's event source mapping delivers dispatch requests
//! and schedule ticks in batches (the answer is a partial batch failure response); it may also
//! be invoked directly (`aws lambda invoke`) with one request, a list of them or a tick, as
//! the original's producers do. The rules live in `shared::dispatch::function`.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use serde_json::{Value, json};
use shared::dispatch::function::DispatchFunction;
use shared::ports::Incoming;

/// Handles every message in the batch; the response names the messages to receive again.
pub async fn handle(function: &DispatchFunction, event: SqsEvent) -> SqsBatchResponse {
    shared::lambda::batch_response(function.handle(shared::lambda::incoming(event)).await)
}

/// Handles one invocation: an SQS batch, or a direct one whose event is the request itself. A
/// direct invocation that must be tried again is an error for its caller to retry; a bad
/// request is dead-lettered with a reason and recorded as `rejected`, as from the queue.
pub async fn handle_event(function: &DispatchFunction, event: Value, request_id: &str) -> Result<Value, String> {
    if shared::lambda::is_sqs_batch(&event) {
        let batch: SqsEvent = serde_json::from_value(event).map_err(|e| format!("bad SQS event: {e}"))?;
        return serde_json::to_value(handle(function, batch).await).map_err(|e| e.to_string());
    }
    let direct = Incoming { message_id: request_id.to_string(), body: event.to_string(), receive_count: 1 };
    if function.handle(vec![direct]).await.is_empty() {
        Ok(json!({"status": "done"}))
    } else {
        Err("the dispatch could not be completed now; invoke again".into())
    }
}
