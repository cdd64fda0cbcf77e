//! A thin client for the few Stripe API calls purchases need, on the workspace's HTTP client
//! with rustls: form-encoded POSTs, each with an `Idempotency-Key` so that a retried request
//! never makes a second session or intent, and timeouts. Errors are for the log; callers answer
//! `502 payment_provider_error` without them.

use std::time::Duration;

use mana_core::store::{CreditPackage, Purchase};
use serde::Deserialize;
use uuid::Uuid;

/// Stripe's API, unless `STRIPE_API_BASE` names another (a stand-in in tests).
pub const STRIPE_API_BASE: &str = "https://api.stripe.com";

/// Why a call to Stripe failed; logged, never shown to the buyer.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StripeError(String);

#[derive(Clone)]
pub struct StripeClient {
    http: reqwest::Client,
    base: String,
    secret_key: String,
}

/// A checkout session: the page the buyer pays on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutSession {
    pub id: String,
    pub url: String,
}

/// A checkout session as Stripe reports it when asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrievedSession {
    pub id: String,
    /// `open`, `complete` or `expired`.
    pub status: String,
    /// `paid`, `unpaid` or `no_payment_required`.
    pub payment_status: String,
    pub payment_intent: Option<String>,
}

/// A payment intent, as the mobile payment sheet confirms it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentIntent {
    pub id: String,
    pub client_secret: Option<String>,
    /// `requires_payment_method`, …, `succeeded` or `canceled`.
    pub status: String,
    /// The purchase named in its metadata, if it is one of ours.
    pub purchase_id: Option<Uuid>,
}

#[derive(Deserialize)]
struct SessionBody {
    id: String,
    url: Option<String>,
    #[serde(default)]
    status: String,
    #[serde(default)]
    payment_status: String,
    payment_intent: Option<String>,
}

#[derive(Deserialize)]
struct IntentBody {
    id: String,
    client_secret: Option<String>,
    #[serde(default)]
    status: String,
    #[serde(default)]
    metadata: std::collections::HashMap<String, String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    message: String,
    #[serde(default, rename = "type")]
    kind: String,
}

impl StripeClient {
    pub fn new(base: &str, secret_key: &str, timeout: Duration) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(crate::payments::tls::client_config())
            .connect_timeout(Duration::from_secs(5))
            .timeout(timeout)
            .build()?;
        Ok(Self { http, base: base.trim_end_matches('/').to_owned(), secret_key: secret_key.to_owned() })
    }

    /// A session for `purchase` in payment mode; the purchase id travels as the session's
    /// client reference and in the metadata of the session and of its payment intent, so that
    /// every event of the payment names it.
    pub async fn create_checkout_session(
        &self,
        purchase: &Purchase,
        package: &CreditPackage,
        customer_email: &str,
        success_url: &str,
        cancel_url: &str,
    ) -> Result<CheckoutSession, StripeError> {
        let id = purchase.id.to_string();
        let mut form = vec![
            ("mode", "payment".to_owned()),
            ("success_url", success_url.to_owned()),
            ("cancel_url", cancel_url.to_owned()),
            ("client_reference_id", id.clone()),
            ("customer_email", customer_email.to_owned()),
            ("metadata[purchase_id]", id.clone()),
            ("payment_intent_data[metadata][purchase_id]", id.clone()),
            ("line_items[0][quantity]", "1".to_owned()),
        ];
        match &package.stripe_price_id {
            Some(price) => form.push(("line_items[0][price]", price.clone())),
            None => form.extend([
                ("line_items[0][price_data][currency]", purchase.currency.to_ascii_lowercase()),
                ("line_items[0][price_data][unit_amount]", purchase.amount_cents.to_string()),
                ("line_items[0][price_data][product_data][name]", package.name.clone()),
            ]),
        }
        let body: SessionBody = self.post("/v1/checkout/sessions", &form, &format!("purchase-{id}-checkout")).await?;
        let url = body.url.ok_or_else(|| StripeError("the checkout session has no url".into()))?;
        Ok(CheckoutSession { id: body.id, url })
    }

    /// An intent for `purchase`, for the mobile payment sheet.
    pub async fn create_payment_intent(&self, purchase: &Purchase) -> Result<PaymentIntent, StripeError> {
        let id = purchase.id.to_string();
        let form = [
            ("amount", purchase.amount_cents.to_string()),
            ("currency", purchase.currency.to_ascii_lowercase()),
            ("metadata[purchase_id]", id.clone()),
            ("automatic_payment_methods[enabled]", "true".to_owned()),
        ];
        let body: IntentBody = self.post("/v1/payment_intents", &form, &format!("purchase-{id}-intent")).await?;
        Ok(intent(body))
    }

    /// An intent by id: which purchase an event about it belongs to, and how its payment went.
    pub async fn payment_intent(&self, id: &str) -> Result<PaymentIntent, StripeError> {
        Ok(intent(self.get("/v1/payment_intents", "pi_", id).await?))
    }

    /// A checkout session by id: whether its buyer has paid.
    pub async fn checkout_session(&self, id: &str) -> Result<RetrievedSession, StripeError> {
        let body: SessionBody = self.get("/v1/checkout/sessions", "cs_", id).await?;
        let SessionBody { id, status, payment_status, payment_intent, .. } = body;
        Ok(RetrievedSession { id, status, payment_status, payment_intent })
    }

    /// `GET {collection}/{id}`, for an id that looks like Stripe's (`prefix`, then letters,
    /// digits and underscores), so no id can reach another path.
    async fn get<T: for<'de> Deserialize<'de>>(
        &self,
        collection: &str,
        prefix: &str,
        id: &str,
    ) -> Result<T, StripeError> {
        if !id.starts_with(prefix) || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(StripeError(format!("not an id of {collection}: {id:?}")));
        }
        let response = self
            .http
            .get(format!("{}{collection}/{id}", self.base))
            .bearer_auth(&self.secret_key)
            .send()
            .await
            .map_err(|e| StripeError(format!("GET {collection}: {e}")))?;
        read(response).await
    }

    async fn post<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        form: &[(&str, String)],
        idempotency_key: &str,
    ) -> Result<T, StripeError> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.secret_key)
            .header("Idempotency-Key", idempotency_key)
            .form(form)
            .send()
            .await
            .map_err(|e| StripeError(format!("POST {path}: {e}")))?;
        read(response).await
    }
}

fn intent(body: IntentBody) -> PaymentIntent {
    let purchase_id = body.metadata.get("purchase_id").and_then(|id| id.parse().ok());
    PaymentIntent { id: body.id, client_secret: body.client_secret, status: body.status, purchase_id }
}

async fn read<T: for<'de> Deserialize<'de>>(response: reqwest::Response) -> Result<T, StripeError> {
    let status = response.status();
    let bytes = response.bytes().await.map_err(|e| StripeError(format!("reading Stripe's answer: {e}")))?;
    if !status.is_success() {
        let detail = serde_json::from_slice::<ErrorBody>(&bytes)
            .map(|b| format!("{}: {}", b.error.kind, b.error.message))
            .unwrap_or_else(|_| "no error body".into());
        return Err(StripeError(format!("Stripe answered {status} ({detail})")));
    }
    serde_json::from_slice(&bytes).map_err(|e| StripeError(format!("Stripe's answer is not what was expected: {e}")))
}
