use mana_core::email::Email;
use mana_core::store::SecurityEventKind;
use mana_proto::RegisteredUser;
use reqwest::StatusCode;
use serde_json::json;

use crate::common::{PASSWORD, TestApp, expect_error};

#[tokio::test]
async fn registering_returns_201_with_the_new_user() {
    let app = TestApp::spawn().await;
    let response =
        app.post("/auth/register", json!({"email": "ada@example.com", "password": PASSWORD, "name": "Ada"})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let user: RegisteredUser = response.json().await.unwrap();
    assert_eq!(user.email, "ada@example.com");
    assert_eq!(user.name.as_deref(), Some("Ada"));
    assert_eq!(user.role, "user");
    assert!(!user.email_verified);
    assert!(chrono::DateTime::parse_from_rfc3339(&user.created_at).is_ok());
    assert!(user.id.parse::<uuid::Uuid>().is_ok());
}

#[tokio::test]
async fn the_response_has_exactly_the_documented_fields() {
    let app = TestApp::spawn().await;
    let body: serde_json::Value = app.register("shape@example.com", PASSWORD).await.json().await.unwrap();
    let mut keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["createdAt", "email", "emailVerified", "id", "name", "role"]);
}

#[tokio::test]
async fn emails_are_trimmed_and_lowercased_so_one_address_is_one_account() {
    let app = TestApp::spawn().await;
    let user: RegisteredUser = app.register("  Grace@Example.COM ", PASSWORD).await.json().await.unwrap();
    assert_eq!(user.email, "grace@example.com");
    expect_error(app.register("grace@example.com", PASSWORD).await, StatusCode::CONFLICT, "email_taken").await;
}

#[tokio::test]
async fn every_invalid_field_is_reported_at_once() {
    let app = TestApp::spawn().await;
    let response = app.post("/auth/register", json!({"email": "not-an-email", "password": "short"})).await;
    let body = expect_error(response, StatusCode::BAD_REQUEST, "validation_failed").await;
    let fields: Vec<_> = body.errors.unwrap().into_iter().map(|e| e.field).collect();
    assert_eq!(fields, ["email", "password"]);
}

#[tokio::test]
async fn missing_fields_are_validation_errors() {
    let app = TestApp::spawn().await;
    let body =
        expect_error(app.post("/auth/register", json!({})).await, StatusCode::BAD_REQUEST, "validation_failed").await;
    let errors = body.errors.unwrap();
    assert!(errors.iter().any(|e| e.field == "email" && e.message == "is required"));
    assert!(errors.iter().any(|e| e.field == "password" && e.message == "is required"));
}

#[tokio::test]
async fn password_length_is_8_to_128_characters() {
    let app = TestApp::spawn().await;
    expect_error(app.register("p7@example.com", "1234567").await, StatusCode::BAD_REQUEST, "validation_failed").await;
    expect_error(
        app.register("p129@example.com", &"x".repeat(129)).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    )
    .await;
    assert_eq!(app.register("p8@example.com", "k9#mQ2!x").await.status(), StatusCode::CREATED);
    assert_eq!(app.register("p128@example.com", &"ü".repeat(128)).await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn the_most_common_passwords_are_refused_with_the_reason() {
    let app = TestApp::spawn().await;
    for common in ["password", "12345678", "qwertyuiop", "iloveyou", "Password1"] {
        let body = expect_error(
            app.register("common@example.com", common).await,
            StatusCode::BAD_REQUEST,
            "validation_failed",
        )
        .await;
        let errors = body.errors.unwrap();
        assert_eq!(errors[0].field, "password");
        assert!(errors[0].message.contains("most common passwords"), "{common}: {}", errors[0].message);
    }
    assert_eq!(app.register("common@example.com", PASSWORD).await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_password_with_a_nul_or_other_control_character_is_refused() {
    let app = TestApp::spawn().await;
    // bcrypt would read only up to the NUL, so `abcdefgh` would open the account.
    for password in ["abcdefgh\0abcdefgh", "tab\tseparated words", "two\nlines here"] {
        let body =
            expect_error(app.register("nul@example.com", password).await, StatusCode::BAD_REQUEST, "validation_failed")
                .await;
        assert!(body.errors.unwrap()[0].message.contains("control characters"), "{password:?}");
    }
    assert_eq!(app.register("nul@example.com", PASSWORD).await.status(), StatusCode::CREATED);
    let with_nul = format!("{PASSWORD}\0anything");
    expect_error(app.login("nul@example.com", &with_nul).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[tokio::test]
async fn overlong_names_and_control_characters_are_refused() {
    let app = TestApp::spawn().await;
    let long = app
        .post("/auth/register", json!({"email": "n@example.com", "password": PASSWORD, "name": "n".repeat(101)}))
        .await;
    expect_error(long, StatusCode::BAD_REQUEST, "validation_failed").await;
    let control =
        app.post("/auth/register", json!({"email": "n@example.com", "password": PASSWORD, "name": "a\u{7}b"})).await;
    expect_error(control, StatusCode::BAD_REQUEST, "validation_failed").await;
}

#[tokio::test]
async fn passwords_are_stored_as_bcrypt_hashes_in_their_own_table() {
    let app = TestApp::spawn().await;
    app.register("hash@example.com", PASSWORD).await;
    let store = app.state.auth().store();
    let credentials = store.find_credentials(&Email::parse("hash@example.com").unwrap()).await.unwrap().unwrap();
    assert!(credentials.password_hash.starts_with("$2b$04$"), "configured bcrypt cost is used");
    assert!(!credentials.password_hash.contains(PASSWORD));
}

#[tokio::test]
async fn passwords_longer_than_72_bytes_are_not_truncated() {
    let app = TestApp::spawn().await;
    let long = format!("{}{}", "a".repeat(72), "-the-end");
    assert_eq!(app.register("long@example.com", &long).await.status(), StatusCode::CREATED);
    assert_eq!(app.login("long@example.com", &long).await.status(), StatusCode::OK);
    let same_prefix = format!("{}{}", "a".repeat(72), "-other");
    expect_error(app.login("long@example.com", &same_prefix).await, StatusCode::UNAUTHORIZED, "invalid_credentials")
        .await;
    expect_error(app.login("long@example.com", &"a".repeat(72)).await, StatusCode::UNAUTHORIZED, "invalid_credentials")
        .await;
}

#[tokio::test]
async fn registration_is_recorded_as_a_security_event() {
    let app = TestApp::spawn().await;
    let user: RegisteredUser = app.register("audit@example.com", PASSWORD).await.json().await.unwrap();
    let events = app.state.auth().store().security_events(user.id.parse().unwrap(), 10, 0).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, SecurityEventKind::Register);
    assert_eq!(events[0].client.ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(events[0].client.user_agent.as_deref(), Some("mana-tests/1.0"));
}

#[tokio::test]
async fn argon2id_can_be_selected_for_new_passwords() {
    let app = TestApp::spawn_with(&[("PASSWORD_HASH_ALGORITHM", "argon2id")], None).await;
    app.register("argon@example.com", PASSWORD).await;
    let store = app.state.auth().store();
    let credentials = store.find_credentials(&Email::parse("argon@example.com").unwrap()).await.unwrap().unwrap();
    assert!(credentials.password_hash.starts_with("$argon2id$"));
    assert_eq!(app.login("argon@example.com", PASSWORD).await.status(), StatusCode::OK);
}
