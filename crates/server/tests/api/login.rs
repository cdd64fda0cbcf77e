use mana_core::email::Email;
use mana_core::store::SecurityEventKind;
use mana_proto::TokenResponse;
use reqwest::StatusCode;
use serde_json::json;

use crate::common::{PASSWORD, TestApp, expect_error};

#[tokio::test]
async fn login_returns_a_bearer_pair_and_the_user() {
    let app = TestApp::spawn().await;
    app.post("/auth/register", json!({"email": "ada@example.com", "password": PASSWORD, "name": "Ada"})).await;
    let response = app.login("ADA@example.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    let mut keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["accessToken", "deviceToken", "expiresIn", "refreshToken", "tokenType", "user"]);
    let tokens: TokenResponse = serde_json::from_value(body).unwrap();
    assert_eq!(tokens.expires_in, 900);
    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.user.email, "ada@example.com");
    assert_eq!(tokens.user.name.as_deref(), Some("Ada"));
    assert_eq!(tokens.user.role, "user");
    assert_eq!(tokens.access_token.split('.').count(), 3);
    // 32 random bytes, base64url without padding.
    assert_eq!(tokens.refresh_token.len(), 43);
}

#[tokio::test]
async fn a_refused_login_carries_a_challenge() {
    let app = TestApp::spawn().await;
    let response = app.login("nobody@example.com", "wrong password").await;
    assert!(response.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    expect_error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

/// An attacker must not learn whether an account exists, or existed.
#[tokio::test]
async fn unknown_email_wrong_password_and_deleted_account_get_the_same_401() {
    let app = TestApp::spawn().await;
    app.signed_in("real@example.com").await;
    let gone = app.signed_in("gone@example.com").await;
    let gone_id = gone.user.id.parse().unwrap();
    app.state.auth().delete_account(gone_id, &Default::default()).await.unwrap();

    let mut bodies = Vec::new();
    for (email, password) in
        [("nobody@example.com", PASSWORD), ("real@example.com", "wrong password!"), ("gone@example.com", PASSWORD)]
    {
        let mut body =
            expect_error(app.login(email, password).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        body.request_id.clear();
        bodies.push(body);
    }
    assert_eq!(bodies[0], bodies[1]);
    assert_eq!(bodies[1], bodies[2]);
}

#[tokio::test]
async fn a_malformed_email_at_login_is_just_invalid_credentials() {
    let app = TestApp::spawn().await;
    expect_error(app.login("not an email", PASSWORD).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[tokio::test]
async fn login_requires_email_and_password() {
    let app = TestApp::spawn().await;
    let body =
        expect_error(app.post("/auth/login", json!({})).await, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert_eq!(body.errors.unwrap().len(), 2);
}

#[tokio::test]
async fn successes_and_failures_are_security_events() {
    let app = TestApp::spawn().await;
    let tokens = app.signed_in("events@example.com").await;
    app.login("events@example.com", "wrong password!").await;
    let user = tokens.user.id.parse().unwrap();
    let kinds: Vec<_> =
        app.state.auth().store().security_events(user, 10, 0).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [SecurityEventKind::LoginFailure, SecurityEventKind::LoginSuccess, SecurityEventKind::Register]);
}

#[tokio::test]
async fn the_session_records_device_and_client() {
    let app = TestApp::spawn().await;
    app.register("device@example.com", PASSWORD).await;
    let login = app
        .post(
            "/auth/login",
            json!({"email": "device@example.com", "password": PASSWORD, "deviceId": "d-42", "deviceName": "Ada's phone"}),
        )
        .await;
    let tokens: TokenResponse = login.json().await.unwrap();
    let sessions = app.state.auth().store().list_sessions(tokens.user.id.parse().unwrap()).await.unwrap();
    assert_eq!(sessions.len(), 1);
    let session = &sessions[0];
    assert_eq!(session.device_id.as_deref(), Some("d-42"));
    assert_eq!(session.device_name.as_deref(), Some("Ada's phone"));
    assert_eq!(session.client.ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(session.client.user_agent.as_deref(), Some("mana-tests/1.0"));
    assert_eq!(session.expires_at - session.created_at, chrono::Duration::days(7));
}

#[tokio::test]
async fn each_login_opens_its_own_session() {
    let app = TestApp::spawn().await;
    let first = app.signed_in("twice@example.com").await;
    let second: TokenResponse = app.login("twice@example.com", PASSWORD).await.json().await.unwrap();
    let sid = |t: &TokenResponse| crate::token_attacks::claims_of(&t.access_token)["sid"].clone();
    assert_ne!(sid(&first), sid(&second));
}

#[tokio::test]
async fn a_weaker_hash_is_upgraded_at_the_next_login() {
    let app = TestApp::spawn().await;
    app.register("upgrade@example.com", PASSWORD).await;
    let store = app.state.auth().store().clone();
    let email = Email::parse("upgrade@example.com").unwrap();
    let before = store.find_credentials(&email).await.unwrap().unwrap();
    // The operator raises the bcrypt cost; the same database is served with the new setting.
    let keys = (*app.state.auth().tokens().keys()).clone();
    let config = crate::common::test_config(&[("BCRYPT_COST", "5")]);
    let stronger =
        mana_server::app::build_state(&config, app.state.backend().clone(), keys, app.clock.clone()).unwrap();
    stronger
        .auth()
        .login(
            mana_core::auth::LoginAttempt { email: email.to_string(), password: PASSWORD.into(), ..Default::default() },
            &Default::default(),
        )
        .await
        .unwrap();
    let after = store.find_credentials(&email).await.unwrap().unwrap();
    assert!(before.password_hash.starts_with("$2b$04$"));
    assert!(after.password_hash.starts_with("$2b$05$"));
    assert_eq!(app.login("upgrade@example.com", PASSWORD).await.status(), StatusCode::OK);
}
