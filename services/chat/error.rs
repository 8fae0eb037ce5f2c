//! The chat service's error table. Errors that end a session become the stream's status;
//! errors of one request inside a session become a `ChatError` event and the session goes on.

use tonic::{Code, Status};

use crate::validate::Violations;

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("the first request of a chat session must be `join`")]
    NotJoined,
    #[error("no join request within {0} seconds")]
    JoinTimeout(u64),
    #[error("the name {0:?} is already taken in this room")]
    NameTaken(String),
    #[error("invalid request: {0}")]
    Invalid(Violations),
    #[error("already joined as {0:?}; a session joins once")]
    AlreadyJoined(String),
    #[error("empty request: set one of join, say, list_members, quit")]
    EmptyRequest,
    #[error("the server is shutting down; reconnect to join")]
    ShuttingDown,
    #[error("chat is unavailable: the message bus cannot be reached; retry later")]
    Unavailable,
}

impl From<Violations> for ChatError {
    fn from(violations: Violations) -> Self {
        Self::Invalid(violations)
    }
}

impl ChatError {
    pub fn code(&self) -> Code {
        match self {
            ChatError::NotJoined | ChatError::AlreadyJoined(_) => Code::FailedPrecondition,
            ChatError::JoinTimeout(_) => Code::DeadlineExceeded,
            ChatError::NameTaken(_) => Code::AlreadyExists,
            ChatError::Invalid(_) | ChatError::EmptyRequest => Code::InvalidArgument,
            ChatError::ShuttingDown => Code::Unavailable,
            ChatError::Unavailable => Code::Unavailable,
        }
    }
}

impl From<ChatError> for Status {
    fn from(error: ChatError) -> Self {
        match error {
            ChatError::Invalid(violations) => violations.into(),
            other => Status::new(other.code(), other.to_string()),
        }
    }
}
