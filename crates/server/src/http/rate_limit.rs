//! Applies the request budgets before a request reaches a handler: per user for a request
//! with a valid access token, per client address otherwise.

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::client_ip::ClientIp;
use super::extract::{VerifiedAccessToken, bearer_token};
use super::{API_PREFIX, ApiError, HttpState};
use crate::ratelimit::{Budget, ip_key};

/// Probes and scrapes come from a few infrastructure addresses, often; limiting them would
/// take healthy instances out of rotation.
const UNLIMITED_PATHS: [&str; 3] = ["/health", "/ready", "/metrics"];

pub async fn enforce<S: HttpState>(State(state): State<S>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let Some(ClientIp(ip)) = request.extensions().get::<ClientIp>().copied() else {
        return next.run(request).await;
    };
    if UNLIMITED_PATHS.contains(&path) {
        return next.run(request).await;
    }
    // Token validation counts against a budget of its own instead (app backends validate many
    // users' tokens from one address), and so do payment events (Stripe delivers a sale's
    // events, or a day of retries, in bursts from a few addresses); login and register spend
    // their own budgets on top, in their handlers.
    let general = match (request.method(), path.strip_prefix(API_PREFIX)) {
        (&Method::POST, Some("/auth/validate")) => Budget::Validate,
        (&Method::POST, Some("/webhooks/stripe")) => Budget::Webhooks,
        _ => Budget::Requests,
    };
    // A signature check costs microseconds and no database; a request whose token passes it
    // is charged to its user, so the users behind one NAT or app backend do not starve each
    // other. The handler reuses the verified claims instead of checking them again.
    let verified = match bearer_token(request.headers()) {
        Ok(Some(token)) if general == Budget::Requests => {
            state.auth().tokens().verify(token, state.auth().clock().now()).ok()
        }
        _ => None,
    };
    let caller = match &verified {
        Some(claims) => format!("user:{}", claims.sub),
        None => ip_key(ip),
    };
    if let Some(claims) = verified {
        request.extensions_mut().insert(VerifiedAccessToken(claims));
    }
    if let Err(limited) = state.limiter().check(general, &caller).await {
        return ApiError::rate_limited(limited).into_response();
    }
    next.run(request).await
}
