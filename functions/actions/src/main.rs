//! The `actions` Lambda: runs the post-job action lists workers put on the realm's actions
//! queue. Configured by `LAVA_REALM` (every resource name follows from it unless overridden).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use shared::actions::function::ActionsFunction;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let start = shared::lambda::start(shared::wiring::load_actions_ports()).await?;
    let function = ActionsFunction::load(start.names, start.env, &start.ports).await?;
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, Error>(lava_actions_fn::handle(function, event.payload).await)
    }))
    .await
}
