//! The `s3trigger` Lambda: S3 notifications dispatch jobs per the realm's s3triggers table.
//! Configured by `LAVA_REALM`; `LAVA_S3TRIGGER_CACHE_TTL`, `LAVA_S3TRIGGER_DEDUP_CACHE_SIZE` and
//! `LAVA_S3TRIGGER_DEDUP_TTL` tune its caches.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use shared::s3trigger::S3TriggerFunction;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let start = shared::lambda::start(shared::wiring::load_function_ports()).await?;
    let function = S3TriggerFunction::new(start.names, start.env, &start.ports);
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        lava_s3trigger_fn::handle(function, event.payload).await.map_err(Error::from)
    }))
    .await
}
