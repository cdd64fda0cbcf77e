//! The error envelope of SPEC §2, for every error the service answers with.
//!
//! Handlers return [`ApiError`]; domain errors convert with an exhaustive match. Any error
//! response that did not come from an `ApiError` (the router's 404 and 405, a caught panic, a
//! layer's rejection) is rewritten into the envelope by [`envelope_stray_errors`], so no client
//! ever sees a bare status or an internal message.

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use mana_core::Error;
use mana_core::tokens::TokenRejection;
use mana_proto::{ErrorBody, ErrorCode, FieldError};

use super::request_id;
use crate::ratelimit::Limited;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    pub errors: Option<Vec<FieldError>>,
    /// For 401: the `WWW-Authenticate` challenge (RFC 6750).
    pub challenge: Option<&'static str>,
    /// For 429 and 503: `Retry-After`, in seconds.
    pub retry_after: Option<u64>,
}

/// Marks a response whose body is final (the envelope, or an error page for people), and tells
/// the request log its code.
#[derive(Debug, Clone, Copy)]
pub struct Enveloped(pub ErrorCode);

/// The challenge of a 401 that names no more precise one (RFC 9110 requires one on every 401).
const DEFAULT_CHALLENGE: &str = "Bearer realm=\"mana-core-auth\"";

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), errors: None, challenge: None, retry_after: None }
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        Self {
            errors: Some(errors),
            ..Self::new(StatusCode::BAD_REQUEST, ErrorCode::ValidationFailed, "Request validation failed")
        }
    }

    pub fn internal(cause: &anyhow::Error) -> Self {
        // The cause chain goes to the log only.
        tracing::error!(error = format!("{cause:#}"), "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::InternalError, "Internal server error")
    }

    pub fn with_challenge(mut self, challenge: &'static str) -> Self {
        self.challenge = Some(challenge);
        self
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// Over a rate limit: 429 with the wait in `Retry-After`.
    pub fn rate_limited(limited: Limited) -> Self {
        let seconds = limited.retry_after_seconds();
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            format!("Too many requests; retry after {seconds} s"),
        )
        .with_retry_after(seconds)
    }

    /// The generic error for a bare status code.
    pub fn from_status(status: StatusCode) -> Self {
        let code = match status.as_u16() {
            401 => ErrorCode::Unauthorized,
            403 => ErrorCode::Forbidden,
            404 => ErrorCode::NotFound,
            405 => ErrorCode::MethodNotAllowed,
            408 => ErrorCode::RequestTimeout,
            413 => ErrorCode::PayloadTooLarge,
            415 => ErrorCode::UnsupportedMediaType,
            429 => ErrorCode::RateLimited,
            503 => ErrorCode::ServiceUnavailable,
            500..=599 => ErrorCode::InternalError,
            _ => ErrorCode::BadRequest,
        };
        let message = status.canonical_reason().unwrap_or("Error");
        Self::new(status, code, message)
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        match error {
            Error::Validation(errors) => ApiError::validation(errors),
            Error::EmailTaken => {
                ApiError::new(StatusCode::CONFLICT, ErrorCode::EmailTaken, "An account with this email already exists")
            }
            Error::InvalidCredentials => {
                ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::InvalidCredentials, "Invalid credentials")
            }
            Error::EmailNotVerified => {
                ApiError::new(StatusCode::FORBIDDEN, ErrorCode::EmailNotVerified, "Email address not verified")
            }
            Error::NotFound => ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "Not found"),
            Error::InvalidMfaToken => {
                ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::InvalidMfaToken, "Invalid or expired mfa token")
            }
            Error::InvalidSecondFactor => {
                ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::InvalidTwoFactorCode, "Invalid two-factor code")
            }
            Error::TwoFactorAlreadyEnabled => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::TwoFactorAlreadyEnabled,
                "Two-factor authentication is already enabled",
            ),
            Error::TwoFactorNotEnabled => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::TwoFactorNotEnabled,
                "Two-factor authentication is not enabled",
            ),
            Error::TwoFactorNotSetUp => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::TwoFactorNotSetUp,
                "Set up two-factor authentication first",
            ),
            Error::AccountLocked => ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::AccountLocked,
                "This account is locked; contact support",
            ),
            Error::InvalidOAuthState => ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidOauthState,
                "Unknown, used or expired sign-in state; start the sign-in again",
            ),
            Error::InvalidExchangeCode => ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidExchangeCode,
                "Invalid or expired exchange code",
            ),
            Error::EmailInUse => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::EmailInUse,
                "An account uses this email; sign in to it and link the provider",
            ),
            Error::IdentityInUse => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::IdentityInUse,
                "This provider account is linked to another account",
            ),
            Error::LastSignInMethod => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::LastSignInMethod,
                "This is the account's last way to sign in; set a password first",
            ),
            Error::EmailNotProvided => ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::EmailNotProvided,
                "The provider gave no verified email address",
            ),
            Error::InvalidLinkToken => {
                ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidLinkToken, "Invalid or expired link")
            }
            Error::InvalidRefreshToken => {
                ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::InvalidRefreshToken, "Invalid refresh token")
                    .with_challenge("Bearer error=\"invalid_token\", error_description=\"invalid refresh token\"")
            }
            Error::InvalidAccessToken(TokenRejection::Expired) => ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::TokenExpired,
                "The access token has expired; refresh it",
            )
            .with_challenge("Bearer error=\"invalid_token\", error_description=\"token expired\""),
            Error::InvalidAccessToken(reason) => ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::InvalidToken,
                format!("Invalid access token ({reason})"),
            )
            .with_challenge("Bearer error=\"invalid_token\""),
            Error::InsufficientCredits => ApiError::new(
                StatusCode::PAYMENT_REQUIRED,
                ErrorCode::InsufficientCredits,
                "Not enough credits for this request",
            ),
            Error::IdempotencyKeyReused => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::IdempotencyKeyReused,
                "This idempotency key was used for a different request",
            ),
            Error::Conflict => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::Conflict,
                "The resource was changed by a concurrent request; retry",
            ),
            Error::Unavailable(cause) => {
                tracing::warn!(error = format!("{cause:#}"), "database unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::ServiceUnavailable,
                    "The service is briefly unavailable; retry the request",
                )
                .with_retry_after(1)
            }
            Error::Internal(cause) => ApiError::internal(&cause),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            status_code: self.status.as_u16(),
            code: self.code,
            message: self.message,
            request_id: request_id::current(),
            errors: self.errors,
        };
        let mut response = (self.status, Json(body)).into_response();
        let challenge = self.challenge.or((self.status == StatusCode::UNAUTHORIZED).then_some(DEFAULT_CHALLENGE));
        if let Some(challenge) = challenge {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response.extensions_mut().insert(Enveloped(self.code));
        response
    }
}

/// Rewrites any error response that is not yet an envelope, keeping its status and headers
/// (such as `Allow` on a 405) but replacing its body.
pub async fn envelope_stray_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || response.extensions().get::<Enveloped>().is_some() {
        return response;
    }
    let (mut parts, _body) = response.into_parts();
    parts.headers.remove(header::CONTENT_TYPE);
    parts.headers.remove(header::CONTENT_LENGTH);
    let replacement = ApiError::from_status(status).into_response();
    let (replacement_parts, body) = replacement.into_parts();
    parts.headers.extend(replacement_parts.headers);
    parts.extensions.extend(replacement_parts.extensions);
    Response::from_parts(parts, body)
}
