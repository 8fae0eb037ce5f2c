//! The one error type of the client: a gRPC status sorted into what a caller acts on
//! differently (fix the input, log in, wait and retry, give up). The rich details the server
//! attaches (`google.rpc.BadRequest`, `RetryInfo`, `PreconditionFailure`) are decoded here, so
//! no caller has to look inside a `Status`.

use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::StatusExt;

/// One bad field of a request, as the server's `google.rpc.BadRequest` names it
/// (`user.email`, `page_token`, the `idempotency-key` metadata…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The user, key, payment or file does not exist.
    #[error("not found: {message}")]
    NotFound { message: String },
    /// The request is wrong; `fields` names every bad field (empty if the server named none).
    #[error("invalid argument: {message}")]
    InvalidArgument { message: String, fields: Vec<FieldViolation> },
    /// The thing being created exists already (an e-mail, a chat name).
    #[error("already exists: {message}")]
    AlreadyExists { message: String },
    /// The system is not in a state that allows this (e.g. refunding a failed payment);
    /// `violations` are the `PreconditionFailure` descriptions, if any.
    #[error("failed precondition: {message}")]
    FailedPrecondition { message: String, violations: Vec<String> },
    /// No or an unknown credential (`--api-key` / `--token`).
    #[error("unauthenticated: {message}")]
    Unauthenticated { message: String },
    /// The credential is known but not allowed to do this.
    #[error("permission denied: {message}")]
    PermissionDenied { message: String },
    /// `RESOURCE_EXHAUSTED`: rate limited (`retry_after` from the server's `RetryInfo`) or a
    /// size limit (no `retry_after`: retrying the same request cannot help).
    #[error("{}", rate_limited_text(message, retry_after))]
    RateLimited { message: String, retry_after: Option<Duration> },
    /// The call's deadline passed before an answer came (on the client or the server).
    #[error("deadline exceeded: {message}")]
    DeadlineExceeded { message: String },
    /// The server or the connection is unavailable; retrying later may work.
    #[error("unavailable: {message}")]
    Unavailable { message: String },
    /// The client was configured wrongly (a bad server URI, unreadable TLS files, metadata
    /// that cannot be a header). Never returned by a call.
    #[error("invalid client configuration: {0}")]
    Config(String),
    /// Any other status (`CANCELLED`, `ABORTED`, `INTERNAL`, `UNKNOWN`…), kept whole.
    #[error("{} ({:?}): {}", "rpc failed", .0.code(), .0.message())]
    Other(Box<Status>),
}

fn rate_limited_text(message: &str, retry_after: &Option<Duration>) -> String {
    match retry_after {
        Some(after) => format!("rate limited, retry after {} ms: {message}", after.as_millis()),
        None => format!("resource exhausted: {message}"),
    }
}

impl Error {
    /// The gRPC code this error stands for.
    pub fn code(&self) -> Code {
        match self {
            Error::NotFound { .. } => Code::NotFound,
            Error::InvalidArgument { .. } | Error::Config(_) => Code::InvalidArgument,
            Error::AlreadyExists { .. } => Code::AlreadyExists,
            Error::FailedPrecondition { .. } => Code::FailedPrecondition,
            Error::Unauthenticated { .. } => Code::Unauthenticated,
            Error::PermissionDenied { .. } => Code::PermissionDenied,
            Error::RateLimited { .. } => Code::ResourceExhausted,
            Error::DeadlineExceeded { .. } => Code::DeadlineExceeded,
            Error::Unavailable { .. } => Code::Unavailable,
            Error::Other(status) => status.code(),
        }
    }

    pub(crate) fn deadline(timeout: Duration) -> Self {
        Error::DeadlineExceeded { message: format!("no answer within {} ms", timeout.as_millis()) }
    }
}

impl From<Status> for Error {
    fn from(status: Status) -> Self {
        let message = status.message().to_owned();
        match status.code() {
            Code::NotFound => Error::NotFound { message },
            Code::InvalidArgument => {
                let fields = status
                    .get_details_bad_request()
                    .map(|bad| {
                        bad.field_violations
                            .into_iter()
                            .map(|v| FieldViolation { field: v.field, description: v.description })
                            .collect()
                    })
                    .unwrap_or_default();
                Error::InvalidArgument { message, fields }
            }
            Code::AlreadyExists => Error::AlreadyExists { message },
            Code::FailedPrecondition => {
                let violations = status
                    .get_details_precondition_failure()
                    .map(|failure| failure.violations.into_iter().map(|v| v.description).collect())
                    .unwrap_or_default();
                Error::FailedPrecondition { message, violations }
            }
            Code::Unauthenticated => Error::Unauthenticated { message },
            Code::PermissionDenied => Error::PermissionDenied { message },
            Code::ResourceExhausted => {
                let retry_after = status.get_details_retry_info().and_then(|info| info.retry_delay);
                Error::RateLimited { message, retry_after }
            }
            Code::DeadlineExceeded => Error::DeadlineExceeded { message },
            Code::Unavailable => Error::Unavailable { message },
            _ => Error::Other(Box::new(status)),
        }
    }
}

#[cfg(test)]
mod tests {
    use tonic_types::{ErrorDetails, StatusExt};

    use super::*;

    #[test]
    fn bad_request_fields_are_decoded() {
        let status = Status::with_error_details(
            Code::InvalidArgument,
            "bad",
            ErrorDetails::with_bad_request(vec![
                tonic_types::FieldViolation::new("user.email", "must be an e-mail"),
                tonic_types::FieldViolation::new("user.age", "0 to 150"),
            ]),
        );
        let Error::InvalidArgument { fields, .. } = Error::from(status) else { panic!("not InvalidArgument") };
        let names: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(names, ["user.email", "user.age"]);
    }

    #[test]
    fn retry_info_becomes_retry_after() {
        let status = Status::with_error_details(
            Code::ResourceExhausted,
            "slow down",
            ErrorDetails::with_retry_info(Some(Duration::from_millis(1500))),
        );
        let error = Error::from(status);
        assert!(matches!(error, Error::RateLimited { retry_after: Some(d), .. } if d == Duration::from_millis(1500)));
        assert!(error.to_string().contains("retry after 1500 ms"), "{error}");
        let plain = Error::from(Status::resource_exhausted("too large"));
        assert!(matches!(plain, Error::RateLimited { retry_after: None, .. }));
    }

    #[test]
    fn other_codes_keep_the_status() {
        let error = Error::from(Status::aborted("watch fell behind"));
        assert_eq!(error.code(), Code::Aborted);
        assert!(matches!(error, Error::Other(_)));
    }
}
