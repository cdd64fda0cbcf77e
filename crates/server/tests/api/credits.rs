//! `/credits/*` over HTTP.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestApp, expect_error};

impl TestApp {
    /// `GET` of an API path with the caller's access token.
    pub async fn get_as(&self, path: &str, access_token: &str) -> reqwest::Response {
        self.http.get(self.api(path)).bearer_auth(access_token).send().await.unwrap()
    }

    pub async fn use_credits(&self, access_token: &str, body: Value) -> reqwest::Response {
        self.http.post(self.api("/credits/use")).bearer_auth(access_token).json(&body).send().await.unwrap()
    }

    pub async fn balance(&self, access_token: &str) -> Value {
        let response = self.get_as("/credits/balance", access_token).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }
}

fn spend(amount: i64) -> Value {
    json!({"amount": amount, "appId": "chat", "description": "an answer"})
}

#[tokio::test]
async fn a_new_user_has_the_signup_bonus_and_the_daily_allowance() {
    let app = TestApp::spawn().await;
    let tokens = app.signed_in("new@example.com").await;
    let balance = app.balance(&tokens.access_token).await;
    let mut keys: Vec<_> = balance.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "balance",
            "dailyFreeCredits",
            "freeCreditsRemaining",
            "nextDailyResetAt",
            "owed",
            "totalEarned",
            "totalSpent"
        ]
    );
    assert_eq!(balance["balance"], 0);
    assert_eq!(balance["owed"], 0);
    assert_eq!(balance["freeCreditsRemaining"], 150);
    assert_eq!(balance["dailyFreeCredits"], 5);
    assert_eq!(balance["totalEarned"], 155);
    assert_eq!(balance["totalSpent"], 0);
    let next = chrono::DateTime::parse_from_rfc3339(balance["nextDailyResetAt"].as_str().unwrap()).unwrap();
    let from_now = next.with_timezone(&chrono::Utc) - chrono::Utc::now();
    assert!(from_now > Duration::hours(23) && from_now <= Duration::hours(24));
}

#[tokio::test]
async fn a_new_user_can_spend_without_reading_the_balance_first() {
    let app = TestApp::spawn().await;
    let tokens = app.signed_in("eager@example.com").await;
    let response = app
        .use_credits(
            &tokens.access_token,
            json!({"amount": 8, "appId": "chat", "description": "first", "metadata": {"model": "m1"}}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["success"], true);
    let transaction = &body["transaction"];
    assert_eq!(transaction["type"], "usage");
    assert_eq!(transaction["amount"], -8);
    assert_eq!(transaction["balanceAfter"], 147);
    assert_eq!(transaction["appId"], "chat");
    assert_eq!(transaction["description"], "first");
    assert_eq!(transaction["metadata"], json!({"model": "m1"}));
    assert!(transaction["id"].as_str().unwrap().parse::<uuid::Uuid>().is_ok());
    assert_eq!(body["newBalance"]["dailyFreeCredits"], 0);
    assert_eq!(body["newBalance"]["freeCreditsRemaining"], 147);
    assert_eq!(body["newBalance"]["totalSpent"], 8);
}

#[tokio::test]
async fn spending_more_than_all_buckets_is_402_and_moves_nothing() {
    let app = TestApp::spawn().await;
    let tokens = app.signed_in("poor@example.com").await;
    let before = app.balance(&tokens.access_token).await;
    expect_error(
        app.use_credits(&tokens.access_token, spend(156)).await,
        StatusCode::PAYMENT_REQUIRED,
        "insufficient_credits",
    )
    .await;
    assert_eq!(app.balance(&tokens.access_token).await, before);
    assert_eq!(app.use_credits(&tokens.access_token, spend(155)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn bad_spend_requests_are_400_with_the_field_named() {
    let app = TestApp::spawn().await;
    let token = app.signed_in("bad@example.com").await.access_token;
    let cases = [
        (json!({"appId": "chat", "description": "x"}), "amount"),
        (json!({"amount": 0, "appId": "chat", "description": "x"}), "amount"),
        (json!({"amount": -5, "appId": "chat", "description": "x"}), "amount"),
        (json!({"amount": 1_000_000_001i64, "appId": "chat", "description": "x"}), "amount"),
        (json!({"amount": 1, "description": "x"}), "appId"),
        (json!({"amount": 1, "appId": "no spaces allowed", "description": "x"}), "appId"),
        (json!({"amount": 1, "appId": "chat"}), "description"),
        (json!({"amount": 1, "appId": "chat", "description": "   "}), "description"),
        (json!({"amount": 1, "appId": "chat", "description": "x", "metadata": [1, 2]}), "metadata"),
        (json!({"amount": 1, "appId": "chat", "description": "x", "idempotencyKey": ""}), "idempotencyKey"),
    ];
    for (body, field) in cases {
        let error =
            expect_error(app.use_credits(&token, body.clone()).await, StatusCode::BAD_REQUEST, "validation_failed")
                .await;
        assert!(error.errors.unwrap().iter().any(|e| e.field == field), "{body} should name {field}");
    }
    for body in [
        json!({"amount": 1.5, "appId": "chat", "description": "x"}),
        json!({"amount": "10", "appId": "chat", "description": "x"}),
        json!({"amount": 1e20, "appId": "chat", "description": "x"}),
    ] {
        // A value of the wrong type names its field, like any other invalid value.
        let error =
            expect_error(app.use_credits(&token, body.clone()).await, StatusCode::BAD_REQUEST, "validation_failed")
                .await;
        assert_eq!(error.errors.unwrap()[0].field, "amount", "{body}");
    }
    let unknown = json!({"amount": 1, "appId": "chat", "description": "x", "userId": "someone-else"});
    expect_error(app.use_credits(&token, unknown).await, StatusCode::BAD_REQUEST, "unknown_field").await;
    assert_eq!(app.balance(&token).await["totalSpent"], 0, "nothing moved");
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_answer_and_refuses_a_different_request() {
    let app = TestApp::spawn().await;
    let token = app.signed_in("retry@example.com").await.access_token;
    let body = json!({"amount": 12, "appId": "images", "description": "one image", "idempotencyKey": "img-42"});
    let first: Value = app.use_credits(&token, body.clone()).await.json().await.unwrap();
    let second = app.use_credits(&token, body).await;
    assert_eq!(second.status(), StatusCode::OK);
    assert_eq!(second.json::<Value>().await.unwrap(), first);
    assert_eq!(app.balance(&token).await["totalSpent"], 12);

    let changed = json!({"amount": 13, "appId": "images", "description": "one image", "idempotencyKey": "img-42"});
    expect_error(app.use_credits(&token, changed).await, StatusCode::CONFLICT, "idempotency_key_reused").await;
}

#[tokio::test]
async fn the_idempotency_key_header_protects_a_spend_like_the_body_field() {
    let app = TestApp::spawn().await;
    let token = app.signed_in("header-key@example.com").await.access_token;
    let send = |key: &'static str, body: Value| {
        let request = app.http.post(app.api("/credits/use")).bearer_auth(&token).header("idempotency-key", key);
        async move { request.json(&body).send().await.unwrap() }
    };
    let first: Value = send("h1", spend(10)).await.json().await.unwrap();
    let again: Value = send("h1", spend(10)).await.json().await.unwrap();
    assert_eq!(first["transaction"]["id"], again["transaction"]["id"], "the retry is answered, not spent again");
    assert_eq!(app.balance(&token).await["totalSpent"], 10);
    expect_error(send("h1", spend(11)).await, StatusCode::CONFLICT, "idempotency_key_reused").await;
    // The same key in the body is the same key.
    let mut in_body = spend(10);
    in_body["idempotencyKey"] = json!("h1");
    let replay: Value = app.use_credits(&token, in_body.clone()).await.json().await.unwrap();
    assert_eq!(replay["transaction"]["id"], first["transaction"]["id"]);
    // Two different keys at once is a mistake to report, not to guess about.
    let response = send("h2", in_body).await;
    let body = expect_error(response, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert_eq!(body.errors.unwrap()[0].field, "idempotencyKey");
    assert_eq!(app.balance(&token).await["totalSpent"], 10);
}

#[tokio::test]
async fn transactions_are_listed_newest_first_and_paged() {
    let app = TestApp::spawn().await;
    let token = app.signed_in("history@example.com").await.access_token;
    for amount in 1..=3 {
        app.clock.advance(Duration::seconds(1));
        app.use_credits(&token, spend(amount)).await;
    }
    let listed: Vec<Value> = app.get_as("/credits/transactions", &token).await.json().await.unwrap();
    let kinds: Vec<_> = listed.iter().map(|t| (t["type"].as_str().unwrap(), t["amount"].as_i64().unwrap())).collect();
    assert_eq!(kinds, [("usage", -3), ("usage", -2), ("usage", -1), ("daily", 5), ("bonus", 150)]);
    let mut keys: Vec<_> = listed[0].as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["amount", "appId", "balanceAfter", "createdAt", "description", "id", "metadata", "type"]);

    let page: Vec<Value> = app.get_as("/credits/transactions?limit=2&offset=1", &token).await.json().await.unwrap();
    let amounts: Vec<_> = page.iter().map(|t| t["amount"].as_i64().unwrap()).collect();
    assert_eq!(amounts, [-2, -1]);
}

#[tokio::test]
async fn bad_paging_parameters_are_400() {
    let app = TestApp::spawn().await;
    let token = app.signed_in("paging@example.com").await.access_token;
    for query in ["limit=0", "limit=101", "limit=abc", "offset=-1", "offset=1.5"] {
        let response = app.get_as(&format!("/credits/transactions?{query}"), &token).await;
        expect_error(response, StatusCode::BAD_REQUEST, "validation_failed").await;
    }
    let response = app.get_as("/credits/transactions?page=2", &token).await;
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_query").await;
}

#[tokio::test]
async fn users_see_only_their_own_transactions() {
    let app = TestApp::spawn().await;
    let alice = app.signed_in("alice@example.com").await.access_token;
    let bob = app.signed_in("bob@example.com").await.access_token;
    app.use_credits(&alice, spend(9)).await;
    let bobs: Vec<Value> = app.get_as("/credits/transactions", &bob).await.json().await.unwrap();
    assert!(bobs.iter().all(|t| t["type"] != "usage"));
    assert_eq!(app.balance(&bob).await["totalSpent"], 0);
}

#[tokio::test]
async fn the_daily_allowance_comes_back_after_24_hours() {
    let app = TestApp::spawn().await;
    let token = app.signed_in("daily@example.com").await.access_token;
    app.use_credits(&token, spend(3)).await;
    app.clock.advance(Duration::hours(24));
    // The access token expired meanwhile; a fresh login is what a client would do.
    let token = app
        .login("daily@example.com", crate::common::PASSWORD)
        .await
        .json::<mana_proto::TokenResponse>()
        .await
        .unwrap()
        .access_token;
    let balance = app.balance(&token).await;
    assert_eq!(balance["dailyFreeCredits"], 5);
    let listed: Vec<Value> = app.get_as("/credits/transactions?limit=2", &token).await.json().await.unwrap();
    let kinds: Vec<_> = listed.iter().map(|t| (t["type"].as_str().unwrap(), t["amount"].as_i64().unwrap())).collect();
    assert_eq!(kinds, [("daily", 5), ("expiry", -2)]);
}

#[tokio::test]
async fn packages_are_listed_by_sort_order_with_their_bonus() {
    let app = TestApp::spawn().await;
    // Public: a pricing page shows them to visitors who have not signed in.
    let response = app.http.get(app.api("/credits/packages")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "public, max-age=60");
    let packages: Vec<Value> = response.json().await.unwrap();
    let summary: Vec<_> = packages
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap(),
                p["credits"].as_i64().unwrap(),
                p["priceCents"].as_i64().unwrap(),
                p["bonusCredits"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [("starter", 500, 500, 0), ("standard", 1100, 1000, 100), ("plus", 2400, 2000, 400), ("pro", 6500, 5000, 1500)]
    );
    assert!(packages.iter().all(|p| p["currency"] == "EUR" && p.get("stripePriceId").is_none()));
}

#[tokio::test]
async fn purchases_start_empty() {
    let app = TestApp::spawn().await;
    let token = app.signed_in("buyer@example.com").await.access_token;
    let response = app.get_as("/credits/purchases", &token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap(), json!([]));
}

#[tokio::test]
async fn every_credits_route_requires_a_live_session() {
    let app = TestApp::spawn().await;
    let tokens = app.signed_in("guard@example.com").await;
    let routes = ["/credits/balance", "/credits/transactions", "/credits/purchases"];
    for route in routes {
        let anonymous = app.http.get(app.api(route)).send().await.unwrap();
        expect_error(anonymous, StatusCode::UNAUTHORIZED, "missing_token").await;
    }
    let anonymous = app.http.post(app.api("/credits/use")).json(&spend(1)).send().await.unwrap();
    expect_error(anonymous, StatusCode::UNAUTHORIZED, "missing_token").await;

    app.logout_with_bearer(&tokens.access_token).await;
    for route in routes {
        expect_error(app.get_as(route, &tokens.access_token).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
    expect_error(app.use_credits(&tokens.access_token, spend(1)).await, StatusCode::UNAUTHORIZED, "invalid_token")
        .await;
}
