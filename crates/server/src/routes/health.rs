//! Liveness and readiness.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mana_proto::ErrorBody;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::ApiError;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health)).routes(routes!(ready))
}

/// The process is up and serving; says nothing about the database.
#[utoipa::path(get, path = "/health", tag = "operations", responses(
    (status = 200, description = "Alive", body = Object, example = json!({"status": "ok"})),
))]
async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The database answers and every migration is applied.
#[utoipa::path(get, path = "/ready", tag = "operations", responses(
    (status = 200, description = "Ready for traffic", body = Object, example = json!({"status": "ready", "database": "sqlite"})),
    (status = 503, description = "`not_ready`: database unreachable or migrations pending", body = ErrorBody),
))]
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
