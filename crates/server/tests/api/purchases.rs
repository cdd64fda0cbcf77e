//! Buying credits over HTTP against a local Stripe stand-in: purchases made once per key,
//! signed webhook events applied once however delivered, and every way a webhook can be bad.

use mana_core::payments::signature_header;
use mana_core::tokens::{KeyAlgorithm, KeyRing};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestApp, backend_pair, expect_error, test_key};
use crate::stripe_stand_in::{self, StandIn};

const SECRET: &str = "whsec_test_purchases";

async fn with_stripe() -> (TestApp, StandIn) {
    let stand_in = stripe_stand_in::start().await;
    let app = TestApp::spawn_with(
        &[
            ("STRIPE_SECRET_KEY", "sk_test_standin"),
            ("STRIPE_WEBHOOK_SECRETS", &format!("whsec_old_secret,{SECRET}")),
            ("STRIPE_API_BASE", &stand_in.base),
            ("CHECKOUT_SUCCESS_URL", "https://app.mana.test/bought?session={CHECKOUT_SESSION_ID}"),
            ("CHECKOUT_CANCEL_URL", "https://app.mana.test/shop"),
        ],
        None,
    )
    .await;
    (app, stand_in)
}

impl TestApp {
    async fn buy(&self, access_token: &str, body: Value) -> reqwest::Response {
        self.http.post(self.api("/credits/purchases")).bearer_auth(access_token).json(&body).send().await.unwrap()
    }

    async fn webhook(&self, body: &str, signature: Option<String>) -> reqwest::Response {
        let mut request = self.http.post(self.api("/webhooks/stripe")).header("content-type", "application/json");
        if let Some(signature) = signature {
            request = request.header("stripe-signature", signature);
        }
        request.body(body.to_owned()).send().await.unwrap()
    }

    /// Starts buying `package` by `flow`; the 201 answer.
    async fn bought(&self, access_token: &str, package: &str, flow: &str) -> Value {
        let response = self.buy(access_token, json!({"packageId": package, "flow": flow})).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    /// `GET /credits/purchases/{id}` as its buyer.
    async fn shown(&self, access_token: &str, id: &str) -> Value {
        self.credits_get(&format!("/credits/purchases/{id}"), access_token).await.json().await.unwrap()
    }

    /// Delivers `event` signed as Stripe signs it.
    async fn deliver(&self, event: &Value) -> reqwest::Response {
        let body = event.to_string();
        let signature = signature_header(body.as_bytes(), SECRET, chrono::Utc::now().timestamp());
        self.webhook(&body, Some(signature)).await
    }
}

/// Delivers `event` `times` times at once, signed, taking `instances` in turn; the statuses.
async fn deliver_at_once(instances: &[&TestApp], event: &Value, times: usize) -> Vec<StatusCode> {
    let body = event.to_string();
    let deliveries: Vec<_> = (0..times)
        .map(|n| {
            let instance = instances[n % instances.len()];
            let (http, url, body) = (instance.http.clone(), instance.api("/webhooks/stripe"), body.clone());
            tokio::spawn(async move {
                let signature = signature_header(body.as_bytes(), SECRET, chrono::Utc::now().timestamp());
                let request =
                    http.post(url).header("content-type", "application/json").header("stripe-signature", signature);
                request.body(body).send().await.unwrap().status()
            })
        })
        .collect();
    let mut statuses = Vec::with_capacity(times);
    for delivery in deliveries {
        statuses.push(delivery.await.unwrap());
    }
    statuses
}

fn session_completed(event_id: &str, purchase: &str, intent: Option<&str>) -> Value {
    json!({"id": event_id, "object": "event", "type": "checkout.session.completed", "created": 1764633600,
        "data": {"object": {"id": format!("cs_test_{event_id}"), "object": "checkout.session",
            "payment_status": "paid", "payment_intent": intent, "client_reference_id": purchase,
            "metadata": {"purchase_id": purchase}}}})
}

fn charge_refunded(event_id: &str, intent: &str, refunded: i64) -> Value {
    json!({"id": event_id, "object": "event", "type": "charge.refunded",
        "data": {"object": {"id": "ch_1", "object": "charge", "payment_intent": intent, "amount": 1000,
            "amount_refunded": refunded, "refunded": refunded >= 1000, "metadata": {}}}})
}

#[tokio::test]
async fn in_production_without_stripe_purchases_and_webhooks_say_payments_are_not_configured() {
    let app = TestApp::spawn_with(&[("ENVIRONMENT", "production")], None).await;
    let tokens = app.signed_in("nopay@example.com").await;
    let response = app.buy(&tokens.access_token, json!({"packageId": "standard", "flow": "checkout"})).await;
    expect_error(response, StatusCode::SERVICE_UNAVAILABLE, "payments_not_configured").await;
    expect_error(app.webhook("{}", None).await, StatusCode::SERVICE_UNAVAILABLE, "payments_not_configured").await;
}

#[tokio::test]
async fn a_checkout_purchase_is_made_once_per_key_and_shown_only_to_its_buyer() {
    let (app, stand_in) = with_stripe().await;
    let tokens = app.signed_in("buyer@example.com").await;
    let body = json!({"packageId": "standard", "flow": "checkout", "idempotencyKey": "buy-1"});
    let response = app.buy(&tokens.access_token, body.clone()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let first: Value = response.json().await.unwrap();
    assert_eq!(first["purchase"]["status"], "pending");
    assert_eq!(
        (first["purchase"]["credits"].as_i64(), first["purchase"]["amountCents"].as_i64()),
        (Some(1100), Some(1000))
    );
    assert!(first["checkoutUrl"].as_str().unwrap().starts_with("https://checkout.stripe.com/c/pay/cs_test_"));
    let again: Value = app.buy(&tokens.access_token, body).await.json().await.unwrap();
    assert_eq!(again["purchase"]["id"], first["purchase"]["id"]);
    assert_eq!(again["checkoutUrl"], first["checkoutUrl"]);
    assert_eq!(stand_in.requests_to("/v1/checkout/sessions").len(), 1, "one session for one key");

    let id = first["purchase"]["id"].as_str().unwrap();
    let own = app.credits_get(&format!("/credits/purchases/{id}"), &tokens.access_token).await;
    assert_eq!(own.status(), StatusCode::OK);
    let other = app.signed_in("other@example.com").await;
    let theirs = app.credits_get(&format!("/credits/purchases/{id}"), &other.access_token).await;
    expect_error(theirs, StatusCode::NOT_FOUND, "not_found").await;
    let nonsense = app.credits_get("/credits/purchases/not-a-uuid", &tokens.access_token).await;
    expect_error(nonsense, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn bad_purchase_requests_name_each_bad_field() {
    let (app, _) = with_stripe().await;
    let tokens = app.signed_in("careless@example.com").await;
    let response = app.buy(&tokens.access_token, json!({"packageId": "gold-bars", "flow": "cash"})).await;
    let error = expect_error(response, StatusCode::BAD_REQUEST, "validation_failed").await;
    let fields: Vec<_> = error.errors.unwrap().into_iter().map(|e| e.field).collect();
    assert_eq!(fields, ["flow", "packageId"]);
    let missing = app.buy(&tokens.access_token, json!({})).await;
    expect_error(missing, StatusCode::BAD_REQUEST, "validation_failed").await;
    let anonymous = app.http.post(app.api("/credits/purchases")).json(&json!({})).send().await.unwrap();
    expect_error(anonymous, StatusCode::UNAUTHORIZED, "missing_token").await;
}

#[tokio::test]
async fn a_paid_session_credits_once_however_often_and_concurrently_it_is_delivered() {
    let (app, _) = with_stripe().await;
    let tokens = app.signed_in("payer@example.com").await;
    let bought: Value = app.bought(&tokens.access_token, "standard", "checkout").await;
    let purchase = bought["purchase"]["id"].as_str().unwrap().to_owned();
    let event = session_completed("evt_paid_1", &purchase, Some("pi_paid_1"));
    for status in deliver_at_once(&[&app], &event, 20).await {
        assert_eq!(status, StatusCode::OK);
    }
    let balance = app.balance(&tokens.access_token).await;
    assert_eq!(balance["balance"], 1100, "credited once");
    let shown: Value = app.shown(&tokens.access_token, &purchase).await;
    assert_eq!(shown["status"], "succeeded");

    // The intent's own event describes the same payment: nothing more moves.
    let intent = json!({"id": "evt_intent_1", "type": "payment_intent.succeeded",
        "data": {"object": {"id": "pi_paid_1", "object": "payment_intent", "metadata": {"purchase_id": purchase}}}});
    assert_eq!(app.deliver(&intent).await.status(), StatusCode::OK);
    assert_eq!(app.balance(&tokens.access_token).await["balance"], 1100);

    // A partial refund takes back the new part only, however often it is delivered.
    for _ in 0..2 {
        assert_eq!(app.deliver(&charge_refunded("evt_refund_1", "pi_paid_1", 500)).await.status(), StatusCode::OK);
    }
    assert_eq!(app.balance(&tokens.access_token).await["balance"], 550);
}

#[tokio::test]
async fn a_payment_intent_purchase_is_credited_by_its_intents_event() {
    let (app, _) = with_stripe().await;
    let tokens = app.signed_in("mobile@example.com").await;
    let bought: Value = app.bought(&tokens.access_token, "starter", "payment_intent").await;
    let secret = bought["clientSecret"].as_str().unwrap();
    assert!(secret.starts_with("pi_") && secret.contains("_secret_"), "{bought}");
    assert!(bought["checkoutUrl"].is_null());
    let purchase = bought["purchase"]["id"].as_str().unwrap();
    let intent_id = secret.split("_secret_").next().unwrap();
    let succeeded = json!({"id": "evt_pi_ok", "type": "payment_intent.succeeded",
        "data": {"object": {"id": intent_id, "object": "payment_intent", "metadata": {"purchase_id": purchase}}}});
    assert_eq!(app.deliver(&succeeded).await.status(), StatusCode::OK);
    assert_eq!(app.balance(&tokens.access_token).await["balance"], 500);
}

#[tokio::test]
async fn a_refund_that_arrives_before_the_payment_is_matched_through_stripe_and_applied() {
    let (app, stand_in) = with_stripe().await;
    let tokens = app.signed_in("early@example.com").await;
    let bought: Value = app.bought(&tokens.access_token, "standard", "checkout").await;
    let purchase = bought["purchase"]["id"].as_str().unwrap().to_owned();
    // Stripe knows the intent Checkout made for the session; the service does not yet.
    stand_in.intents.lock().unwrap().insert("pi_early".into(), purchase.clone());
    assert_eq!(app.deliver(&charge_refunded("evt_early_refund", "pi_early", 1000)).await.status(), StatusCode::OK);
    assert_eq!(app.balance(&tokens.access_token).await["balance"], 0, "nothing was paid yet");
    assert_eq!(
        app.deliver(&session_completed("evt_late_paid", &purchase, Some("pi_early"))).await.status(),
        StatusCode::OK
    );
    let balance = app.balance(&tokens.access_token).await;
    assert_eq!((balance["balance"].as_i64(), balance["owed"].as_i64()), (Some(0), Some(0)));
    let shown: Value = app.shown(&tokens.access_token, &purchase).await;
    assert_eq!(shown["status"], "refunded");
    // A charge of some other business on the same Stripe account is acknowledged and ignored.
    stand_in.intents.lock().unwrap().insert("pi_not_ours".into(), String::new());
    assert_eq!(app.deliver(&charge_refunded("evt_foreign", "pi_not_ours", 100)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn unsigned_tampered_stale_and_wrongly_signed_webhooks_are_refused() {
    let (app, _) = with_stripe().await;
    let tokens = app.signed_in("target@example.com").await;
    let bought: Value = app.bought(&tokens.access_token, "pro", "checkout").await;
    let purchase = bought["purchase"]["id"].as_str().unwrap();
    let body = session_completed("evt_forged", purchase, None).to_string();
    let now = chrono::Utc::now().timestamp();
    let tampered = body.replace("\"paid\"", "\"paid\" ");
    for signature in [
        None,
        Some("garbage".to_owned()),
        Some(signature_header(body.as_bytes(), "whsec_guessed", now)),
        Some(signature_header(body.as_bytes(), SECRET, now - 301)),
        Some(signature_header(body.as_bytes(), SECRET, now + 301)),
        Some(signature_header(body.as_bytes(), SECRET, now).replace("v1=", "v0=")),
    ] {
        let response = app.webhook(&body, signature.clone()).await;
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_signature").await;
    }
    let signed_for_other_body = signature_header(body.as_bytes(), SECRET, now);
    expect_error(
        app.webhook(&tampered, Some(signed_for_other_body)).await,
        StatusCode::BAD_REQUEST,
        "invalid_signature",
    )
    .await;
    // Signed with the older of the two configured secrets: accepted (a secret being rolled).
    let old = signature_header(body.as_bytes(), "whsec_old_secret", now);
    assert_eq!(app.webhook(&body, Some(old)).await.status(), StatusCode::OK);
    assert_eq!(app.balance(&tokens.access_token).await["balance"], 6500);
    // Signed garbage is not an event.
    let garbage = "[1, 2, 3]";
    let signed = signature_header(garbage.as_bytes(), SECRET, now);
    expect_error(app.webhook(garbage, Some(signed)).await, StatusCode::BAD_REQUEST, "invalid_body").await;
}

#[tokio::test]
async fn in_development_without_a_key_the_simulated_checkout_pays_through_the_webhook_code() {
    let app = TestApp::spawn().await;
    let tokens = app.signed_in("laptop@example.com").await;
    let bought: Value = app.bought(&tokens.access_token, "standard", "checkout").await;
    let link = bought["checkoutUrl"].as_str().unwrap();
    assert!(link.starts_with("http://127.0.0.1:3001/checkout/simulated/") && link.contains("?token="), "{link}");
    // The link names PUBLIC_URL; this test's server listens elsewhere.
    let page = app.url(&link[link.find("/checkout/").unwrap()..]);
    let shown = app.http.get(&page).send().await.unwrap();
    assert_eq!(shown.status(), StatusCode::OK);
    let csp = shown.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("default-src 'none'") && csp.contains("form-action 'self'"), "{csp}");
    let html = shown.text().await.unwrap();
    assert!(html.contains("1100 credits") && html.contains("no money moves"), "{html}");

    let (path, token) = page.split_once("?token=").unwrap();
    let forged =
        app.http.post(path).form(&[("token", "0".repeat(64)), ("decision", "pay".into())]).send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::NOT_FOUND, "without the link's token nothing is paid");
    let cross_site = app
        .http
        .post(path)
        .header("sec-fetch-site", "cross-site")
        .form(&[("token", token), ("decision", "pay")])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.balance(&tokens.access_token).await["balance"], 0);

    let paid = app.http.post(path).form(&[("token", token), ("decision", "pay")]).send().await.unwrap();
    assert_eq!(paid.status(), StatusCode::OK);
    assert!(paid.text().await.unwrap().contains("1100 credits were added"));
    assert_eq!(app.balance(&tokens.access_token).await["balance"], 1100);
    let id = bought["purchase"]["id"].as_str().unwrap();
    let shown: Value = app.shown(&tokens.access_token, id).await;
    assert_eq!(shown["status"], "succeeded");
    // Paying again changes nothing: the page shows the purchase settled.
    let again = app.http.post(path).form(&[("token", token), ("decision", "pay")]).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(app.balance(&tokens.access_token).await["balance"], 1100);
    assert!(app.http.get(&page).send().await.unwrap().text().await.unwrap().contains("succeeded"));
}

#[tokio::test]
async fn a_declined_simulated_payment_fails_the_purchase_and_moves_nothing() {
    let app = TestApp::spawn().await;
    let tokens = app.signed_in("decliner@example.com").await;
    let bought: Value = app.bought(&tokens.access_token, "starter", "payment_intent").await;
    assert!(bought["clientSecret"].as_str().unwrap().starts_with("pi_sim_"));
    let link = bought["checkoutUrl"].as_str().unwrap();
    let page = app.url(&link[link.find("/checkout/").unwrap()..]);
    let (path, token) = page.split_once("?token=").unwrap();
    let declined = app.http.post(path).form(&[("token", token), ("decision", "decline")]).send().await.unwrap();
    assert_eq!(declined.status(), StatusCode::OK);
    let id = bought["purchase"]["id"].as_str().unwrap();
    let shown: Value = app.shown(&tokens.access_token, id).await;
    assert_eq!(shown["status"], "failed");
    assert_eq!(app.balance(&tokens.access_token).await["balance"], 0);
}

#[tokio::test]
async fn one_event_delivered_twenty_times_at_once_to_two_instances_credits_once() {
    let (first_backend, second_backend) = backend_pair().await;
    let now = chrono::Utc::now().timestamp();
    let keys = || KeyRing::new(vec![test_key(KeyAlgorithm::Rs256, "shared-key", now)]).unwrap();
    let stand_in = stripe_stand_in::start().await;
    let overrides = [
        ("STRIPE_SECRET_KEY", "sk_test_standin"),
        ("STRIPE_WEBHOOK_SECRETS", SECRET),
        ("STRIPE_API_BASE", stand_in.base.as_str()),
        ("CHECKOUT_SUCCESS_URL", "https://app.mana.test/bought"),
        ("CHECKOUT_CANCEL_URL", "https://app.mana.test/shop"),
    ];
    let first = TestApp::spawn_on(first_backend, &overrides, Some(keys())).await;
    let second = TestApp::spawn_on(second_backend, &overrides, Some(keys())).await;
    let tokens = first.signed_in("two@example.com").await;
    let bought: Value = first.bought(&tokens.access_token, "plus", "checkout").await;
    let purchase = bought["purchase"]["id"].as_str().unwrap().to_owned();
    let event = session_completed("evt_two_instances", &purchase, Some("pi_two"));
    for status in deliver_at_once(&[&first, &second], &event, 20).await {
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(second.balance(&tokens.access_token).await["balance"], 2400, "credited once, seen from either");
    let facts = first.state.auth().store().ledger_facts().await.unwrap();
    assert!(mana_core::credits::verify_ledger(&facts).is_empty(), "ledger verify passes");
}
