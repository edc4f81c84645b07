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
    /// state id, a bad trigger spec, a connection that is not enabled, a run already under way).
    #[error("{0}")]
    Refused(String),
    /// A service, a program, the engine or the clock answered in a way lava cannot use (a
    /// response without the field it must have, undecodable data, a missing client program).
    #[error("{0}")]
    Unexpected(String),
    /// An error in the context of what it happened to (`Connection my-pg`); it keeps the
    /// source's retry class.
    #[error("{context}: {source}")]
    In {
        /// What it happened to.
        context: String,
        /// The error.
        #[source]
        source: Box<Error>,
    },
    /// A database refused a connection or a statement; the message is the database's own text.
    #[error("{message}")]
    Database {
        /// The database's message.
        message: String,
        /// Transient for a lost or refused connection, permanent for a statement the database
        /// rejects.
        retry: Retry,
        /// The driver's error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
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
    /// An AWS call failed. A service's answer is worded as the original's botocore worded it
    /// (`An error occurred (Code) when calling the Op operation: message`), which its users'
    /// alerts and templates read; anything else names the service and operation.
    #[error("{}", aws_text(.service, .operation, .code, .message, .source.is_some()))]
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
    /// A server outside AWS that lava sends to (an SMTP server, a webhook) failed or refused.
    #[error("{protocol} {operation}: {message}")]
    Remote {
        /// The protocol, e.g. `smtp`.
        protocol: &'static str,
        /// What was being done, e.g. `send`.
        operation: &'static str,
        /// The server and what went wrong (never secrets).
        message: String,
        /// Retry classification.
        retry: Retry,
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
    /// A run's event was not written: another worker took the run over (its lease is no longer
    /// this worker's), so this worker must stop the run and leave its message alone.
    #[error("run {run_id}: another worker took the run over; this worker's event was not written")]
    LeaseLost {
        /// The run.
        run_id: String,
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
            Error::Aws { retry, .. } | Error::Database { retry, .. } | Error::Remote { retry, .. } => *retry,
            Error::Io { .. } => Retry::Transient,
            Error::In { source, .. } => source.retry(),
            Error::Refused(_)
            | Error::Unexpected(_)
            | Error::Config { .. }
            | Error::NotFound { .. }
            | Error::Invalid(_)
            | Error::LeaseLost { .. }
            | Error::Json { .. } => Retry::Permanent,
        }
    }

    /// Whether DynamoDB answered that the table has no such index (DynamoDB's
    /// `ValidationException` "The table does not have the specified index", moto's
    /// `ResourceNotFoundException` "Invalid index"): a realm whose tables the original's template
    /// made lacks the indexes this project adds.
    pub fn is_missing_index(&self) -> bool {
        match self {
            Error::Aws { service: "dynamodb", code: Some(code), message, .. } => {
                (code == "ValidationException" && message.contains("specified index"))
                    || (code == "ResourceNotFoundException" && message.contains("Invalid index"))
            }
            Error::In { source, .. } => source.is_missing_index(),
            _ => false,
        }
    }

    /// Whether this is (or wraps) [`Error::LeaseLost`].
    pub fn is_lease_lost(&self) -> bool {
        match self {
            Error::LeaseLost { .. } => true,
            Error::In { source, .. } => source.is_lease_lost(),
            _ => false,
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

    /// A refused request or value, in the context of `what` (`<what>: <reason>`).
    pub fn refused(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Refused(reason.into()).within(what)
    }

    /// An answer lava cannot use, in the context of `what` (`<what>: <reason>`).
    pub fn unexpected(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Unexpected(reason.into()).within(what)
    }

    /// This error in the context of `context` (`<context>: <self>`), keeping its retry class.
    pub fn within(self, context: impl Into<String>) -> Self {
        Error::In { context: context.into(), source: Box::new(self) }
    }

    /// Shorthand for a configuration error.
    pub fn config(var: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Config { var: var.into(), reason: reason.into() }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// [`Error::Aws`]'s text.
fn aws_text(service: &str, operation: &str, code: &Option<String>, message: &str, answered: bool) -> String {
    match code {
        Some(code) if answered => {
            format!("An error occurred ({code}) when calling the {operation} operation: {message}")
        }
        _ => format!("{service} {operation}: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_is_printed_first_and_the_retry_class_is_the_sources() {
        let aws = Error::Aws {
            service: "ssm",
            operation: "GetParameter",
            code: Some("ThrottlingException".into()),
            message: "slow down".into(),
            retry: Retry::Transient,
            source: None,
        };
        let e = aws.within("SSM parameter /p").within("Connection pg");
        assert_eq!(e.to_string(), "Connection pg: SSM parameter /p: ssm GetParameter: slow down");
        assert_eq!(e.retry(), Retry::Transient);
        let refused = Error::refused("Connection pg", "Not enabled");
        assert_eq!((refused.to_string().as_str(), refused.retry()), ("Connection pg: Not enabled", Retry::Permanent));
        assert!(std::error::Error::source(&refused).is_some(), "the cause stays reachable");
    }
}
