use chrono::Duration;
use reqwest::StatusCode;
use serde_json::json;

use crate::common::{TestApp, expect_error};

#[tokio::test]
async fn a_valid_token_returns_its_claims() {
    let app = TestApp::spawn().await;
    let tokens = app.signed_in("valid@example.com").await;
    let verdict = app.validate(&tokens.access_token).await;
    assert_eq!(verdict["valid"], true);
    assert!(verdict.get("error").is_none());
    let payload = &verdict["payload"];
    assert_eq!(payload["sub"], tokens.user.id);
    assert_eq!(payload["email"], "valid@example.com");
    assert_eq!(payload["role"], "user");
    assert_eq!(payload["iss"], "https://auth.mana.test");
    assert_eq!(payload["aud"], "mana-apps");
    assert_eq!(payload["exp"].as_i64().unwrap() - payload["iat"].as_i64().unwrap(), 900);
    assert!(payload["sid"].as_str().unwrap().parse::<uuid::Uuid>().is_ok());
    assert!(payload["jti"].as_str().unwrap().parse::<uuid::Uuid>().is_ok());
}

#[tokio::test]
async fn a_token_is_valid_until_its_expiry_plus_the_leeway() {
    let app = TestApp::spawn().await;
    let tokens = app.signed_in("leeway@example.com").await;
    app.advance(Duration::minutes(15) + Duration::seconds(20));
    assert_eq!(app.validate(&tokens.access_token).await["valid"], true);
    app.advance(Duration::seconds(12));
    assert_eq!(app.validate(&tokens.access_token).await, json!({"valid": false, "error": "token_expired"}));
}

#[tokio::test]
async fn garbage_is_answered_with_valid_false() {
    let app = TestApp::spawn().await;
    for garbage in ["x", "a.b.c", "eyJ.eyJ.sig"] {
        let verdict = app.validate(garbage).await;
        assert_eq!(verdict["valid"], false);
        assert_eq!(verdict["error"], "malformed_token");
    }
}

#[tokio::test]
async fn validate_requires_a_token() {
    let app = TestApp::spawn().await;
    expect_error(app.post("/auth/validate", json!({})).await, StatusCode::BAD_REQUEST, "validation_failed").await;
}

#[tokio::test]
async fn tokens_of_a_deleted_user_are_invalid() {
    let app = TestApp::spawn().await;
    let tokens = app.signed_in("removed@example.com").await;
    app.state.auth().delete_account(tokens.user.id.parse().unwrap(), &Default::default()).await.unwrap();
    let verdict = app.validate(&tokens.access_token).await;
    assert_eq!(verdict, json!({"valid": false, "error": "user_deleted"}));
    expect_error(app.logout_with_bearer(&tokens.access_token).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
}
