//! Finding a user, and everything support does to one account: end sessions, lock and unlock,
//! delete and restore, adjust credits. Each change is the admin API's own operation (the same
//! rules, the same security event naming the administrator), answered with a redirect back to
//! the account's page and a note of what was done.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use mana_core::Error;
use mana_core::crypto::{base64url_encode, random_bytes};
use mana_core::ids::{SessionId, UserId};
use mana_core::paging::Page;
use mana_core::store::UserOrder;
use mana_proto::{AdminUserDetailView, AdminUserView};
use serde::Deserialize;

use super::pages::{Problem, query, render};
use super::session::{AdminForm, ConsoleAdmin, NoFields};
use crate::administration;
use crate::http::Client;
use crate::state::AppState;
use crate::views::admin_user_view;

/// Users per page of the list.
const PAGE_SIZE: i64 = 50;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    deleted: String,
    #[serde(default)]
    offset: String,
}

#[derive(Template)]
#[template(path = "console/users.html")]
struct UsersPage<'a> {
    admin_email: &'a str,
    csrf: &'a str,
    q: &'a str,
    sort: &'a str,
    include_deleted: bool,
    users: Vec<AdminUserView>,
    total: i64,
    first: i64,
    last: i64,
    previous: Option<String>,
    next: Option<String>,
}

pub async fn list(State(state): State<AppState>, admin: ConsoleAdmin, RawQuery(raw): RawQuery) -> Response {
    let query: ListQuery = query(raw);
    let order = match query.sort.as_str() {
        "oldest" => UserOrder::OldestFirst,
        "email" => UserOrder::Email,
        _ => UserOrder::NewestFirst,
    };
    let include_deleted = query.deleted == "on";
    let offset = query.offset.trim().parse::<i64>().unwrap_or(0).max(0);
    let q = query.q.trim();
    let page = Page { limit: Some(PAGE_SIZE), offset: Some(offset) };
    let found = match state.auth().search_users(Some(q), order, include_deleted, page).await {
        Ok(found) => found,
        Err(error) => return Problem::from(error).into_response(),
    };
    let link = |offset: i64| {
        let offset = offset.to_string();
        let mut pairs = vec![("q", q), ("sort", query_sort(order)), ("offset", &offset)];
        if include_deleted {
            pairs.push(("deleted", "on"));
        }
        format!("/admin/users?{}", serde_urlencoded::to_string(&pairs).unwrap_or_default())
    };
    let shown = found.users.len() as i64;
    let page = UsersPage {
        admin_email: admin.email(),
        csrf: &admin.csrf,
        q,
        sort: query_sort(order),
        include_deleted,
        users: found.users.iter().map(admin_user_view).collect(),
        total: found.total,
        first: if shown == 0 { 0 } else { offset + 1 },
        last: offset + shown,
        previous: (offset > 0).then(|| link((offset - PAGE_SIZE).max(0))),
        next: (offset + shown < found.total).then(|| link(offset + PAGE_SIZE)),
    };
    render(StatusCode::OK, &page)
}

fn query_sort(order: UserOrder) -> &'static str {
    match order {
        UserOrder::NewestFirst => "newest",
        UserOrder::OldestFirst => "oldest",
        UserOrder::Email => "email",
    }
}

#[derive(Template)]
#[template(path = "console/user.html")]
struct UserPage<'a> {
    admin_email: &'a str,
    csrf: &'a str,
    detail: AdminUserDetailView,
    notice: Option<&'static str>,
    problem: Option<String>,
    /// A fresh key for the adjustment form: sending the same form twice adjusts once.
    adjustment_key: String,
}

#[derive(Deserialize, Default)]
pub struct DetailQuery {
    #[serde(default)]
    done: String,
}

/// What a finished action says on the page it returns to.
fn notice(done: &str) -> Option<&'static str> {
    Some(match done {
        "sessions" => "Every session of the account was ended.",
        "session" => "The session was ended.",
        "locked" => "The account is locked: its sessions ended and it cannot sign in.",
        "unlocked" => "The account is unlocked.",
        "deleted" => "The account is deleted.",
        "restored" => "The account is restored.",
        "credits" => "The credits were adjusted.",
        _ => return None,
    })
}

fn user_id(id: &str) -> Result<UserId, Problem> {
    id.parse().map_err(|_| Error::NotFound.into())
}

pub async fn show(
    State(state): State<AppState>,
    admin: ConsoleAdmin,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let query: DetailQuery = query(raw);
    user_page(&state, &admin, &id, StatusCode::OK, notice(&query.done), None).await
}

async fn user_page(
    state: &AppState,
    admin: &ConsoleAdmin,
    id: &str,
    status: StatusCode,
    notice: Option<&'static str>,
    problem: Option<String>,
) -> Response {
    let detail = match user_id(id) {
        Ok(user) => administration::user_detail(state, user).await.map_err(Problem::from),
        Err(problem) => Err(problem),
    };
    match detail {
        Ok(detail) => render(
            status,
            &UserPage {
                admin_email: admin.email(),
                csrf: &admin.csrf,
                detail,
                notice,
                problem,
                adjustment_key: base64url_encode(&random_bytes::<16>()),
            },
        ),
        Err(problem) => problem.into_response(),
    }
}

/// After an action: back to the account with its note, or the account's page with what went
/// wrong.
async fn finish(state: &AppState, admin: &ConsoleAdmin, id: &str, outcome: Result<&str, Problem>) -> Response {
    match outcome {
        Ok(done) => Redirect::to(&format!("/admin/users/{id}?done={done}")).into_response(),
        Err(problem) if problem.status == StatusCode::NOT_FOUND => problem.into_response(),
        Err(problem) => user_page(state, admin, id, problem.status, None, Some(problem.message)).await,
    }
}

/// An action on the account, named by the last segment of the form's address
/// (`/admin/users/{id}/lock`); `sessions/revoke` ends every session.
#[derive(Clone, Copy)]
enum Action {
    RevokeSessions,
    Lock,
    Unlock,
    Delete,
    Restore,
}

impl Action {
    fn named(name: &str) -> Option<Self> {
        Some(match name {
            "lock" => Action::Lock,
            "unlock" => Action::Unlock,
            "delete" => Action::Delete,
            "restore" => Action::Restore,
            _ => return None,
        })
    }
}

/// `POST /admin/users/{id}/{action}`.
pub async fn account_action(
    State(state): State<AppState>,
    client: Client,
    Path((id, action)): Path<(String, String)>,
    form: AdminForm<NoFields>,
) -> Response {
    match Action::named(&action) {
        Some(action) => act(state, form, client, id, action).await,
        None => Problem::from(Error::NotFound).into_response(),
    }
}

/// `POST /admin/users/{id}/sessions/revoke`.
pub async fn revoke_sessions(
    State(state): State<AppState>,
    client: Client,
    Path(id): Path<String>,
    form: AdminForm<NoFields>,
) -> Response {
    act(state, form, client, id, Action::RevokeSessions).await
}

async fn act(state: AppState, form: AdminForm<NoFields>, client: Client, id: String, action: Action) -> Response {
    let (admin, Client(client)) = (form.admin, client);
    let outcome: Result<&str, Problem> = async {
        let user = user_id(&id)?;
        let auth = state.auth();
        let done = match action {
            Action::RevokeSessions => auth.admin_revoke_sessions(&admin.admin, user, &client).await.map(|_| "sessions"),
            Action::Lock => auth.lock_user(&admin.admin, user, &client).await.map(|()| "locked"),
            Action::Unlock => auth.unlock_user(&admin.admin, user, &client).await.map(|()| "unlocked"),
            Action::Delete => auth.admin_delete_user(&admin.admin, user, &client).await.map(|()| "deleted"),
            Action::Restore => auth.restore_user(&admin.admin, user, &client).await.map(|()| "restored"),
        };
        done.map_err(Problem::from)
    }
    .await;
    finish(&state, &admin, &id, outcome).await
}

pub async fn revoke_session(
    State(state): State<AppState>,
    Client(client): Client,
    Path((id, session)): Path<(String, String)>,
    AdminForm { admin, .. }: AdminForm<NoFields>,
) -> Response {
    let outcome: Result<&str, Problem> = async {
        let session: SessionId = session.parse().map_err(|_| Problem::from(Error::NotFound))?;
        state.auth().admin_revoke_session(&admin.admin, user_id(&id)?, session, &client).await?;
        Ok("session")
    }
    .await;
    finish(&state, &admin, &id, outcome).await
}

#[derive(Deserialize)]
pub struct AdjustmentForm {
    #[serde(default)]
    amount: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    key: String,
}

pub async fn adjust_credits(
    State(state): State<AppState>,
    Client(client): Client,
    Path(id): Path<String>,
    AdminForm { admin, form }: AdminForm<AdjustmentForm>,
) -> Response {
    let outcome: Result<&str, Problem> = async {
        let user = user_id(&id)?;
        let amount = match form.amount.trim() {
            "" => None,
            text => Some(text.parse::<i64>().map_err(|_| Error::invalid_field("amount", "must be a whole number"))?),
        };
        // The form's key, kept apart from the API's own keys.
        let key = format!("console:{}", form.key.trim());
        let key = (!form.key.trim().is_empty()).then_some(key.as_str());
        administration::adjust_credits(&state, &admin.admin, user, amount, &form.reason, key, &client).await?;
        Ok("credits")
    }
    .await;
    finish(&state, &admin, &id, outcome).await
}
