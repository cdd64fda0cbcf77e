//! The Stripe client against the local stand-in (`scripts/stripe-standin`), which answers as
//! Stripe's API does: what each call sends, what it reads back, and how refusals, garbage and
//! silence come out.

// Test helpers outside #[test] functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use mana_core::credits::Credits;
use mana_core::payments::{PaymentFacts, Settled};
use mana_core::store::{CreditPackage, PaymentFlow, Purchase, PurchaseStatus};
use mana_server::payments::stripe_client::StripeClient;
use uuid::Uuid;

#[path = "support/stripe.rs"]
mod stripe_stand_in;

use stripe_stand_in::{Request, SECRET_KEY, StandIn, field};

fn purchase(amount_cents: i64) -> Purchase {
    Purchase {
        id: Uuid::now_v7(),
        user_id: mana_core::ids::UserId::generate(),
        package_id: Some("standard".into()),
        credits: Credits(1100),
        amount_cents,
        currency: "EUR".into(),
        status: PurchaseStatus::Pending,
        flow: PaymentFlow::Checkout,
        checkout_session_id: None,
        payment_intent_id: None,
        checkout_url: None,
        client_secret: None,
        facts: PaymentFacts::default(),
        settled: Settled::default(),
        created_at: chrono::Utc::now(),
        completed_at: None,
    }
}

fn package(stripe_price_id: Option<&str>) -> CreditPackage {
    CreditPackage {
        id: "standard".into(),
        name: "Standard".into(),
        credits: Credits(1100),
        price_cents: 1000,
        currency: "EUR".into(),
        stripe_price_id: stripe_price_id.map(str::to_owned),
        active: true,
        sort_order: 20,
    }
}

#[tokio::test]
async fn a_checkout_session_carries_the_purchase_everywhere_and_one_idempotency_key() {
    let stand_in = StandIn::start().await;
    let client = StripeClient::new(&stand_in.base, SECRET_KEY, Duration::from_secs(5)).unwrap();
    let bought = purchase(1000);
    let session = client
        .create_checkout_session(&bought, &package(None), "buyer@example.com", "https://app/ok", "https://app/no")
        .await
        .unwrap();
    assert!(session.id.starts_with("cs_test_"), "{session:?}");
    assert_eq!(session.url, format!("https://checkout.stripe.com/c/pay/{}", session.id));
    let sent = stand_in.requests_to("/v1/checkout/sessions").await;
    let Request { idempotency_key, authorization, form } = sent[0].clone();
    assert_eq!(idempotency_key, Some(format!("purchase-{}-checkout", bought.id)));
    assert_eq!(authorization, Some(format!("Bearer {SECRET_KEY}")));
    let id = bought.id.to_string();
    for name in ["client_reference_id", "metadata[purchase_id]", "payment_intent_data[metadata][purchase_id]"] {
        assert_eq!(field(&form, name), Some(id.as_str()), "{name}");
    }
    assert_eq!(field(&form, "mode"), Some("payment"));
    assert_eq!(field(&form, "line_items[0][price_data][unit_amount]"), Some("1000"));
    assert_eq!(field(&form, "line_items[0][price_data][currency]"), Some("eur"));
    // Asked again (a retried purchase request), Stripe answers the same session.
    let again = client
        .create_checkout_session(&bought, &package(None), "buyer@example.com", "https://app/ok", "https://app/no")
        .await
        .unwrap();
    assert_eq!(again, session);
    let retrieved = client.checkout_session(&session.id).await.unwrap();
    assert_eq!((retrieved.status.as_str(), retrieved.payment_status.as_str()), ("open", "unpaid"));
    assert_eq!(retrieved.payment_intent, None, "Checkout makes the intent when the buyer pays");

    // A package sold at a price made in Stripe's dashboard names that price instead.
    let price = stand_in
        .post("/v1/prices", &[("currency", "eur"), ("unit_amount", "1000"), ("product_data[name]", "Standard")])
        .await;
    let price = price["id"].as_str().unwrap();
    client.create_checkout_session(&purchase(1000), &package(Some(price)), "b@example.com", "u", "c").await.unwrap();
    let form = stand_in.requests_to("/v1/checkout/sessions").await[2].form.clone();
    assert_eq!(field(&form, "line_items[0][price]"), Some(price));
    assert_eq!(field(&form, "line_items[0][price_data][unit_amount]"), None);
    let (bought, gone) = (purchase(1000), package(Some("price_gone")));
    let error = client.create_checkout_session(&bought, &gone, "b@e.com", "u", "c").await.unwrap_err().to_string();
    assert!(error.contains("404") && error.contains("No such price"), "{error}");
}

#[tokio::test]
async fn payment_intents_are_made_and_read_back_with_their_purchase() {
    let stand_in = StandIn::start().await;
    let client = StripeClient::new(&stand_in.base, SECRET_KEY, Duration::from_secs(5)).unwrap();
    let bought = purchase(1000);
    let intent = client.create_payment_intent(&bought).await.unwrap();
    assert!(intent.id.starts_with("pi_"), "{intent:?}");
    assert!(intent.client_secret.as_deref().unwrap().starts_with(&format!("{}_secret_", intent.id)));
    assert_eq!(intent.purchase_id, Some(bought.id));
    let Request { idempotency_key, form, .. } = stand_in.requests_to("/v1/payment_intents").await[0].clone();
    assert_eq!(idempotency_key, Some(format!("purchase-{}-intent", bought.id)));
    assert_eq!(field(&form, "automatic_payment_methods[enabled]"), Some("true"));
    let read = client.payment_intent(&intent.id).await.unwrap();
    assert_eq!(read.purchase_id, Some(bought.id));
    let unknown = client.payment_intent("pi_unknown").await.unwrap_err().to_string();
    assert!(unknown.contains("404") && unknown.contains("No such payment_intent"), "{unknown}");
}

#[tokio::test]
async fn stripe_refusals_garbage_and_silence_become_errors_not_panics() {
    let stand_in = StandIn::start().await;
    let base = stand_in.base.clone();
    let client = StripeClient::new(&base, SECRET_KEY, Duration::from_secs(5)).unwrap();
    let refused = client.create_payment_intent(&purchase(13)).await.unwrap_err().to_string();
    assert!(refused.contains("400") && refused.contains("at least"), "{refused}");
    let wrong_key = StripeClient::new(&base, "pk_test_publishable", Duration::from_secs(5)).unwrap();
    let refused = wrong_key.create_payment_intent(&purchase(1000)).await.unwrap_err().to_string();
    assert!(refused.contains("401") && refused.contains("Invalid API Key"), "{refused}");
    let odd = client.payment_intent("pi_../../v1/charges").await.unwrap_err().to_string();
    assert!(odd.contains("not an id of /v1/payment_intents"), "{odd}");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let down = StripeClient::new(&format!("http://127.0.0.1:{closed}"), "sk", Duration::from_secs(2)).unwrap();
    assert!(down.create_payment_intent(&purchase(1000)).await.is_err());
    let not_stripe = StripeClient::new(&format!("{base}/nothing-here"), SECRET_KEY, Duration::from_secs(2)).unwrap();
    let error = not_stripe.create_payment_intent(&purchase(1000)).await.unwrap_err().to_string();
    assert!(error.contains("404"), "{error}");
}
