//! The `dispatch` Lambda: dispatch requests and the realm's every-minute schedule tick, from the
//! realm's dispatch queue (fed by SQS senders and the realm's SNS topic) or a direct invocation. Configured by `LAVA_REALM` (every resource name follows from it
//! unless overridden by environment), so the template needs no per-job wiring.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use shared::dispatch::function::DispatchFunction;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let start = shared::lambda::start(shared::wiring::load_function_ports()).await?;
    let function = DispatchFunction::load(start.names, start.env, &start.ports).await?;
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        lava_dispatch_fn::handle_event(function, event.payload, &event.context.request_id).await.map_err(Error::from)
    }))
    .await
}
