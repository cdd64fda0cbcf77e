//! Every route, by area.

mod auth;
mod credits;
mod discovery;
mod health;

use axum::Router;

use crate::state::AppState;

pub const API_PREFIX: &str = "/api/v1";

pub fn all() -> Router<AppState> {
    Router::new()
        .nest(API_PREFIX, Router::new().merge(auth::routes()).merge(credits::routes()).merge(discovery::routes()))
        // Standard JWT libraries look for discovery documents at the issuer's root.
        .merge(discovery::routes())
        .merge(health::routes())
}
