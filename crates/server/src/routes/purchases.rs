//! Buying credits (SPEC §7): `POST /credits/purchases` starts a payment with Stripe,
//! `GET /credits/purchases/{id}` shows one, and `POST /webhooks/stripe` is where Stripe says
//! how each payment went. Credits move only on a verified event, exactly once.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use mana_core::Error;
use mana_core::credits::IdempotencyKey;
use mana_core::payments::{PaymentEvent, settle_purchase, verify_signature};
use mana_core::store::{
    EventOutcome, NewPurchase, PaymentFlow, PaymentLink, ProviderEvent, Purchase, PurchaseLocator, PurchaseStatus,
};
use mana_proto::{CreatePurchaseRequest, CreatePurchaseResponse, ErrorBody, ErrorCode, PurchaseView, WebhookReceived};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::http::{ApiError, AuthUser, JsonBody};
use crate::payments::stripe_event::{self, StripeEvent};
use crate::routes::pages::{SIMULATED_CHECKOUT, checkout_token};
use crate::state::{AppState, PaymentProvider, Payments};
use crate::views::purchase_view;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_purchase)).routes(routes!(purchase)).routes(routes!(stripe_webhook))
}

fn not_configured() -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::PaymentsNotConfigured, "Payments are not configured")
}

fn provider_error(error: impl std::fmt::Display) -> ApiError {
    tracing::warn!(error = %error, "a call to Stripe failed");
    ApiError::new(StatusCode::BAD_GATEWAY, ErrorCode::PaymentProviderError, "The payment provider is unavailable")
}

/// Starts buying a package: a Stripe checkout session (`checkout`, for the web) or a payment
/// intent (`payment_intent`, for the mobile payment sheet). The same idempotency key answers
/// the same purchase; credits arrive when Stripe confirms the payment.
#[utoipa::path(post, path = "/credits/purchases", tag = "credits", security(("bearer" = [])),
    request_body = CreatePurchaseRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Same as `idempotencyKey` in the body")),
    responses(
        (status = 201, description = "The purchase, and what the client pays with", body = CreatePurchaseResponse),
        (status = 400, description = "`validation_failed`: no such package on sale, an unknown flow, a bad key", body = ErrorBody),
        (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
        (status = 502, description = "`payment_provider_error`: Stripe failed; nothing was charged", body = ErrorBody),
        (status = 503, description = "`payments_not_configured`", body = ErrorBody),
    ),
)]
async fn create_purchase(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CreatePurchaseRequest>,
) -> Result<(StatusCode, Json<CreatePurchaseResponse>), ApiError> {
    let key = super::credits::idempotency_key(&headers, body.idempotency_key)?;
    let mut problems = Vec::new();
    let flow = PaymentFlow::parse(&body.flow);
    if flow.is_none() {
        problems.push(mana_proto::FieldError::new("flow", "must be checkout or payment_intent"));
    }
    let key = match key.as_deref().map(IdempotencyKey::parse) {
        None => None,
        Some(Some(key)) => Some(key),
        Some(None) => {
            problems.push(mana_proto::FieldError::new("idempotencyKey", "must be 1 to 255 printable ASCII characters"));
            None
        }
    };
    let package = match body.package_id.trim() {
        "" => None,
        id => state.auth().store().package(id).await.map_err(Error::from)?.filter(|p| p.active),
    };
    if package.is_none() {
        problems.push(mana_proto::FieldError::new("packageId", "is not a package on sale (see GET /credits/packages)"));
    }
    let (Some(flow), Some(package), true) = (flow, package, problems.is_empty()) else {
        return Err(ApiError::validation(problems));
    };
    let payments = state.payments().ok_or_else(not_configured)?;
    let new = NewPurchase {
        id: Uuid::now_v7(),
        user_id: caller.user_id,
        package: package.clone(),
        flow,
        idempotency_key: key,
        created_at: chrono::Utc::now(),
    };
    let (mut purchase, _) = state.auth().store().create_purchase(new).await.map_err(Error::from)?;
    // A retry of a request whose call to Stripe failed asks again; Stripe's idempotency key
    // (one per purchase and flow) makes that the same session or intent.
    if purchase.checkout_url.is_none() && purchase.client_secret.is_none() {
        let link = start_payment(payments, &purchase, &package, &caller.claims.email).await?;
        purchase = state.auth().store().link_payment(purchase.id, &link).await.map_err(Error::from)?;
    }
    let response = CreatePurchaseResponse {
        purchase: purchase_view(&purchase),
        checkout_url: purchase.checkout_url.clone(),
        client_secret: purchase.client_secret.clone(),
    };
    Ok((StatusCode::CREATED, Json(response)))
}

async fn start_payment(
    payments: &Payments,
    purchase: &Purchase,
    package: &mana_core::store::CreditPackage,
    email: &str,
) -> Result<PaymentLink, ApiError> {
    let (client, settings) = match &payments.provider {
        PaymentProvider::Stripe { client, settings } => (client, settings),
        PaymentProvider::Simulated { public_url } => return Ok(simulated_link(payments, public_url, purchase)),
    };
    match purchase.flow {
        PaymentFlow::Checkout => {
            let session = client
                .create_checkout_session(purchase, package, email, &settings.success_url, &settings.cancel_url)
                .await
                .map_err(provider_error)?;
            Ok(PaymentLink {
                checkout_session_id: Some(session.id),
                checkout_url: Some(session.url),
                ..PaymentLink::default()
            })
        }
        PaymentFlow::PaymentIntent => {
            let intent = client.create_payment_intent(purchase).await.map_err(provider_error)?;
            Ok(PaymentLink {
                payment_intent_id: Some(intent.id),
                client_secret: intent.client_secret,
                ..PaymentLink::default()
            })
        }
    }
}

/// The simulated checkout's page for `purchase` (both flows get it, so that a developer can pay
/// a payment-intent purchase too), and ids shaped like Stripe's.
fn simulated_link(payments: &Payments, public_url: &str, purchase: &Purchase) -> PaymentLink {
    let secret = payments.simulated_secret().unwrap_or_default();
    let token = checkout_token(secret, purchase.id);
    let id = purchase.id.simple();
    let page = format!("{public_url}{SIMULATED_CHECKOUT}/{}?token={token}", purchase.id);
    match purchase.flow {
        PaymentFlow::Checkout => PaymentLink {
            checkout_session_id: Some(format!("cs_sim_{id}")),
            checkout_url: Some(page),
            ..PaymentLink::default()
        },
        PaymentFlow::PaymentIntent => PaymentLink {
            payment_intent_id: Some(format!("pi_sim_{id}")),
            client_secret: Some(format!("pi_sim_{id}_secret_{token}")),
            checkout_url: Some(page),
            ..PaymentLink::default()
        },
    }
}

/// One of the caller's purchases; another user's is 404. A purchase still pending is asked of
/// Stripe first, so that a buyer back from paying sees it settled even before Stripe's event.
#[utoipa::path(get, path = "/credits/purchases/{id}", tag = "credits", security(("bearer" = [])),
    params(("id" = String, Path, description = "The purchase's id")),
    responses(
        (status = 200, description = "The purchase", body = PurchaseView),
        (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such purchase of the caller's", body = ErrorBody),
    ),
)]
async fn purchase(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<String>,
) -> Result<Json<PurchaseView>, ApiError> {
    let id: Uuid = id.parse().map_err(|_| Error::NotFound)?;
    let purchase = state.auth().store().purchase(id).await.map_err(Error::from)?;
    match purchase {
        Some(purchase) if purchase.user_id == caller.user_id => {
            let purchase = match state.payments() {
                Some(payments) if purchase.status == PurchaseStatus::Pending => {
                    reconcile(&state, payments, purchase).await?
                }
                _ => purchase,
            };
            Ok(Json(purchase_view(&purchase)))
        }
        _ => Err(Error::NotFound.into()),
    }
}

/// Asks Stripe how a pending purchase's payment went and applies what it reports, as the event
/// saying it would be applied (Stripe's fulfilment guide: fulfil from the webhook and from the
/// buyer's return, whichever comes first). Only Stripe's answer counts, never the return
/// itself; the event arriving later changes nothing, since a purchase settles on its facts.
/// When Stripe cannot be asked, the purchase is shown as it is.
async fn reconcile(state: &AppState, payments: &Payments, purchase: Purchase) -> Result<Purchase, ApiError> {
    let PaymentProvider::Stripe { client, .. } = &payments.provider else { return Ok(purchase) };
    let retrieved = match (purchase.flow, &purchase.checkout_session_id, &purchase.payment_intent_id) {
        (PaymentFlow::Checkout, Some(session), _) => client.checkout_session(session).await.map(|session| {
            let event = match (session.payment_status.as_str(), session.status.as_str()) {
                ("paid", _) => Some(PaymentEvent::Paid),
                (_, "expired") => Some(PaymentEvent::Canceled),
                _ => None,
            };
            (event, "checkout.session.retrieved", session.id, session.payment_intent)
        }),
        (PaymentFlow::PaymentIntent, _, Some(intent)) => client.payment_intent(intent).await.map(|intent| {
            let event = match intent.status.as_str() {
                "succeeded" => Some(PaymentEvent::Paid),
                "canceled" => Some(PaymentEvent::Canceled),
                _ => None,
            };
            (event, "payment_intent.retrieved", intent.id.clone(), Some(intent.id))
        }),
        _ => return Ok(purchase),
    };
    let (event, kind, object, payment_intent_id) = match retrieved {
        Ok((Some(event), kind, object, intent)) => (event, kind, object, intent),
        Ok((None, ..)) => return Ok(purchase),
        Err(error) => {
            tracing::warn!(error = %error, "Stripe could not be asked about a pending purchase");
            return Ok(purchase);
        }
    };
    let event = ProviderEvent {
        // Not one of Stripe's `evt_` ids: what was retrieved, and what it said.
        id: format!("retrieved:{object}:{event:?}"),
        kind: kind.to_owned(),
        locator: PurchaseLocator::Id(purchase.id),
        payment_intent_id,
        event,
        received_at: chrono::Utc::now(),
    };
    apply(state, payments, event).await?;
    let store = state.auth().store();
    Ok(store.purchase(purchase.id).await.map_err(Error::from)?.unwrap_or(purchase))
}

/// Stripe's events. The raw body is verified against `Stripe-Signature` before anything is
/// read; each event is then applied once however often, in whatever order, it arrives.
#[utoipa::path(post, path = "/webhooks/stripe", tag = "payments",
    request_body(content = String, description = "A Stripe event, exactly as Stripe signed it", content_type = "application/json"),
    params(("Stripe-Signature" = String, Header, description = "`t=<unix time>,v1=<hex>[,v1=…]`")),
    responses(
        (status = 200, description = "Applied, applied before, or not about one of our purchases", body = WebhookReceived),
        (status = 400, description = "`invalid_signature`, or `invalid_body` for a signed body that is not an event", body = ErrorBody),
        (status = 503, description = "`payments_not_configured`, or Stripe could not be asked which purchase an event is about (Stripe delivers it again)", body = ErrorBody),
    ),
)]
async fn stripe_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<WebhookReceived>, ApiError> {
    let signature = headers.get("stripe-signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
    receive_event(&state, signature, &body).await?;
    Ok(Json(WebhookReceived { received: true }))
}

/// What the webhook does with a body and its signature; the simulated checkout hands its
/// events here too.
pub async fn receive_event(state: &AppState, signature: &str, body: &[u8]) -> Result<(), ApiError> {
    let payments = state.payments().ok_or_else(not_configured)?;
    let now = chrono::Utc::now();
    verify_signature(signature, body, &payments.webhook_secrets, now.timestamp()).map_err(|reason| {
        tracing::warn!(%reason, "a Stripe webhook was refused");
        ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidSignature, "Invalid webhook signature")
    })?;
    let event = match stripe_event::parse(body, now) {
        Ok(StripeEvent::Apply(event)) => event,
        Ok(StripeEvent::Ignore { id, kind }) => {
            tracing::debug!(event = %id, kind = %kind, "a Stripe event of no concern was acknowledged");
            return Ok(());
        }
        Err(_) => return Err(ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidBody, "Not a Stripe event")),
    };
    apply(state, payments, event).await
}

async fn apply(state: &AppState, payments: &Payments, mut event: ProviderEvent) -> Result<(), ApiError> {
    let store = state.auth().store();
    let received_at = event.received_at;
    let settle =
        |purchase: &Purchase, balance: &mana_core::credits::Balance| settle_purchase(purchase, balance, received_at);
    let outcome = store.apply_payment_event(&event, &settle).await.map_err(Error::from)?;
    let PurchaseLocator::PaymentIntent(intent) = &event.locator else {
        if matches!(outcome, EventOutcome::UnknownPurchase) {
            tracing::warn!(event = %event.id, kind = %event.kind, "a Stripe event names no purchase of ours");
        }
        return Ok(());
    };
    if !matches!(outcome, EventOutcome::UnknownPurchase) {
        return Ok(());
    }
    // A charge or dispute of an intent we have not linked yet (its session's completion may
    // come later): the intent's metadata names the purchase.
    let PaymentProvider::Stripe { client, .. } = &payments.provider else {
        tracing::warn!(event = %event.id, "a simulated event names no purchase");
        return Ok(());
    };
    let found = client.payment_intent(intent).await.map_err(|error| {
        tracing::warn!(error = %error, "Stripe could not be asked about a payment intent; the event will come again");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::ServiceUnavailable, "Try again later")
            .with_retry_after(60)
    })?;
    let Some(purchase) = found.purchase_id else {
        tracing::info!(event = %event.id, "a Stripe event about a payment that is not ours was acknowledged");
        return Ok(());
    };
    event.locator = PurchaseLocator::Id(purchase);
    store.apply_payment_event(&event, &settle).await.map_err(Error::from)?;
    Ok(())
}
