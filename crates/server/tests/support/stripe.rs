//! A local stand-in for Stripe's API, for the client and purchase tests: it answers the calls
//! the service makes with bodies in the shape of Stripe's published fixtures (written here by
//! hand), and records what it was sent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde_json::json;

/// One request: (path, Idempotency-Key, Authorization, form fields).
pub type Request = (String, Option<String>, Option<String>, Vec<(String, String)>);

#[derive(Clone, Default)]
pub struct StandIn {
    pub base: String,
    pub seen: Arc<Mutex<Vec<Request>>>,
    /// Payment intents it knows, with the purchase id of their metadata.
    pub intents: Arc<Mutex<HashMap<String, String>>>,
}

impl StandIn {
    /// The requests made to `path`.
    #[allow(dead_code, reason = "not every test crate that includes the stand-in counts requests")]
    pub fn requests_to(&self, path: &str) -> Vec<Request> {
        self.seen.lock().unwrap().iter().filter(|r| r.0 == path).cloned().collect()
    }
}

/// The fields of a form-encoded body, as Stripe reads them.
pub fn form_fields(body: &str) -> Vec<(String, String)> {
    let url = reqwest::Url::parse(&format!("http://form/?{body}")).unwrap();
    url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

pub fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn record(stand_in: &StandIn, path: &str, headers: &HeaderMap, body: &str) -> Vec<(String, String)> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let form = form_fields(body);
    stand_in.seen.lock().unwrap().push((
        path.to_owned(),
        header("idempotency-key"),
        header("authorization"),
        form.clone(),
    ));
    form
}

pub async fn start() -> StandIn {
    let mut stand_in = StandIn::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    stand_in.base = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .route(
            "/v1/checkout/sessions",
            post(|State(s): State<StandIn>, headers: HeaderMap, body: String| async move {
                let form = record(&s, "/v1/checkout/sessions", &headers, &body);
                // One session per idempotency key, as Stripe keeps it.
                let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or("none");
                let id = format!("cs_test_{}", key.replace('-', ""));
                axum::Json(json!({
                    "id": id, "object": "checkout.session", "mode": "payment", "payment_status": "unpaid",
                    "status": "open", "payment_intent": null,
                    "client_reference_id": field(&form, "client_reference_id"),
                    "metadata": {"purchase_id": field(&form, "metadata[purchase_id]")},
                    "url": format!("https://checkout.stripe.com/c/pay/{id}"),
                }))
            }),
        )
        .route(
            "/v1/payment_intents",
            post(|State(s): State<StandIn>, headers: HeaderMap, body: String| async move {
                let form = record(&s, "/v1/payment_intents", &headers, &body);
                if field(&form, "amount") == Some("13") {
                    let error = json!({"error": {"type": "invalid_request_error", "message": "Amount must be at least 50 cents"}});
                    return (StatusCode::BAD_REQUEST, axum::Json(error));
                }
                let purchase = field(&form, "metadata[purchase_id]").unwrap_or_default().to_owned();
                let id = format!("pi_{}", purchase.replace('-', ""));
                s.intents.lock().unwrap().insert(id.clone(), purchase.clone());
                (StatusCode::OK, axum::Json(json!({
                    "id": id, "object": "payment_intent", "amount": field(&form, "amount").and_then(|a| a.parse::<i64>().ok()),
                    "currency": field(&form, "currency"), "client_secret": format!("{id}_secret_9z"),
                    "status": "requires_payment_method", "metadata": {"purchase_id": purchase},
                })))
            }),
        )
        .route(
            "/v1/payment_intents/{id}",
            get(|State(s): State<StandIn>, Path(id): Path<String>| async move {
                match s.intents.lock().unwrap().get(&id) {
                    Some(purchase) => (StatusCode::OK, axum::Json(json!({
                        "id": id, "object": "payment_intent", "status": "succeeded", "metadata": {"purchase_id": purchase},
                    }))),
                    None => (StatusCode::NOT_FOUND, axum::Json(json!({"error": {"type": "invalid_request_error",
                        "message": format!("No such payment_intent: '{id}'")}}))),
                }
            }),
        )
        .with_state(stand_in.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    stand_in
}
