//! The `dispatch` Lambda: dispatch requests and the realm's every-minute schedule tick, from the
//! realm's dispatch queue. Configured by `LAVA_REALM` (every resource name follows from it
//! unless overridden by environment), so the template needs no per-job wiring.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use shared::dispatch::function::DispatchFunction;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let start = shared::lambda::start().await?;
    let function = DispatchFunction::load(start.names, start.env, &start.ports).await?;
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, Error>(dispatch::handle(function, event.payload).await)
    }))
    .await
}
