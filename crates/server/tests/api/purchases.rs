//! Buying credits over HTTP against the local Stripe stand-in (`scripts/stripe-standin`, a
//! process that keeps test-mode state and sends signed events as Stripe does): purchases made
//! once per key, payments, refunds and disputes made at "Stripe" and credited once however
//! their events are delivered, and every way a webhook can be bad.

use mana_core::payments::signature_header;
use mana_core::tokens::{KeyAlgorithm, KeyRing};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestApp, backend_pair, expect_error, test_key};
use crate::stripe_stand_in::{SECRET_KEY, StandIn};

const SECRET: &str = "whsec_test_purchases";

/// A service that sells through the stand-in, and the stand-in, which sends its events to the
/// service's webhook (or holds them until a test delivers them, with `hold`).
async fn with_stripe_holding(hold: bool) -> (TestApp, StandIn) {
    let stand_in = StandIn::start().await;
    let app = TestApp::spawn_with(
        &[
            ("STRIPE_SECRET_KEY", SECRET_KEY),
            ("STRIPE_WEBHOOK_SECRETS", &format!("whsec_old_secret,{SECRET}")),
            ("STRIPE_API_BASE", &stand_in.base),
            ("CHECKOUT_SUCCESS_URL", "https://app.mana.test/bought?session={CHECKOUT_SESSION_ID}"),
            ("CHECKOUT_CANCEL_URL", "https://app.mana.test/shop"),
        ],
        None,
    )
    .await;
    stand_in.send_events_to(&app.api("/webhooks/stripe"), SECRET, hold).await;
    (app, stand_in)
}

async fn with_stripe() -> (TestApp, StandIn) {
    with_stripe_holding(false).await
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
        self.get_as(&format!("/credits/purchases/{id}"), access_token).await.json().await.unwrap()
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

/// The checkout session a purchase answer links to.
fn session_of(bought: &Value) -> String {
    let url = bought["checkoutUrl"].as_str().unwrap();
    url.rsplit('/').next().unwrap().to_owned()
}

/// Every event the stand-in has sent so far was answered 200.
async fn assert_every_event_was_accepted(stand_in: &StandIn) {
    for event in stand_in.events().await {
        assert_eq!(event["deliveries"], json!([200]), "{event}");
    }
}

async fn assert_ledger_verifies(app: &TestApp) {
    let verdict = mana_core::credits::verify_ledger(app.state.auth().store().as_ref()).await.unwrap();
    assert!(verdict.is_sound(), "ledger verify: {:?}", verdict.violations);
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
    assert_eq!(stand_in.requests_to("/v1/checkout/sessions").await.len(), 1, "one session for one key");

    let id = first["purchase"]["id"].as_str().unwrap();
    let own = app.get_as(&format!("/credits/purchases/{id}"), &tokens.access_token).await;
    assert_eq!(own.status(), StatusCode::OK);
    let other = app.signed_in("other@example.com").await;
    let theirs = app.get_as(&format!("/credits/purchases/{id}"), &other.access_token).await;
    expect_error(theirs, StatusCode::NOT_FOUND, "not_found").await;
    let nonsense = app.get_as("/credits/purchases/not-a-uuid", &tokens.access_token).await;
    expect_error(nonsense, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn bad_purchase_requests_name_each_bad_field() {
    let (app, _stand_in) = with_stripe().await;
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
    let (app, _stand_in) = with_stripe().await;
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
    let (app, _stand_in) = with_stripe().await;
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
async fn a_refund_whose_event_arrives_before_the_payments_is_matched_through_stripe_and_applied() {
    let (app, stand_in) = with_stripe_holding(true).await;
    let tokens = app.signed_in("early@example.com").await;
    let bought: Value = app.bought(&tokens.access_token, "standard", "checkout").await;
    let purchase = bought["purchase"]["id"].as_str().unwrap().to_owned();
    let session = stand_in.pay(&session_of(&bought), "pm_card_visa").await;
    stand_in.post("/v1/refunds", &[("payment_intent", session["payment_intent"].as_str().unwrap())]).await;
    // Stripe promises no order: the refund comes first, naming only the intent, which the
    // service has not linked to the purchase yet; Stripe's copy of the intent names it.
    let events = stand_in.events().await;
    for event in events.iter().rev() {
        assert_eq!(stand_in.deliver(event["id"].as_str().unwrap()).await, 200, "{event}");
        if event["type"] == "charge.refunded" {
            assert_eq!(app.balance(&tokens.access_token).await["balance"], 0, "nothing was paid yet");
        }
    }
    let balance = app.balance(&tokens.access_token).await;
    assert_eq!((balance["balance"].as_i64(), balance["owed"].as_i64()), (Some(0), Some(0)));
    let shown: Value = app.shown(&tokens.access_token, &purchase).await;
    assert_eq!(shown["status"], "refunded");
    assert_ledger_verifies(&app).await;
}

#[tokio::test]
async fn a_checkout_paid_at_stripe_is_credited_once_and_a_partial_refund_takes_back_its_share() {
    let (app, stand_in) = with_stripe().await;
    let tokens = app.signed_in("card@example.com").await;
    let bought: Value = app.bought(&tokens.access_token, "standard", "checkout").await;
    let purchase = bought["purchase"]["id"].as_str().unwrap().to_owned();
    let session = stand_in.pay(&session_of(&bought), "pm_card_visa").await;
    assert_eq!(session["payment_status"], "paid");
    assert_every_event_was_accepted(&stand_in).await;
    assert_eq!(app.balance(&tokens.access_token).await["balance"], 1100);
    assert_eq!(app.shown(&tokens.access_token, &purchase).await["status"], "succeeded");

    let intent = session["payment_intent"].as_str().unwrap();
    stand_in.post("/v1/refunds", &[("payment_intent", intent), ("amount", "250")]).await;
    assert_eq!(
        app.balance(&tokens.access_token).await["balance"],
        825,
        "a quarter of the price, a quarter of the credits"
    );
    assert_eq!(app.shown(&tokens.access_token, &purchase).await["status"], "partially_refunded");
    // Stripe delivers every event again: nothing more moves.
    for event in stand_in.events().await {
        assert_eq!(stand_in.deliver(event["id"].as_str().unwrap()).await, 200);
    }
    assert_eq!(app.balance(&tokens.access_token).await["balance"], 825);
    assert_ledger_verifies(&app).await;
}

#[tokio::test]
async fn a_buyer_back_from_paying_sees_the_purchase_settled_before_stripes_events_arrive() {
    let (app, stand_in) = with_stripe_holding(true).await;
    let tokens = app.signed_in("returning@example.com").await;
    let bought: Value = app.bought(&tokens.access_token, "standard", "checkout").await;
    let purchase = bought["purchase"]["id"].as_str().unwrap().to_owned();
    assert_eq!(app.shown(&tokens.access_token, &purchase).await["status"], "pending", "not paid yet");
    stand_in.pay(&session_of(&bought), "pm_card_visa").await;
    // The app reads the purchase on the success page: Stripe, asked, says it is paid.
    assert_eq!(app.shown(&tokens.access_token, &purchase).await["status"], "succeeded");
    assert_eq!(app.balance(&tokens.access_token).await["balance"], 1100);
    // Then the events come, as often as Stripe likes: nothing more moves.
    for event in stand_in.events().await.iter().chain(stand_in.events().await.iter()) {
        assert_eq!(stand_in.deliver(event["id"].as_str().unwrap()).await, 200);
    }
    assert_eq!(app.balance(&tokens.access_token).await["balance"], 1100);

    // The same for the payment sheet's intent.
    let mobile: Value = app.bought(&tokens.access_token, "starter", "payment_intent").await;
    let intent = mobile["clientSecret"].as_str().unwrap().split("_secret_").next().unwrap().to_owned();
    stand_in.post(&format!("/v1/payment_intents/{intent}/confirm"), &[("payment_method", "pm_card_visa")]).await;
    let id = mobile["purchase"]["id"].as_str().unwrap();
    assert_eq!(app.shown(&tokens.access_token, id).await["status"], "succeeded");
    assert_eq!(app.balance(&tokens.access_token).await["balance"], 1600);
    assert_ledger_verifies(&app).await;
}

#[tokio::test]
async fn a_pending_purchase_is_shown_as_it_is_while_stripe_cannot_be_asked() {
    let (app, stand_in) = with_stripe_holding(true).await;
    let tokens = app.signed_in("patient@example.com").await;
    let bought: Value = app.bought(&tokens.access_token, "standard", "checkout").await;
    let purchase = bought["purchase"]["id"].as_str().unwrap().to_owned();
    stand_in.pay(&session_of(&bought), "pm_card_visa").await;
    let events = stand_in.events().await;
    drop(stand_in);
    let shown = app.get_as(&format!("/credits/purchases/{purchase}"), &tokens.access_token).await;
    assert_eq!(shown.status(), StatusCode::OK);
    assert_eq!(shown.json::<Value>().await.unwrap()["status"], "pending");
    assert_eq!(events.len(), 3, "Stripe's events are still to come: {events:?}");
}

#[tokio::test]
async fn a_declined_card_fails_the_purchase_and_another_card_then_pays_it_once() {
    let (app, stand_in) = with_stripe().await;
    let tokens = app.signed_in("declined@example.com").await;
    let bought: Value = app.bought(&tokens.access_token, "starter", "payment_intent").await;
    let purchase = bought["purchase"]["id"].as_str().unwrap().to_owned();
    let intent = bought["clientSecret"].as_str().unwrap().split("_secret_").next().unwrap().to_owned();
    let confirm = format!("/v1/payment_intents/{intent}/confirm");
    stand_in.post(&confirm, &[("payment_method", "pm_card_chargeDeclined")]).await;
    assert_every_event_was_accepted(&stand_in).await;
    assert_eq!(app.shown(&tokens.access_token, &purchase).await["status"], "failed");
    assert_eq!(app.balance(&tokens.access_token).await["balance"], 0);
    // The payment sheet lets the buyer try another card on the same intent.
    stand_in.post(&confirm, &[("payment_method", "pm_card_visa")]).await;
    assert_every_event_was_accepted(&stand_in).await;
    assert_eq!(app.shown(&tokens.access_token, &purchase).await["status"], "succeeded");
    assert_eq!(app.balance(&tokens.access_token).await["balance"], 500);

    // An abandoned checkout expires at Stripe and is canceled here.
    let abandoned: Value = app.bought(&tokens.access_token, "standard", "checkout").await;
    let expire = format!("{}/_standin/checkout/sessions/{}/expire", stand_in.base, session_of(&abandoned));
    assert!(app.http.post(expire).send().await.unwrap().status().is_success());
    let id = abandoned["purchase"]["id"].as_str().unwrap();
    assert_eq!(app.shown(&tokens.access_token, id).await["status"], "canceled");
    assert_ledger_verifies(&app).await;
}

#[tokio::test]
async fn a_dispute_takes_the_credits_back_and_a_won_dispute_returns_them() {
    let (app, stand_in) = with_stripe().await;
    let tokens = app.signed_in("disputed@example.com").await;
    let bought: Value = app.bought(&tokens.access_token, "standard", "checkout").await;
    let purchase = bought["purchase"]["id"].as_str().unwrap().to_owned();
    // Stripe's test card that is paid and then disputed by its holder.
    stand_in.pay(&session_of(&bought), "pm_card_createDispute").await;
    assert_every_event_was_accepted(&stand_in).await;
    assert_eq!(app.balance(&tokens.access_token).await["balance"], 0);
    assert_eq!(app.shown(&tokens.access_token, &purchase).await["status"], "disputed");

    let events = stand_in.events().await;
    let dispute = events.iter().find(|e| e["type"] == "charge.dispute.created").unwrap()["object"].as_str().unwrap();
    let evidence = [("evidence[uncategorized_text]", "winning_evidence")];
    assert_eq!(stand_in.post(&format!("/v1/disputes/{dispute}"), &evidence).await["status"], "won");
    assert_every_event_was_accepted(&stand_in).await;
    assert_eq!(app.balance(&tokens.access_token).await["balance"], 1100);
    assert_eq!(app.shown(&tokens.access_token, &purchase).await["status"], "succeeded");
    assert_ledger_verifies(&app).await;
}

#[tokio::test]
async fn credits_refunded_after_they_were_spent_are_owed_and_the_next_purchase_repays_them() {
    let (app, stand_in) = with_stripe().await;
    let tokens = app.signed_in("spender@example.com").await;
    let first: Value = app.bought(&tokens.access_token, "standard", "checkout").await;
    let session = stand_in.pay(&session_of(&first), "pm_card_visa").await;
    // 155 free credits go first, then 1,000 of the 1,100 bought.
    let spent = app.use_credits(&tokens.access_token, json!({"amount": 1155, "appId": "chat", "description": "a lot"}));
    assert_eq!(spent.await.status(), StatusCode::OK);
    stand_in.post("/v1/refunds", &[("payment_intent", session["payment_intent"].as_str().unwrap())]).await;
    let balance = app.balance(&tokens.access_token).await;
    assert_eq!((balance["balance"].as_i64(), balance["owed"].as_i64()), (Some(0), Some(1000)));
    let refused = app.use_credits(&tokens.access_token, json!({"amount": 1, "appId": "chat", "description": "more"}));
    expect_error(refused.await, StatusCode::PAYMENT_REQUIRED, "insufficient_credits").await;

    let second: Value = app.bought(&tokens.access_token, "standard", "checkout").await;
    stand_in.pay(&session_of(&second), "pm_card_visa").await;
    assert_every_event_was_accepted(&stand_in).await;
    let balance = app.balance(&tokens.access_token).await;
    assert_eq!(
        (balance["balance"].as_i64(), balance["owed"].as_i64()),
        (Some(100), Some(0)),
        "the debt is repaid first"
    );
    assert_ledger_verifies(&app).await;
}

#[tokio::test]
async fn events_about_another_business_on_the_same_stripe_account_are_acknowledged() {
    let (app, stand_in) = with_stripe().await;
    let tokens = app.signed_in("bystander@example.com").await;
    // A payment made by some other system sharing the account: no purchase in its metadata.
    let intent = stand_in.post("/v1/payment_intents", &[("amount", "4200"), ("currency", "eur")]).await;
    let intent = intent["id"].as_str().unwrap();
    stand_in.post(&format!("/v1/payment_intents/{intent}/confirm"), &[("payment_method", "pm_card_visa")]).await;
    stand_in.post("/v1/refunds", &[("payment_intent", intent), ("amount", "100")]).await;
    assert_every_event_was_accepted(&stand_in).await;
    assert_eq!(app.balance(&tokens.access_token).await["balance"], 0);
    assert_ledger_verifies(&app).await;
}

#[tokio::test]
async fn unsigned_tampered_stale_and_wrongly_signed_webhooks_are_refused() {
    let (app, _stand_in) = with_stripe().await;
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
    let stand_in = StandIn::start().await;
    let overrides = [
        ("STRIPE_SECRET_KEY", SECRET_KEY),
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
    assert_ledger_verifies(&first).await;
}
