//! Metrics in memory: every value put, with its namespace.

use async_trait::async_trait;
use std::sync::Mutex;

use super::lock;
use crate::error::Result;
use crate::ports::{Datum, MetricSink};

/// Every metric value put, in order.
#[derive(Default)]
pub struct FakeMetrics {
    /// (namespace, value) of each value put.
    pub put: Mutex<Vec<(String, Datum)>>,
}

impl FakeMetrics {
    /// The values of metric `name`, in order.
    pub fn values(&self, name: &str) -> Vec<Datum> {
        lock(&self.put).iter().filter(|(_, d)| d.name == name).map(|(_, d)| d.clone()).collect()
    }
}

#[async_trait]
impl MetricSink for FakeMetrics {
    async fn put(&self, namespace: &str, data: &[Datum]) -> Result<()> {
        lock(&self.put).extend(data.iter().map(|d| (namespace.to_string(), d.clone())));
        Ok(())
    }
}
