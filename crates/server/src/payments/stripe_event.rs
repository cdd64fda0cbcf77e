//! Stripe's webhook events, read after their signature was checked: which purchase each names
//! and what it says about the payment. Types that say nothing about a purchase are
//! acknowledged and ignored.

use chrono::{DateTime, Utc};
use mana_core::payments::PaymentEvent;
use mana_core::store::{ProviderEvent, PurchaseLocator};
use serde::Deserialize;
use uuid::Uuid;

/// What a verified webhook body asks of us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StripeEvent {
    Apply(ProviderEvent),
    /// A type we do not act on, or an object that is not one of our payments.
    Ignore {
        id: String,
        kind: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the body is not a Stripe event")]
pub struct NotAnEvent;

#[derive(Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    object: Object,
}

/// The fields of a session, payment intent, charge or dispute that we read; each type has
/// only some of them.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Object {
    id: String,
    payment_status: Option<String>,
    /// A session's or charge's or dispute's intent: an id, or null.
    payment_intent: Option<String>,
    metadata: Option<std::collections::HashMap<String, String>>,
    client_reference_id: Option<String>,
    amount_refunded: Option<i64>,
    status: Option<String>,
}

impl Object {
    /// The purchase id we put in the metadata (or the session's client reference), if any.
    fn purchase_id(&self) -> Option<Uuid> {
        let from_metadata = self.metadata.as_ref().and_then(|m| m.get("purchase_id"));
        from_metadata.or(self.client_reference_id.as_ref()).and_then(|id| id.parse().ok())
    }
}

pub fn parse(body: &[u8], received_at: DateTime<Utc>) -> Result<StripeEvent, NotAnEvent> {
    let envelope: Envelope = serde_json::from_slice(body).map_err(|_| NotAnEvent)?;
    let Envelope { id, kind, data: Data { object } } = envelope;
    if id.is_empty() {
        return Err(NotAnEvent);
    }
    let ignore = || Ok(StripeEvent::Ignore { id: id.clone(), kind: kind.clone() });
    let (event, locator, payment_intent_id) = match kind.as_str() {
        "checkout.session.completed"
        | "checkout.session.async_payment_succeeded"
        | "checkout.session.async_payment_failed"
        | "checkout.session.expired" => {
            let event = match kind.as_str() {
                // A session completes unpaid when the payment method settles later (a bank
                // debit): the async events tell the outcome.
                "checkout.session.completed" if object.payment_status.as_deref() != Some("paid") => return ignore(),
                "checkout.session.async_payment_failed" => PaymentEvent::Failed,
                "checkout.session.expired" => PaymentEvent::Canceled,
                _ => PaymentEvent::Paid,
            };
            let locator = match object.purchase_id() {
                Some(purchase) => PurchaseLocator::Id(purchase),
                None => PurchaseLocator::CheckoutSession(object.id.clone()),
            };
            (event, locator, object.payment_intent.clone())
        }
        "payment_intent.succeeded" | "payment_intent.payment_failed" | "payment_intent.canceled" => {
            let event = match kind.as_str() {
                "payment_intent.succeeded" => PaymentEvent::Paid,
                "payment_intent.payment_failed" => PaymentEvent::Failed,
                _ => PaymentEvent::Canceled,
            };
            let locator = match object.purchase_id() {
                Some(purchase) => PurchaseLocator::Id(purchase),
                None => PurchaseLocator::PaymentIntent(object.id.clone()),
            };
            (event, locator, Some(object.id.clone()))
        }
        "charge.refunded" | "charge.dispute.created" | "charge.dispute.closed" => {
            let event = match kind.as_str() {
                "charge.refunded" => match object.amount_refunded {
                    Some(amount_refunded_cents) if amount_refunded_cents >= 0 => {
                        PaymentEvent::Refunded { amount_refunded_cents }
                    }
                    _ => return Err(NotAnEvent),
                },
                "charge.dispute.created" => PaymentEvent::DisputeOpened,
                _ => match object.status.as_deref() {
                    Some("won") => PaymentEvent::DisputeClosed { won: true },
                    Some("lost") => PaymentEvent::DisputeClosed { won: false },
                    // Closed as `warning_closed` or another outcome: nothing to restore or take.
                    _ => return ignore(),
                },
            };
            // Charges and disputes do not carry the intent's metadata: they name the intent.
            let Some(intent) = object.payment_intent.clone() else { return ignore() };
            let locator = match object.purchase_id() {
                Some(purchase) => PurchaseLocator::Id(purchase),
                None => PurchaseLocator::PaymentIntent(intent.clone()),
            };
            (event, locator, Some(intent))
        }
        _ => return ignore(),
    };
    Ok(StripeEvent::Apply(ProviderEvent { id, kind, locator, payment_intent_id, event, received_at }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const PURCHASE: &str = "0193a5f0-7c1e-7d2a-9b1e-3c4d5e6f7a8b";

    fn parsed(body: serde_json::Value) -> StripeEvent {
        parse(body.to_string().as_bytes(), Utc::now()).unwrap()
    }

    fn applied(body: serde_json::Value) -> ProviderEvent {
        match parsed(body) {
            StripeEvent::Apply(event) => event,
            other => panic!("expected an event to apply, got {other:?}"),
        }
    }

    #[test]
    fn a_paid_checkout_session_names_its_purchase_and_reveals_its_intent() {
        let event = applied(json!({
            "id": "evt_1", "object": "event", "type": "checkout.session.completed", "created": 1764633600,
            "data": {"object": {"id": "cs_test_1", "object": "checkout.session", "payment_status": "paid",
                "payment_intent": "pi_1", "metadata": {"purchase_id": PURCHASE}}},
        }));
        assert_eq!(event.locator, PurchaseLocator::Id(PURCHASE.parse().unwrap()));
        assert_eq!((event.event, event.payment_intent_id.as_deref()), (PaymentEvent::Paid, Some("pi_1")));
    }

    #[test]
    fn an_unpaid_completion_waits_for_the_async_outcome() {
        let body = json!({"id": "evt_2", "type": "checkout.session.completed",
            "data": {"object": {"id": "cs_test_2", "payment_status": "unpaid", "payment_intent": null}}});
        assert!(matches!(parsed(body), StripeEvent::Ignore { .. }));
        let failed = applied(json!({"id": "evt_3", "type": "checkout.session.async_payment_failed",
            "data": {"object": {"id": "cs_test_2", "payment_status": "unpaid"}}}));
        assert_eq!(failed.locator, PurchaseLocator::CheckoutSession("cs_test_2".into()));
        assert_eq!(failed.event, PaymentEvent::Failed);
    }

    #[test]
    fn refunds_and_disputes_name_the_payment_intent() {
        let refund = applied(json!({"id": "evt_4", "type": "charge.refunded",
            "data": {"object": {"id": "ch_1", "object": "charge", "payment_intent": "pi_1", "amount": 1000,
                "amount_refunded": 400, "refunded": false, "metadata": {}}}}));
        assert_eq!(refund.locator, PurchaseLocator::PaymentIntent("pi_1".into()));
        assert_eq!(refund.event, PaymentEvent::Refunded { amount_refunded_cents: 400 });
        let won = applied(json!({"id": "evt_5", "type": "charge.dispute.closed",
            "data": {"object": {"id": "dp_1", "object": "dispute", "charge": "ch_1", "payment_intent": "pi_1",
                "status": "won"}}}));
        assert_eq!(won.event, PaymentEvent::DisputeClosed { won: true });
        let warning = json!({"id": "evt_6", "type": "charge.dispute.closed",
            "data": {"object": {"id": "dp_2", "payment_intent": "pi_1", "status": "warning_closed"}}});
        assert!(matches!(parsed(warning), StripeEvent::Ignore { .. }));
    }

    #[test]
    fn other_types_are_ignored_and_garbage_is_refused() {
        let other = json!({"id": "evt_7", "type": "customer.created", "data": {"object": {"id": "cus_1"}}});
        assert_eq!(parsed(other), StripeEvent::Ignore { id: "evt_7".into(), kind: "customer.created".into() });
        for body in
            [&b"not json"[..], br#"{"type": "charge.refunded"}"#, br#"{"id": "", "type": "x", "data": {"object": {}}}"#]
        {
            assert_eq!(parse(body, Utc::now()), Err(NotAnEvent), "{}", String::from_utf8_lossy(body));
        }
        let no_amount = json!({"id": "evt_8", "type": "charge.refunded", "data": {"object": {"id": "ch_1", "payment_intent": "pi_1"}}});
        assert_eq!(parse(no_amount.to_string().as_bytes(), Utc::now()), Err(NotAnEvent));
    }
}
