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
    assert_eq!(simple.headers()["access-control-expose-headers"], "x-request-id");
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
