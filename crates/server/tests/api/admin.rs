//! The admin API over HTTP (SPEC §9): every route refused to anyone but a live administrator,
//! and each action seen from the affected user's side.

use mana_core::email::Email;
use mana_core::ids::Role;
use mana_proto::TokenResponse;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{PASSWORD, TestApp, expect_error};

impl TestApp {
    /// A signed-in administrator (promoted as `users promote` does, then signed in).
    pub(crate) async fn administrator(&self, email: &str) -> TokenResponse {
        assert_eq!(self.register(email, PASSWORD).await.status(), StatusCode::CREATED);
        let email = Email::parse(email).unwrap();
        let now = mana_core::clock::Clock::now(self.clock.as_ref());
        self.state.auth().store().set_role(&email, Role::Admin, now).await.unwrap().unwrap();
        self.login(email.as_str(), PASSWORD).await.json().await.unwrap()
    }

    async fn as_admin(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> reqwest::Response {
        let mut request = self.http.request(method, self.api(path)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    async fn admin_json(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> Value {
        let response = self.as_admin(token, method.clone(), path, body).await;
        assert_eq!(response.status(), StatusCode::OK, "{method} {path}");
        response.json().await.unwrap()
    }
}

/// Every admin operation in /openapi.json, with placeholders filled in.
async fn admin_operations(app: &TestApp, user: &str) -> Vec<(Method, String)> {
    let document: Value = app.http.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        if !path.starts_with("/api/v1/admin") {
            continue;
        }
        for method in item.as_object().unwrap().keys() {
            let path = path.replace("{id}", user).replace("{session_id}", &uuid::Uuid::new_v4().to_string());
            found.push((
                Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                path["/api/v1".len()..].to_owned(),
            ));
        }
    }
    found
}

#[tokio::test]
async fn every_admin_route_refuses_users_anonymous_callers_revoked_sessions_and_demoted_admins() {
    let app = TestApp::spawn().await;
    let admin = app.administrator("root@example.com").await;
    let user = app.signed_in("plain@example.com").await;
    let operations = admin_operations(&app, &user.user.id.to_string()).await;
    assert!(operations.len() >= 11, "{operations:?}");
    for (method, path) in &operations {
        let body = Some(json!({"amount": 5, "reason": "probe"}));
        let as_user = app.as_admin(&user.access_token, method.clone(), path, body.clone()).await;
        expect_error(as_user, StatusCode::FORBIDDEN, "forbidden").await;
        let anonymous = app.http.request(method.clone(), app.api(path)).json(&body).send().await.unwrap();
        expect_error(anonymous, StatusCode::UNAUTHORIZED, "missing_token").await;
    }
    assert_eq!(app.as_admin(&admin.access_token, Method::GET, "/admin/users", None).await.status(), StatusCode::OK);

    // The role is read from the database on every request: a demotion takes effect at once.
    let email = Email::parse("root@example.com").unwrap();
    let now = mana_core::clock::Clock::now(app.clock.as_ref());
    app.state.auth().store().set_role(&email, Role::User, now).await.unwrap();
    let demoted = app.as_admin(&admin.access_token, Method::GET, "/admin/users", None).await;
    expect_error(demoted, StatusCode::FORBIDDEN, "forbidden").await;
    app.state.auth().store().set_role(&email, Role::Admin, now).await.unwrap();
    assert_eq!(app.logout_with_bearer(&admin.access_token).await.status(), StatusCode::OK);
    let revoked = app.as_admin(&admin.access_token, Method::GET, "/admin/users", None).await;
    expect_error(revoked, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn users_are_found_by_the_start_of_their_email_or_name_paged_and_sorted() {
    let app = TestApp::spawn().await;
    let admin = app.administrator("admin@example.com").await;
    for (email, name) in [
        ("ada@example.com", "Ada Lovelace"),
        ("alan@example.com", "Alan Turing"),
        ("grace@example.com", "Grace Hopper"),
        ("100%@example.com", "Percent"),
    ] {
        let body = json!({"email": email, "password": PASSWORD, "name": name});
        assert_eq!(app.post("/auth/register", body).await.status(), StatusCode::CREATED);
        app.advance(chrono::Duration::seconds(1));
    }
    let search = |query: &str| {
        let path = format!("/admin/users?{query}");
        let token = admin.access_token.clone();
        let app = &app;
        async move { app.admin_json(&token, Method::GET, &path, None).await }
    };
    let emails = |list: &Value| -> Vec<String> {
        list["users"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap().to_owned()).collect()
    };
    let a = search("q=A&sort=email").await;
    assert_eq!(emails(&a), ["ada@example.com", "admin@example.com", "alan@example.com"]);
    assert_eq!(a["total"], 3);
    assert_eq!(emails(&search("q=grace%20h").await), ["grace@example.com"], "by name, any case");
    assert_eq!(emails(&search("q=100%25").await), ["100%@example.com"], "a % is a character");
    assert_eq!(emails(&search("q=1_0").await).len(), 0, "an _ is a character");
    let newest = search("limit=2").await;
    assert_eq!(emails(&newest), ["100%@example.com", "grace@example.com"]);
    assert_eq!(newest["total"], 5);
    assert_eq!(emails(&search("limit=2&offset=4&sort=oldest").await), ["100%@example.com"]);
    for bad in ["sort=sideways", "limit=0", "limit=x", "includeDeleted=maybe", "unknown=1"] {
        let response = app.as_admin(&admin.access_token, Method::GET, &format!("/admin/users?{bad}"), None).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn a_locked_user_is_signed_out_and_cannot_sign_in_until_unlocked() {
    let app = TestApp::spawn().await;
    let admin = app.administrator("admin@example.com").await;
    let user = app.signed_in("locked@example.com").await;
    let id = user.user.id.to_string();
    app.admin_json(&admin.access_token, Method::POST, &format!("/admin/users/{id}/lock"), None).await;

    expect_error(app.login("locked@example.com", PASSWORD).await, StatusCode::FORBIDDEN, "account_locked").await;
    let wrong = app.login("locked@example.com", "not the password").await;
    expect_error(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    expect_error(app.refresh(&user.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    let me = app.get_as("/auth/me", &user.access_token).await;
    expect_error(me, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let detail = app.admin_json(&admin.access_token, Method::GET, &format!("/admin/users/{id}"), None).await;
    assert!(detail["user"]["lockedAt"].is_string());
    let lock_event = detail["securityEvents"].as_array().unwrap().iter().find(|e| e["kind"] == "account_locked");
    assert_eq!(lock_event.unwrap()["adminId"], admin.user.id.to_string(), "the event names the administrator");

    let own_lock = format!("/admin/users/{}/lock", admin.user.id);
    let own = app.as_admin(&admin.access_token, Method::POST, &own_lock, None).await;
    expect_error(own, StatusCode::BAD_REQUEST, "validation_failed").await;
    app.admin_json(&admin.access_token, Method::POST, &format!("/admin/users/{id}/unlock"), None).await;
    assert_eq!(app.login("locked@example.com", PASSWORD).await.status(), StatusCode::OK);
    let unknown = app.as_admin(&admin.access_token, Method::POST, "/admin/users/not-an-id/lock", None).await;
    expect_error(unknown, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn sessions_end_accounts_are_deleted_and_restored() {
    let app = TestApp::spawn().await;
    let admin = app.administrator("admin@example.com").await;
    let user = app.signed_in("gone@example.com").await;
    let id = user.user.id.to_string();
    let revoked =
        app.admin_json(&admin.access_token, Method::POST, &format!("/admin/users/{id}/sessions/revoke"), None).await;
    assert_eq!(revoked["revoked"], 1);
    expect_error(app.refresh(&user.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;

    app.admin_json(&admin.access_token, Method::DELETE, &format!("/admin/users/{id}"), None).await;
    expect_error(app.login("gone@example.com", PASSWORD).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let deleted =
        app.admin_json(&admin.access_token, Method::GET, "/admin/users?q=gone&includeDeleted=true", None).await;
    assert!(deleted["users"][0]["deletedAt"].is_string());
    assert_eq!(app.admin_json(&admin.access_token, Method::GET, "/admin/users?q=gone", None).await["total"], 0);
    app.admin_json(&admin.access_token, Method::POST, &format!("/admin/users/{id}/restore"), None).await;
    assert_eq!(app.login("gone@example.com", PASSWORD).await.status(), StatusCode::OK);

    // Deleted again, and someone registers the address: it cannot come back.
    app.admin_json(&admin.access_token, Method::DELETE, &format!("/admin/users/{id}"), None).await;
    assert_eq!(app.register("gone@example.com", PASSWORD).await.status(), StatusCode::CREATED);
    let blocked = app.as_admin(&admin.access_token, Method::POST, &format!("/admin/users/{id}/restore"), None).await;
    expect_error(blocked, StatusCode::CONFLICT, "email_taken").await;
}

#[tokio::test]
async fn credit_adjustments_need_a_reason_name_the_admin_and_happen_once_per_key() {
    let app = TestApp::spawn().await;
    let admin = app.administrator("admin@example.com").await;
    let user = app.signed_in("credited@example.com").await;
    let path = format!("/admin/users/{}/credits", user.user.id);
    let grant = json!({"amount": 250, "reason": "Goodwill for the outage", "idempotencyKey": "ticket-42"});
    let first = app.admin_json(&admin.access_token, Method::POST, &path, Some(grant.clone())).await;
    assert_eq!(first["transaction"]["type"], "adjustment");
    assert_eq!(first["transaction"]["description"], "Goodwill for the outage");
    assert_eq!(first["transaction"]["metadata"]["adminId"], admin.user.id.to_string());
    let again = app.admin_json(&admin.access_token, Method::POST, &path, Some(grant)).await;
    assert_eq!(again["transaction"]["id"], first["transaction"]["id"], "a retry moves nothing");
    let balance = app.balance(&user.access_token).await;
    assert_eq!(balance["balance"], 250, "the user sees it once");

    let reused = json!({"amount": 999, "reason": "Goodwill for the outage", "idempotencyKey": "ticket-42"});
    expect_error(
        app.as_admin(&admin.access_token, Method::POST, &path, Some(reused)).await,
        StatusCode::CONFLICT,
        "idempotency_key_reused",
    )
    .await;
    let take_back = json!({"amount": -50, "reason": "Duplicate grant"});
    let taken = app.admin_json(&admin.access_token, Method::POST, &path, Some(take_back)).await;
    assert_eq!(taken["balance"]["balance"], 200);
    let too_much = json!({"amount": -201, "reason": "More than there is"});
    expect_error(
        app.as_admin(&admin.access_token, Method::POST, &path, Some(too_much)).await,
        StatusCode::PAYMENT_REQUIRED,
        "insufficient_credits",
    )
    .await;
    for bad in [json!({"amount": 5, "reason": "  "}), json!({"amount": 0, "reason": "x"}), json!({"reason": "x"})] {
        expect_error(
            app.as_admin(&admin.access_token, Method::POST, &path, Some(bad)).await,
            StatusCode::BAD_REQUEST,
            "validation_failed",
        )
        .await;
    }
    let report = app.admin_json(&admin.access_token, Method::GET, "/admin/ledger/verify", None).await;
    assert_eq!(report["ok"], true, "{report}");
    let events =
        app.admin_json(&admin.access_token, Method::GET, &format!("/admin/users/{}", user.user.id), None).await;
    let adjusted =
        events["securityEvents"].as_array().unwrap().iter().filter(|e| e["kind"] == "credits_adjusted").count();
    assert_eq!(adjusted, 2, "the grant and the take-back; the retry moved nothing: {events}");
}

#[tokio::test]
async fn the_detail_and_the_usage_report_show_what_happened() {
    let app = TestApp::spawn().await;
    let admin = app.administrator("admin@example.com").await;
    let user = app.record_domain_metrics("metered@example.com", "chat", 7).await;
    let detail =
        app.admin_json(&admin.access_token, Method::GET, &format!("/admin/users/{}", user.user.id), None).await;
    assert_eq!(detail["user"]["email"], "metered@example.com");
    assert_eq!(detail["twoFactorEnabled"], false);
    assert!(!detail["sessions"].as_array().unwrap().is_empty());
    assert!(detail["transactions"].as_array().unwrap().iter().any(|t| t["type"] == "usage"), "{detail}");
    assert!(detail["balance"]["freeCreditsRemaining"].is_number());
    let usage = app.admin_json(&admin.access_token, Method::GET, "/admin/usage", None).await;
    let chat = usage.as_array().unwrap().iter().find(|row| row["appId"] == "chat").expect("chat's usage");
    assert_eq!((chat["creditsUsed"].as_i64(), chat["uses"].as_i64()), (Some(7), Some(1)));
    let bad = app.as_admin(&admin.access_token, Method::GET, "/admin/usage?from=2026-13-01", None).await;
    expect_error(bad, StatusCode::BAD_REQUEST, "validation_failed").await;
    let backwards =
        app.as_admin(&admin.access_token, Method::GET, "/admin/usage?from=2026-12-02&to=2026-12-01", None).await;
    expect_error(backwards, StatusCode::BAD_REQUEST, "validation_failed").await;
    let missing =
        app.as_admin(&admin.access_token, Method::GET, &format!("/admin/users/{}", uuid::Uuid::new_v4()), None).await;
    expect_error(missing, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn packages_are_added_changed_and_withdrawn_from_the_api() {
    let app = TestApp::spawn().await;
    let admin = app.administrator("admin@example.com").await;
    let token = &admin.access_token;
    let mega = json!({"name": "Mega", "credits": 12000, "priceCents": 9900, "sortOrder": 5});
    let saved = app.admin_json(token, Method::PUT, "/admin/packages/mega", Some(mega)).await;
    assert_eq!((saved["active"].as_bool(), saved["bonusCredits"].as_i64()), (Some(true), Some(2100)));
    let on_sale: Value = app.http.get(app.api("/credits/packages")).send().await.unwrap().json().await.unwrap();
    assert!(on_sale.as_array().unwrap().iter().any(|p| p["id"] == "mega"), "{on_sale}");

    app.admin_json(token, Method::DELETE, "/admin/packages/mega", None).await;
    let on_sale: Value = app.http.get(app.api("/credits/packages")).send().await.unwrap().json().await.unwrap();
    assert!(!on_sale.as_array().unwrap().iter().any(|p| p["id"] == "mega"), "withdrawn");
    let all = app.admin_json(token, Method::GET, "/admin/packages", None).await;
    let mega = all.as_array().unwrap().iter().find(|p| p["id"] == "mega").unwrap().clone();
    assert_eq!(mega["active"], false, "still listed for administrators");

    let bad = json!({"name": "", "credits": -1, "priceCents": 0});
    expect_error(
        app.as_admin(token, Method::PUT, "/admin/packages/BAD%20ID", Some(bad)).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    )
    .await;
    expect_error(
        app.as_admin(token, Method::DELETE, "/admin/packages/nope", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let events: Value = app.get_as("/auth/security-events", token).await.json().await.unwrap();
    assert!(events.as_array().unwrap().iter().filter(|e| e["kind"] == "package_changed").count() >= 2);
}
