//! `/auth/*`: SPEC §2.1.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use mana_core::Error;
use mana_core::auth::Registration;
use mana_core::email::Email;
use mana_core::tokens::account_key;
use mana_proto::{
    ErrorBody, ErrorCode, ForgotPasswordRequest, LoginRequest, LoginResponse, LogoutRequest, MessageResponse,
    RefreshRequest, RegisterRequest, RegisteredUser, ResetPasswordRequest, TokenResponse, ValidateRequest,
    ValidateResponse, VerifyEmailRequest,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::client_ip::ClientIp;
use crate::http::extract::parse_optional_json;
use crate::http::{ApiError, AuthUser, Client, JsonBody};
use crate::ratelimit::{Budget, ip_key};
use crate::state::AppState;
use crate::views::{registered_user, token_response};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(validate))
        .routes(routes!(forgot_password))
        .routes(routes!(reset_password))
        .routes(routes!(verify_email))
        .routes(routes!(resend_verification))
}

/// Creates an account with the signup bonus and the first daily allowance.
#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = RegisterRequest, responses(
    (status = 201, description = "The account was created", body = RegisteredUser),
    (status = 409, description = "`email_taken`: a live account has this email", body = ErrorBody),
))]
async fn register(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    Client(client): Client,
    JsonBody(body): JsonBody<RegisterRequest>,
) -> Result<(StatusCode, Json<RegisteredUser>), ApiError> {
    state.limiter().check(Budget::Register, &ip_key(ip)).await.map_err(ApiError::rate_limited)?;
    let registration = Registration { email: body.email, password: body.password, name: body.name };
    let user = state.auth().register(registration, &client).await?;
    Ok((StatusCode::CREATED, Json(registered_user(&user))))
}

/// Signs in with email and password; starts a session. Failed logins are throttled per
/// account, with known devices let through (see `crate::login` for the whole policy).
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest, responses(
    (status = 200, description = "Signed in; or, for an account with a second factor, `mfaRequired` with the token for `POST /auth/2fa/verify`", body = LoginResponse),
    (status = 401, description = "`invalid_credentials`", body = ErrorBody),
    (status = 403, description = "`email_not_verified` (with `REQUIRE_EMAIL_VERIFICATION`): a new link was sent", body = ErrorBody),
))]
async fn login(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    Client(client): Client,
    JsonBody(body): JsonBody<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    Ok(Json(crate::login::sign_in(&state, ip, &client, body).await?))
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
    caller: Option<AuthUser>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<MessageResponse>, ApiError> {
    if let Some(AuthUser(caller)) = caller {
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

/// Sends a password-reset link if a live account has this address. The answer is the same,
/// and as fast, either way: the lookup and the email happen after it.
#[utoipa::path(post, path = "/auth/forgot-password", tag = "auth", request_body = ForgotPasswordRequest, responses(
    (status = 202, description = "If the account exists, a reset link is on its way", body = MessageResponse),
))]
async fn forgot_password(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    Client(client): Client,
    JsonBody(body): JsonBody<ForgotPasswordRequest>,
) -> Result<(StatusCode, Json<MessageResponse>), ApiError> {
    let email = Email::parse(&body.email).map_err(|problem| Error::invalid_field("email", problem.to_string()))?;
    state.limiter().check(Budget::EmailLinks, &ip_key(ip)).await.map_err(ApiError::rate_limited)?;
    let account = account_key(email.as_str());
    state.limiter().check(Budget::EmailLinksPerAccount, &account).await.map_err(ApiError::rate_limited)?;
    let background = state.clone();
    state
        .after_answer(async move {
            if let Err(error) = background.auth().request_password_reset(&email, &client).await {
                tracing::error!(error = format!("{error:#}"), "a password-reset request failed");
            }
        })
        .await;
    let message = "If an account uses this address, a link to reset its password is on its way";
    Ok((StatusCode::ACCEPTED, Json(MessageResponse { message: message.into() })))
}

/// Sets a new password with the token of a reset link; every session of the account ends and a
/// notice is emailed.
#[utoipa::path(post, path = "/auth/reset-password", tag = "auth", request_body = ResetPasswordRequest, responses(
    (status = 200, description = "The password was changed; sign in with it", body = MessageResponse),
    (status = 400, description = "`invalid_link_token` or `validation_failed`", body = ErrorBody),
))]
async fn reset_password(
    State(state): State<AppState>,
    Client(client): Client,
    JsonBody(body): JsonBody<ResetPasswordRequest>,
) -> Result<Json<MessageResponse>, ApiError> {
    state.auth().reset_password(&body.token, &body.password, &client).await?;
    Ok(Json(MessageResponse { message: "Password changed; every session was signed out".into() }))
}

/// Confirms the account's address with the token of a verification link.
#[utoipa::path(post, path = "/auth/verify-email", tag = "auth", request_body = VerifyEmailRequest, responses(
    (status = 200, description = "The address is verified", body = MessageResponse),
    (status = 400, description = "`invalid_link_token`", body = ErrorBody),
))]
async fn verify_email(
    State(state): State<AppState>,
    Client(client): Client,
    JsonBody(body): JsonBody<VerifyEmailRequest>,
) -> Result<Json<MessageResponse>, ApiError> {
    state.auth().verify_email(&body.token, &client).await?;
    Ok(Json(MessageResponse { message: "Email address verified".into() }))
}

/// Sends a new verification link to the caller, unless their address is verified already.
#[utoipa::path(post, path = "/auth/resend-verification", tag = "auth", security(("bearer" = [])), responses(
    (status = 202, description = "A new link is on its way if the address is not verified yet", body = MessageResponse),
    (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
))]
async fn resend_verification(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    AuthUser(caller): AuthUser,
) -> Result<(StatusCode, Json<MessageResponse>), ApiError> {
    state.limiter().check(Budget::EmailLinks, &ip_key(ip)).await.map_err(ApiError::rate_limited)?;
    let account = format!("user:{}", caller.user_id);
    state.limiter().check(Budget::EmailLinksPerAccount, &account).await.map_err(ApiError::rate_limited)?;
    state.auth().resend_verification(caller.user_id).await?;
    Ok((StatusCode::ACCEPTED, Json(MessageResponse { message: "A verification link is on its way".into() })))
}
