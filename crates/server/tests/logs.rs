//! Secrets never reach the logs. A full flow touches every kind of secret; everything logged
//! at debug level, as JSON, is then searched for them.

// Test helpers outside #[test] functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "api/common.rs"]
mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use chrono::Duration;
use mana_proto::TokenResponse;
use serde_json::json;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use common::TestApp;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

const PASSWORD: &str = "Secret-Passphrase-4711";
const WRONG_PASSWORD: &str = "Wrong-Passphrase-0815";
const REDIS_PASSWORD: &str = "Redis-Secret-2342";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_flow_logs_no_password_token_or_authorization_header() {
    let captured = Captured::default();
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(true)
        .with_env_filter(EnvFilter::new("debug"))
        .with_writer(captured.clone())
        .init();

    let app = TestApp::spawn().await;
    assert_eq!(app.register("logged@example.com", PASSWORD).await.status(), 201);
    assert_eq!(app.login("logged@example.com", WRONG_PASSWORD).await.status(), 401);
    let first: TokenResponse = app.login("logged@example.com", PASSWORD).await.json().await.unwrap();
    app.validate(&first.access_token).await;
    let spend = json!({"amount": 3, "appId": "chat", "description": "logged", "idempotencyKey": "log-key-1"});
    let spent =
        app.http.post(app.api("/credits/use")).bearer_auth(&first.access_token).json(&spend).send().await.unwrap();
    assert_eq!(spent.status(), 200);
    let second: TokenResponse = app.refresh(&first.refresh_token).await.json().await.unwrap();
    // A replay after the grace window: the reuse is logged as a warning, the session revoked.
    app.advance(Duration::seconds(11));
    assert_eq!(app.refresh(&first.refresh_token).await.status(), 401);
    let forged = format!("{}x", second.access_token);
    assert_eq!(app.logout_with_bearer(&forged).await.status(), 401);
    assert_eq!(app.post("/auth/logout", json!({"refreshToken": second.refresh_token})).await.status(), 200);

    // Redis configured with a password but down: the outage is logged, the URL is not.
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let redis_url = format!("redis://:{REDIS_PASSWORD}@127.0.0.1:{closed_port}/");
    let limited = TestApp::spawn_with(
        &[
            ("REDIS_URL", redis_url.as_str()),
            ("RATE_LIMIT_REQUESTS_PER_MINUTE", "100"),
            ("LOGIN_FAILURES_PER_ACCOUNT", "1"),
        ],
        None,
    )
    .await;
    limited.register("locked@example.com", PASSWORD).await;
    for _ in 0..3 {
        limited.login("locked@example.com", WRONG_PASSWORD).await;
    }

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("Redis unreachable"), "the Redis outage is logged");
    assert!(logs.contains("failed-login budget spent; login refused"), "a lockout is logged");
    assert!(logs.contains("\"error_code\":\"invalid_credentials\""), "4xx request lines carry their code");
    assert!(logs.contains("\"error_code\":\"rate_limited\""), "429 request lines carry their code");
    for line in logs.lines().filter(|line| line.contains("\"latency_ms\"")) {
        let value = line.split("\"latency_ms\":").nth(1).unwrap().split([',', '}']).next().unwrap();
        let decimals = value.split('.').nth(1).map_or(0, str::len);
        assert!(decimals <= 3, "latency printed as {value} in {line}");
    }
    assert!(!logs.contains(REDIS_PASSWORD), "the Redis password reached the logs");
    assert!(!logs.contains("locked@example.com"), "a locked account's email reached the logs");
    assert!(logs.contains("\"request_id\""), "request lines are logged with their id");
    assert!(logs.contains("\"user_id\""), "authenticated requests are logged with the user id");
    assert!(logs.contains("refresh_token_reuse"), "the reuse warning is logged");
    let device_token = first.device_token.clone().unwrap();
    for secret in [
        PASSWORD,
        WRONG_PASSWORD,
        &device_token,
        &first.access_token,
        &first.refresh_token,
        &second.access_token,
        &second.refresh_token,
    ] {
        assert!(!logs.contains(secret), "a secret reached the logs");
    }
    // Not even a piece of a token: no JWT header, no Authorization header.
    let jwt_header = first.access_token.split('.').next().unwrap();
    assert!(!logs.contains(jwt_header), "a token header reached the logs");
    let lowercase = logs.to_lowercase();
    assert!(
        !lowercase.contains("authorization") && !lowercase.contains("bearer "),
        "an Authorization header reached the logs"
    );
}
