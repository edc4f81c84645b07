//! lava's data model, the bottom layer: the records and messages lava stores and sends with their
//! validation ([`model`]), the error type ([`error`]), a realm's resource names ([`names`]),
//! spec files ([`documents`]) and command-line splitting ([`cmdline`]). Pure: no I/O, no async.
#![warn(missing_docs)]

/// The version of the original lava (jinlava) whose contract this lava keeps: its tables,
/// messages, events, results and tools (the differential suite runs it beside this one).
pub const ORIGINAL_VERSION: &str = "8.3.0";

pub mod cmdline;
pub mod documents;
pub mod error;
pub mod model;
pub mod names;

pub use error::{Error, Result, Retry};
