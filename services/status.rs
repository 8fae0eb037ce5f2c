//! Pieces shared by the per-service error tables (each service's `error.rs` is where its
//! domain errors become `tonic::Status`; this is only what they would otherwise repeat).

use tonic::Status;

use crate::storage::StorageError;

/// A storage failure as a client sees it: retryable `UNAVAILABLE` when the engine is away,
/// `INTERNAL` when it answered something nonsensical. The detail is logged, not sent.
pub fn storage(error: &StorageError) -> Status {
    match error {
        StorageError::Unavailable(detail) => {
            tracing::warn!(%detail, "storage unavailable");
            Status::unavailable("storage is unavailable, retry later")
        }
        StorageError::Corrupt(detail) => {
            tracing::error!(%detail, "storage returned inconsistent data");
            Status::internal("internal storage error")
        }
    }
}
