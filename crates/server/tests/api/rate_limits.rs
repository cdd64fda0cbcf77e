//! Rate limits with in-process counters: per user when authenticated and per client address
//! otherwise, a budget of its own for token validation, stricter budgets on login and
//! register, failed logins per account (reserved before the password is checked) with known
//! devices let through; 429 in the envelope with `Retry-After`; the client address taken from
//! `X-Forwarded-For` only behind a trusted proxy.

use mana_proto::TokenResponse;
use reqwest::{Response, StatusCode};
use serde_json::json;

use crate::common::{PASSWORD, TestApp, expect_error, metric_sample};

/// `count` logins with distinct wrong passwords for `email`, all at once, spread over `apps`;
/// the statuses in completion order.
pub async fn parallel_wrong_logins(apps: &[&TestApp], email: &str, count: usize) -> Vec<StatusCode> {
    let mut guesses = tokio::task::JoinSet::new();
    for n in 0..count {
        let app = apps[n % apps.len()];
        let (http, url) = (app.http.clone(), app.api("/auth/login"));
        let guess = json!({"email": email, "password": format!("wrong guess {n}")});
        guesses.spawn(async move { http.post(url).json(&guess).send().await.unwrap().status() });
    }
    guesses.join_all().await
}

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
    for guess in ["123456", "password", "qwerty"] {
        expect_error(app.login("victim@example.com", guess).await, StatusCode::UNAUTHORIZED, "invalid_credentials")
            .await;
    }
    // Over budget: even the right password is refused, so the lock cannot be used to confirm a
    // guess; the same account under another spelling is the same account.
    expect_rate_limited(app.login("victim@example.com", "letmein").await, "rate_limited").await;
    let retry_after = expect_rate_limited(app.login("Victim@Example.com ", PASSWORD).await, "rate_limited").await;
    assert_eq!(app.login("bystander@example.com", PASSWORD).await.status(), StatusCode::OK);
    // Unknown accounts are limited the same way: a 429 does not reveal that an account exists.
    for _ in 0..3 {
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
async fn parallel_guesses_cannot_exceed_the_failure_budget() {
    let app =
        TestApp::spawn_with(&[("LOGIN_FAILURES_PER_ACCOUNT", "10"), ("PASSWORD_HASH_CONCURRENCY", "2")], None).await;
    app.register("target@example.com", PASSWORD).await;
    let statuses = parallel_wrong_logins(&[&app], "target@example.com", 29).await;
    let checked = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((checked, refused), (10, 19), "only the budget's worth of passwords were checked: {statuses:?}");
    // The 30th attempt, with the right password, is refused too: the account is locked.
    expect_rate_limited(app.login("target@example.com", PASSWORD).await, "rate_limited").await;
}

#[tokio::test]
async fn a_device_that_signed_in_before_is_not_shut_out_by_the_lock() {
    let app = TestApp::spawn_with(
        &[
            ("LOGIN_FAILURES_PER_ACCOUNT", "3"),
            ("LOGIN_FAILURES_PER_DEVICE", "2"),
            ("LOGIN_FAILURE_WINDOW_SECONDS", "600"),
        ],
        None,
    )
    .await;
    app.register("owner@example.com", PASSWORD).await;
    app.register("other@example.com", PASSWORD).await;
    let earlier: TokenResponse = app.login("owner@example.com", PASSWORD).await.json().await.unwrap();
    let device_token = earlier.device_token.expect("a login hands out a device token");
    // An attacker locks the account.
    for _ in 0..3 {
        app.login("owner@example.com", "guess").await;
    }
    expect_rate_limited(app.login("owner@example.com", PASSWORD).await, "rate_limited").await;
    let with_device = |email: &'static str, password: &'static str, token: String| {
        app.post("/auth/login", json!({"email": email, "password": password, "deviceToken": token}))
    };
    // The owner's device still gets in...
    let response = with_device("owner@example.com", PASSWORD, device_token.clone()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let renewed: TokenResponse = response.json().await.unwrap();
    assert!(renewed.device_token.is_some());
    // ...but a device token guessing passwords has a small budget of its own.
    for _ in 0..2 {
        let response = with_device("owner@example.com", "guess", device_token.clone()).await;
        expect_error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    expect_rate_limited(with_device("owner@example.com", PASSWORD, device_token.clone()).await, "rate_limited").await;
    // A device token of one account opens no other, and a forged one counts for nothing.
    for _ in 0..3 {
        app.login("other@example.com", "guess").await;
    }
    let other_token = renewed.device_token.unwrap();
    expect_rate_limited(with_device("other@example.com", PASSWORD, other_token).await, "rate_limited").await;
    let forged = format!("{}x", &device_token[..device_token.len() - 1]);
    expect_rate_limited(with_device("other@example.com", PASSWORD, forged).await, "rate_limited").await;
}

#[tokio::test]
async fn authenticated_requests_count_per_user_so_users_behind_one_address_do_not_starve() {
    let app = TestApp::spawn_with(&[("RATE_LIMIT_REQUESTS_PER_MINUTE", "10")], None).await;
    let ada = app.signed_in("ada@example.com").await;
    let bob = app.signed_in("bob@example.com").await;
    let balance = |token: &str| {
        let request = app.http.get(app.api("/credits/balance")).bearer_auth(token);
        async move { request.send().await.unwrap() }
    };
    for n in 0..10 {
        assert_eq!(balance(&ada.access_token).await.status(), StatusCode::OK, "ada, request {n}");
    }
    expect_rate_limited(balance(&ada.access_token).await, "rate_limited").await;
    // Bob shares Ada's address, and still has a budget of his own.
    assert_eq!(balance(&bob.access_token).await.status(), StatusCode::OK);
    // A token that does not verify is counted against the address, not against a user it names.
    let forged = format!("{}x", &bob.access_token[..bob.access_token.len() - 1]);
    for _ in 0..20 {
        let response = balance(&forged).await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            return;
        }
        expect_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
    panic!("forged tokens were never limited by address");
}

#[tokio::test]
async fn token_validation_has_a_budget_sized_for_app_backends() {
    // The default request budget is 100 a minute; a backend validating its users' tokens from
    // one address needs far more, without eating into anything else.
    let app =
        TestApp::spawn_with(&[("RATE_LIMIT_REQUESTS_PER_MINUTE", ""), ("RATE_LIMIT_VALIDATE_PER_MINUTE", "")], None)
            .await;
    let tokens = app.signed_in("backend-user@example.com").await;
    for n in 0..130 {
        let response = app.post("/auth/validate", json!({"token": tokens.access_token})).await;
        assert_eq!(response.status(), StatusCode::OK, "validation {n}");
    }
    assert_eq!(jwks(&app, None).await.status(), StatusCode::OK, "the general budget is untouched");
    let small = TestApp::spawn_with(&[("RATE_LIMIT_VALIDATE_PER_MINUTE", "2")], None).await;
    for _ in 0..2 {
        small.post("/auth/validate", json!({"token": "x"})).await;
    }
    expect_rate_limited(small.post("/auth/validate", json!({"token": "x"})).await, "rate_limited").await;
}

#[tokio::test]
async fn stripes_bursts_of_events_have_a_budget_of_their_own() {
    async fn unsigned_event(app: &TestApp) -> Response {
        app.http.post(app.api("/webhooks/stripe")).body("{}").send().await.unwrap()
    }
    // Stripe delivers from a few addresses; its events do not eat the general budget, nor the
    // general budget theirs.
    let app = TestApp::spawn_with(&[("RATE_LIMIT_REQUESTS_PER_MINUTE", "2")], None).await;
    for _ in 0..5 {
        expect_error(unsigned_event(&app).await, StatusCode::BAD_REQUEST, "invalid_signature").await;
    }
    assert_eq!(jwks(&app, None).await.status(), StatusCode::OK, "the general budget is untouched");
    let small = TestApp::spawn_with(&[("RATE_LIMIT_WEBHOOKS_PER_MINUTE", "2")], None).await;
    for _ in 0..2 {
        expect_error(unsigned_event(&small).await, StatusCode::BAD_REQUEST, "invalid_signature").await;
    }
    expect_rate_limited(unsigned_event(&small).await, "rate_limited").await;
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
