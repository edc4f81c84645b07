//! lava's services over its ports, above `lava-model` and `lava-render`; read bottom-up:
//!
//! 1. Configuration and ports: [`config`] (the table of keys and their defaults), [`ports`]
//!    (the traits the services talk to), [`schedule`] (cron as cronie fires it), [`recorder`]
//!    and [`run_events`] (event writing), [`health`].
//! 2. Clients outside AWS: [`mime`] and [`smtp`] (email), [`webhook`] (Slack), `smb` (feature
//!    `smb`: file shares).
//! 3. Services: [`catalog`] (jobs, connections, triggers and realms read back), [`state`],
//!    [`history`] (runs read back), [`connections`], [`dispatch`], [`actions`], [`s3trigger`].
//! 4. `fake` (feature `test-util`): in-memory ports for tests.
#![warn(missing_docs)]

pub mod actions;
pub mod catalog;
pub mod config;
pub mod connections;
pub mod dispatch;
#[cfg(any(test, feature = "test-util"))]
pub mod fake;
pub mod health;
pub mod history;
pub mod mime;
pub mod ports;
pub mod recorder;
pub mod run_events;
pub mod s3trigger;
pub mod schedule;
#[cfg(feature = "smb")]
pub mod smb;
pub mod smtp;
pub mod state;
pub mod webhook;

use lava_model::{Error, Retry, cmdline, error, model, names};
use lava_render as render;
