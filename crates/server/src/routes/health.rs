//! Liveness and readiness.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mana_proto::{ErrorBody, ErrorCode};
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::ApiError;
use crate::state::AppState;

/// How long readiness may take before it is reported as not ready.
const READY_DEADLINE: std::time::Duration = std::time::Duration::from_secs(1);

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
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::NotReady, "The service is not ready")
    };
    // A database that does not answer (or a pooler holding the request while it has no
    // server) must not hang the probe: load balancers give up after a second or two.
    let checks = async {
        state.auth().store().ping().await.map_err(|_| "database unreachable")?;
        match state.backend().migrations_applied().await {
            Ok(true) => Ok(()),
            Ok(false) => Err("migrations pending"),
            Err(_) => Err("cannot read migration state"),
        }
    };
    match tokio::time::timeout(READY_DEADLINE, checks).await {
        Ok(Ok(())) => Ok(Json(json!({ "status": "ready", "database": state.auth().store().backend_name() }))),
        Ok(Err(reason)) => Err(not_ready(reason)),
        Err(_) => Err(not_ready("database did not answer in time")),
    }
}
