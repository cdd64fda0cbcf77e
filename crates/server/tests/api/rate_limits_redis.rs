//! Rate limits shared through a real Redis, and what happens when it goes away.

use reqwest::StatusCode;

use crate::common::{PASSWORD, TestApp, metric_sample};
use crate::rate_limits::{expect_rate_limited, parallel_wrong_logins};
use crate::redis_server::RedisServer;

async fn spawn_with_redis(redis: &RedisServer, prefix: &str, overrides: &[(&str, &str)]) -> TestApp {
    let url = redis.url();
    let mut settings = vec![("REDIS_URL", url.as_str()), ("REDIS_KEY_PREFIX", prefix), ("REDIS_TIMEOUT_MS", "500")];
    settings.extend_from_slice(overrides);
    TestApp::spawn_with(&settings, None).await
}

async fn status(app: &TestApp) -> StatusCode {
    app.http.get(app.api("/.well-known/jwks.json")).send().await.unwrap().status()
}

#[tokio::test]
async fn instances_sharing_a_redis_share_the_budget() {
    let redis = RedisServer::start().await;
    let budget = [("RATE_LIMIT_REQUESTS_PER_MINUTE", "4")];
    let a = spawn_with_redis(&redis, "shared:", &budget).await;
    let b = spawn_with_redis(&redis, "shared:", &budget).await;
    for app in [&a, &b, &a, &b] {
        assert_eq!(status(app).await, StatusCode::OK);
    }
    // Each instance has seen only two requests; together the client has spent four.
    for app in [&a, &b] {
        let response = app.http.get(app.api("/.well-known/jwks.json")).send().await.unwrap();
        expect_rate_limited(response, "rate_limited").await;
    }
    assert_eq!(redis.keys("shared:").await, vec!["shared:requests:ip:127.0.0.1".to_owned()]);
}

#[tokio::test]
async fn account_lockouts_are_shared_too() {
    let redis = RedisServer::start().await;
    let budget = [("LOGIN_FAILURES_PER_ACCOUNT", "2")];
    let a = spawn_with_redis(&redis, "lockout:", &budget).await;
    let b = spawn_with_redis(&redis, "lockout:", &budget).await;
    a.register("shared-victim@example.com", PASSWORD).await;
    for app in [&a, &b] {
        assert_eq!(app.login("shared-victim@example.com", "wrong").await.status(), StatusCode::UNAUTHORIZED);
    }
    expect_rate_limited(a.login("shared-victim@example.com", "wrong").await, "rate_limited").await;
    expect_rate_limited(b.login("shared-victim@example.com", PASSWORD).await, "rate_limited").await;
    let keys = redis.keys("lockout:login_failures:").await;
    assert_eq!(keys.len(), 1);
    assert!(!keys[0].contains("example.com"), "accounts are keyed by a hash, not the address: {keys:?}");
}

#[tokio::test]
async fn parallel_guesses_through_two_instances_cannot_exceed_the_shared_budget() {
    let redis = RedisServer::start().await;
    let budget = [("LOGIN_FAILURES_PER_ACCOUNT", "5")];
    let a = spawn_with_redis(&redis, "race:", &budget).await;
    let b = spawn_with_redis(&redis, "race:", &budget).await;
    a.register("raced@example.com", PASSWORD).await;
    let statuses = parallel_wrong_logins(&[&a, &b], "raced@example.com", 16).await;
    let checked = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    assert_eq!(checked, 5, "{statuses:?}");
    // A successful login gives its reserved failure back: signing in often locks nobody out.
    let fresh = spawn_with_redis(&redis, "refund:", &[("LOGIN_FAILURES_PER_ACCOUNT", "2")]).await;
    fresh.register("often@example.com", PASSWORD).await;
    for _ in 0..5 {
        assert_eq!(fresh.login("often@example.com", PASSWORD).await.status(), StatusCode::OK);
    }
    assert!(redis.keys("refund:login_failures:").await.is_empty(), "refunded budgets are forgotten");
}

#[tokio::test]
async fn when_redis_goes_away_the_service_keeps_serving_on_local_counters_and_recovers() {
    let mut redis = RedisServer::start().await;
    let app = spawn_with_redis(&redis, "outage:", &[("RATE_LIMIT_REQUESTS_PER_MINUTE", "5")]).await;
    let errors_before = metric_sample(&app.metrics_page().await, "redis_errors_total", &[]).unwrap_or(0.0);
    assert_eq!(status(&app).await, StatusCode::OK);
    assert_eq!(redis.keys("outage:").await.len(), 1, "counted in Redis while it is up");

    redis.stop();
    // Served, not failed: sign-ups go on, and the limits fall back to this instance's own
    // counters ...
    let register = app.register("during-outage@example.com", PASSWORD).await;
    assert_eq!(register.status(), StatusCode::CREATED);
    for _ in 0..4 {
        assert_eq!(status(&app).await, StatusCode::OK);
    }
    // ... which still enforce the budget.
    let response = app.http.get(app.api("/.well-known/jwks.json")).send().await.unwrap();
    expect_rate_limited(response, "rate_limited").await;
    let errors_during = metric_sample(&app.metrics_page().await, "redis_errors_total", &[]).unwrap();
    assert!(errors_during > errors_before, "failed Redis calls are counted: {errors_before} -> {errors_during}");

    // Back on the same address (empty, as after a Redis restart): shared counting resumes.
    redis.restart().await;
    let mut recovered = false;
    for _ in 0..50 {
        status(&app).await;
        if !redis.keys("outage:").await.is_empty() {
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(recovered, "the service reconnects to Redis on its own");
}

#[tokio::test]
async fn a_redis_that_accepts_but_never_answers_costs_a_timeout_not_an_outage() {
    // A peer that takes connections and says nothing, like a Redis stuck in a long command.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((connection, _)) = silent.accept().await {
            held.push(connection);
        }
    });
    let url = format!("redis://{address}/");
    let app = TestApp::spawn_with(
        &[("REDIS_URL", url.as_str()), ("REDIS_TIMEOUT_MS", "50"), ("RATE_LIMIT_REQUESTS_PER_MINUTE", "3")],
        None,
    )
    .await;
    for _ in 0..3 {
        assert_eq!(status(&app).await, StatusCode::OK);
    }
    let response = app.http.get(app.api("/.well-known/jwks.json")).send().await.unwrap();
    expect_rate_limited(response, "rate_limited").await;
}
