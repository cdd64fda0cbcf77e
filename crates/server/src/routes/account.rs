//! `/auth/me`, `/auth/sessions`, `/auth/security-events`, `/auth/change-password`: a signed-in
//! user's own account (SPEC §4).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use mana_core::Error;
use mana_core::auth::{Authenticated, WRONG_CODE, WRONG_PASSWORD};
use mana_core::ids::SessionId;
use mana_core::tokens::account_key;
use mana_proto::{
    AccountExport, ChangeEmailRequest, ChangePasswordRequest, DeleteAccountRequest, ErrorBody, MessageResponse,
    PageQuery, ProfileView, RevokedSessions, SecurityEventView, SessionView, UpdateProfileRequest,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::extract::page;
use crate::http::{ApiError, AuthUser, Client, JsonBody, QueryParams};
use crate::ratelimit::Budget;
use crate::state::AppState;
use crate::views::{export_view, profile_view, security_event_view, session_view};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me, update_me, delete_me))
        .routes(routes!(change_email))
        .routes(routes!(export))
        .routes(routes!(sessions))
        .routes(routes!(revoke_session))
        .routes(routes!(revoke_other_sessions))
        .routes(routes!(security_events))
        .routes(routes!(change_password))
}

/// The caller's account.
#[utoipa::path(get, path = "/auth/me", tag = "account", security(("bearer" = [])), responses(
    (status = 200, description = "The account", body = ProfileView),
    (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
))]
async fn me(State(state): State<AppState>, AuthUser(caller): AuthUser) -> Result<Json<ProfileView>, ApiError> {
    Ok(Json(profile_view(&state.auth().profile(caller.user_id).await?)))
}

/// Changes the caller's display name.
#[utoipa::path(patch, path = "/auth/me", tag = "account", security(("bearer" = [])), request_body = UpdateProfileRequest,
    responses(
        (status = 200, description = "The account as it is now", body = ProfileView),
        (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
    ),
)]
async fn update_me(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Client(client): Client,
    JsonBody(body): JsonBody<UpdateProfileRequest>,
) -> Result<Json<ProfileView>, ApiError> {
    Ok(Json(profile_view(&state.auth().rename(&caller, body.name.as_deref(), &client).await?)))
}

/// The caller's live sessions, newest first; `current` marks the one asking.
#[utoipa::path(get, path = "/auth/sessions", tag = "account", security(("bearer" = [])), responses(
    (status = 200, description = "Sessions not revoked and not expired", body = Vec<SessionView>),
    (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
))]
async fn sessions(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
) -> Result<Json<Vec<SessionView>>, ApiError> {
    let sessions = state.auth().active_sessions(caller.user_id).await?;
    Ok(Json(sessions.iter().map(|session| session_view(session, caller.session_id)).collect()))
}

/// Ends one of the caller's sessions (another user's id is unknown here: 404).
#[utoipa::path(delete, path = "/auth/sessions/{id}", tag = "account", security(("bearer" = [])),
    params(("id" = String, Path, description = "The session's id")),
    responses(
        (status = 200, description = "The session is over", body = MessageResponse),
        (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
async fn revoke_session(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Client(client): Client,
    Path(id): Path<String>,
) -> Result<Json<MessageResponse>, ApiError> {
    let id: SessionId = id.parse().map_err(|_| Error::NotFound)?;
    state.auth().revoke_session(&caller, id, &client).await?;
    Ok(Json(MessageResponse { message: "Session revoked".into() }))
}

/// Ends every session of the caller but the one asking.
#[utoipa::path(post, path = "/auth/sessions/revoke-others", tag = "account", security(("bearer" = [])), responses(
    (status = 200, description = "How many sessions ended", body = RevokedSessions),
    (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
))]
async fn revoke_other_sessions(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Client(client): Client,
) -> Result<Json<RevokedSessions>, ApiError> {
    let revoked = state.auth().revoke_other_sessions(&caller, &client).await?;
    Ok(Json(RevokedSessions { revoked }))
}

/// The caller's own security log, newest first.
#[utoipa::path(get, path = "/auth/security-events", tag = "account", security(("bearer" = [])), params(PageQuery),
    responses(
        (status = 200, description = "One page of events", body = Vec<SecurityEventView>),
        (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
    ),
)]
async fn security_events(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    QueryParams(query): QueryParams<PageQuery>,
) -> Result<Json<Vec<SecurityEventView>>, ApiError> {
    let events = state.auth().own_security_events(caller.user_id, page(query)?).await?;
    Ok(Json(events.iter().map(security_event_view).collect()))
}

/// Replaces the caller's password; the caller's session stays, every other ends, and a notice
/// is emailed. Wrong current passwords count against the account's failed-login budget.
#[utoipa::path(post, path = "/auth/change-password", tag = "account", security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 200, description = "The password was changed", body = MessageResponse),
        (status = 400, description = "`validation_failed`: the current password is wrong, or the new one is refused", body = ErrorBody),
        (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
    ),
)]
async fn change_password(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Client(client): Client,
    JsonBody(body): JsonBody<ChangePasswordRequest>,
) -> Result<Json<MessageResponse>, ApiError> {
    let result = state.auth().change_password(&caller, &body.current_password, &body.new_password, &client);
    with_password_budget(&state, &caller, result).await?;
    Ok(Json(MessageResponse { message: "Password changed; every other session was signed out".into() }))
}

/// Starts moving the account to another address: a link goes there (the change applies when it
/// is used) and a notice to the current address.
#[utoipa::path(post, path = "/auth/change-email", tag = "account", security(("bearer" = [])),
    request_body = ChangeEmailRequest,
    responses(
        (status = 202, description = "A link is on its way to the new address", body = MessageResponse),
        (status = 400, description = "`validation_failed`: a wrong password, or the same address", body = ErrorBody),
        (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
        (status = 409, description = "`email_taken`: a live account has the new address", body = ErrorBody),
    ),
)]
async fn change_email(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Client(client): Client,
    JsonBody(body): JsonBody<ChangeEmailRequest>,
) -> Result<(StatusCode, Json<MessageResponse>), ApiError> {
    let request = state.auth().request_email_change(&caller, &body.new_email, &body.password, &client);
    with_password_budget(&state, &caller, request).await?;
    let message = "A link to confirm the new address is on its way; the address changes when it is used";
    Ok((StatusCode::ACCEPTED, Json(MessageResponse { message: message.into() })))
}

/// Deletes the caller's account (a soft delete: every session ends, the address is free for a
/// new account, the ledger is kept).
#[utoipa::path(delete, path = "/auth/me", tag = "account", security(("bearer" = [])), request_body = DeleteAccountRequest,
    responses(
        (status = 200, description = "The account is deleted", body = MessageResponse),
        (status = 400, description = "`validation_failed`: the password is wrong", body = ErrorBody),
        (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
    ),
)]
async fn delete_me(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Client(client): Client,
    JsonBody(body): JsonBody<DeleteAccountRequest>,
) -> Result<Json<MessageResponse>, ApiError> {
    let deletion = state.auth().delete_own_account(&caller, &body.password, &client);
    with_password_budget(&state, &caller, deletion).await?;
    Ok(Json(MessageResponse { message: "Account deleted".into() }))
}

/// Runs a request that checks the account's password or a second-factor code under its
/// failed-login budget, as a login does: a wrong one keeps its share of the budget, anything
/// else gives it back.
pub(crate) async fn with_password_budget<T>(
    state: &AppState,
    caller: &Authenticated,
    request: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<T, ApiError> {
    let limiter = state.limiter();
    let account = account_key(&caller.claims.email);
    let reservation = limiter.reserve(Budget::LoginFailures, &account).await.map_err(ApiError::rate_limited)?;
    let result = request.await;
    let wrong_password = matches!(&result, Err(Error::Validation(errors))
        if errors.iter().any(|e| e.message == WRONG_PASSWORD || e.message == WRONG_CODE));
    if !wrong_password {
        limiter.refund(reservation).await;
    }
    Ok(result?)
}

/// Everything stored about the caller, as one JSON document.
#[utoipa::path(get, path = "/auth/me/export", tag = "account", security(("bearer" = [])), responses(
    (status = 200, description = "Profile, every session, the security log, the ledger and purchases", body = AccountExport),
    (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
))]
async fn export(State(state): State<AppState>, AuthUser(caller): AuthUser) -> Result<Json<AccountExport>, ApiError> {
    let export = state.auth().export(caller.user_id).await?;
    Ok(Json(export_view(&export, caller.session_id, state.auth().clock().now())))
}
