//! The limits validation applies to jobs and dispatches. They are realm settings
//! (`ITERATION_MAX_LIMIT`, `ITERATION_MAX_DELAY`, `SQS_MAX_DELAY_MINS`): build them from the
//! configuration with `Config::limits`; `Limits::default()` gives the built-in defaults.

/// The longest visibility timeout SQS accepts, in seconds (12 hours).
pub const SQS_MAX_VISIBILITY: u32 = 43_200;

/// The longest delay SQS accepts, in seconds; `SQS_MAX_DELAY_MINS` may only lower it.
pub const SQS_DELAY_CEILING: u32 = 900;

/// The longest a DynamoDB partition key may be, in bytes (a `job_id` is the jobs and events
/// tables' partition key).
pub const DYNAMODB_PARTITION_KEY_BYTES: usize = 2048;

/// Limits that validation applies.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// `ITERATION_MAX_LIMIT`: the highest `iteration_limit`.
    pub iteration_max_limit: i64,
    /// `ITERATION_MAX_DELAY` in seconds: the longest `iteration_delay`.
    pub iteration_max_delay: f64,
    /// `SQS_MAX_DELAY_MINS` × 60, at most [`SQS_DELAY_CEILING`]: the longest dispatch delay, in
    /// seconds.
    pub max_delay: f64,
}

/// The limits under the built-in defaults of `ITERATION_MAX_LIMIT`, `ITERATION_MAX_DELAY` and
/// `SQS_MAX_DELAY_MINS` (the configuration's key table, which a test of `lava-core` checks these
/// against).
impl Default for Limits {
    fn default() -> Self {
        Limits { iteration_max_limit: 10, iteration_max_delay: 300.0, max_delay: 900.0 }
    }
}

/// Prints seconds as the shortest exact duration-spec form (`300` → `5m`, `90` → `90s`).
pub(crate) fn duration_spec_text(seconds: f64) -> String {
    for (unit, size) in [("w", 604_800.0), ("d", 86_400.0), ("h", 3_600.0), ("m", 60.0)] {
        if seconds >= size && (seconds / size).fract() == 0.0 {
            return format!("{}{unit}", seconds / size);
        }
    }
    format!("{seconds}s")
}
