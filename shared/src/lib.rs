//! The lava library. Every deployable (the Lambdas, the worker, the CLI) is built from it.
//!
//! - [`model`]: records and messages with their validation (no I/O).
//! - [`documents`]: reading specs from JSON and YAML files.
//! - [`names`]: resource names of a realm, derived in one place.
//! - [`ports`]: the traits the application code talks to.
//! - [`aws`]: the only module that imports the AWS SDK; implements the ports.
//! - `fake` (feature `test-util`): in-memory ports for tests.
#![warn(missing_docs)]

pub mod actions;
pub mod aws;
pub mod catalog;
pub mod cmdline;
pub mod config;
pub mod connections;
pub mod dispatch;
#[cfg(feature = "docker")]
pub mod docker_engine;
pub mod documents;
pub mod error;
#[cfg(any(test, feature = "test-util"))]
pub mod fake;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod mime;
pub mod model;
pub mod names;
pub mod ports;
pub mod recorder;
pub mod render;
#[cfg(feature = "worker")]
pub mod run;
#[cfg(feature = "worker")]
pub mod runners;
pub mod s3trigger;
pub mod schedule;
#[cfg(feature = "worker")]
pub mod sql;
pub mod state;
#[cfg(test)]
mod tidy;
pub mod webhook;
#[cfg(feature = "worker")]
pub mod worker;

pub use error::{Error, Result, Retry};
