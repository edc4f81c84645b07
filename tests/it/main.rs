//! The integration tests: one binary, run against real local servers.

mod aws_adapters;
mod local_realm;
mod worker;
