//! CloudWatch: the [`MetricSink`] port (`PutMetricData`).

use async_trait::async_trait;
use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};

use super::aws_error;
use crate::error::Result;
use crate::ports::{Datum, MetricSink, MetricUnit};

/// The most values one `PutMetricData` call carries.
const PER_CALL: usize = 1000;

/// Metrics in CloudWatch.
#[derive(Clone, Debug)]
pub struct CloudWatchMetrics {
    client: Client,
}

impl CloudWatchMetrics {
    /// Uses `client` for every call.
    pub fn new(client: Client) -> Self {
        CloudWatchMetrics { client }
    }
}

fn unit(unit: MetricUnit) -> StandardUnit {
    match unit {
        MetricUnit::None => StandardUnit::None,
        MetricUnit::Seconds => StandardUnit::Seconds,
        MetricUnit::Count => StandardUnit::Count,
        MetricUnit::Percent => StandardUnit::Percent,
        MetricUnit::Kilobytes => StandardUnit::Kilobytes,
    }
}

fn datum(d: &Datum) -> MetricDatum {
    let dimensions = d.dimensions.iter().map(|(name, value)| Dimension::builder().name(*name).value(value).build());
    MetricDatum::builder()
        .metric_name(d.name)
        .set_dimensions(Some(dimensions.collect()))
        .value(d.value)
        .unit(unit(d.unit))
        .set_timestamp(d.timestamp.map(|t| DateTime::from_secs_and_nanos(t.as_second(), t.subsec_nanosecond() as u32)))
        .build()
}

#[async_trait]
impl MetricSink for CloudWatchMetrics {
    async fn put(&self, namespace: &str, data: &[Datum]) -> Result<()> {
        for chunk in data.chunks(PER_CALL) {
            self.client
                .put_metric_data()
                .namespace(namespace)
                .set_metric_data(Some(chunk.iter().map(datum).collect()))
                .send()
                .await
                .map_err(|e| aws_error("cloudwatch", "PutMetricData", e))?;
        }
        Ok(())
    }
}
