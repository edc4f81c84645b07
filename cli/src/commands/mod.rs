//! The command groups, one module each: the group's clap `Subcommand` (or `Args`) type and its
//! `run`. The spec groups (`job`, `connection`, `s3trigger`) share [`specs::SpecCommand`]; the
//! top-level `match` in `lib.rs` picks the group.

pub(crate) mod activity;
pub(crate) mod checksum;
pub(crate) mod connection;
pub(crate) mod dag;
pub(crate) mod dispatch;
pub(crate) mod history;
pub(crate) mod local;
pub(crate) mod notify;
pub(crate) mod ops;
pub(crate) mod project;
pub(crate) mod ps;
pub(crate) mod realm;
pub(crate) mod schedule;
pub(crate) mod schema;
pub(crate) mod smb;
pub(crate) mod specs;
pub(crate) mod state;
