//! The data model: serde types for every record lava stores or sends, and their validation.
//! No I/O and no AWS types here.

pub mod action;
pub mod connection;
pub mod connection_type;
pub mod container;
pub mod event;
pub mod job;
pub mod job_type;
pub mod json_schema;
pub mod limits;
pub mod message;
pub mod params;
pub mod pipeline;
pub mod realm;
pub mod s3trigger;
pub mod schedule;
pub mod state;
pub mod validation;
pub mod values;

pub use action::{Action, ActionKey};
pub use connection::ConnectionEntry;
pub use connection_type::ConnectionType;
pub use container::ContainerHost;
pub use event::{
    Claim, EventLogEntry, EventRecord, EventStatus, EventUpdate, LEASE_DONE, LEASE_RELEASED, LeaseRequest, Predecessor,
    lease_attributes,
};
pub use job::{Enabled, JobSpec};
pub use job_type::JobType;
pub use limits::Limits;
pub use message::{MessageError, WorkerMessage};
pub use params::JobParameters;
pub use realm::RealmEntry;
pub use s3trigger::S3TriggerEntry;
pub use state::{StateItem, StateType};
pub use validation::{Report, ValidationError, ValidationErrors};
pub use values::{DurationSpec, S3Location};

#[cfg(test)]
mod spec_examples;
