//! What can go wrong with a call: the server's refusal (its status and `code`, from the fixed
//! catalogue every client can match on), no answer at all, no session, or a store that failed.

use mana_proto::{ErrorBody, ErrorCode, FieldError};

/// A refusal of the server, as its error body says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: ErrorCode,
    pub message: String,
    pub request_id: String,
    pub field_errors: Vec<FieldError>,
    /// Seconds to wait before retrying, when the server said (429, 503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(status: u16, body: ErrorBody, retry_after: Option<u64>) -> Self {
        Self {
            status,
            code: body.code,
            message: body.message,
            request_id: body.request_id,
            field_errors: body.errors.unwrap_or_default(),
            retry_after,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// The server refused the request.
    Api(ApiError),
    /// The server could not be reached, or its answer was not readable.
    Network(String),
    /// The call needs a session and none is stored: sign in first.
    NoSession,
    /// The token store could not be read or written.
    Store(String),
}

impl ClientError {
    /// The server's code, for a refusal.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Api(error) => Some(error.code),
            _ => None,
        }
    }

    /// Whether the request may not have reached the server or was refused for now only, so
    /// that the same request (with the same idempotency key) may be sent again.
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Network(_) => true,
            ClientError::Api(error) => error.status >= 500 || error.code == ErrorCode::RateLimited,
            _ => false,
        }
    }
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Api(error) => write!(f, "{} {}: {}", error.status, error.code.as_str(), error.message),
            ClientError::Network(why) => write!(f, "mana-core-auth could not be reached: {why}"),
            ClientError::NoSession => write!(f, "no session: sign in first"),
            ClientError::Store(why) => write!(f, "the token store failed: {why}"),
        }
    }
}

impl std::error::Error for ClientError {}

pub type ClientResult<T> = Result<T, ClientError>;
