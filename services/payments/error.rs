//! The payment service's error table.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, PreconditionViolation, StatusExt};

use super::processor::ProcessorError;
use crate::{
    storage::{PaymentState, StorageError},
    validate::Violations,
};

#[derive(Debug, thiserror::Error)]
pub enum PaymentsError {
    #[error("missing API key: send it in the `x-api-key` metadata")]
    MissingApiKey,
    #[error("unknown API key")]
    UnknownApiKey,
    #[error("invalid request: {0}")]
    Invalid(Violations),
    #[error("payment {0:?} not found")]
    NotFound(String),
    #[error("idempotency-key {0:?} was already used for a different request; use a new key for a new request")]
    IdempotencyKeyReused(String),
    #[error("payment {id:?} is {state:?} and cannot be refunded")]
    NotRefundable { id: String, state: PaymentState },
    #[error("refund exceeds what remains refundable ({remaining_minor} minor units)")]
    ExceedsRemaining { remaining_minor: i64 },
    #[error(transparent)]
    Processor(#[from] ProcessorError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<Violations> for PaymentsError {
    fn from(violations: Violations) -> Self {
        Self::Invalid(violations)
    }
}

impl From<PaymentsError> for Status {
    fn from(error: PaymentsError) -> Self {
        let message = error.to_string();
        match error {
            PaymentsError::MissingApiKey | PaymentsError::UnknownApiKey => Status::unauthenticated(message),
            PaymentsError::Invalid(violations) => violations.into(),
            PaymentsError::NotFound(_) => Status::not_found(message),
            PaymentsError::IdempotencyKeyReused(_) => Status::with_error_details(
                Code::InvalidArgument,
                message,
                ErrorDetails::with_bad_request(vec![FieldViolation::new(
                    "idempotency-key",
                    "was already used for a different request",
                )]),
            ),
            PaymentsError::NotRefundable { id, .. } => Status::with_error_details(
                Code::FailedPrecondition,
                message,
                ErrorDetails::with_precondition_failure(vec![PreconditionViolation::new(
                    "STATUS",
                    format!("payments/{id}"),
                    "only SUCCEEDED or PARTIALLY_REFUNDED payments can be refunded",
                )]),
            ),
            PaymentsError::ExceedsRemaining { .. } => Status::with_error_details(
                Code::FailedPrecondition,
                message,
                ErrorDetails::with_precondition_failure(vec![PreconditionViolation::new(
                    "AMOUNT",
                    "amount_minor",
                    "refunds cannot exceed the amount paid",
                )]),
            ),
            PaymentsError::Processor(ProcessorError::Unavailable(detail)) => {
                tracing::warn!(%detail, "payment processor unavailable");
                Status::unavailable("payment processor unavailable, retry with the same idempotency-key")
            }
            PaymentsError::Storage(e) => crate::status::storage(&e),
        }
    }
}
