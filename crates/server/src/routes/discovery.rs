//! Public keys and discovery, so that any standard JWT library can verify our tokens.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use mana_proto::OpenIdConfiguration;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(jwks)).routes(routes!(openid_configuration))
}

/// The public keys that sign access tokens (RFC 7517), by `kid`.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "discovery", responses(
    (status = 200, description = "A JSON Web Key Set", body = Object, content_type = "application/json"),
))]
async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    // Short enough that a newly rotated key is seen soon; libraries also refetch on unknown kid.
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(state.auth().tokens().keys().jwks()))
}

/// Issuer and key location, for standard JWT libraries.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "discovery", responses(
    (status = 200, description = "Discovery document", body = OpenIdConfiguration),
))]
async fn openid_configuration(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(state.discovery()))
}
