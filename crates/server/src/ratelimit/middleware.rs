//! Applies the request budgets before a request reaches a handler: per user for a request
//! with a valid access token, per client address otherwise.

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::Budget;
use crate::http::client_ip::ClientIp;
use crate::http::extract::{VerifiedAccessToken, bearer_token};
use crate::http::{API_PREFIX, ApiError};
use crate::state::AppState;

/// Probes and scrapes come from a few infrastructure addresses, often; limiting them would
/// take healthy instances out of rotation.
const UNLIMITED_PATHS: [&str; 3] = ["/health", "/ready", "/metrics"];

pub async fn enforce(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let Some(ClientIp(ip)) = request.extensions().get::<ClientIp>().copied() else {
        return next.run(request).await;
    };
    if UNLIMITED_PATHS.contains(&path) {
        return next.run(request).await;
    }
    let (general, endpoint) = match (request.method(), path.strip_prefix(API_PREFIX)) {
        (&Method::POST, Some("/auth/validate")) => (Budget::Validate, None),
        (&Method::POST, Some("/auth/login")) => (Budget::Requests, Some(Budget::Login)),
        (&Method::POST, Some("/auth/register")) => (Budget::Requests, Some(Budget::Register)),
        _ => (Budget::Requests, None),
    };
    // A signature check costs microseconds and no database; a request whose token passes it
    // is charged to its user, so the users behind one NAT or app backend do not starve each
    // other. The handler reuses the verified claims instead of checking them again.
    let verified = match bearer_token(request.headers()) {
        Ok(Some(token)) => state.auth().tokens().verify(token, state.auth().clock().now()).ok(),
        _ => None,
    };
    let caller = match &verified {
        Some(claims) if general == Budget::Requests => format!("user:{}", claims.sub),
        _ => format!("ip:{}", ip_key(ip)),
    };
    if let Some(claims) = verified {
        request.extensions_mut().insert(VerifiedAccessToken(claims));
    }
    let limiter = state.limiter();
    if let Err(limited) = limiter.check(general, &caller).await {
        return ApiError::rate_limited(limited).into_response();
    }
    if let Some(budget) = endpoint
        && let Err(limited) = limiter.check(budget, &format!("ip:{}", ip_key(ip))).await
    {
        return ApiError::rate_limited(limited).into_response();
    }
    next.run(request).await
}

/// One budget per IPv4 address, and per /64 for IPv6: a single IPv6 host is usually handed a
/// whole /64, and could otherwise take a fresh address for every request.
fn ip_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", segments[0], segments[1], segments[2], segments[3])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_share_a_budget_per_64() {
        let a = ip_key("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = ip_key("2001:db8:1:2:bbbb::9".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, ip_key("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(ip_key("192.0.2.1".parse().unwrap()), "192.0.2.1");
    }
}
