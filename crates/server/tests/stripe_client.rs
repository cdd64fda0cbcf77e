//! The Stripe client against a local stand-in that answers as Stripe's API does (bodies in the
//! shape of Stripe's published fixtures, written here by hand): what each call sends, what it
//! reads back, and how refusals, garbage and silence come out.

// Test helpers outside #[test] functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use mana_core::credits::Credits;
use mana_core::payments::{PaymentFacts, Settled};
use mana_core::store::{CreditPackage, PaymentFlow, Purchase, PurchaseStatus};
use mana_server::payments::stripe_client::{CheckoutSession, StripeClient};
use uuid::Uuid;

#[path = "support/stripe.rs"]
mod stripe_stand_in;

use stripe_stand_in::field;

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
    let stand_in = stripe_stand_in::start().await;
    let (base, seen) = (stand_in.base.clone(), stand_in.seen.clone());
    let client = StripeClient::new(&base, "sk_test_123", Duration::from_secs(5)).unwrap();
    let bought = purchase(1000);
    let session = client
        .create_checkout_session(&bought, &package(None), "buyer@example.com", "https://app/ok", "https://app/no")
        .await
        .unwrap();
    let id = format!("cs_test_purchase{}checkout", bought.id.simple());
    assert_eq!(session, CheckoutSession { url: format!("https://checkout.stripe.com/c/pay/{id}"), id });
    let (path, key, auth, form) = seen.lock().unwrap()[0].clone();
    assert_eq!(path, "/v1/checkout/sessions");
    assert_eq!(key.as_deref(), Some(format!("purchase-{}-checkout", bought.id).as_str()));
    assert_eq!(auth.as_deref(), Some("Bearer sk_test_123"));
    let id = bought.id.to_string();
    for name in ["client_reference_id", "metadata[purchase_id]", "payment_intent_data[metadata][purchase_id]"] {
        assert_eq!(field(&form, name), Some(id.as_str()), "{name}");
    }
    assert_eq!(field(&form, "mode"), Some("payment"));
    assert_eq!(field(&form, "line_items[0][price_data][unit_amount]"), Some("1000"));
    assert_eq!(field(&form, "line_items[0][price_data][currency]"), Some("eur"));

    client.create_checkout_session(&bought, &package(Some("price_1Pq")), "b@example.com", "u", "c").await.unwrap();
    let form = seen.lock().unwrap()[1].3.clone();
    assert_eq!(field(&form, "line_items[0][price]"), Some("price_1Pq"));
    assert_eq!(field(&form, "line_items[0][price_data][unit_amount]"), None);
}

#[tokio::test]
async fn payment_intents_are_made_and_read_back_with_their_purchase() {
    let stand_in = stripe_stand_in::start().await;
    let (base, seen) = (stand_in.base.clone(), stand_in.seen.clone());
    let client = StripeClient::new(&base, "sk_test_123", Duration::from_secs(5)).unwrap();
    let bought = purchase(1000);
    let intent = client.create_payment_intent(&bought).await.unwrap();
    assert!(intent.id.starts_with("pi_"), "{intent:?}");
    assert_eq!(intent.client_secret, Some(format!("{}_secret_9z", intent.id)));
    assert_eq!(intent.purchase_id, Some(bought.id));
    let (_, key, _, form) = seen.lock().unwrap()[0].clone();
    assert_eq!(key, Some(format!("purchase-{}-intent", bought.id)));
    assert_eq!(field(&form, "automatic_payment_methods[enabled]"), Some("true"));
    let read = client.payment_intent(&intent.id).await.unwrap();
    assert_eq!(read.purchase_id, Some(bought.id));
    let unknown = client.payment_intent("pi_unknown").await.unwrap_err().to_string();
    assert!(unknown.contains("404") && unknown.contains("No such payment_intent"), "{unknown}");
}

#[tokio::test]
async fn stripe_refusals_garbage_and_silence_become_errors_not_panics() {
    let stand_in = stripe_stand_in::start().await;
    let base = stand_in.base.clone();
    let client = StripeClient::new(&base, "sk_test_123", Duration::from_secs(5)).unwrap();
    let refused = client.create_payment_intent(&purchase(13)).await.unwrap_err().to_string();
    assert!(refused.contains("400") && refused.contains("at least 50 cents"), "{refused}");
    let odd = client.payment_intent("pi_../../v1/charges").await.unwrap_err().to_string();
    assert!(odd.contains("not a payment intent id"), "{odd}");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let down = StripeClient::new(&format!("http://127.0.0.1:{closed}"), "sk", Duration::from_secs(2)).unwrap();
    assert!(down.create_payment_intent(&purchase(1000)).await.is_err());
    let not_stripe = StripeClient::new(&format!("{base}/nothing-here"), "sk", Duration::from_secs(2)).unwrap();
    let error = not_stripe.create_payment_intent(&purchase(1000)).await.unwrap_err().to_string();
    assert!(error.contains("404"), "{error}");
}
