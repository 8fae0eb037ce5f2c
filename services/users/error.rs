//! The user service's error table: every way a user call can fail, and its gRPC status.

use tonic::Status;

use crate::{
    storage::{StorageError, UserWriteError},
    validate::Violations,
};

#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    #[error("invalid request: {0}")]
    Invalid(Violations),
    #[error("user {0} not found")]
    NotFound(i64),
    #[error("a user with e-mail {0:?} already exists")]
    EmailTaken(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<Violations> for UsersError {
    fn from(violations: Violations) -> Self {
        Self::Invalid(violations)
    }
}

impl From<UserWriteError> for UsersError {
    fn from(error: UserWriteError) -> Self {
        match error {
            UserWriteError::NotFound(id) => Self::NotFound(id),
            UserWriteError::EmailTaken(email) => Self::EmailTaken(email),
            UserWriteError::Storage(e) => Self::Storage(e),
        }
    }
}

impl From<UsersError> for Status {
    fn from(error: UsersError) -> Self {
        match error {
            UsersError::Invalid(violations) => violations.into(),
            UsersError::NotFound(_) => Status::not_found(error.to_string()),
            UsersError::EmailTaken(_) => Status::already_exists(error.to_string()),
            UsersError::Storage(e) => crate::status::storage(&e),
        }
    }
}
