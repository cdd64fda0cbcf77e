//! Browser-facing protections: the response headers helmet sets, and CORS for a fixed list of
//! origins.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::response::Response;
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::client_ip::TrustedProxies;

/// What the HTTP layer is configured with.
#[derive(Debug, Clone, Default)]
pub struct HttpSettings {
    pub cors_allowed_origins: Vec<String>,
    pub hsts_max_age_seconds: i64,
    pub request_timeout: Duration,
    /// Whether `/metrics` is on the API's port (it is not when it has a listener of its own).
    pub metrics_on_api_port: bool,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
}

/// The headers of every response. For a JSON API nothing may be framed, sniffed, embedded or
/// given a referrer; `Strict-Transport-Security` only where TLS is in front (configured).
pub fn security_headers(hsts_max_age_seconds: i64) -> Vec<(HeaderName, HeaderValue)> {
    let mut headers = vec![
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'")),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin")),
        (HeaderName::from_static("cross-origin-resource-policy"), HeaderValue::from_static("same-origin")),
        (HeaderName::from_static("origin-agent-cluster"), HeaderValue::from_static("?1")),
        (header::X_DNS_PREFETCH_CONTROL, HeaderValue::from_static("off")),
        (HeaderName::from_static("x-download-options"), HeaderValue::from_static("noopen")),
        (HeaderName::from_static("x-permitted-cross-domain-policies"), HeaderValue::from_static("none")),
        (header::X_XSS_PROTECTION, HeaderValue::from_static("0")),
    ];
    if hsts_max_age_seconds > 0
        && let Ok(value) = HeaderValue::from_str(&format!("max-age={hsts_max_age_seconds}; includeSubDomains"))
    {
        headers.push((header::STRICT_TRANSPORT_SECURITY, value));
    }
    headers
}

pub fn add_headers(mut response: Response, headers: &[(HeaderName, HeaderValue)]) -> Response {
    for (name, value) in headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

/// CORS for exactly the configured origins, with credentials; `None` when there are none.
pub fn cors(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    if origins.is_empty() {
        return None;
    }
    let request_id = HeaderName::from_static(super::request_id::HEADER);
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_credentials(true)
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, request_id.clone()])
            .expose_headers([request_id])
            .max_age(Duration::from_secs(600)),
    )
}
