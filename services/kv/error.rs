//! The key-value service's error table.

use tonic::Status;

use crate::{storage::StorageError, validate::Violations};

#[derive(Debug, thiserror::Error)]
pub enum KvError {
    #[error("invalid request: {0}")]
    Invalid(Violations),
    #[error("Key not found")]
    KeyNotFound(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<Violations> for KvError {
    fn from(violations: Violations) -> Self {
        Self::Invalid(violations)
    }
}

impl From<KvError> for Status {
    fn from(error: KvError) -> Self {
        match error {
            KvError::Invalid(violations) => violations.into(),
            // "Key not found" is also what the legacy text protocol prints after `ERROR: `.
            KvError::KeyNotFound(_) => Status::not_found(error.to_string()),
            KvError::Storage(e) => crate::status::storage(&e),
        }
    }
}
