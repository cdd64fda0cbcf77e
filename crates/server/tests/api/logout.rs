use mana_core::store::SecurityEventKind;
use reqwest::StatusCode;
use serde_json::json;

use crate::common::{TestApp, expect_error};

#[tokio::test]
async fn logout_with_the_bearer_token_ends_the_session() {
    let app = TestApp::spawn().await;
    let tokens = app.signed_in("bye@example.com").await;
    let response = app.logout_with_bearer(&tokens.access_token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["message"].is_string());

    let verdict = app.validate(&tokens.access_token).await;
    assert_eq!(verdict, json!({"valid": false, "error": "session_revoked"}));
    expect_error(app.refresh(&tokens.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    // The revoked access token no longer opens Bearer routes either.
    expect_error(app.logout_with_bearer(&tokens.access_token).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn logout_with_the_refresh_token_in_the_body_ends_the_session() {
    let app = TestApp::spawn().await;
    let tokens = app.signed_in("body@example.com").await;
    let response = app.post("/auth/logout", json!({"refreshToken": tokens.refresh_token})).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.validate(&tokens.access_token).await["valid"], false);
    expect_error(app.refresh(&tokens.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
}

#[tokio::test]
async fn logout_ends_only_its_own_session() {
    let app = TestApp::spawn().await;
    let laptop = app.signed_in("two@example.com").await;
    let phone: mana_proto::TokenResponse =
        app.login("two@example.com", crate::common::PASSWORD).await.json().await.unwrap();
    app.logout_with_bearer(&laptop.access_token).await;
    assert_eq!(app.validate(&phone.access_token).await["valid"], true);
    assert_eq!(app.refresh(&phone.refresh_token).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn logout_without_any_token_is_401() {
    let app = TestApp::spawn().await;
    let response = app.http.post(app.api("/auth/logout")).send().await.unwrap();
    let body = expect_error(response, StatusCode::UNAUTHORIZED, "missing_token").await;
    assert!(body.errors.is_none());
    expect_error(app.post("/auth/logout", json!({})).await, StatusCode::UNAUTHORIZED, "missing_token").await;
    // A JSON `null` body is the absent body the document allows, not a malformed one.
    expect_error(app.post("/auth/logout", json!(null)).await, StatusCode::UNAUTHORIZED, "missing_token").await;
}

#[tokio::test]
async fn logout_with_an_unknown_refresh_token_is_401() {
    let app = TestApp::spawn().await;
    let response = app.post("/auth/logout", json!({"refreshToken": "A".repeat(43)})).await;
    expect_error(response, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
}

#[tokio::test]
async fn a_malformed_authorization_header_is_401() {
    let app = TestApp::spawn().await;
    for header in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "token"] {
        let response = app.http.post(app.api("/auth/logout")).header("authorization", header).send().await.unwrap();
        let www = response.headers().get("www-authenticate").cloned();
        expect_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
        assert!(www.is_some(), "401 carries a WWW-Authenticate challenge");
    }
}

#[tokio::test]
async fn logout_is_a_security_event() {
    let app = TestApp::spawn().await;
    let tokens = app.signed_in("audit-out@example.com").await;
    app.logout_with_bearer(&tokens.access_token).await;
    let events = app.state.auth().store().security_events(tokens.user.id.parse().unwrap(), 1, 0).await.unwrap();
    assert_eq!(events[0].kind, SecurityEventKind::Logout);
}
