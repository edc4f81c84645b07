//! The lava library. Every deployable (the Lambdas, the worker, the CLI) is built from it.
//! Its modules are layers that import downwards only (a test keeps it so); read bottom-up:
//!
//! 1. Model, pure: [`model`] (records and messages with their validation), [`error`],
//!    [`names`] (resource names of a realm), [`documents`] (spec files), [`cmdline`].
//! 2. Configuration and ports: [`config`] (the table of keys and their defaults), [`ports`]
//!    (the traits application code talks to), [`render`] (Jinja as Python's), [`recorder`]
//!    (event writing), [`schedule`], [`mime`], [`webhook`].
//! 3. Adapters: [`aws`] (the only module importing the AWS SDK), `docker_engine` (feature
//!    `docker`), `fake` (feature `test-util`: in-memory ports for tests).
//! 4. Services: [`catalog`], [`state`], [`connections`], [`dispatch`], [`actions`],
//!    [`s3trigger`], [`history`] (runs read back), `lambda` (feature `lambda`).
//! 5. The worker (feature `worker`): `sql`, `runners` (one per job type), `run` (one run of a
//!    job), `worker` (the poll loop).
#![warn(missing_docs)]

/// The version of the original lava (jinlava) whose contract this lava keeps: its tables,
/// messages, events, results and tools (the differential suite runs it beside this one).
pub const ORIGINAL_VERSION: &str = "8.3.0";

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
pub mod health;
pub mod history;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod mime;
pub mod model;
pub mod names;
pub mod ops;
pub mod ports;
pub mod recorder;
pub mod render;
#[cfg(feature = "worker")]
pub mod run;
pub mod run_events;
#[cfg(feature = "worker")]
pub mod runners;
pub mod s3trigger;
pub mod schedule;
#[cfg(feature = "smb")]
pub mod smb;
pub mod smtp;
#[cfg(feature = "worker")]
pub mod sql;
pub mod state;
#[cfg(test)]
mod tidy;
pub mod webhook;
#[cfg(feature = "worker")]
pub mod worker;

pub use error::{Error, Result, Retry};
