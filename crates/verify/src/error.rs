//! Why a request carries no usable token, and the response that says so in the server's own
//! error shape (`{statusCode, code, message, requestId}`), so clients of this service and of the
//! server handle both alike: `token_expired` means refresh and retry.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mana_proto::{ErrorBody, ErrorCode, TokenRejection};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// No `Authorization: Bearer` header.
    Missing,
    /// The token was refused, for this reason.
    Rejected(TokenRejection),
    /// The server's keys (or, with a revocation check, its answer) could not be had.
    Unavailable(String),
}

impl std::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VerifyError::Missing => write!(f, "no bearer token"),
            VerifyError::Rejected(reason) => write!(f, "token refused: {}", reason.code()),
            VerifyError::Unavailable(why) => write!(f, "tokens cannot be checked now: {why}"),
        }
    }
}

impl std::error::Error for VerifyError {}

impl VerifyError {
    pub fn status(&self) -> StatusCode {
        match self {
            VerifyError::Missing | VerifyError::Rejected(_) => StatusCode::UNAUTHORIZED,
            VerifyError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            VerifyError::Missing => ErrorCode::MissingToken,
            VerifyError::Rejected(TokenRejection::Expired) => ErrorCode::TokenExpired,
            VerifyError::Rejected(_) => ErrorCode::InvalidToken,
            VerifyError::Unavailable(_) => ErrorCode::ServiceUnavailable,
        }
    }
}

impl IntoResponse for VerifyError {
    fn into_response(self) -> Response {
        self.response("")
    }
}

impl VerifyError {
    /// The response, quoting the request's `x-request-id` (empty when it has none).
    pub fn response(self, request_id: &str) -> Response {
        let status = self.status();
        let message = match &self {
            // The reason for a refused token is for this service's logs, not for whoever sent it.
            VerifyError::Rejected(reason) => {
                tracing::debug!(reason = reason.code(), "access token refused");
                self.code().meaning().to_owned()
            }
            VerifyError::Unavailable(why) => {
                tracing::warn!(%why, "access tokens cannot be checked");
                self.code().meaning().to_owned()
            }
            VerifyError::Missing => self.code().meaning().to_owned(),
        };
        let body = ErrorBody {
            status_code: status.as_u16(),
            code: self.code(),
            message,
            request_id: request_id.to_owned(),
            errors: None,
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            let challenge = match self {
                VerifyError::Missing => "Bearer",
                _ => "Bearer error=\"invalid_token\"",
            };
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        response
    }
}
