//! `/metrics`: Prometheus text with request, login, refresh-reuse, credit and pool metrics.

use reqwest::StatusCode;

use crate::common::{PASSWORD, TestApp, metric_sample as sample};

#[tokio::test]
async fn the_metrics_page_counts_requests_logins_reuse_and_credits() {
    let app = TestApp::spawn().await;
    let tokens = app.record_domain_metrics("metered@example.com", "metrics-app", 7).await;
    app.http.get(app.api("/credits/balance/some-id-123")).send().await.unwrap();

    let response = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let page = response.text().await.unwrap();

    let login_401 = ["method=\"POST\"", "route=\"/api/v1/auth/login\"", "status=\"401\""];
    assert!(sample(&page, "http_requests_total", &login_401) >= Some(1.0), "{page}");
    assert!(
        sample(&page, "http_request_duration_seconds_bucket", &["route=\"/api/v1/auth/login\"", "le=\"+Inf\""])
            .is_some()
    );
    assert!(sample(&page, "http_requests_total", &["route=\"unmatched\"", "status=\"404\""]).is_some());
    assert!(!page.contains("some-id-123"), "raw paths never become labels");
    assert!(sample(&page, "auth_logins_total", &["outcome=\"success\""]) >= Some(1.0));
    assert!(sample(&page, "auth_logins_total", &["outcome=\"wrong_password\""]) >= Some(1.0));
    assert!(sample(&page, "auth_refresh_token_reuse_total", &[]) >= Some(1.0));
    assert!(sample(&page, "credits_spent_total", &["app=\"metrics-app\""]) >= Some(7.0));
    assert!(sample(&page, "db_pool_connections", &["state=\"idle\""]).is_some());
    assert!(sample(&page, "db_pool_connections", &["state=\"in_use\""]).is_some());
    assert!(!page.contains(PASSWORD) && !page.contains(&tokens.access_token));
}

#[tokio::test]
async fn metrics_can_be_moved_off_the_api_port() {
    let app = TestApp::spawn_with(&[("METRICS_LISTEN_ADDR", "127.0.0.1:0")], None).await;
    let on_api_port = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(on_api_port.status(), StatusCode::NOT_FOUND);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let metrics = mana_server::app::metrics_router(app.state.clone());
    tokio::spawn(async move { axum::serve(listener, metrics).await.unwrap() });
    let page = app.http.get(format!("http://{address}/metrics")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("db_pool_connections"));
}
