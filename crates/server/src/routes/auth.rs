//! `/auth/*`: SPEC §2.1.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use mana_core::Error;
use mana_core::auth::{IssuedTokens, LoginAttempt, Registration};
use mana_core::store::User;
use mana_core::tokens::account_key;
use mana_proto::limits::DEVICE_TOKEN_MAX_CHARS;
use mana_proto::{
    ErrorBody, ErrorCode, LoginRequest, LogoutRequest, MessageResponse, RefreshRequest, RegisterRequest,
    RegisteredUser, TokenResponse, TokenUser, ValidateRequest, ValidateResponse,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::extract::{bearer_token, parse_optional_json};
use crate::http::{ApiError, Client, JsonBody};
use crate::ratelimit::Budget;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(validate))
}

/// Creates an account with the signup bonus and the first daily allowance.
#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = RegisterRequest, responses(
    (status = 201, description = "The account was created", body = RegisteredUser),
    (status = 409, description = "`email_taken`: a live account has this email", body = ErrorBody),
))]
async fn register(
    State(state): State<AppState>,
    Client(client): Client,
    JsonBody(body): JsonBody<RegisterRequest>,
) -> Result<(StatusCode, Json<RegisteredUser>), ApiError> {
    let registration = Registration { email: body.email, password: body.password, name: body.name };
    let user = state.auth().register(registration, &client).await?;
    Ok((StatusCode::CREATED, Json(registered_user(&user))))
}

/// Signs in with email and password; starts a session.
///
/// Failed logins are throttled per account: before the password is checked, one failure is
/// taken from the account's budget (or, for a device that signed in before and says so with its
/// `deviceToken`, from that device's own budget), and given back if the login succeeds. While
/// the budget is spent every login for it is 429, the right password included.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest, responses(
    (status = 200, description = "Signed in", body = TokenResponse),
    (status = 401, description = "`invalid_credentials`", body = ErrorBody),
))]
async fn login(
    State(state): State<AppState>,
    Client(client): Client,
    JsonBody(body): JsonBody<LoginRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let auth = state.auth();
    if body.device_token.as_ref().is_some_and(|token| token.len() > DEVICE_TOKEN_MAX_CHARS) {
        let message = format!("must be at most {DEVICE_TOKEN_MAX_CHARS} characters");
        return Err(Error::invalid_field("deviceToken", message).into());
    }
    let account = account_key(&body.email);
    let device =
        body.device_token.as_deref().and_then(|token| auth.tokens().known_device(token, &account, auth.clock().now()));
    let reservation = match &device {
        Some(device) => state.limiter().reserve(Budget::DeviceLoginFailures, &device.id).await,
        None => state.limiter().reserve(Budget::LoginFailures, &account).await,
    }
    .map_err(|limited| {
        tracing::warn!(known_device = device.is_some(), "failed-login budget spent; login refused");
        ApiError::rate_limited(limited)
    })?;
    let attempt = LoginAttempt {
        email: body.email,
        password: body.password,
        device_id: body.device_id,
        device_name: body.device_name,
    };
    let issued = match auth.login(attempt, &client).await {
        // The reserved failure is kept.
        Err(Error::InvalidCredentials) => return Err(Error::InvalidCredentials.into()),
        other => {
            state.limiter().refund(reservation).await;
            other?
        }
    };
    let device_token = auth.tokens().issue_device_token(&account, auth.clock().now()).map_err(Error::Internal)?;
    let mut response = token_response(issued);
    response.device_token = Some(device_token);
    Ok(Json(response))
}

/// Trades a refresh token for a new pair; the old refresh token is spent.
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshRequest, responses(
    (status = 200, description = "A new token pair for the same session", body = TokenResponse),
    (status = 401, description = "`invalid_refresh_token`", body = ErrorBody),
))]
async fn refresh(
    State(state): State<AppState>,
    Client(client): Client,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    if body.refresh_token.trim().is_empty() {
        return Err(Error::invalid_field("refreshToken", "is required").into());
    }
    let issued = state.auth().refresh(&body.refresh_token, &client).await?;
    Ok(Json(token_response(issued)))
}

/// Ends the session named by the Bearer token, or else by the refresh token in the body.
#[utoipa::path(post, path = "/auth/logout", tag = "auth",
    request_body(content = Option<LogoutRequest>, description = "Only without a Bearer token"),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The session is over", body = MessageResponse),
        (status = 401, description = "`missing_token`, `invalid_token`, `token_expired` or `invalid_refresh_token`", body = ErrorBody),
    ),
)]
async fn logout(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<MessageResponse>, ApiError> {
    if let Some(token) = bearer_token(&headers)? {
        let caller = state.auth().authenticate(token).await?;
        state.auth().logout(&caller, &client).await?;
    } else {
        let request: Option<LogoutRequest> = parse_optional_json(&headers, &body)?;
        let refresh_token =
            request.and_then(|r| r.refresh_token).filter(|t| !t.trim().is_empty()).ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    ErrorCode::MissingToken,
                    "Send a Bearer access token or a refreshToken in the body",
                )
            })?;
        state.auth().logout_with_refresh_token(&refresh_token, &client).await?;
    }
    Ok(Json(MessageResponse { message: "Logged out".into() }))
}

/// Answers 200 for any token, valid or not; only a request without a token, or a failure on
/// our side, is an error.
#[utoipa::path(post, path = "/auth/validate", tag = "auth", request_body = ValidateRequest, responses(
    (status = 200, description = "Whether the token is valid, with its claims or the reason it is not", body = ValidateResponse),
))]
async fn validate(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<ValidateRequest>,
) -> Result<Json<ValidateResponse>, ApiError> {
    if body.token.trim().is_empty() {
        return Err(Error::invalid_field("token", "is required").into());
    }
    let response = match state.auth().authenticate(body.token.trim()).await {
        Ok(caller) => ValidateResponse { valid: true, payload: Some(caller.claims), error: None },
        Err(Error::InvalidAccessToken(reason)) => ValidateResponse { valid: false, payload: None, error: Some(reason) },
        Err(other) => return Err(other.into()),
    };
    Ok(Json(response))
}

fn registered_user(user: &User) -> RegisteredUser {
    RegisteredUser {
        id: user.id.to_string(),
        email: user.email.to_string(),
        name: user.name.clone(),
        role: user.role.to_string(),
        email_verified: user.email_verified,
        created_at: user.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    }
}

fn token_response(issued: IssuedTokens) -> TokenResponse {
    TokenResponse {
        user: TokenUser {
            id: issued.user.id.to_string(),
            email: issued.user.email.to_string(),
            name: issued.user.name.clone(),
            role: issued.user.role.to_string(),
        },
        access_token: issued.access_token,
        refresh_token: issued.refresh_token.expose(),
        expires_in: issued.expires_in,
        token_type: "Bearer".into(),
        device_token: None,
    }
}
