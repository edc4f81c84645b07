//! The `s3trigger` Lambda's handler. S3 (or EventBridge) invokes it directly with a notification,
//! or an SQS queue delivers notifications in batches (then the answer is a partial batch
//! failure response). The rules live in `shared::s3trigger`.

use aws_lambda_events::event::sqs::SqsEvent;
use serde_json::{Value, json};
use shared::s3trigger::S3TriggerFunction;

/// Handles one invocation.
pub async fn handle(function: &S3TriggerFunction, event: Value) -> Result<Value, String> {
    if shared::lambda::is_sqs_batch(&event) {
        let batch: SqsEvent = serde_json::from_value(event).map_err(|e| format!("bad SQS event: {e}"))?;
        let response = shared::lambda::batch_response(function.handle_batch(shared::lambda::incoming(batch)).await);
        return serde_json::to_value(response).map_err(|e| e.to_string());
    }
    let outcome = function.handle_event(&event).await.map_err(|e| e.to_string())?;
    Ok(json!({
        "dispatched": outcome.dispatched.iter().map(|(trigger, job, run)| json!({"trigger_id": trigger, "job_id": job, "run_id": run})).collect::<Vec<_>>(),
        "errors": outcome.errors,
    }))
}
