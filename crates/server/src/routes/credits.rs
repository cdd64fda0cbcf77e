//! `/credits/*`: SPEC §2.2. Every route takes [`AuthUser`], so none is reachable without a
//! valid access token of a live session.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, header};
use mana_core::Error;
use mana_core::credits::{BalanceSummary, SpendRequest};
use mana_proto::{
    CreditBalance, CreditPackageView, CreditTransaction, ErrorBody, PageQuery, PurchaseView, UseCreditsRequest,
    UseCreditsResponse,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::extract::page;
use crate::http::{ApiError, AuthUser, JsonBody, QueryParams};
use crate::state::AppState;
use crate::views::{balance_view, package_view, purchase_view, spend_response, transaction_view};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(balance))
        .routes(routes!(use_credits))
        .routes(routes!(transactions))
        .routes(routes!(purchases))
        .routes(routes!(packages))
}

/// The caller's credits by bucket; applies a due daily reset first.
#[utoipa::path(get, path = "/credits/balance", tag = "credits", security(("bearer" = [])), responses(
    (status = 200, description = "The balance", body = CreditBalance),
    (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
))]
async fn balance(State(state): State<AppState>, AuthUser(caller): AuthUser) -> Result<Json<CreditBalance>, ApiError> {
    let balance = state.credits().balance(caller.user_id).await?;
    Ok(Json(balance_view(&BalanceSummary::of(&balance, state.credits().policy()))))
}

/// Spends credits: daily allowance first, then free, then paid. A retry with the same
/// idempotency key (in the body, or as the `Idempotency-Key` header) answers the first
/// response again and spends nothing more.
#[utoipa::path(post, path = "/credits/use", tag = "credits", security(("bearer" = [])), request_body = UseCreditsRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Same as `idempotencyKey` in the body")),
    responses(
        (status = 200, description = "Spent (or the first answer to this idempotency key)", body = UseCreditsResponse),
        (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
        (status = 402, description = "`insufficient_credits`: nothing was spent", body = ErrorBody),
        (status = 409, description = "`idempotency_key_reused` or `conflict`", body = ErrorBody),
    ),
)]
async fn use_credits(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    headers: HeaderMap,
    JsonBody(body): JsonBody<UseCreditsRequest>,
) -> Result<Json<UseCreditsResponse>, ApiError> {
    let idempotency_key = idempotency_key(&headers, body.idempotency_key)?;
    let request = SpendRequest {
        amount: body.amount,
        app_id: body.app_id,
        description: body.description,
        idempotency_key,
        metadata: body.metadata,
    };
    Ok(Json(spend_response(&state.credits().spend(caller.user_id, request).await?)))
}

/// The key from the body or the `Idempotency-Key` header (the convention of payment APIs);
/// ignoring the header would silently spend twice on a retry.
pub(super) fn idempotency_key(headers: &HeaderMap, in_body: Option<String>) -> Result<Option<String>, ApiError> {
    let in_header = match headers.get("idempotency-key") {
        None => None,
        Some(value) => Some(value.to_str().map(str::to_owned).map_err(|_| {
            Error::invalid_field("Idempotency-Key", "must be printable ASCII without spaces, 1 to 255 characters")
        })?),
    };
    match (in_body, in_header) {
        (Some(body), Some(header)) if body != header => Err(Error::invalid_field(
            "idempotencyKey",
            "differs from the Idempotency-Key header; send one or the other",
        )
        .into()),
        (body, header) => Ok(body.or(header)),
    }
}

/// The caller's ledger movements, newest first.
#[utoipa::path(get, path = "/credits/transactions", tag = "credits", security(("bearer" = [])), params(PageQuery),
    responses(
        (status = 200, description = "One page of movements", body = Vec<CreditTransaction>),
        (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
    ),
)]
async fn transactions(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    QueryParams(query): QueryParams<PageQuery>,
) -> Result<Json<Vec<CreditTransaction>>, ApiError> {
    let listed = state.credits().transactions(caller.user_id, page(query)?).await?;
    Ok(Json(listed.iter().map(transaction_view).collect()))
}

/// The caller's purchases, newest first.
#[utoipa::path(get, path = "/credits/purchases", tag = "credits", security(("bearer" = [])), responses(
    (status = 200, description = "Every purchase", body = Vec<PurchaseView>),
    (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
))]
async fn purchases(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
) -> Result<Json<Vec<PurchaseView>>, ApiError> {
    let listed = state.credits().purchases(caller.user_id).await?;
    Ok(Json(listed.iter().map(purchase_view).collect()))
}

/// The credit packages on sale. Public, so that a pricing page can show them to visitors.
#[utoipa::path(get, path = "/credits/packages", tag = "credits", responses(
    (status = 200, description = "Active packages in display order", body = Vec<CreditPackageView>),
))]
async fn packages(
    State(state): State<AppState>,
) -> Result<([(HeaderName, &'static str); 1], Json<Vec<CreditPackageView>>), ApiError> {
    let listed = state.credits().packages().await?;
    let views = listed.iter().map(|p| package_view(p, state.credits_per_euro())).collect();
    Ok(([(header::CACHE_CONTROL, "public, max-age=60")], Json(views)))
}
