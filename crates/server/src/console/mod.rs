//! `/admin`: the web console for support and operations (SPEC §9). Pages are drawn on the
//! server (askama templates compiled into the binary) and work without script; the only
//! other file is the stylesheet, also in the binary. The policy allows nothing from
//! elsewhere, no inline script or style, and forms only to this origin.
//!
//! Each part has a module: signing in (`sign_in`), who the caller is (`session`: the cookie
//! and CSRF), the dashboard and its charts, users, the ledger and the packages. What the
//! console changes, it changes through the same functions as the admin API
//! (`crate::administration` and `mana_core::auth`).

mod charts;
mod dashboard;
mod ledger;
mod packages;
mod pages;
mod session;
mod sign_in;
mod users;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Router, middleware};

use crate::state::AppState;

pub use session::{CONSOLE, SIGN_IN};

const STYLESHEET: &str = include_str!("console.css");

const POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
frame-ancestors 'none'; base-uri 'none'";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(CONSOLE, get(dashboard::show))
        .route("/admin/console.css", get(stylesheet))
        .route(SIGN_IN, get(sign_in::form).post(sign_in::submit))
        .route("/admin/login/verify", post(sign_in::verify))
        .route("/admin/logout", post(sign_in::sign_out))
        .route("/admin/users", get(users::list))
        .route("/admin/users/{id}", get(users::show))
        .route("/admin/users/{id}/sessions/revoke", post(users::revoke_sessions))
        .route("/admin/users/{id}/sessions/{session}/revoke", post(users::revoke_session))
        .route("/admin/users/{id}/credits", post(users::adjust_credits))
        // lock, unlock, delete, restore
        .route("/admin/users/{id}/{action}", post(users::account_action))
        .route("/admin/ledger", get(ledger::show))
        .route("/admin/ledger/verify", post(ledger::verify))
        .route("/admin/packages", get(packages::show).post(packages::save))
        .route("/admin/packages/{id}/withdraw", post(packages::withdraw))
        .route_layer(middleware::map_response(|mut response: Response| async move {
            response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
            response
        }))
}

/// The stylesheet changes only with the binary; a browser may keep it for an hour.
async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
        ],
        STYLESHEET,
    )
        .into_response()
}
