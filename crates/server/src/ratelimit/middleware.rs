//! Applies the per-IP budgets to every request before it reaches a handler.

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{Budget, Limited, RateLimiter};
use crate::http::ApiError;
use crate::http::client_ip::ClientIp;
use crate::routes::API_PREFIX;

/// Probes and scrapes come from a few infrastructure addresses, often; limiting them would
/// take healthy instances out of rotation.
const UNLIMITED_PATHS: [&str; 3] = ["/health", "/ready", "/metrics"];

pub async fn enforce(State(limiter): State<RateLimiter>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let Some(ClientIp(ip)) = request.extensions().get::<ClientIp>().copied() else {
        return next.run(request).await;
    };
    if UNLIMITED_PATHS.contains(&path) {
        return next.run(request).await;
    }
    let key = ip_key(ip);
    let endpoint_budget = match (request.method(), path.strip_prefix(API_PREFIX)) {
        (&Method::POST, Some("/auth/login")) => Some(Budget::Login),
        (&Method::POST, Some("/auth/register")) => Some(Budget::Register),
        _ => None,
    };
    if let Err(limited) = limiter.check(Budget::Requests, &key).await {
        return too_many_requests(limited).into_response();
    }
    if let Some(budget) = endpoint_budget
        && let Err(limited) = limiter.check(budget, &key).await
    {
        return too_many_requests(limited).into_response();
    }
    next.run(request).await
}

pub fn too_many_requests(limited: Limited) -> ApiError {
    let seconds = limited.retry_after_seconds();
    ApiError::new(
        axum::http::StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("Too many requests; retry after {seconds} s"),
    )
    .with_retry_after(seconds)
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
