//! EventBridge: the [`EventBus`] port.

use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::aws_error;
use crate::error::{Error, Result, Retry};
use crate::ports::{BusEvent, EventBus};

/// Events on EventBridge.
#[derive(Clone, Debug)]
pub struct EventBridgeBus {
    client: Client,
}

impl EventBridgeBus {
    /// Uses `client` for every call.
    pub fn new(client: Client) -> Self {
        EventBridgeBus { client }
    }
}

#[async_trait]
impl EventBus for EventBridgeBus {
    async fn put_event(&self, event: &BusEvent) -> Result<()> {
        let entry = PutEventsRequestEntry::builder()
            .source(&event.source)
            .detail_type(&event.detail_type)
            .detail(&event.detail)
            .set_resources(Some(event.resources.clone()))
            .set_event_bus_name(event.bus.clone())
            .build();
        let out =
            self.client.put_events().entries(entry).send().await.map_err(|e| aws_error("events", "PutEvents", e))?;
        if let Some(failed) = out.entries().iter().find(|e| e.error_code().is_some()) {
            let code = failed.error_code().unwrap_or_default().to_string();
            return Err(Error::Aws {
                service: "events",
                operation: "PutEvents",
                message: format!(
                    "Failed to put event to EventBridge: {code}: {}",
                    failed.error_message().unwrap_or_default()
                ),
                retry: if code.contains("Throttl") || code.contains("Internal") {
                    Retry::Transient
                } else {
                    Retry::Permanent
                },
                code: Some(code),
                source: None,
            });
        }
        Ok(())
    }
}
