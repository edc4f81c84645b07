//! CloudWatch metrics: the job metrics, the worker's health figures and the fleets' backlog.

use async_trait::async_trait;

use crate::error::Result;

/// The unit of a metric value, as CloudWatch names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricUnit {
    /// No unit (`JobFailed`, `WorkerBacklog`).
    None,
    /// Seconds.
    Seconds,
    /// A count.
    Count,
    /// A percentage.
    Percent,
    /// Kilobytes.
    Kilobytes,
}

impl MetricUnit {
    /// CloudWatch's name of the unit.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricUnit::None => "None",
            MetricUnit::Seconds => "Seconds",
            MetricUnit::Count => "Count",
            MetricUnit::Percent => "Percent",
            MetricUnit::Kilobytes => "Kilobytes",
        }
    }
}

/// One value of one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Datum {
    /// The metric's name, e.g. `RunDelay`.
    pub name: &'static str,
    /// Its dimensions, in order, e.g. `[("Realm", "prod"), ("Job", "etl/load")]`.
    pub dimensions: Vec<(&'static str, String)>,
    /// The value.
    pub value: f64,
    /// Its unit.
    pub unit: MetricUnit,
    /// When it was measured (none: when it arrives).
    pub timestamp: Option<jiff::Timestamp>,
}

impl Datum {
    /// A value measured now.
    pub fn new(name: &'static str, dimensions: Vec<(&'static str, String)>, value: f64, unit: MetricUnit) -> Self {
        Datum { name, dimensions, value, unit, timestamp: None }
    }

    /// The same value, stamped `at`.
    pub fn at(self, at: jiff::Timestamp) -> Self {
        Datum { timestamp: Some(at), ..self }
    }
}

/// Where metric values go (CloudWatch `PutMetricData`).
#[async_trait]
pub trait MetricSink: Send + Sync {
    /// Puts `data` in `namespace`, in as many calls as the service's limits need.
    async fn put(&self, namespace: &str, data: &[Datum]) -> Result<()>;
}
