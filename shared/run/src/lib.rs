//! lava's worker, above `lava-core`: [`sql`] (the SQL drivers, loads and exports), [`runners`]
//! (one per job type), [`run`] (one run of a job, from its message to its last event) and
//! [`worker`] (the poll loop, leases and shutdown); `docker_engine` (feature `docker`) is the
//! Docker Engine adapter.
#![warn(missing_docs)]

#[cfg(feature = "docker")]
pub mod docker_engine;
pub mod run;
pub mod runners;
pub mod sql;
pub mod worker;

#[cfg(test)]
use lava_core::fake;
#[cfg(feature = "smb")]
use lava_core::smb;
use lava_core::{actions, catalog, config, connections, dispatch, health, ports, recorder, run_events, state};
use lava_model::{Error, Result, cmdline, error, model, names};
use lava_render as render;
