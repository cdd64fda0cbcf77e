//! A signed-in user's own account over HTTP (SPEC §4): profile, sessions, security log, a new
//! password; every attempt to reach another user's data is refused.

use mana_proto::{ProfileView, RevokedSessions, SecurityEventView, SessionView, TokenResponse};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{PASSWORD, TestApp, expect_error, link_token, mailbox};

async fn get(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.http.get(app.api(path)).bearer_auth(token).send().await.unwrap()
}

async fn send(app: &TestApp, method: reqwest::Method, path: &str, token: &str, body: Value) -> reqwest::Response {
    app.http.request(method, app.api(path)).bearer_auth(token).json(&body).send().await.unwrap()
}

#[tokio::test]
async fn the_profile_shows_the_account_and_its_name_can_change() {
    let app = TestApp::spawn().await;
    let tokens = app.signed_in("me@example.com").await;
    let profile: ProfileView = get(&app, "/auth/me", &tokens.access_token).await.json().await.unwrap();
    assert_eq!(
        (profile.email.as_str(), profile.email_verified, profile.two_factor_enabled),
        ("me@example.com", false, false)
    );
    assert!(profile.identities.is_empty());
    assert_eq!(profile.id, tokens.user.id);

    let renamed =
        send(&app, reqwest::Method::PATCH, "/auth/me", &tokens.access_token, json!({"name": "  Ada  "})).await;
    assert_eq!(renamed.status(), StatusCode::OK);
    assert_eq!(renamed.json::<ProfileView>().await.unwrap().name.as_deref(), Some("Ada"));
    let cleared = send(&app, reqwest::Method::PATCH, "/auth/me", &tokens.access_token, json!({"name": null})).await;
    assert_eq!(cleared.json::<ProfileView>().await.unwrap().name, None);
    let control =
        send(&app, reqwest::Method::PATCH, "/auth/me", &tokens.access_token, json!({"name": "a\u{0}b"})).await;
    expect_error(control, StatusCode::BAD_REQUEST, "validation_failed").await;
    expect_error(app.http.get(app.api("/auth/me")).send().await.unwrap(), StatusCode::UNAUTHORIZED, "missing_token")
        .await;
}

#[tokio::test]
async fn sessions_are_listed_with_the_current_one_and_can_be_ended() {
    let app = TestApp::spawn().await;
    let first = app.signed_in("sessions@example.com").await;
    let second: TokenResponse = app.login("sessions@example.com", PASSWORD).await.json().await.unwrap();
    let third: TokenResponse = app.login("sessions@example.com", PASSWORD).await.json().await.unwrap();
    let listed: Vec<SessionView> = get(&app, "/auth/sessions", &second.access_token).await.json().await.unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(listed.iter().filter(|s| s.current).count(), 1);
    let current = listed.iter().find(|s| s.current).unwrap().id.clone();
    let others: Vec<String> = listed.iter().filter(|s| !s.current).map(|s| s.id.clone()).collect();

    // End the first session from the second.
    let first_id = others.iter().find(|id| **id != current).unwrap().clone();
    let path = format!("/auth/sessions/{first_id}");
    assert_eq!(
        send(&app, reqwest::Method::DELETE, &path, &second.access_token, json!({})).await.status(),
        StatusCode::OK
    );
    let remaining: Vec<SessionView> = get(&app, "/auth/sessions", &second.access_token).await.json().await.unwrap();
    assert_eq!(remaining.len(), 2);

    let revoked =
        send(&app, reqwest::Method::POST, "/auth/sessions/revoke-others", &second.access_token, json!({})).await;
    assert_eq!(revoked.json::<RevokedSessions>().await.unwrap().revoked, 1);
    assert_eq!(app.validate(&second.access_token).await["valid"], true, "the caller's session stays");
    for gone in [&first, &third] {
        let verdict = app.validate(&gone.access_token).await;
        assert_eq!(verdict["valid"], false);
    }
}

#[tokio::test]
async fn another_users_session_reads_as_unknown() {
    let app = TestApp::spawn().await;
    let owner = app.signed_in("owner@example.com").await;
    let intruder = app.signed_in("intruder@example.com").await;
    let listed: Vec<SessionView> = get(&app, "/auth/sessions", &owner.access_token).await.json().await.unwrap();
    let path = format!("/auth/sessions/{}", listed[0].id);
    let response = send(&app, reqwest::Method::DELETE, &path, &intruder.access_token, json!({})).await;
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.validate(&owner.access_token).await["valid"], true);
    let garbage =
        send(&app, reqwest::Method::DELETE, "/auth/sessions/not-an-id", &intruder.access_token, json!({})).await;
    expect_error(garbage, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn the_security_log_is_the_callers_own_newest_first_in_pages() {
    let app = TestApp::spawn().await;
    let tokens = app.signed_in("log@example.com").await;
    app.login("log@example.com", "a wrong password entirely").await;
    app.signed_in("someone-else@example.com").await;
    let events: Vec<SecurityEventView> =
        get(&app, "/auth/security-events", &tokens.access_token).await.json().await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["login_failure", "login_success", "register"]);
    assert_eq!(events[0].reason.as_deref(), Some("wrong_password"));
    assert!(events[1].session_id.is_some());
    let page: Vec<SecurityEventView> =
        get(&app, "/auth/security-events?limit=1&offset=1", &tokens.access_token).await.json().await.unwrap();
    assert_eq!(page, events[1..2]);
    let bad = get(&app, "/auth/security-events?limit=0", &tokens.access_token).await;
    expect_error(bad, StatusCode::BAD_REQUEST, "validation_failed").await;
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_ends_the_other_sessions() {
    let app = TestApp::spawn().await;
    let kept = app.signed_in("changer@example.com").await;
    let other: TokenResponse = app.login("changer@example.com", PASSWORD).await.json().await.unwrap();
    let change = |current: &str, new: &str| {
        let body = json!({"currentPassword": current, "newPassword": new});
        send(&app, reqwest::Method::POST, "/auth/change-password", &kept.access_token, body)
    };
    let wrong =
        expect_error(change("not it at all", "a fresh passphrase").await, StatusCode::BAD_REQUEST, "validation_failed")
            .await;
    assert_eq!(wrong.errors.unwrap()[0].field, "currentPassword");
    expect_error(change(PASSWORD, "short").await, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert_eq!(change(PASSWORD, "a fresh passphrase").await.status(), StatusCode::OK);
    assert_eq!(app.validate(&kept.access_token).await["valid"], true);
    assert_eq!(app.validate(&other.access_token).await["error"], "session_revoked");
    assert_eq!(app.login("changer@example.com", "a fresh passphrase").await.status(), StatusCode::OK);
    expect_error(app.login("changer@example.com", PASSWORD).await, StatusCode::UNAUTHORIZED, "invalid_credentials")
        .await;
}

#[tokio::test]
async fn wrong_current_passwords_spend_the_failed_login_budget() {
    let app = TestApp::spawn_with(&[("LOGIN_FAILURES_PER_ACCOUNT", "3")], None).await;
    let tokens = app.signed_in("guessed@example.com").await;
    let change = |current: &str| {
        let body = json!({"currentPassword": current, "newPassword": "a fresh passphrase"});
        send(&app, reqwest::Method::POST, "/auth/change-password", &tokens.access_token, body)
    };
    for guess in ["guess one", "guess two", "guess three"] {
        assert_eq!(change(guess).await.status(), StatusCode::BAD_REQUEST);
    }
    expect_error(change(PASSWORD).await, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn the_address_changes_only_when_the_link_sent_to_the_new_one_is_used() {
    let app = TestApp::spawn().await;
    let tokens = app.signed_in("before@example.com").await;
    mailbox(&app).await;
    let change = |new: &str, password: &str| {
        let body = json!({"newEmail": new, "password": password});
        send(&app, reqwest::Method::POST, "/auth/change-email", &tokens.access_token, body)
    };
    expect_error(change("after@example.com", "not the password").await, StatusCode::BAD_REQUEST, "validation_failed")
        .await;
    expect_error(change("before@example.com", PASSWORD).await, StatusCode::BAD_REQUEST, "validation_failed").await;
    app.signed_in("taken@example.com").await;
    mailbox(&app).await;
    expect_error(change("taken@example.com", PASSWORD).await, StatusCode::CONFLICT, "email_taken").await;

    assert_eq!(change("After@Example.com", PASSWORD).await.status(), StatusCode::ACCEPTED);
    let queued = mailbox(&app).await;
    let to_new = queued.iter().find(|m| m.to == "after@example.com").expect("a link to the new address");
    let to_old = queued.iter().find(|m| m.to == "before@example.com").expect("a notice to the old address");
    assert!(!to_old.text_body.contains("token="), "the old address gets no link");
    let profile: ProfileView = get(&app, "/auth/me", &tokens.access_token).await.json().await.unwrap();
    assert_eq!(profile.email, "before@example.com", "nothing changes before the link is used");

    assert_eq!(app.post("/auth/verify-email", json!({"token": link_token(to_new)})).await.status(), StatusCode::OK);
    let profile: ProfileView = get(&app, "/auth/me", &tokens.access_token).await.json().await.unwrap();
    assert_eq!((profile.email.as_str(), profile.email_verified), ("after@example.com", true));
    assert_eq!(app.login("after@example.com", PASSWORD).await.status(), StatusCode::OK);
    expect_error(app.login("before@example.com", PASSWORD).await, StatusCode::UNAUTHORIZED, "invalid_credentials")
        .await;
}

#[tokio::test]
async fn deleting_the_account_needs_its_password_and_frees_the_address() {
    let app = TestApp::spawn().await;
    let tokens = app.signed_in("leaving@example.com").await;
    let delete = |password: &str| {
        send(&app, reqwest::Method::DELETE, "/auth/me", &tokens.access_token, json!({"password": password}))
    };
    expect_error(delete("not the password").await, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert_eq!(app.validate(&tokens.access_token).await["valid"], true);
    assert_eq!(delete(PASSWORD).await.status(), StatusCode::OK);
    assert_eq!(app.validate(&tokens.access_token).await["error"], "user_deleted");
    expect_error(app.login("leaving@example.com", PASSWORD).await, StatusCode::UNAUTHORIZED, "invalid_credentials")
        .await;
    assert_eq!(
        app.register("leaving@example.com", PASSWORD).await.status(),
        StatusCode::CREATED,
        "the address is free"
    );
}

#[tokio::test]
async fn the_export_holds_everything_stored_about_the_caller_and_nobody_else() {
    let app = TestApp::spawn().await;
    let tokens = app.signed_in("export@example.com").await;
    let spend = json!({"amount": 3, "appId": "chat", "description": "an answer"});
    assert_eq!(
        send(&app, reqwest::Method::POST, "/credits/use", &tokens.access_token, spend).await.status(),
        StatusCode::OK
    );
    app.logout_with_bearer(
        &app.login("export@example.com", PASSWORD).await.json::<TokenResponse>().await.unwrap().access_token,
    )
    .await;
    app.signed_in("other-export@example.com").await;
    let export: Value = get(&app, "/auth/me/export", &tokens.access_token).await.json().await.unwrap();
    assert_eq!(export["profile"]["email"], "export@example.com");
    let sessions = export["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "the ended session too");
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let kinds: Vec<&str> =
        export["securityEvents"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"register") && kinds.contains(&"logout"), "{kinds:?}");
    let transactions = export["creditTransactions"].as_array().unwrap();
    assert!(transactions.iter().any(|t| t["type"] == "usage" && t["amount"] == -3), "{transactions:?}");
    assert!(export["purchases"].as_array().unwrap().is_empty());
    assert!(!export.to_string().contains("other-export@example.com"));
}
