//! Every route, by area, each declared with its OpenAPI description (`routes!` registers the
//! handler and its `#[utoipa::path]` together, so a route cannot exist undocumented). Three
//! kinds of page for people are not API and not in the document: `/docs`, the email-link
//! pages (`pages`) and the admin console (`crate::console`).

mod account;
mod admin;
mod auth;
mod credits;
mod discovery;
mod docs;
mod health;
pub mod metrics;
mod oauth;
pub mod openapi;
mod pages;
mod purchases;
mod two_factor;

use axum::Router;
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub use crate::http::API_PREFIX;

/// The router and the OpenAPI document describing exactly its routes.
pub fn all(with_metrics: bool) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let api = OpenApiRouter::new()
        .merge(auth::routes())
        .merge(account::routes())
        .merge(two_factor::routes())
        .merge(oauth::routes())
        .merge(admin::routes())
        .merge(credits::routes())
        .merge(purchases::routes())
        .merge(discovery::routes());
    let mut routes = OpenApiRouter::with_openapi(openapi::base_document())
        .nest(API_PREFIX, api)
        // Standard JWT libraries look for discovery documents at the issuer's root.
        .merge(discovery::routes())
        .merge(health::routes())
        .merge(openapi::routes());
    if with_metrics {
        routes = routes.merge(metrics::routes());
    }
    let (router, mut document) = routes.split_for_parts();
    openapi::add_common_responses(&mut document);
    openapi::qualify_repeated_operation_ids(&mut document);
    openapi::apply_limits(&mut document);
    (router.merge(docs::router()).merge(pages::router()).merge(crate::console::router()), document)
}
