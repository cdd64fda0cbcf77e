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

/// A payment intent, as the mobile payment sheet confirms it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentIntent {
    pub id: String,
    pub client_secret: Option<String>,
    /// The purchase named in its metadata, if it is one of ours.
    pub purchase_id: Option<Uuid>,
}

#[derive(Deserialize)]
struct SessionBody {
    id: String,
    url: Option<String>,
}

#[derive(Deserialize)]
struct IntentBody {
    id: String,
    client_secret: Option<String>,
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

    /// An intent by id, to learn which purchase an event about it belongs to.
    pub async fn payment_intent(&self, id: &str) -> Result<PaymentIntent, StripeError> {
        if !id.starts_with("pi_") || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(StripeError(format!("not a payment intent id: {id:?}")));
        }
        let response = self
            .http
            .get(format!("{}/v1/payment_intents/{id}", self.base))
            .bearer_auth(&self.secret_key)
            .send()
            .await
            .map_err(|e| StripeError(format!("GET payment intent: {e}")))?;
        Ok(intent(read(response).await?))
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
    PaymentIntent { id: body.id, client_secret: body.client_secret, purchase_id }
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::extract::{Path, State};
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::{get, post};
    use mana_core::credits::Credits;
    use mana_core::payments::{PaymentFacts, Settled};
    use mana_core::store::{PaymentFlow, PurchaseStatus};
    use serde_json::json;

    use super::*;

    /// What the stand-in saw: (path, Idempotency-Key, Authorization, form fields).
    type Seen = Arc<Mutex<Vec<(String, Option<String>, Option<String>, Vec<(String, String)>)>>>;

    /// A local server answering as Stripe's API does, with bodies in the shape of its
    /// published fixtures.
    async fn stand_in() -> (String, Seen) {
        let seen: Seen = Arc::default();
        let record = |path: &str, headers: &HeaderMap, body: &str, seen: &Seen| {
            let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
            let form = form_fields(body);
            seen.lock().unwrap().push((path.to_owned(), header("idempotency-key"), header("authorization"), form));
        };
        let app = Router::new()
            .route(
                "/v1/checkout/sessions",
                post(move |State(seen): State<Seen>, headers: HeaderMap, body: String| async move {
                    record("/v1/checkout/sessions", &headers, &body, &seen);
                    axum::Json(json!({
                        "id": "cs_test_a1b2", "object": "checkout.session", "mode": "payment",
                        "payment_status": "unpaid", "status": "open", "payment_intent": null,
                        "url": "https://checkout.stripe.com/c/pay/cs_test_a1b2",
                    }))
                }),
            )
            .route(
                "/v1/payment_intents",
                post(move |State(seen): State<Seen>, headers: HeaderMap, body: String| async move {
                    record("/v1/payment_intents", &headers, &body, &seen);
                    let form = form_fields(&body);
                    if form.iter().any(|(k, v)| k == "amount" && v == "13") {
                        let error = json!({"error": {"type": "invalid_request_error", "message": "Amount must be at least 50 cents"}});
                        return (StatusCode::BAD_REQUEST, axum::Json(error));
                    }
                    (StatusCode::OK, axum::Json(json!({
                        "id": "pi_3Qx", "object": "payment_intent", "amount": 1000, "currency": "eur",
                        "client_secret": "pi_3Qx_secret_9z", "status": "requires_payment_method",
                        "metadata": {"purchase_id": form.iter().find(|(k, _)| k == "metadata[purchase_id]").map(|(_, v)| v.clone())},
                    })))
                }),
            )
            .route(
                "/v1/payment_intents/{id}",
                get(|Path(id): Path<String>| async move {
                    axum::Json(json!({"id": id, "object": "payment_intent", "metadata": {"purchase_id": "0193a5f0-7c1e-7d2a-9b1e-3c4d5e6f7a8b"}}))
                }),
            )
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (base, seen)
    }

    /// The fields of a form-encoded body, as Stripe reads them.
    fn form_fields(body: &str) -> Vec<(String, String)> {
        let url = reqwest::Url::parse(&format!("http://form/?{body}")).unwrap();
        url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
    }

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

    fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
        form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    #[tokio::test]
    async fn a_checkout_session_carries_the_purchase_everywhere_and_one_idempotency_key() {
        let (base, seen) = stand_in().await;
        let client = StripeClient::new(&base, "sk_test_123", Duration::from_secs(5)).unwrap();
        let bought = purchase(1000);
        let session = client
            .create_checkout_session(&bought, &package(None), "buyer@example.com", "https://app/ok", "https://app/no")
            .await
            .unwrap();
        assert_eq!(
            session,
            CheckoutSession { id: "cs_test_a1b2".into(), url: "https://checkout.stripe.com/c/pay/cs_test_a1b2".into() }
        );
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
        let (base, seen) = stand_in().await;
        let client = StripeClient::new(&base, "sk_test_123", Duration::from_secs(5)).unwrap();
        let bought = purchase(1000);
        let intent = client.create_payment_intent(&bought).await.unwrap();
        assert_eq!((intent.id.as_str(), intent.client_secret.as_deref()), ("pi_3Qx", Some("pi_3Qx_secret_9z")));
        assert_eq!(intent.purchase_id, Some(bought.id));
        let (_, key, _, form) = seen.lock().unwrap()[0].clone();
        assert_eq!(key, Some(format!("purchase-{}-intent", bought.id)));
        assert_eq!(field(&form, "automatic_payment_methods[enabled]"), Some("true"));
        let read = client.payment_intent("pi_3Qx").await.unwrap();
        assert_eq!(read.purchase_id, Some("0193a5f0-7c1e-7d2a-9b1e-3c4d5e6f7a8b".parse().unwrap()));
    }

    #[tokio::test]
    async fn stripe_refusals_garbage_and_silence_become_errors_not_panics() {
        let (base, _) = stand_in().await;
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
}
