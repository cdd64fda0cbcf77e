//! Rate limits with in-process counters: per IP on every route, stricter on login and
//! register, per account on failed logins; 429 in the envelope with `Retry-After`; the client
//! address taken from `X-Forwarded-For` only behind a trusted proxy.

use reqwest::{Response, StatusCode};

use crate::common::{PASSWORD, TestApp, expect_error, metric_sample};

/// Asserts a 429 envelope and returns its `Retry-After` in seconds.
pub async fn expect_rate_limited(response: Response, code: &str) -> u64 {
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .expect("a 429 carries Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After is whole seconds");
    assert!(retry_after >= 1);
    expect_error(response, StatusCode::TOO_MANY_REQUESTS, code).await;
    retry_after
}

async fn jwks(app: &TestApp, forwarded_for: Option<&str>) -> Response {
    let mut request = app.http.get(app.api("/.well-known/jwks.json"));
    if let Some(ip) = forwarded_for {
        request = request.header("x-forwarded-for", ip);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn the_default_budget_is_100_requests_a_minute_per_ip_and_probes_are_exempt() {
    let app = TestApp::spawn_with(&[("RATE_LIMIT_REQUESTS_PER_MINUTE", "")], None).await;
    for n in 0..100 {
        assert_eq!(jwks(&app, None).await.status(), StatusCode::OK, "request {n}");
    }
    let retry_after = expect_rate_limited(jwks(&app, None).await, "rate_limited").await;
    assert!(retry_after <= 1, "one request's share comes back every 0.6 s, got {retry_after}");
    // Every route shares the budget, and the refusal still carries the security headers.
    let response = app.register("late@example.com", PASSWORD).await;
    assert_eq!(response.headers().get("x-content-type-options").unwrap(), "nosniff");
    expect_rate_limited(response, "rate_limited").await;
    assert_eq!(app.http.get(app.url("/health")).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(app.http.get(app.url("/ready")).send().await.unwrap().status(), StatusCode::OK);
    let page = app.metrics_page().await;
    assert!(metric_sample(&page, "rate_limit_rejections_total", &["limit=\"requests\""]) >= Some(2.0), "{page}");
}

#[tokio::test]
async fn login_and_register_have_stricter_budgets_of_their_own() {
    let app = TestApp::spawn_with(
        &[
            ("RATE_LIMIT_REQUESTS_PER_MINUTE", "100"),
            ("RATE_LIMIT_LOGIN_PER_MINUTE", "3"),
            ("RATE_LIMIT_REGISTER_PER_MINUTE", "2"),
        ],
        None,
    )
    .await;
    assert_eq!(app.register("one@example.com", PASSWORD).await.status(), StatusCode::CREATED);
    assert_eq!(app.register("two@example.com", PASSWORD).await.status(), StatusCode::CREATED);
    expect_rate_limited(app.register("three@example.com", PASSWORD).await, "rate_limited").await;
    for _ in 0..3 {
        assert_eq!(app.login("one@example.com", PASSWORD).await.status(), StatusCode::OK);
    }
    let retry_after = expect_rate_limited(app.login("one@example.com", PASSWORD).await, "rate_limited").await;
    assert!((1..=20).contains(&retry_after), "one login comes back every 20 s, got {retry_after}");
    // The rest of the API is still open to this client.
    assert_eq!(jwks(&app, None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn failed_logins_lock_the_account_for_a_while_whatever_the_password() {
    // Three failures per three seconds: one comes back every second.
    let app =
        TestApp::spawn_with(&[("LOGIN_FAILURES_PER_ACCOUNT", "3"), ("LOGIN_FAILURE_WINDOW_SECONDS", "3")], None).await;
    app.register("victim@example.com", PASSWORD).await;
    app.register("bystander@example.com", PASSWORD).await;
    for guess in ["123456", "password", "qwerty", "letmein"] {
        expect_error(app.login("victim@example.com", guess).await, StatusCode::UNAUTHORIZED, "invalid_credentials")
            .await;
    }
    // Over budget: even the right password is refused, so the lock cannot be used to confirm a
    // guess; the same account under another spelling is the same account.
    let retry_after = expect_rate_limited(app.login("Victim@Example.com ", PASSWORD).await, "rate_limited").await;
    assert_eq!(app.login("bystander@example.com", PASSWORD).await.status(), StatusCode::OK);
    // Unknown accounts are limited the same way: a 429 does not reveal that an account exists.
    for _ in 0..4 {
        app.login("nobody@example.com", "guess").await;
    }
    expect_rate_limited(app.login("nobody@example.com", "guess").await, "rate_limited").await;
    // Not locked for good: once the wait is over the owner signs in.
    tokio::time::sleep(std::time::Duration::from_secs(retry_after)).await;
    assert_eq!(app.login("victim@example.com", PASSWORD).await.status(), StatusCode::OK);
    let page = app.metrics_page().await;
    assert!(metric_sample(&page, "rate_limit_rejections_total", &["limit=\"login_failures\""]) >= Some(2.0));
}

#[tokio::test]
async fn x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
    let direct = TestApp::spawn_with(&[("RATE_LIMIT_REQUESTS_PER_MINUTE", "2")], None).await;
    assert_eq!(jwks(&direct, Some("198.51.100.1")).await.status(), StatusCode::OK);
    assert_eq!(jwks(&direct, Some("198.51.100.2")).await.status(), StatusCode::OK);
    // A client cannot escape its budget by claiming to be someone else.
    expect_rate_limited(jwks(&direct, Some("198.51.100.3")).await, "rate_limited").await;

    let proxied =
        TestApp::spawn_with(&[("RATE_LIMIT_REQUESTS_PER_MINUTE", "2"), ("TRUSTED_PROXIES", "127.0.0.0/8, ::1")], None)
            .await;
    for _ in 0..2 {
        assert_eq!(jwks(&proxied, Some("198.51.100.1")).await.status(), StatusCode::OK);
    }
    expect_rate_limited(jwks(&proxied, Some("198.51.100.1")).await, "rate_limited").await;
    // Behind our proxy each client has its own budget, and a forged entry to the left of what
    // the proxy appended changes nothing.
    assert_eq!(jwks(&proxied, Some("198.51.100.2")).await.status(), StatusCode::OK);
    expect_rate_limited(jwks(&proxied, Some("203.0.113.7, 198.51.100.1")).await, "rate_limited").await;
}
