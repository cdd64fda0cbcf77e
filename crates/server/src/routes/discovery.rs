//! Public keys and discovery, so that any standard JWT library can verify our tokens.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/.well-known/jwks.json", get(jwks))
        .route("/.well-known/openid-configuration", get(openid_configuration))
}

async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    // Short enough that a newly rotated key is seen soon; libraries also refetch on unknown kid.
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(state.auth().tokens().keys().jwks()))
}

async fn openid_configuration(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(state.discovery().clone()))
}
