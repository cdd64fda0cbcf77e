//! `/auth/me`, `/auth/sessions`, `/auth/security-events`, `/auth/change-password`: a signed-in
//! user's own account (SPEC §4).

use axum::Json;
use axum::extract::{Path, State};
use mana_core::Error;
use mana_core::ids::SessionId;
use mana_core::tokens::account_key;
use mana_proto::{
    ChangePasswordRequest, ErrorBody, MessageResponse, PageQuery, ProfileView, RevokedSessions, SecurityEventView,
    SessionView, UpdateProfileRequest,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::extract::page;
use crate::http::{ApiError, AuthUser, Client, JsonBody, QueryParams};
use crate::ratelimit::Budget;
use crate::state::AppState;
use crate::views::{profile_view, security_event_view, session_view};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me, update_me))
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
    let limiter = state.limiter();
    let account = account_key(&caller.claims.email);
    let reservation = limiter.reserve(Budget::LoginFailures, &account).await.map_err(ApiError::rate_limited)?;
    let result = state.auth().change_password(&caller, &body.current_password, &body.new_password, &client).await;
    let wrong_password =
        matches!(&result, Err(Error::Validation(errors)) if errors.iter().any(|e| e.field == "currentPassword"));
    if !wrong_password {
        limiter.refund(reservation).await;
    }
    result?;
    Ok(Json(MessageResponse { message: "Password changed; every other session was signed out".into() }))
}
