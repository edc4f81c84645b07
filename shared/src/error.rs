//! The crate's error type, with retry classification.

use crate::model::ValidationErrors;

/// Whether an operation that failed is worth trying again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// A passing fault (throttling, timeouts, 5xx): try again later.
    Transient,
    /// Trying again gives the same answer (bad input, missing item, access denied).
    Permanent,
}

/// Everything that can go wrong in lava's library code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request or value that lava refuses (a worker mismatch, a delay out of range, a reserved
    /// state id, a bad trigger spec, a run that is already under way).
    #[error("{what}: {reason}")]
    Refused {
        /// What was refused (a field, a record).
        what: String,
        /// Why.
        reason: String,
    },
    /// A service, the engine or the clock answered in a way lava cannot use (a response without
    /// the field it must have, undecodable data).
    #[error("{what}: {reason}")]
    Unexpected {
        /// Where (a service, an attribute, `clock`).
        what: String,
        /// What was wrong.
        reason: String,
    },
    /// A setting is missing or malformed.
    #[error("configuration {var}: {reason}")]
    Config {
        /// The variable or option name.
        var: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A record that should exist does not.
    #[error("{what} {id}: not found")]
    NotFound {
        /// The kind of record (job, realm, connection…).
        what: &'static str,
        /// Its key.
        id: String,
    },
    /// A record or request failed validation.
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    /// An AWS call failed.
    #[error("{service} {operation}: {message}")]
    Aws {
        /// Service name, e.g. `dynamodb`.
        service: &'static str,
        /// Operation name, e.g. `GetItem`.
        operation: &'static str,
        /// The service's error code where it gave one.
        code: Option<String>,
        /// Human-readable message (never contains secrets).
        message: String,
        /// Retry classification.
        retry: Retry,
        /// The SDK error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A local I/O failure.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A value could not be (de)serialised.
    #[error("{context}: {source}")]
    Json {
        /// What was being (de)serialised.
        context: String,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
}

impl Error {
    /// Whether trying again may succeed.
    pub fn retry(&self) -> Retry {
        match self {
            Error::Aws { retry, .. } => *retry,
            Error::Io { .. } => Retry::Transient,
            Error::Refused { .. }
            | Error::Unexpected { .. }
            | Error::Config { .. }
            | Error::NotFound { .. }
            | Error::Invalid(_)
            | Error::Json { .. } => Retry::Permanent,
        }
    }

    /// Shorthand for an I/O error with context.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }

    /// Shorthand for a serde error with context.
    pub fn json(context: impl Into<String>, source: serde_json::Error) -> Self {
        Error::Json { context: context.into(), source }
    }

    /// Shorthand for a refused request or value.
    pub fn refused(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Refused { what: what.into(), reason: reason.into() }
    }

    /// Shorthand for an answer lava cannot use.
    pub fn unexpected(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Unexpected { what: what.into(), reason: reason.into() }
    }

    /// Shorthand for a configuration error.
    pub fn config(var: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Config { var: var.into(), reason: reason.into() }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
