//! Liveness and readiness.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::http::ApiError;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/health", get(health)).route("/ready", get(ready))
}

/// The process is up and serving; says nothing about the database.
async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The database answers and every migration is applied.
async fn ready(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let not_ready = |reason: &str| {
        tracing::warn!(reason, "not ready");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", "The service is not ready")
    };
    state.auth().store().ping().await.map_err(|_| not_ready("database unreachable"))?;
    match state.backend().migrations_applied().await {
        Ok(true) => Ok(Json(json!({ "status": "ready", "database": state.auth().store().backend_name() }))),
        Ok(false) => Err(not_ready("migrations pending")),
        Err(_) => Err(not_ready("cannot read migration state")),
    }
}
