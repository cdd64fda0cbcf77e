//! Browser-facing protections: security headers, CORS, request timeout.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{PASSWORD, TestApp, expect_error};

const EXPECTED_HEADERS: [(&str, &str); 6] = [
    ("content-security-policy", "default-src 'none'; frame-ancestors 'none'"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
];

#[tokio::test]
async fn every_response_carries_the_security_headers_and_no_server_banner() {
    let app = TestApp::spawn().await;
    let ok = app.http.get(app.url("/health")).send().await.unwrap();
    let not_found = app.http.get(app.url("/nope")).send().await.unwrap();
    let unauthorized = app.http.get(app.api("/credits/balance")).send().await.unwrap();
    for response in [&ok, &not_found, &unauthorized] {
        for (name, value) in EXPECTED_HEADERS {
            assert_eq!(response.headers().get(name).map(|v| v.to_str().unwrap()), Some(value), "{name}");
        }
        assert!(response.headers().get("server").is_none());
        assert!(response.headers().get("strict-transport-security").is_none(), "HSTS only when configured");
    }
}

#[tokio::test]
async fn hsts_is_sent_when_configured() {
    let app = TestApp::spawn_with(&[("HSTS_MAX_AGE_SECONDS", "31536000")], None).await;
    let response = app.http.get(app.url("/health")).send().await.unwrap();
    assert_eq!(response.headers()["strict-transport-security"], "max-age=31536000; includeSubDomains");
}

#[tokio::test]
async fn cors_allows_credentials_only_for_listed_origins() {
    let app = TestApp::spawn_with(&[("CORS_ALLOWED_ORIGINS", "https://app.example,http://localhost:5173")], None).await;
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, app.api("/credits/use"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization, content-type")
            .send()
    };
    let allowed = preflight("https://app.example").await.unwrap();
    assert!(allowed.status().is_success());
    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://app.example");
    assert_eq!(allowed.headers()["access-control-allow-credentials"], "true");
    assert!(allowed.headers()["access-control-allow-headers"].to_str().unwrap().contains("authorization"));
    assert!(allowed.headers().get("x-request-id").is_some(), "preflights get a request id too");
    assert_eq!(allowed.headers()["x-frame-options"], "DENY");

    let stranger = preflight("https://evil.example").await.unwrap();
    assert!(stranger.headers().get("access-control-allow-origin").is_none());

    let simple = app.http.get(app.url("/health")).header("origin", "http://localhost:5173").send().await.unwrap();
    assert_eq!(simple.headers()["access-control-allow-origin"], "http://localhost:5173");
    let exposed = simple.headers()["access-control-expose-headers"].to_str().unwrap().to_owned();
    for header in ["x-request-id", "retry-after", "www-authenticate"] {
        assert!(exposed.contains(header), "a browser app can read {header}: {exposed}");
    }
}

#[tokio::test]
async fn in_development_local_dev_servers_may_call_without_configuration() {
    let app = TestApp::spawn().await;
    for origin in ["http://localhost:5173", "http://127.0.0.1:8080"] {
        let response = app.http.get(app.url("/health")).header("origin", origin).send().await.unwrap();
        assert_eq!(response.headers()["access-control-allow-origin"], origin);
    }
    let remote =
        app.http.get(app.url("/health")).header("origin", "http://localhost.evil.example").send().await.unwrap();
    assert!(remote.headers().get("access-control-allow-origin").is_none());
    let production = TestApp::spawn_with(&[("ENVIRONMENT", "production")], None).await;
    let response =
        production.http.get(production.url("/health")).header("origin", "http://localhost:5173").send().await.unwrap();
    assert!(response.headers().get("access-control-allow-origin").is_none(), "production needs a list");
}

#[tokio::test]
async fn answers_with_tokens_or_account_data_may_not_be_cached() {
    let app = TestApp::spawn().await;
    assert_eq!(app.register("cache@example.com", PASSWORD).await.headers()["cache-control"], "no-store");
    let login = app.login("cache@example.com", PASSWORD).await;
    assert_eq!(login.headers()["cache-control"], "no-store");
    let tokens: mana_proto::TokenResponse = login.json().await.unwrap();
    let refreshed = app.refresh(&tokens.refresh_token).await;
    assert_eq!(refreshed.headers()["cache-control"], "no-store");
    let tokens: mana_proto::TokenResponse = refreshed.json().await.unwrap();
    let validate = app.post("/auth/validate", serde_json::json!({"token": tokens.access_token})).await;
    assert_eq!(validate.headers()["cache-control"], "no-store");
    for path in ["/credits/balance", "/credits/transactions", "/credits/purchases"] {
        let response = app.http.get(app.api(path)).bearer_auth(&tokens.access_token).send().await.unwrap();
        assert_eq!(response.headers()["cache-control"], "no-store", "{path}");
    }
    assert_eq!(app.login("cache@example.com", "wrong password").await.headers()["cache-control"], "no-store");
    // Public documents say how long they may be kept.
    let jwks = app.http.get(app.url("/.well-known/jwks.json")).send().await.unwrap();
    assert_eq!(jwks.headers()["cache-control"], "public, max-age=300");
}

#[tokio::test]
async fn without_configured_origins_no_cors_headers_are_sent() {
    let app = TestApp::spawn().await;
    let response = app.http.get(app.url("/health")).header("origin", "https://app.example").send().await.unwrap();
    assert!(response.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn a_request_over_the_time_limit_is_a_408_envelope_and_writes_nothing() {
    // bcrypt at cost 15 takes well over a second here.
    let app = TestApp::spawn_with(&[("REQUEST_TIMEOUT_SECONDS", "1"), ("BCRYPT_COST", "15")], None).await;
    let response = app.post("/auth/register", json!({"email": "slow@example.com", "password": PASSWORD})).await;
    expect_error(response, StatusCode::REQUEST_TIMEOUT, "request_timeout").await;
    let email = mana_core::email::Email::parse("slow@example.com").unwrap();
    assert!(app.state.auth().store().find_credentials(&email).await.unwrap().is_none());
}

#[tokio::test]
async fn readiness_is_503_without_a_database_while_liveness_stays_200() {
    let app = TestApp::spawn().await;
    app.state.backend().close().await;
    let ready = app.http.get(app.url("/ready")).send().await.unwrap();
    expect_error(ready, StatusCode::SERVICE_UNAVAILABLE, "not_ready").await;
    assert_eq!(app.http.get(app.url("/health")).send().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn connections_that_never_finish_their_headers_are_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(&[("HEADER_READ_TIMEOUT_SECONDS", "1")], None).await;
    let address = app.base.trim_start_matches("http://").to_owned();
    let mut slow = Vec::new();
    for n in 0..20 {
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        // Half a request head, and then nothing, like a slowloris client; some send no byte.
        if n % 2 == 0 {
            stream.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n").await.unwrap();
        }
        slow.push(stream);
    }
    // Meanwhile the service answers everybody else.
    assert_eq!(app.http.get(app.url("/health")).send().await.unwrap().status(), StatusCode::OK);
    for mut stream in slow {
        let mut buffer = [0u8; 1024];
        // The server closes the connection (end of stream, maybe after a 408) instead of
        // keeping it open; the bound only keeps a failing test from hanging.
        let closed = tokio::time::timeout(std::time::Duration::from_secs(20), async {
            loop {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => continue,
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "a connection without a complete request head was left open");
    }
}

#[tokio::test]
async fn interactive_docs_are_served_from_the_binary() {
    let app = TestApp::spawn().await;
    let page = app.http.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let policy = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(policy.contains("script-src 'self'") && !policy.contains("unsafe-eval"), "{policy}");
    let html = page.text().await.unwrap();
    assert!(!html.contains("https://") && !html.contains("http://"), "no asset from elsewhere: {html}");
    let initializer = app.http.get(app.url("/docs/swagger-initializer.js")).send().await.unwrap();
    assert_eq!(initializer.status(), StatusCode::OK);
    assert!(initializer.text().await.unwrap().contains("/openapi.json"), "rendered from our document");
    for asset in ["swagger-ui-bundle.js", "swagger-ui.css"] {
        let response = app.http.get(app.url(&format!("/docs/{asset}"))).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        assert!(response.bytes().await.unwrap().len() > 10_000, "{asset} is the real file");
    }
}
