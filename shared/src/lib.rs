//! The lava library every deployable (the Lambdas, the worker, the CLI) is built from: a facade
//! over the layer crates under `shared/`, which import downwards only (the compiler keeps it so),
//! and the composition root. Read bottom-up:
//!
//! 1. `lava-model`: [`model`] (records and messages with their validation), [`error`],
//!    [`names`] (resource names of a realm), [`documents`] (spec files), [`cmdline`].
//! 2. `lava-render`: [`render`] (Jinja as the original's Python renders it).
//! 3. `lava-core`: [`config`], [`ports`] (the traits the services talk to), the services
//!    ([`catalog`], [`state`], [`connections`], [`dispatch`], [`actions`], [`s3trigger`],
//!    [`history`], ...), the clients outside AWS ([`smtp`], [`webhook`], `smb`) and `fake`.
//! 4. `lava-aws`: [`aws`], the only crate importing the AWS SDK. Beside it, `lava-run` (feature
//!    `worker`): `sql`, `runners`, `run`, `worker`, `docker_engine`.
//! 5. Here: [`wiring`] (which adapters make each deployable's ports) and `lambda` (feature
//!    `lambda`: the functions' SQS glue).
#![warn(missing_docs)]

pub use lava_aws as aws;
#[cfg(feature = "test-util")]
pub use lava_core::fake;
#[cfg(feature = "smb")]
pub use lava_core::smb;
pub use lava_core::{
    actions, catalog, config, connections, dispatch, health, history, mime, ports, recorder, run_events, s3trigger,
    schedule, smtp, state, webhook,
};
pub use lava_model::{Error, ORIGINAL_VERSION, Result, Retry, cmdline, documents, error, model, names};
pub use lava_render as render;
#[cfg(feature = "docker")]
pub use lava_run::docker_engine;
#[cfg(feature = "worker")]
pub use lava_run::{run, runners, sql, worker};

#[cfg(feature = "lambda")]
pub mod lambda;
#[cfg(test)]
mod tidy;
pub mod wiring;
