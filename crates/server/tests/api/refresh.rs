use chrono::Duration;
use mana_core::store::SecurityEventKind;
use mana_proto::TokenResponse;
use reqwest::StatusCode;
use serde_json::json;

use crate::common::{TestApp, expect_error};
use crate::token_attacks::claims_of;

async fn refreshed(app: &TestApp, token: &str) -> TokenResponse {
    let response = app.refresh(token).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn refresh_rotates_the_token_and_keeps_the_session() {
    let app = TestApp::spawn().await;
    let first = app.signed_in("rotate@example.com").await;
    app.advance(Duration::minutes(14));
    let second = refreshed(&app, &first.refresh_token).await;

    assert_ne!(second.refresh_token, first.refresh_token);
    assert_ne!(second.access_token, first.access_token);
    let (old, new) = (claims_of(&first.access_token), claims_of(&second.access_token));
    assert_eq!(old["sid"], new["sid"], "the session id survives rotation");
    assert_ne!(old["jti"], new["jti"]);
    assert_eq!(second.expires_in, 900);
    assert_eq!(second.user, first.user);
    assert_eq!(app.validate(&second.access_token).await["valid"], true);
    // The new refresh token works in turn.
    refreshed(&app, &second.refresh_token).await;
}

#[tokio::test]
async fn the_parent_replayed_within_the_grace_window_gets_the_same_pair() {
    let app = TestApp::spawn().await;
    let first = app.signed_in("tabs@example.com").await;
    let second = refreshed(&app, &first.refresh_token).await;
    app.advance(Duration::seconds(9));
    let again = refreshed(&app, &first.refresh_token).await;
    assert_eq!(again, second, "the same current pair, byte for byte");
    // Nothing was revoked: the current token still rotates.
    refreshed(&app, &second.refresh_token).await;
}

#[tokio::test]
async fn replaying_the_parent_after_the_grace_window_revokes_the_session() {
    let app = TestApp::spawn().await;
    let first = app.signed_in("stolen@example.com").await;
    let second = refreshed(&app, &first.refresh_token).await;
    app.advance(Duration::seconds(11));

    expect_error(app.refresh(&first.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    // The whole session is gone: the newest refresh token and its access token too.
    expect_error(app.refresh(&second.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    let verdict = app.validate(&second.access_token).await;
    assert_eq!(verdict["valid"], false);
    assert_eq!(verdict["error"], "session_revoked");

    let user = second.user.id.parse().unwrap();
    let events = app.state.auth().store().security_events(user, 10, 0).await.unwrap();
    let reuse = events.iter().find(|e| e.kind == SecurityEventKind::RefreshTokenReuse).expect("reuse is recorded");
    assert_eq!(
        reuse.details.session_id.map(|id| id.to_string()),
        claims_of(&first.access_token)["sid"].as_str().map(String::from)
    );
}

#[tokio::test]
async fn an_older_ancestor_revokes_the_session_even_within_the_grace_window() {
    let app = TestApp::spawn().await;
    let first = app.signed_in("ancestor@example.com").await;
    let second = refreshed(&app, &first.refresh_token).await;
    let third = refreshed(&app, &second.refresh_token).await;
    expect_error(app.refresh(&first.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    expect_error(app.refresh(&third.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
}

#[tokio::test]
async fn a_refresh_token_expires_after_seven_days_unused() {
    let app = TestApp::spawn().await;
    let tokens = app.signed_in("idle@example.com").await;
    app.advance(Duration::days(7) + Duration::seconds(1));
    expect_error(app.refresh(&tokens.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
}

#[tokio::test]
async fn each_rotation_extends_the_seven_days() {
    let app = TestApp::spawn().await;
    let first = app.signed_in("active@example.com").await;
    app.advance(Duration::days(6));
    let second = refreshed(&app, &first.refresh_token).await;
    app.advance(Duration::days(6));
    refreshed(&app, &second.refresh_token).await;
}

#[tokio::test]
async fn no_rotation_extends_a_session_beyond_its_absolute_lifetime() {
    let app = TestApp::spawn_with(&[("SESSION_MAX_LIFETIME_SECONDS", "1209600")], None).await;
    let mut tokens = app.signed_in("forever@example.com").await;
    // Refreshed every six days, a stolen token would otherwise live for ever.
    for _ in 0..2 {
        app.advance(Duration::days(6));
        tokens = refreshed(&app, &tokens.refresh_token).await;
    }
    app.advance(Duration::days(2) + Duration::seconds(1));
    let response = app.refresh(&tokens.refresh_token).await;
    assert!(response.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
    expect_error(response, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
}

#[tokio::test]
async fn unknown_or_malformed_refresh_tokens_are_refused_without_side_effects() {
    let app = TestApp::spawn().await;
    let tokens = app.signed_in("garbage@example.com").await;
    for bad in ["nonsense", "A".repeat(43).as_str(), &tokens.access_token] {
        expect_error(app.refresh(bad).await, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    }
    // Garbage never revokes anything: the real token still works.
    refreshed(&app, &tokens.refresh_token).await;
}

#[tokio::test]
async fn refresh_requires_a_token() {
    let app = TestApp::spawn().await;
    expect_error(app.post("/auth/refresh", json!({})).await, StatusCode::BAD_REQUEST, "validation_failed").await;
}

#[tokio::test]
async fn a_deleted_user_cannot_refresh() {
    let app = TestApp::spawn().await;
    let tokens = app.signed_in("deleted@example.com").await;
    app.state.auth().delete_account(tokens.user.id.parse().unwrap(), &Default::default()).await.unwrap();
    expect_error(app.refresh(&tokens.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
}
