//! The `actions` Lambda: runs the post-job action lists workers put on the realm's actions
//! queue. Configured by `LAVA_REALM` (every resource name follows from it unless overridden).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use shared::actions::function::ActionsFunction;
use shared::aws::{AwsOptions, Clients};
use shared::names::ResourceNames;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let realm = std::env::var("LAVA_REALM").map_err(|_| "LAVA_REALM is not set: it names the realm this function serves")?;
    let names = ResourceNames::with_overrides(&realm, |k| std::env::var(k).ok());
    let clients = Clients::load(&AwsOptions::default()).await;
    let ports = clients.ports(Arc::new(shared::webhook::HttpWebhook::new()?));
    let function = ActionsFunction::load(names, std::env::vars().collect(), &ports).await?;
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move { Ok::<SqsBatchResponse, Error>(actions::handle(function, event.payload).await) })).await
}
