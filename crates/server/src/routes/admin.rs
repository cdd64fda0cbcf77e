//! `/admin/*`: SPEC §9's API for support and operations. Every route needs an administrator's
//! access token of a live session (403 `forbidden` for anyone else); every change is recorded
//! as a security event on the account it touched, naming the administrator.

use axum::Json;
use axum::extract::{Path, State};
use mana_core::Error;
use mana_core::ids::{SessionId, UserId};
use mana_core::paging::Page;
use mana_core::store::UserOrder;
use mana_proto::{
    AdjustCreditsRequest, AdjustCreditsResponse, AdminPackageView, AdminUserDetailView, DailyUsageView, ErrorBody,
    LedgerReport, MessageResponse, PackageRequest, RevokedSessions, UsageQuery, UserList, UserSearchQuery,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::administration;
use crate::http::{AdminUser, ApiError, Client, JsonBody, QueryParams};
use crate::state::AppState;
use crate::views::admin_user_view;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search_users))
        .routes(routes!(user_detail, delete_user))
        .routes(routes!(revoke_sessions))
        .routes(routes!(revoke_session))
        .routes(routes!(lock_user))
        .routes(routes!(unlock_user))
        .routes(routes!(restore_user))
        .routes(routes!(adjust_credits))
        .routes(routes!(ledger_verify))
        .routes(routes!(usage))
        .routes(routes!(packages))
        .routes(routes!(put_package, withdraw_package))
}

fn user_id(id: &str) -> Result<UserId, ApiError> {
    id.parse().map_err(|_| Error::NotFound.into())
}

fn number(field: &str, text: Option<String>, errors: &mut Vec<mana_proto::FieldError>) -> Option<i64> {
    match text.map(|t| t.trim().parse::<i64>()) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => {
            errors.push(mana_proto::FieldError::new(field, "must be a whole number"));
            None
        }
    }
}

/// Users whose email or name starts with `q` (any case), newest first unless `sort` says
/// `oldest` or `email`, a page at a time, with how many match in all.
#[utoipa::path(get, path = "/admin/users", tag = "admin", security(("bearer" = [])), params(UserSearchQuery),
    responses(
        (status = 200, description = "A page of users", body = UserList),
        (status = 400, description = "`validation_failed`", body = ErrorBody),
        (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
        (status = 403, description = "`forbidden`: not an administrator", body = ErrorBody),
    ),
)]
async fn search_users(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
    QueryParams(query): QueryParams<UserSearchQuery>,
) -> Result<Json<UserList>, ApiError> {
    let mut errors = Vec::new();
    let order = match query.sort.as_deref().map(str::trim) {
        None | Some("" | "newest") => UserOrder::NewestFirst,
        Some("oldest") => UserOrder::OldestFirst,
        Some("email") => UserOrder::Email,
        Some(_) => {
            errors.push(mana_proto::FieldError::new("sort", "must be newest, oldest or email"));
            UserOrder::NewestFirst
        }
    };
    let include_deleted = match query.include_deleted.as_deref().map(str::trim) {
        None | Some("" | "false") => false,
        Some("true") => true,
        Some(_) => {
            errors.push(mana_proto::FieldError::new("includeDeleted", "must be true or false"));
            false
        }
    };
    let page =
        Page { limit: number("limit", query.limit, &mut errors), offset: number("offset", query.offset, &mut errors) };
    if !errors.is_empty() {
        return Err(Error::Validation(errors).into());
    }
    let found = state.auth().search_users(query.q.as_deref(), order, include_deleted, page).await?;
    Ok(Json(UserList { users: found.users.iter().map(admin_user_view).collect(), total: found.total }))
}

/// One account: profile, sessions, security events, identities, 2FA, balance, the latest
/// transactions and the purchases.
#[utoipa::path(get, path = "/admin/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The account", body = AdminUserDetailView),
        (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
async fn user_detail(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
    Path(id): Path<String>,
) -> Result<Json<AdminUserDetailView>, ApiError> {
    Ok(Json(administration::user_detail(&state, user_id(&id)?).await?))
}

/// Soft-deletes the account (its sessions end; its email can be registered again).
#[utoipa::path(delete, path = "/admin/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "Deleted", body = MessageResponse),
        (status = 400, description = "`validation_failed`: one's own account", body = ErrorBody),
        (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
async fn delete_user(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Client(client): Client,
    Path(id): Path<String>,
) -> Result<Json<MessageResponse>, ApiError> {
    state.auth().admin_delete_user(&admin, user_id(&id)?, &client).await?;
    Ok(Json(MessageResponse { message: "Account deleted".into() }))
}

/// Brings a deleted account back (409 `email_taken` if a live account has its email now).
#[utoipa::path(post, path = "/admin/users/{id}/restore", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "Restored (or was not deleted)", body = MessageResponse),
        (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`email_taken`", body = ErrorBody),
    ),
)]
async fn restore_user(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Client(client): Client,
    Path(id): Path<String>,
) -> Result<Json<MessageResponse>, ApiError> {
    state.auth().restore_user(&admin, user_id(&id)?, &client).await?;
    Ok(Json(MessageResponse { message: "Account restored".into() }))
}

/// Ends every session of the account.
#[utoipa::path(post, path = "/admin/users/{id}/sessions/revoke", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "How many ended", body = RevokedSessions),
        (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
async fn revoke_sessions(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Client(client): Client,
    Path(id): Path<String>,
) -> Result<Json<RevokedSessions>, ApiError> {
    let revoked = state.auth().admin_revoke_sessions(&admin, user_id(&id)?, &client).await?;
    Ok(Json(RevokedSessions { revoked }))
}

/// Ends one session of the account.
#[utoipa::path(delete, path = "/admin/users/{id}/sessions/{session_id}", operation_id = "admin_revoke_session", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path), ("session_id" = String, Path)),
    responses(
        (status = 200, description = "Ended", body = MessageResponse),
        (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
async fn revoke_session(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Client(client): Client,
    Path((id, session_id)): Path<(String, String)>,
) -> Result<Json<MessageResponse>, ApiError> {
    let session: SessionId = session_id.parse().map_err(|_| Error::NotFound)?;
    state.auth().admin_revoke_session(&admin, user_id(&id)?, session, &client).await?;
    Ok(Json(MessageResponse { message: "Session revoked".into() }))
}

/// Locks the account: its sessions end and it cannot sign in (403 `account_locked`) until it
/// is unlocked.
#[utoipa::path(post, path = "/admin/users/{id}/lock", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "Locked", body = MessageResponse),
        (status = 400, description = "`validation_failed`: one's own account", body = ErrorBody),
        (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
async fn lock_user(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Client(client): Client,
    Path(id): Path<String>,
) -> Result<Json<MessageResponse>, ApiError> {
    state.auth().lock_user(&admin, user_id(&id)?, &client).await?;
    Ok(Json(MessageResponse { message: "Account locked".into() }))
}

#[utoipa::path(post, path = "/admin/users/{id}/unlock", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "Unlocked", body = MessageResponse),
        (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
async fn unlock_user(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Client(client): Client,
    Path(id): Path<String>,
) -> Result<Json<MessageResponse>, ApiError> {
    state.auth().unlock_user(&admin, user_id(&id)?, &client).await?;
    Ok(Json(MessageResponse { message: "Account unlocked".into() }))
}

/// Adds paid credits, or takes them back (negative `amount`), as an `adjustment` with the
/// reason as its description and the administrator in its metadata. With `idempotencyKey`, a
/// retry answers the first result and moves nothing.
#[utoipa::path(post, path = "/admin/users/{id}/credits", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)),
    request_body = AdjustCreditsRequest,
    responses(
        (status = 200, description = "The adjustment and the new balance", body = AdjustCreditsResponse),
        (status = 400, description = "`validation_failed`", body = ErrorBody),
        (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
        (status = 402, description = "`insufficient_credits`: the paid credits do not cover what is taken back", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`idempotency_key_reused`", body = ErrorBody),
    ),
)]
async fn adjust_credits(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Client(client): Client,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<AdjustCreditsRequest>,
) -> Result<Json<AdjustCreditsResponse>, ApiError> {
    let user = user_id(&id)?;
    let key = body.idempotency_key.as_deref();
    Ok(Json(administration::adjust_credits(&state, &admin, user, body.amount, &body.reason, key, &client).await?))
}

/// Checks every ledger invariant, as `mana-core-auth ledger verify` does.
#[utoipa::path(get, path = "/admin/ledger/verify", tag = "admin", security(("bearer" = [])),
    responses(
        (status = 200, description = "The report", body = LedgerReport),
        (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
    ),
)]
async fn ledger_verify(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
) -> Result<Json<LedgerReport>, ApiError> {
    Ok(Json(administration::ledger_report(&state).await?))
}

/// Credits used per app and day across all users, `from` to `to` (default: the last 30 days).
#[utoipa::path(get, path = "/admin/usage", tag = "admin", security(("bearer" = [])), params(UsageQuery),
    responses(
        (status = 200, description = "Oldest day first", body = Vec<DailyUsageView>),
        (status = 400, description = "`validation_failed`", body = ErrorBody),
        (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
    ),
)]
async fn usage(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
    QueryParams(query): QueryParams<UsageQuery>,
) -> Result<Json<Vec<DailyUsageView>>, ApiError> {
    let (from, to) = administration::usage_days(&state, query.from.as_deref(), query.to.as_deref())?;
    Ok(Json(administration::usage(&state, from, to).await?))
}

/// Every package, withdrawn ones too, in display order.
#[utoipa::path(get, path = "/admin/packages", operation_id = "admin_packages", tag = "admin", security(("bearer" = [])),
    responses(
        (status = 200, description = "The catalogue", body = Vec<AdminPackageView>),
        (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
    ),
)]
async fn packages(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
) -> Result<Json<Vec<AdminPackageView>>, ApiError> {
    Ok(Json(administration::packages(&state).await?))
}

/// Adds the package, or changes the one with this id (purchases already made keep what they
/// cost).
#[utoipa::path(put, path = "/admin/packages/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "a-z, 0-9, - and _ (at most 64)")),
    request_body = PackageRequest,
    responses(
        (status = 200, description = "Saved", body = AdminPackageView),
        (status = 400, description = "`validation_failed`", body = ErrorBody),
        (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
    ),
)]
async fn put_package(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Client(client): Client,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<PackageRequest>,
) -> Result<Json<AdminPackageView>, ApiError> {
    Ok(Json(administration::save_package(&state, &admin, id, body, &client).await?))
}

/// Withdraws the package from sale; purchases already made keep it.
#[utoipa::path(delete, path = "/admin/packages/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "Withdrawn", body = MessageResponse),
        (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
async fn withdraw_package(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Client(client): Client,
    Path(id): Path<String>,
) -> Result<Json<MessageResponse>, ApiError> {
    administration::withdraw_package(&state, &admin, &id, &client).await?;
    Ok(Json(MessageResponse { message: format!("Package {id} withdrawn from sale") }))
}
