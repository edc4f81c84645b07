//! The integration tests: one binary, run against real local servers.

mod actions;
mod db_from_s3;
mod docker;
mod history;
mod iam_db;
mod infra;
mod local_realm;
mod localstack;
mod metrics;
mod migration;
mod operator;
mod pipeline;
mod project;
mod redshift_unload;
mod run_events;
mod schedule;
mod smb;
mod sql;
mod ssh;
mod tls;
mod tools;
mod worker;
