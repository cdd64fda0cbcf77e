//! `GET /metrics`: the Prometheus page (the recorder and request counting are in
//! `crate::http::metrics`).

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::metrics::{DB_POOL, handle};
use crate::state::AppState;

/// Prometheus text exposition: requests, logins, refresh reuse, credits, rate limits, pool.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses(
    (status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"),
))]
async fn render(State(state): State<AppState>) -> impl IntoResponse {
    let (open, idle) = state.backend().pool_state();
    metrics::gauge!(DB_POOL, "state" => "idle").set(idle as f64);
    metrics::gauge!(DB_POOL, "state" => "in_use").set((open as usize).saturating_sub(idle) as f64);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle().render())
}

/// `GET /metrics` alone, for the main router or a separate listener.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(render))
}
