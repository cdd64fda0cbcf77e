//! `/credits/*`: SPEC §2.2. Every route takes [`AuthUser`], so none is reachable without a
//! valid access token of a live session.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use mana_core::Error;
use mana_core::credits::{SpendRequest, TransactionPage, balance_view, package_view, purchase_view, transaction_view};
use mana_proto::{
    CreditBalance, CreditPackageView, CreditTransaction, FieldError, PurchaseView, TransactionsQuery, UseCreditsRequest,
};

use crate::http::{ApiError, AuthUser, JsonBody, QueryParams};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/credits/balance", get(balance))
        .route("/credits/use", post(use_credits))
        .route("/credits/transactions", get(transactions))
        .route("/credits/purchases", get(purchases))
        .route("/credits/packages", get(packages))
}

async fn balance(State(state): State<AppState>, AuthUser(caller): AuthUser) -> Result<Json<CreditBalance>, ApiError> {
    let balance = state.credits().balance(caller.user_id).await?;
    Ok(Json(balance_view(&balance, state.credits().policy())))
}

/// Answers with the stored response on a replay, so the body is passed through as it is.
async fn use_credits(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    JsonBody(body): JsonBody<UseCreditsRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let request = SpendRequest {
        amount: body.amount,
        app_id: body.app_id,
        description: body.description,
        idempotency_key: body.idempotency_key,
        metadata: body.metadata,
    };
    Ok(Json(state.credits().spend(caller.user_id, request).await?))
}

async fn transactions(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    QueryParams(query): QueryParams<TransactionsQuery>,
) -> Result<Json<Vec<CreditTransaction>>, ApiError> {
    let mut errors = Vec::new();
    let mut number = |field: &str, text: Option<String>| match text.map(|t| t.trim().parse::<i64>()) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => {
            errors.push(FieldError::new(field, "must be a whole number"));
            None
        }
    };
    let page = TransactionPage { limit: number("limit", query.limit), offset: number("offset", query.offset) };
    if !errors.is_empty() {
        return Err(Error::Validation(errors).into());
    }
    let listed = state.credits().transactions(caller.user_id, page).await?;
    Ok(Json(listed.iter().map(transaction_view).collect()))
}

async fn purchases(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
) -> Result<Json<Vec<PurchaseView>>, ApiError> {
    let listed = state.credits().purchases(caller.user_id).await?;
    Ok(Json(listed.iter().map(purchase_view).collect()))
}

async fn packages(
    State(state): State<AppState>,
    AuthUser(_caller): AuthUser,
) -> Result<Json<Vec<CreditPackageView>>, ApiError> {
    let listed = state.credits().packages().await?;
    Ok(Json(listed.iter().map(|p| package_view(p, state.credits_per_euro())).collect()))
}
