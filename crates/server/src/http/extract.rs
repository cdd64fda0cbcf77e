//! Extractors that turn a request into typed, checked values, failing with the envelope.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use mana_core::auth::Authenticated;
use mana_core::store::ClientInfo;
use serde::de::DeserializeOwned;

use super::ApiError;
use super::client_ip::ClientIp;
use crate::state::AppState;

const MAX_USER_AGENT_CHARS: usize = 512;

/// A JSON body of type `T`; every way it can be wrong becomes a 4xx envelope.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        Json::<T>::from_request(request, state).await.map(|Json(value)| JsonBody(value)).map_err(json_rejection)
    }
}

/// Query parameters of type `T`; unknown or malformed ones are a 400 envelope.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state).await.map(|Query(value)| QueryParams(value)).map_err(
            |rejection: QueryRejection| {
                let detail = rejection.body_text();
                let detail = detail.trim_start_matches("Failed to deserialize query string: ");
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", format!("Invalid query string: {detail}"))
            },
        )
    }
}

/// For bodies that are optional: parses `bytes` as JSON if there are any.
pub fn parse_optional_json<T: DeserializeOwned>(headers: &HeaderMap, bytes: &Bytes) -> Result<Option<T>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(unsupported_media_type());
    }
    Json::<T>::from_bytes(bytes).map(|Json(value)| Some(value)).map_err(json_rejection)
}

fn unsupported_media_type() -> ApiError {
    ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "Content-Type must be application/json")
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => unsupported_media_type(),
        JsonRejection::JsonSyntaxError(_) => {
            ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", "The request body is not valid JSON")
        }
        JsonRejection::JsonDataError(error) => {
            // serde's account of the mismatch names only fields of our own API.
            let detail = error.body_text();
            let detail = detail.trim_start_matches("Failed to deserialize the JSON body into the target type: ");
            let code = if detail.contains("unknown field") { "unknown_field" } else { "invalid_body" };
            ApiError::new(StatusCode::BAD_REQUEST, code, format!("Invalid request body: {detail}"))
        }
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "The request body is larger than 64 KiB")
        }
        other => ApiError::from_status(other.status()),
    }
}

/// Where the request came from: the client address as `client_ip` resolved it.
pub struct Client(pub ClientInfo);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ip = parts.extensions.get::<ClientIp>().map(|ClientIp(ip)| ip.to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect());
        Ok(Client(ClientInfo { ip, user_agent }))
    }
}

/// The bearer token of the `Authorization` header, if one is sent.
pub fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || {
        ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", "The Authorization header must be 'Bearer <token>'")
            .with_challenge("Bearer error=\"invalid_request\"")
    };
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, token) = value.split_once(' ').ok_or_else(malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(malformed());
    }
    Ok(Some(token))
}

/// A caller with a valid access token of a live session. Routes that take it cannot be
/// reached without one.
pub struct AuthUser(pub Authenticated);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(&parts.headers)?.ok_or_else(|| {
            ApiError::new(StatusCode::UNAUTHORIZED, "missing_token", "A Bearer access token is required")
                .with_challenge("Bearer")
        })?;
        let caller = state.auth().authenticate(token).await?;
        tracing::Span::current().record("user_id", tracing::field::display(caller.user_id));
        Ok(AuthUser(caller))
    }
}
