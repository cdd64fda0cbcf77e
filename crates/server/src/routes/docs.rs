//! `/docs`: the interactive API reference (Swagger UI) rendered from `/openapi.json`. Every
//! asset is compiled into the binary (utoipa-swagger-ui's `vendored` feature), so the page
//! works offline and loads nothing from a CDN.
//!
//! The page is not part of the API, so it is not in the OpenAPI document. It gets a policy of
//! its own: its scripts and styles come from this origin only; Swagger UI sets inline style
//! attributes, and draws icons from data URLs.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::middleware;
use axum::response::Response;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::state::AppState;

pub const DOCS_PATH: &str = "/docs";

const DOCS_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'none'";

pub fn router() -> Router<AppState> {
    let ui = SwaggerUi::new(DOCS_PATH).config(Config::from("/openapi.json").try_it_out_enabled(true));
    // `route_layer`: a plain `layer` would also wrap this router's fallback, which the merged
    // router adopts, and give every 404 the page's policy.
    Router::from(ui).route_layer(middleware::map_response(|mut response: Response| async move {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(DOCS_POLICY));
        response
    }))
}
