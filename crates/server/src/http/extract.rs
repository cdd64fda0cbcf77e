//! Extractors that turn a request into typed, checked values, failing with the envelope.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use mana_core::auth::Authenticated;
use mana_core::store::ClientInfo;
use mana_proto::{AccessTokenClaims, ErrorCode, FieldError};
use serde::de::DeserializeOwned;

use super::ApiError;
use super::client_ip::ClientIp;

const MAX_USER_AGENT_CHARS: usize = 512;

/// A JSON body of type `T`; every way it can be wrong becomes a 4xx envelope.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(request.headers()) {
            return Err(unsupported_media_type());
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ErrorCode::PayloadTooLarge,
                    "The request body is larger than 64 KiB",
                )
            } else {
                ApiError::from_status(rejection.status())
            }
        })?;
        parse_json(&bytes).map(JsonBody)
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
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::InvalidQuery,
                    format!("Invalid query string: {detail}"),
                )
            },
        )
    }
}

/// For bodies that are optional: parses `bytes` as JSON if there are any.
pub fn parse_optional_json<T: DeserializeOwned>(headers: &HeaderMap, bytes: &Bytes) -> Result<Option<T>, ApiError> {
    // No body, or JSON `null`, is the absent body the schema allows.
    if bytes.iter().all(u8::is_ascii_whitespace) || bytes.trim_ascii() == b"null" {
        return Ok(None);
    }
    if !is_json(headers) {
        return Err(unsupported_media_type());
    }
    parse_json(bytes).map(Some)
}

/// `application/json`, or a structured `+json` type, with any parameters.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|mime| mime.trim().to_ascii_lowercase())
        .is_some_and(|mime| mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json")))
}

fn unsupported_media_type() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::UnsupportedMediaType,
        "Content-Type must be application/json",
    )
}

/// Parses a body, naming the field and what it should be when a value has the wrong type,
/// rather than passing on the parser's wording (`invalid type: floating point ..., expected
/// i64 at line 1 column 14`).
fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Every body of this API is an object; serde would read a struct from an array too.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            Ok(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidBody, "The request body must be a JSON object")
            }
            Err(error) => body_error(".", error),
        });
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|error| body_error(&error.path().to_string(), error.into_inner()))?;
    deserializer.end().map_err(|error| body_error(".", error))?;
    Ok(value)
}

/// The envelope for a body that did not parse; `path` is where, `.` for the body itself.
fn body_error(path: &str, error: serde_json::Error) -> ApiError {
    if error.is_syntax() || error.is_eof() || error.is_io() {
        return ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::MalformedJson, "The request body is not valid JSON");
    }
    let detail = error.to_string();
    let detail = detail.split(" at line ").next().unwrap_or_default();
    if let Some(field) = detail.strip_prefix("unknown field `").and_then(|rest| rest.split('`').next()) {
        let field = if path == "." { field.to_owned() } else { format!("{path}.{field}") };
        return ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::UnknownField, format!("Unknown field `{field}`"));
    }
    if path == "." {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidBody,
            "The request body must be a JSON object",
        );
    }
    ApiError::validation(vec![FieldError::new(path, expected_kind(detail))])
}

/// What serde expected, in the words of the API rather than of Rust.
fn expected_kind(detail: &str) -> &'static str {
    let expected = detail.rsplit("expected ").next().unwrap_or_default();
    if ["i64", "i32", "u64", "u32", "integer"].iter().any(|kind| expected.contains(kind))
        || detail.contains("out of range")
    {
        "must be a whole number"
    } else if expected.contains("string") {
        "must be a string"
    } else if expected.contains("bool") {
        "must be true or false"
    } else if expected.contains("map") || expected.contains("struct") {
        "must be an object"
    } else {
        "has the wrong type"
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

pub fn missing_token() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::MissingToken, "A Bearer access token is required")
        .with_challenge("Bearer realm=\"mana-core-auth\"")
}

/// The bearer token of the `Authorization` header, if one is sent.
pub fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidToken,
            "The Authorization header must be 'Bearer <token>'",
        )
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

/// The claims of the request's Bearer token, once its signature and lifetime were checked (by
/// the rate limiter, which needs the user). The session check is still to come.
#[derive(Debug, Clone)]
pub struct VerifiedAccessToken(pub AccessTokenClaims);

/// A caller with a valid access token of a live session. Routes that take it cannot be
/// reached without one.
pub struct AuthUser(pub Authenticated);

impl<S: super::HttpState> FromRequestParts<S> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        <Self as OptionalFromRequestParts<S>>::from_request_parts(parts, state).await?.ok_or_else(missing_token)
    }
}

/// `Option<AuthUser>`: `None` without an `Authorization` header; a header with a bad token is
/// still refused.
impl<S: super::HttpState> OptionalFromRequestParts<S> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Option<Self>, ApiError> {
        let Some(token) = bearer_token(&parts.headers)? else {
            return Ok(None);
        };
        // The rate limiter verified the signature already; only the session check is left.
        let caller = match parts.extensions.remove::<VerifiedAccessToken>() {
            Some(VerifiedAccessToken(claims)) => state.auth().authenticate_verified(claims).await?,
            None => state.auth().authenticate(token).await?,
        };
        tracing::Span::current().record("user_id", tracing::field::display(caller.user_id));
        Ok(Some(AuthUser(caller)))
    }
}

/// A caller whose live session is an administrator's (the role as stored now, not as the
/// token says). Anyone else is refused with 403 `forbidden`.
pub struct AdminUser(pub Authenticated);

impl<S: super::HttpState> FromRequestParts<S> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let AuthUser(caller) = <AuthUser as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        if caller.role != mana_core::ids::Role::Admin {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                mana_proto::ErrorCode::Forbidden,
                "This needs an administrator",
            ));
        }
        Ok(AdminUser(caller))
    }
}

/// The page a `?limit=&offset=` query asks for; a value that is not a whole number is named.
pub fn page(query: mana_proto::PageQuery) -> Result<mana_core::paging::Page, ApiError> {
    let mut errors = Vec::new();
    let mut number = |field: &str, text: Option<String>| match text.map(|t| t.trim().parse::<i64>()) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => {
            errors.push(mana_proto::FieldError::new(field, "must be a whole number"));
            None
        }
    };
    let page = mana_core::paging::Page { limit: number("limit", query.limit), offset: number("offset", query.offset) };
    if errors.is_empty() { Ok(page) } else { Err(mana_core::Error::Validation(errors).into()) }
}
