//! Email verification and password reset over HTTP (SPEC §4): the links in queued messages,
//! single use, one answer for every bad token, sessions ended by a reset, the pages.

use std::time::Duration as StdDuration;

use chrono::Duration;
use mana_proto::TokenResponse;
use reqwest::StatusCode;
use serde_json::json;

use crate::common::{PASSWORD, TestApp, expect_error, link_token, mailbox, message_to};

const NEW_PASSWORD: &str = "a brand new passphrase";

async fn email_verified(app: &TestApp, email: &str) -> bool {
    let email = mana_core::email::Email::parse(email).unwrap();
    app.state.auth().store().find_credentials(&email).await.unwrap().unwrap().user.email_verified
}

#[tokio::test]
async fn registration_sends_a_verification_link_that_works_once() {
    let app = TestApp::spawn().await;
    assert_eq!(app.register("verify@example.com", PASSWORD).await.status(), StatusCode::CREATED);
    let message = mailbox(&app).await.pop().expect("the verification email is queued with the account");
    assert_eq!(message.to, "verify@example.com");
    assert!(message.text_body.contains("/auth/verify-email?token="), "{}", message.text_body);
    assert!(!email_verified(&app, "verify@example.com").await);

    let token = link_token(&message);
    let response = app.post("/auth/verify-email", json!({"token": token})).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(email_verified(&app, "verify@example.com").await);
    expect_error(
        app.post("/auth/verify-email", json!({"token": token})).await,
        StatusCode::BAD_REQUEST,
        "invalid_link_token",
    )
    .await;
}

#[tokio::test]
async fn every_bad_token_gets_the_same_answer() {
    let app = TestApp::spawn().await;
    app.register("tokens@example.com", PASSWORD).await;
    let verification = link_token(&mailbox(&app).await.pop().unwrap());
    let unknown = mana_core::tokens::LinkToken::generate().expose();
    for token in ["", "not-a-token", &unknown[..20], &unknown, &verification] {
        // The verification token is of the wrong purpose for a reset.
        let response = app.post("/auth/reset-password", json!({"token": token, "password": NEW_PASSWORD})).await;
        let body = expect_error(response, StatusCode::BAD_REQUEST, "invalid_link_token").await;
        assert_eq!(body.message, "Invalid or expired link", "{token:?}");
    }
    // Expired: a verification link lives 24 hours.
    app.advance(Duration::hours(24));
    let expired = app.post("/auth/verify-email", json!({"token": verification})).await;
    expect_error(expired, StatusCode::BAD_REQUEST, "invalid_link_token").await;
}

#[tokio::test]
async fn forgot_password_answers_alike_for_known_and_unknown_addresses() {
    let app = TestApp::spawn().await;
    app.register("known@example.com", PASSWORD).await;
    mailbox(&app).await;
    let known = app.post("/auth/forgot-password", json!({"email": "Known@Example.com "})).await;
    let unknown = app.post("/auth/forgot-password", json!({"email": "nobody@example.com"})).await;
    assert_eq!((known.status(), unknown.status()), (StatusCode::ACCEPTED, StatusCode::ACCEPTED));
    assert_eq!(known.text().await.unwrap(), unknown.text().await.unwrap());
    let message = message_to(&app, "known@example.com").await;
    assert_eq!(message.subject, "Reset your password");
    tokio::time::sleep(StdDuration::from_millis(100)).await;
    assert!(mailbox(&app).await.is_empty(), "nothing is sent for an unknown address");
    let malformed = app.post("/auth/forgot-password", json!({"email": "not an address"})).await;
    expect_error(malformed, StatusCode::BAD_REQUEST, "validation_failed").await;
}

#[tokio::test]
async fn a_reset_changes_the_password_ends_every_session_and_sends_a_notice() {
    let app = TestApp::spawn().await;
    let session: TokenResponse = app.signed_in("reset@example.com").await;
    mailbox(&app).await; // the verification email
    app.post("/auth/forgot-password", json!({"email": "reset@example.com"})).await;
    let token = link_token(&message_to(&app, "reset@example.com").await);

    let weak = app.post("/auth/reset-password", json!({"token": token, "password": "short"})).await;
    expect_error(weak, StatusCode::BAD_REQUEST, "validation_failed").await;
    let response = app.post("/auth/reset-password", json!({"token": token, "password": NEW_PASSWORD})).await;
    assert_eq!(response.status(), StatusCode::OK);

    expect_error(app.refresh(&session.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    assert_eq!(app.validate(&session.access_token).await["error"], "session_revoked");
    expect_error(app.login("reset@example.com", PASSWORD).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_eq!(app.login("reset@example.com", NEW_PASSWORD).await.status(), StatusCode::OK);
    assert_eq!(message_to(&app, "reset@example.com").await.subject, "Your password was changed");
    let again = app.post("/auth/reset-password", json!({"token": token, "password": "yet another passphrase"})).await;
    expect_error(again, StatusCode::BAD_REQUEST, "invalid_link_token").await;
}

#[tokio::test]
async fn a_new_reset_link_voids_the_older_one_and_links_expire_after_an_hour() {
    let app = TestApp::spawn().await;
    app.register("twice@example.com", PASSWORD).await;
    mailbox(&app).await;
    app.post("/auth/forgot-password", json!({"email": "twice@example.com"})).await;
    let first = link_token(&message_to(&app, "twice@example.com").await);
    app.post("/auth/forgot-password", json!({"email": "twice@example.com"})).await;
    let second = link_token(&message_to(&app, "twice@example.com").await);
    let old = app.post("/auth/reset-password", json!({"token": first, "password": NEW_PASSWORD})).await;
    expect_error(old, StatusCode::BAD_REQUEST, "invalid_link_token").await;
    app.advance(Duration::minutes(61));
    let late = app.post("/auth/reset-password", json!({"token": second, "password": NEW_PASSWORD})).await;
    expect_error(late, StatusCode::BAD_REQUEST, "invalid_link_token").await;
}

#[tokio::test]
async fn resend_verification_needs_a_session_and_sends_only_while_unverified() {
    let app = TestApp::spawn().await;
    let tokens = app.signed_in("resend@example.com").await;
    let first = mailbox(&app).await.pop().unwrap();
    let resend = || app.http.post(app.api("/auth/resend-verification")).bearer_auth(&tokens.access_token).send();
    expect_error(app.post("/auth/resend-verification", json!({})).await, StatusCode::UNAUTHORIZED, "missing_token")
        .await;
    assert_eq!(resend().await.unwrap().status(), StatusCode::ACCEPTED);
    let second = mailbox(&app).await.pop().expect("a new link");
    assert_ne!(link_token(&first), link_token(&second));
    app.post("/auth/verify-email", json!({"token": link_token(&second)})).await;
    assert_eq!(resend().await.unwrap().status(), StatusCode::ACCEPTED);
    assert!(mailbox(&app).await.is_empty(), "a verified address gets no more links");
}

#[tokio::test]
async fn forgot_password_is_limited_per_account() {
    let app = TestApp::spawn().await;
    for _ in 0..5 {
        let response = app.post("/auth/forgot-password", json!({"email": "target@example.com"})).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    let limited = app.post("/auth/forgot-password", json!({"email": "TARGET@example.com"})).await;
    expect_error(limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    let other = app.post("/auth/forgot-password", json!({"email": "other@example.com"})).await;
    assert_eq!(other.status(), StatusCode::ACCEPTED, "other accounts are not affected");
}

#[tokio::test]
async fn the_reset_page_is_a_plain_form_that_opening_does_not_spend() {
    let app = TestApp::spawn().await;
    app.register("page@example.com", PASSWORD).await;
    mailbox(&app).await;
    app.post("/auth/forgot-password", json!({"email": "page@example.com"})).await;
    let token = link_token(&message_to(&app, "page@example.com").await);
    let page = app.http.get(app.url(&format!("/auth/reset-password?token={token}"))).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let policy = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(policy.contains("default-src 'none'") && policy.contains("form-action 'self'"), "{policy}");
    assert!(!policy.contains("script-src"), "{policy}");
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    let html = page.text().await.unwrap();
    assert!(html.contains(&format!("value=\"{token}\"")) && !html.contains("<script"), "{html}");

    let form = |password: &str, confirm: &str| {
        let fields = [("token", token.as_str()), ("password", password), ("confirm", confirm)];
        app.http.post(app.url("/auth/reset-password")).form(&fields).send()
    };
    let forged = app
        .http
        .post(app.url("/auth/reset-password"))
        .header("sec-fetch-site", "cross-site")
        .form(&[("token", token.as_str()), ("password", NEW_PASSWORD), ("confirm", NEW_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let mismatch = form(NEW_PASSWORD, "something else").await.unwrap();
    assert_eq!(mismatch.status(), StatusCode::BAD_REQUEST);
    assert!(mismatch.text().await.unwrap().contains("The two passwords differ"));
    let done = form(NEW_PASSWORD, NEW_PASSWORD).await.unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    assert!(done.text().await.unwrap().contains("Your password was changed"));
    assert_eq!(app.login("page@example.com", NEW_PASSWORD).await.status(), StatusCode::OK);
    let spent = form(NEW_PASSWORD, NEW_PASSWORD).await.unwrap();
    assert_eq!(spent.status(), StatusCode::BAD_REQUEST);
    assert!(spent.text().await.unwrap().contains("This link does not work"));
}

#[tokio::test]
async fn the_verification_page_confirms_only_when_its_form_is_sent() {
    let app = TestApp::spawn().await;
    app.register("pageverify@example.com", PASSWORD).await;
    let token = link_token(&mailbox(&app).await.pop().unwrap());
    let page = app.http.get(app.url(&format!("/auth/verify-email?token={token}"))).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(!email_verified(&app, "pageverify@example.com").await, "opening the link changes nothing");
    let sent = app.http.post(app.url("/auth/verify-email")).form(&[("token", token.as_str())]).send().await.unwrap();
    assert_eq!(sent.status(), StatusCode::OK);
    assert!(email_verified(&app, "pageverify@example.com").await);
}

#[tokio::test]
async fn with_verification_required_only_verified_accounts_sign_in_and_tokens_say_so() {
    let app = TestApp::spawn_with(&[("REQUIRE_EMAIL_VERIFICATION", "true")], None).await;
    app.register("strict@example.com", PASSWORD).await;
    mailbox(&app).await;
    expect_error(
        app.login("strict@example.com", "not the password").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert!(mailbox(&app).await.is_empty(), "a wrong password sends nothing");
    expect_error(app.login("strict@example.com", PASSWORD).await, StatusCode::FORBIDDEN, "email_not_verified").await;
    let fresh = mailbox(&app).await.pop().expect("a new verification link with the refusal");
    assert_eq!(app.post("/auth/verify-email", json!({"token": link_token(&fresh)})).await.status(), StatusCode::OK);
    let tokens: TokenResponse = app.login("strict@example.com", PASSWORD).await.json().await.unwrap();
    assert_eq!(app.validate(&tokens.access_token).await["payload"]["email_verified"], true);
}

#[tokio::test]
async fn by_default_unverified_accounts_sign_in_with_tokens_that_say_so() {
    let app = TestApp::spawn().await;
    let tokens = app.signed_in("lenient@example.com").await;
    assert_eq!(app.validate(&tokens.access_token).await["payload"]["email_verified"], false);
}
