//! Bad requests of every kind get the documented envelope and a 4xx, never a bare status.

use reqwest::StatusCode;
use serde_json::json;

use mana_proto::FieldError;

use crate::common::{PASSWORD, TestApp, expect_error};

#[tokio::test]
async fn an_unknown_route_is_a_404_envelope() {
    let app = TestApp::spawn().await;
    let response = app.http.get(app.api("/nothing/here")).send().await.unwrap();
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn a_wrong_method_is_a_405_envelope_with_allow() {
    let app = TestApp::spawn().await;
    let response = app.http.get(app.api("/auth/login")).send().await.unwrap();
    assert_eq!(response.headers()["allow"], "POST");
    expect_error(response, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
}

#[tokio::test]
async fn malformed_json_is_a_400() {
    let app = TestApp::spawn().await;
    for body in ["{", "{\"email\": }", "", "nul"] {
        let response = app
            .http
            .post(app.api("/auth/register"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        expect_error(response, StatusCode::BAD_REQUEST, "malformed_json").await;
    }
}

#[tokio::test]
async fn a_wrong_content_type_is_a_415() {
    let app = TestApp::spawn().await;
    for content_type in [None, Some("text/plain"), Some("application/x-www-form-urlencoded")] {
        let mut request = app.http.post(app.api("/auth/login")).body(json!({"email": "a@b.co"}).to_string());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        expect_error(request.send().await.unwrap(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
    }
}

#[tokio::test]
async fn unknown_fields_are_rejected() {
    let app = TestApp::spawn().await;
    let response =
        app.post("/auth/register", json!({"email": "a@example.com", "password": PASSWORD, "role": "admin"})).await;
    let body = expect_error(response, StatusCode::BAD_REQUEST, "unknown_field").await;
    assert!(body.message.contains("role"), "the message names the field: {}", body.message);
    // Nothing was written.
    assert_eq!(app.register("a@example.com", PASSWORD).await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_body_that_is_not_an_object_is_rejected() {
    let app = TestApp::spawn().await;
    for body in [json!([1, 2]), json!("text"), json!(null), json!(5)] {
        let error = expect_error(app.post("/auth/register", body).await, StatusCode::BAD_REQUEST, "invalid_body").await;
        assert_eq!(error.message, "The request body must be a JSON object");
    }
}

#[tokio::test]
async fn a_field_of_the_wrong_type_is_named_in_the_words_of_the_api() {
    let app = TestApp::spawn().await;
    let response = app.post("/auth/register", json!({"email": 5, "password": PASSWORD})).await;
    let body = expect_error(response, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert_eq!(body.errors, Some(vec![FieldError::new("email", "must be a string")]));
    let tokens = app.signed_in("typed@example.com").await;
    for amount in [json!(1.5), json!("10"), json!(1e300)] {
        let spend = json!({"amount": amount, "appId": "chat", "description": "x"});
        let response =
            app.http.post(app.api("/credits/use")).bearer_auth(&tokens.access_token).json(&spend).send().await.unwrap();
        let body = expect_error(response, StatusCode::BAD_REQUEST, "validation_failed").await;
        assert_eq!(body.errors, Some(vec![FieldError::new("amount", "must be a whole number")]), "{amount}");
        for internal in ["i64", "line 1", "column", "invalid type"] {
            assert!(!format!("{body:?}").contains(internal), "{internal} leaked: {body:?}");
        }
    }
}

#[tokio::test]
async fn a_body_over_64_kib_is_a_413() {
    let app = TestApp::spawn().await;
    let huge = json!({"email": "big@example.com", "password": "x".repeat(64 * 1024)});
    expect_error(app.post("/auth/register", huge).await, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::spawn().await;
    let ok = app.http.get(app.url("/health")).send().await.unwrap();
    let generated = ok.headers()["x-request-id"].to_str().unwrap();
    assert!(generated.parse::<uuid::Uuid>().is_ok());

    let echoed = app.http.get(app.url("/health")).header("x-request-id", "trace-123.abc").send().await.unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-123.abc");

    let unsafe_id = app.http.get(app.url("/health")).header("x-request-id", "a b<script>").send().await.unwrap();
    assert_ne!(unsafe_id.headers()["x-request-id"], "a b<script>", "unsafe ids are replaced");

    let error = app.http.get(app.url("/missing")).header("x-request-id", "trace-404").send().await.unwrap();
    let body = expect_error(error, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(body.request_id, "trace-404");
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = TestApp::spawn().await;
    let health: serde_json::Value = app.http.get(app.url("/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");
    let ready = app.http.get(app.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(ready["status"], "ready");
}

#[tokio::test]
async fn a_database_out_of_reach_is_a_503_to_retry_not_a_500() {
    let app = TestApp::spawn().await;
    let tokens = app.signed_in("outage@example.com").await;
    // Closing the pool is what a lost database looks like from here: no connection to be had.
    app.state.backend().close().await;
    let response = app.http.get(app.api("/credits/balance")).bearer_auth(&tokens.access_token).send().await.unwrap();
    assert_eq!(response.headers()["retry-after"], "1");
    let body = expect_error(response, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;
    assert!(!body.message.to_lowercase().contains("pool"), "nothing internal is revealed: {}", body.message);
    let login = app.login("outage@example.com", PASSWORD).await;
    expect_error(login, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;
    expect_error(app.http.get(app.url("/ready")).send().await.unwrap(), StatusCode::SERVICE_UNAVAILABLE, "not_ready")
        .await;
}
