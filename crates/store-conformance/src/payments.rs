//! The payment store: packages, idempotent purchases, and provider events applied exactly once
//! with their ledger movements, however they are repeated, reordered or raced.

use mana_core::credits::{CreditPolicy, Credits, IdempotencyKey};
use mana_core::ids::UserId;
use mana_core::payments::{PaymentEvent, Terms, settle_purchase};
use mana_core::store::{
    CreditPackage, EventOutcome, NewPurchase, PaymentFlow, PaymentLink, ProviderEvent, Purchase, PurchaseLocator,
    PurchaseStatus,
};
use uuid::Uuid;

use crate::{SharedStore, assert_ledger_sound, credit_fixture, spend, t0};

fn no_free_credits() -> CreditPolicy {
    CreditPolicy { signup_bonus: Credits::ZERO, daily_allowance: Credits::ZERO, ..CreditPolicy::default() }
}

async fn standard_package(store: &SharedStore) -> CreditPackage {
    store.package("standard").await.unwrap().expect("the seeded catalogue has 'standard'")
}

async fn buy(store: &SharedStore, user: UserId, key: Option<&str>) -> (Purchase, bool) {
    let new = NewPurchase {
        id: Uuid::now_v7(),
        user_id: user,
        package: standard_package(store).await,
        flow: PaymentFlow::Checkout,
        idempotency_key: key.map(|k| IdempotencyKey::parse(k).unwrap()),
        created_at: t0(),
    };
    store.create_purchase(new).await.unwrap()
}

/// A purchase with a checkout session `cs_<n>`, as after `POST /credits/purchases`.
async fn checkout(store: &SharedStore, user: UserId) -> Purchase {
    let (purchase, _) = buy(store, user, None).await;
    let link = PaymentLink {
        checkout_session_id: Some(format!("cs_{}", purchase.id.simple())),
        checkout_url: Some("https://checkout.stripe.test/c/pay".into()),
        ..PaymentLink::default()
    };
    store.link_payment(purchase.id, &link).await.unwrap()
}

fn event(id: &str, locator: PurchaseLocator, event: PaymentEvent) -> ProviderEvent {
    ProviderEvent {
        id: id.into(),
        kind: "test.event".into(),
        locator,
        payment_intent_id: None,
        event,
        received_at: t0(),
    }
}

async fn apply(store: &SharedStore, event: &ProviderEvent) -> EventOutcome {
    store.apply_payment_event(event, &|purchase, balance| settle_purchase(purchase, balance, t0())).await.unwrap()
}

fn session(purchase: &Purchase) -> PurchaseLocator {
    PurchaseLocator::CheckoutSession(purchase.checkout_session_id.clone().unwrap())
}

pub async fn packages_can_be_added_changed_and_withdrawn(store: SharedStore) {
    let mut package = CreditPackage {
        id: "mega".into(),
        name: "Mega".into(),
        credits: Credits(15_000),
        price_cents: 10_000,
        currency: "EUR".into(),
        stripe_price_id: Some("price_mega".into()),
        active: true,
        sort_order: 50,
    };
    store.upsert_package(&package).await.unwrap();
    assert_eq!(store.package("mega").await.unwrap(), Some(package.clone()));
    package.credits = Credits(16_000);
    store.upsert_package(&package).await.unwrap();
    assert_eq!(store.package("mega").await.unwrap().unwrap().credits, Credits(16_000));

    assert!(store.deactivate_package("mega").await.unwrap());
    assert!(!store.deactivate_package("nonexistent").await.unwrap());
    assert!(!store.list_packages().await.unwrap().iter().any(|p| p.id == "mega"), "withdrawn from sale");
    let all = store.all_packages().await.unwrap();
    assert!(all.iter().any(|p| p.id == "mega" && !p.active), "still known, for its past purchases");
}

pub async fn a_purchase_is_created_once_per_idempotency_key_and_user(store: SharedStore) {
    let (_, _, user) = credit_fixture(&store, no_free_credits()).await;
    let (_, _, other) = credit_fixture(&store, no_free_credits()).await;
    let (first, created) = buy(&store, user, Some("buy-1")).await;
    assert!(created);
    assert_eq!((first.status, first.credits, first.amount_cents), (PurchaseStatus::Pending, Credits(1100), 1000));
    let (again, created) = buy(&store, user, Some("buy-1")).await;
    assert!(!created);
    assert_eq!(again.id, first.id, "the retry finds the first purchase");
    let (theirs, created) = buy(&store, other, Some("buy-1")).await;
    assert!(created && theirs.id != first.id, "keys are scoped to their user");
    let (unkeyed, created) = buy(&store, user, None).await;
    assert!(created && unkeyed.id != first.id);
    assert_eq!(store.list_purchases(user).await.unwrap().len(), 2);
}

pub async fn a_payment_described_by_several_events_each_delivered_twice_credits_once(store: SharedStore) {
    let (credits, _, user) = credit_fixture(&store, no_free_credits()).await;
    let purchase = checkout(&store, user).await;
    let mut paid = event("evt_session_completed", session(&purchase), PaymentEvent::Paid);
    paid.payment_intent_id = Some("pi_learned".into());
    let EventOutcome::Applied { purchase: applied, transactions } = apply(&store, &paid).await else {
        panic!("the first delivery applies");
    };
    assert_eq!(applied.status, PurchaseStatus::Succeeded);
    assert_eq!(transactions.len(), 1);
    assert_eq!(transactions[0].purchase_id, Some(purchase.id));
    assert!(matches!(apply(&store, &paid).await, EventOutcome::Duplicate));

    // The payment intent's own event names the purchase by the intent the session revealed.
    let intent = event("evt_intent_succeeded", PurchaseLocator::PaymentIntent("pi_learned".into()), PaymentEvent::Paid);
    let EventOutcome::Applied { transactions, .. } = apply(&store, &intent).await else { panic!("a new event") };
    assert!(transactions.is_empty(), "the payment was credited already");
    assert!(matches!(apply(&store, &intent).await, EventOutcome::Duplicate));

    let balance = credits.balance(user).await.unwrap();
    assert_eq!(balance.paid, Credits(1100));
    let stored = store.purchase(purchase.id).await.unwrap().unwrap();
    assert_eq!((stored.status, stored.settled.held()), (PurchaseStatus::Succeeded, Credits(1100)));
    assert!(stored.completed_at.is_some());
    assert_ledger_sound(&store).await;
}

pub async fn twenty_concurrent_deliveries_of_one_event_apply_it_once(store: SharedStore) {
    let (credits, _, user) = credit_fixture(&store, no_free_credits()).await;
    let purchase = checkout(&store, user).await;
    let paid = event("evt_raced", session(&purchase), PaymentEvent::Paid);
    let deliveries: Vec<_> = (0..20)
        .map(|_| {
            let (store, paid) = (store.clone(), paid.clone());
            tokio::spawn(async move { apply(&store, &paid).await })
        })
        .collect();
    let mut applied = 0;
    for delivery in deliveries {
        match delivery.await.unwrap() {
            EventOutcome::Applied { .. } => applied += 1,
            EventOutcome::Duplicate => {}
            EventOutcome::UnknownPurchase => panic!("the purchase exists"),
        }
    }
    assert_eq!(applied, 1);
    assert_eq!(credits.balance(user).await.unwrap().paid, Credits(1100));
    assert_ledger_sound(&store).await;
}

pub async fn an_event_for_an_unknown_payment_is_not_recorded_so_a_later_delivery_applies(store: SharedStore) {
    let (credits, _, user) = credit_fixture(&store, no_free_credits()).await;
    let purchase = checkout(&store, user).await;
    let refund = event(
        "evt_refund_early",
        PurchaseLocator::PaymentIntent("pi_not_yet_known".into()),
        PaymentEvent::Refunded { amount_refunded_cents: 500 },
    );
    assert!(matches!(apply(&store, &refund).await, EventOutcome::UnknownPurchase));

    let mut paid = event("evt_paid_later", session(&purchase), PaymentEvent::Paid);
    paid.payment_intent_id = Some("pi_not_yet_known".into());
    apply(&store, &paid).await;
    // Redelivered now that the purchase knows its intent: half refunded, half the credits back.
    assert!(matches!(apply(&store, &refund).await, EventOutcome::Applied { .. }));
    let stored = store.purchase(purchase.id).await.unwrap().unwrap();
    assert_eq!(stored.status, PurchaseStatus::PartiallyRefunded);
    assert_eq!(credits.balance(user).await.unwrap().paid, Credits(550));
    assert_ledger_sound(&store).await;
}

pub async fn refunding_spent_credits_leaves_a_debt_that_the_next_purchase_repays(store: SharedStore) {
    let (credits, _, user) = credit_fixture(&store, no_free_credits()).await;
    let first = checkout(&store, user).await;
    apply(&store, &event("evt_1_paid", session(&first), PaymentEvent::Paid)).await;
    credits.spend(user, spend(1000)).await.unwrap();
    let refund = PaymentEvent::Refunded { amount_refunded_cents: 1000 };
    apply(&store, &event("evt_1_refunded", session(&first), refund)).await;
    let balance = credits.balance(user).await.unwrap();
    assert_eq!((balance.paid, balance.owed), (Credits(0), Credits(1000)));
    assert_eq!(store.purchase(first.id).await.unwrap().unwrap().status, PurchaseStatus::Refunded);
    assert_ledger_sound(&store).await;

    let second = checkout(&store, user).await;
    apply(&store, &event("evt_2_paid", session(&second), PaymentEvent::Paid)).await;
    let balance = credits.balance(user).await.unwrap();
    assert_eq!((balance.paid, balance.owed), (Credits(100), Credits(0)), "the debt was repaid first");
    assert_ledger_sound(&store).await;
}

pub async fn a_dispute_takes_what_is_left_and_a_won_dispute_gives_it_back(store: SharedStore) {
    let (credits, _, user) = credit_fixture(&store, no_free_credits()).await;
    let purchase = checkout(&store, user).await;
    let at = |id: &str, e| event(id, session(&purchase), e);
    apply(&store, &at("evt_paid", PaymentEvent::Paid)).await;
    apply(&store, &at("evt_partial", PaymentEvent::Refunded { amount_refunded_cents: 200 })).await;
    assert_eq!(credits.balance(user).await.unwrap().paid, Credits(880));
    apply(&store, &at("evt_dispute", PaymentEvent::DisputeOpened)).await;
    assert_eq!(credits.balance(user).await.unwrap().paid, Credits(0));
    assert_eq!(store.purchase(purchase.id).await.unwrap().unwrap().status, PurchaseStatus::Disputed);
    assert_ledger_sound(&store).await;
    apply(&store, &at("evt_won", PaymentEvent::DisputeClosed { won: true })).await;
    assert_eq!(credits.balance(user).await.unwrap().paid, Credits(880));
    let stored = store.purchase(purchase.id).await.unwrap().unwrap();
    assert_eq!(stored.status, PurchaseStatus::PartiallyRefunded);
    assert_eq!(
        (stored.settled.granted, stored.settled.reversed, stored.settled.restored),
        (Credits(1100), Credits(1100), Credits(880))
    );
    assert_ledger_sound(&store).await;
}

/// The credits a set of events makes due, computed directly (no order, no merging).
fn expected_credits(events: &[PaymentEvent], terms: &Terms) -> Credits {
    let paid = events.contains(&PaymentEvent::Paid);
    let refunded = events
        .iter()
        .filter_map(|e| match e {
            PaymentEvent::Refunded { amount_refunded_cents } => Some(*amount_refunded_cents),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let lost = events.contains(&PaymentEvent::DisputeClosed { won: false });
    let won = events.contains(&PaymentEvent::DisputeClosed { won: true });
    let open = events.contains(&PaymentEvent::DisputeOpened);
    if !paid || lost || (open && !won) {
        return Credits::ZERO;
    }
    Credits(terms.credits.0 - terms.refunded_credits(refunded).0)
}

/// Random sequences of a payment's events, with redeliveries and in any order, applied through
/// the store: each ends where the model says, and the ledger stays sound. Seeded, so a failure
/// names a sequence that can be replayed.
pub async fn random_payment_event_sequences_settle_as_the_model_says(store: SharedStore) {
    let catalogue = [
        PaymentEvent::Paid,
        PaymentEvent::Failed,
        PaymentEvent::Refunded { amount_refunded_cents: 250 },
        PaymentEvent::Refunded { amount_refunded_cents: 600 },
        PaymentEvent::Refunded { amount_refunded_cents: 1000 },
        PaymentEvent::DisputeOpened,
        PaymentEvent::DisputeClosed { won: true },
        PaymentEvent::DisputeClosed { won: false },
    ];
    let mut state: u64 = 0x5eed_2026_1202;
    let mut next = |bound: usize| {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize % bound
    };
    let (mut whole, mut partly, mut nothing) = (0, 0, 0);
    for sequence in 0..24 {
        let (credits, _, user) = credit_fixture(&store, no_free_credits()).await;
        let purchase = checkout(&store, user).await;
        // Up to 12 deliveries of up to 5 distinct events: repeats are redeliveries.
        let distinct: Vec<(String, PaymentEvent)> =
            (0..1 + next(5)).map(|n| (format!("evt_{sequence}_{n}"), catalogue[next(catalogue.len())])).collect();
        let deliveries: Vec<&(String, PaymentEvent)> =
            (0..1 + next(12)).map(|_| &distinct[next(distinct.len())]).collect();
        for (id, payment_event) in &deliveries {
            apply(&store, &event(id, session(&purchase), *payment_event)).await;
        }
        let delivered: Vec<PaymentEvent> = deliveries.iter().map(|(_, e)| *e).collect();
        let due = expected_credits(&delivered, &purchase.terms());
        let stored = store.purchase(purchase.id).await.unwrap().unwrap();
        assert_eq!(stored.settled.held(), due, "sequence {sequence}: {delivered:?}");
        assert_eq!(credits.balance(user).await.unwrap().paid, due, "sequence {sequence}: {delivered:?}");
        match due {
            Credits::ZERO => nothing += 1,
            due if due == purchase.credits => whole += 1,
            _ => partly += 1,
        }
    }
    // The seed reaches every kind of ending, so the comparison is not vacuous.
    assert!(whole > 0 && partly > 0 && nothing > 0, "whole {whole}, partly {partly}, nothing {nothing}");
    assert_ledger_sound(&store).await;
}
