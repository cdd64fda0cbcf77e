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
    pub cors_origins: CorsOrigins,
    pub hsts_max_age_seconds: i64,
    pub request_timeout: Duration,
    /// A connection that has not sent a whole request head after this long is closed.
    pub header_read_timeout: Duration,
    /// Whether `/metrics` is on the API's port (it is not when it has a listener of its own).
    pub metrics_on_api_port: bool,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
    /// Whether the admin console's cookies are `Secure` (everywhere but development, which
    /// serves plain HTTP).
    pub secure_cookies: bool,
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

/// Sets the security headers, and `Cache-Control: no-store` unless the handler chose a
/// policy: most answers carry tokens or account data, which no cache may keep; the few that
/// are public (keys, discovery, packages) say so themselves.
pub fn add_headers(mut response: Response, headers: &[(HeaderName, HeaderValue)]) -> Response {
    let response_headers = response.headers_mut();
    for (name, value) in headers {
        if name == header::CONTENT_SECURITY_POLICY && response_headers.contains_key(name) {
            // A page with its own policy (the API docs) keeps it.
            continue;
        }
        response_headers.insert(name.clone(), value.clone());
    }
    if !response_headers.contains_key(header::CACHE_CONTROL) {
        response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Which browser origins may call the API.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CorsOrigins {
    /// No cross-origin calls (production without `CORS_ALLOWED_ORIGINS`).
    #[default]
    None,
    /// Any `http://localhost:<port>` or `http://127.0.0.1:<port>` page: what a developer's
    /// front-end dev server needs (development without `CORS_ALLOWED_ORIGINS`).
    Localhost,
    /// Exactly these origins.
    Listed(Vec<String>),
}

/// Headers a browser app must be able to read: the request id to report, how long to wait
/// after a 429 or 503, and why a token was refused.
const EXPOSED: [&str; 3] = [super::request_id::HEADER, "retry-after", "www-authenticate"];

/// CORS for the allowed origins, with credentials; `None` when there are none.
pub fn cors(origins: &CorsOrigins) -> Option<CorsLayer> {
    let allow = match origins {
        CorsOrigins::None => return None,
        CorsOrigins::Localhost => AllowOrigin::predicate(|origin, _| is_local_origin(origin.as_bytes())),
        CorsOrigins::Listed(list) => {
            AllowOrigin::list(list.iter().filter_map(|origin| HeaderValue::from_str(origin).ok()))
        }
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_credentials(true)
            .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE, Method::OPTIONS])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static(super::request_id::HEADER),
                HeaderName::from_static("idempotency-key"),
            ])
            .expose_headers(EXPOSED.map(HeaderName::from_static))
            .max_age(Duration::from_secs(600)),
    )
}

fn is_local_origin(origin: &[u8]) -> bool {
    let Ok(origin) = std::str::from_utf8(origin) else {
        return false;
    };
    let Some(host_port) = origin.strip_prefix("http://") else {
        return false;
    };
    let (host, port) = host_port.rsplit_once(':').unwrap_or((host_port, "80"));
    matches!(host, "localhost" | "127.0.0.1" | "[::1]") && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_http_origins_count_as_local() {
        for local in ["http://localhost:5173", "http://127.0.0.1:3000", "http://localhost", "http://[::1]:8080"] {
            assert!(is_local_origin(local.as_bytes()), "{local}");
        }
        for remote in
            ["https://localhost.evil.com", "http://localhost.evil.com:80", "http://evil.com", "http://localhost:1/x"]
        {
            assert!(!is_local_origin(remote.as_bytes()), "{remote}");
        }
    }
}
