//! `/checkout/simulated/{id}`: the payment page of development without a Stripe key (SPEC §7).
//! No money moves: Pay and Decline make the events Stripe would send, sign them with this
//! process's own webhook secret, and hand them to the webhook's own code, which verifies and
//! applies them as it does Stripe's. So the whole purchase flow runs on a laptop.
//!
//! The link carries a capability for its one purchase (an HMAC of the purchase id under the
//! webhook secret): without it the page shows nothing and its forms do nothing.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use mana_core::crypto::{constant_time_eq, hex_encode, hmac_sha256};
use mana_core::mail::escape_html;
use mana_core::payments::signature_header;
use mana_core::store::{PaymentFlow, Purchase, PurchaseStatus};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::{cross_site, is_cross_site, page};
use crate::routes::purchases::receive_event;
use crate::state::AppState;

pub const SIMULATED_CHECKOUT: &str = "/checkout/simulated";

/// The capability a simulated checkout link carries for `purchase`.
pub fn checkout_token(secret: &str, purchase: Uuid) -> String {
    hex_encode(&hmac_sha256(secret.as_bytes(), format!("simulated-checkout:{purchase}").as_bytes()))
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

#[derive(Deserialize)]
pub struct Decision {
    #[serde(default)]
    token: String,
    #[serde(default)]
    decision: String,
}

/// The purchase the link is for, if its capability is right.
async fn authorised(state: &AppState, id: &str, token: &str) -> Option<Purchase> {
    let secret = state.payments()?.simulated_secret()?;
    let id: Uuid = id.parse().ok()?;
    if !constant_time_eq(checkout_token(secret, id).as_bytes(), token.as_bytes()) {
        return None;
    }
    state.auth().store().purchase(id).await.ok().flatten()
}

fn not_found() -> Response {
    page(StatusCode::NOT_FOUND, "No such payment", "<p class=\"error\">This payment link is not valid.</p>")
}

pub async fn show(State(state): State<AppState>, Path(id): Path<String>, Query(query): Query<TokenQuery>) -> Response {
    let Some(purchase) = authorised(&state, &id, &query.token).await else { return not_found() };
    if purchase.status != PurchaseStatus::Pending {
        let body = format!("<p>This payment is {}.</p>", purchase.status.as_str().replace('_', " "));
        return page(StatusCode::OK, "Payment already settled", &body);
    }
    let body = format!(
        "<p class=\"note\">Simulated checkout: this service runs without a Stripe key, so no money moves.</p>\
         <p><strong>{credits} credits</strong> for <strong>{price:.2} {currency}</strong></p>\
         <form method=\"post\" action=\"{SIMULATED_CHECKOUT}/{id}\">\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\
         <button type=\"submit\" name=\"decision\" value=\"pay\">Pay</button> \
         <button type=\"submit\" name=\"decision\" value=\"decline\">Decline</button></form>",
        credits = purchase.credits.0,
        price = purchase.amount_cents as f64 / 100.0,
        currency = escape_html(&purchase.currency),
        id = purchase.id,
        token = escape_html(&query.token),
    );
    page(StatusCode::OK, "Pay for your credits", &body)
}

pub async fn decide(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<Decision>,
) -> Response {
    if is_cross_site(&headers) {
        return cross_site();
    }
    let Some(purchase) = authorised(&state, &id, &form.token).await else { return not_found() };
    let Some(secret) = state.payments().and_then(|p| p.simulated_secret()) else { return not_found() };
    let pay = match form.decision.as_str() {
        "pay" => true,
        "decline" => false,
        _ => return page(StatusCode::BAD_REQUEST, "Choose", "<p class=\"error\">Choose Pay or Decline.</p>"),
    };
    let body = simulated_event(&purchase, pay).to_string();
    let now = chrono::Utc::now().timestamp();
    let signature = signature_header(body.as_bytes(), secret, now);
    if let Err(error) = receive_event(&state, &signature, body.as_bytes()).await {
        tracing::error!(status = %error.status, "the simulated payment event was refused");
        return page(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", "<p>Please try again later.</p>");
    }
    if pay {
        let text = format!("<p>Payment simulated: {} credits were added to your account.</p>", purchase.credits.0);
        page(StatusCode::OK, "Thank you", &text)
    } else {
        page(StatusCode::OK, "Payment declined", "<p>The payment was declined; no credits were added.</p>")
    }
}

/// The event Stripe would send for this outcome of this purchase.
fn simulated_event(purchase: &Purchase, pay: bool) -> serde_json::Value {
    let id = purchase.id.simple();
    let intent = purchase.payment_intent_id.clone().unwrap_or_else(|| format!("pi_sim_{id}"));
    let metadata = json!({"purchase_id": purchase.id.to_string()});
    let (kind, object) = match (pay, purchase.flow) {
        (true, PaymentFlow::Checkout) => (
            "checkout.session.completed",
            json!({"id": purchase.checkout_session_id.clone().unwrap_or_else(|| format!("cs_sim_{id}")),
                "object": "checkout.session", "payment_status": "paid", "payment_intent": intent,
                "client_reference_id": purchase.id.to_string(), "metadata": metadata}),
        ),
        (true, PaymentFlow::PaymentIntent) => (
            "payment_intent.succeeded",
            json!({"id": intent, "object": "payment_intent", "status": "succeeded", "metadata": metadata}),
        ),
        (false, _) => (
            "payment_intent.payment_failed",
            json!({"id": intent, "object": "payment_intent", "status": "requires_payment_method", "metadata": metadata}),
        ),
    };
    json!({"id": format!("evt_sim_{}", Uuid::now_v7().simple()), "object": "event", "type": kind,
        "created": chrono::Utc::now().timestamp(), "data": {"object": object}})
}
