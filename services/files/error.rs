//! The file service's error table.

use tonic::Status;

use crate::{storage::StorageError, validate::Violations};

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("invalid request: {0}")]
    Invalid(Violations),
    #[error("file {0:?} not found")]
    NotFound(String),
    #[error("upload exceeds the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    /// The client's stream failed (reset, malformed message): its own status goes back.
    #[error("upload stream failed: {0}")]
    Stream(Status),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<Violations> for FilesError {
    fn from(violations: Violations) -> Self {
        Self::Invalid(violations)
    }
}

impl From<FilesError> for Status {
    fn from(error: FilesError) -> Self {
        match error {
            FilesError::Invalid(violations) => violations.into(),
            FilesError::NotFound(_) => Status::not_found(error.to_string()),
            FilesError::TooLarge { .. } => Status::resource_exhausted(error.to_string()),
            // As it came: the status-code layer corrects tonic's framing codes for every call.
            FilesError::Stream(status) => status,
            FilesError::Storage(e) => crate::status::storage(&e),
        }
    }
}
