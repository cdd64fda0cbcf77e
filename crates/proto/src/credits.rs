use serde::{Deserialize, Serialize};

/// `GET /credits/balance`, and `newBalance` of a spend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CreditBalance {
    /// Paid credits.
    pub balance: i64,
    /// Signup bonus and other free grants left.
    pub free_credits_remaining: i64,
    /// What is left of today's allowance.
    pub daily_free_credits: i64,
    /// Credits a refund or a dispute took back after they had been spent; the next purchase
    /// repays them first. Not subtracted from the buckets above, which stay spendable.
    pub owed: i64,
    /// RFC 3339; when the allowance next resets to its full amount.
    pub next_daily_reset_at: String,
    pub total_earned: i64,
    pub total_spent: i64,
}

// Missing fields deserialize as empty so that validation names them all.

/// `POST /credits/use`. The idempotency key may also come as the `Idempotency-Key` header.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UseCreditsRequest {
    /// Credits to spend, a whole number.
    #[cfg_attr(feature = "openapi", schema(required = true, value_type = i64))]
    #[serde(default)]
    pub amount: Option<i64>,
    /// The app the credits are spent in; usage is counted per app.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub app_id: String,
    /// Shown to the user in their transaction list.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub description: String,
    /// Makes retries safe: the same key with the same request answers the first response again
    /// and spends nothing more. Scoped to the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Any JSON object, stored with the transaction and returned in listings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
}

/// One ledger movement as its user sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CreditTransaction {
    pub id: String,
    /// `purchase`, `usage`, `refund`, `bonus`, `daily`, `expiry` or `adjustment`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Net change of the user's credits (negative for usage and expiry).
    pub amount: i64,
    /// The user's credits in all buckets after this movement.
    pub balance_after: i64,
    pub app_id: Option<String>,
    pub description: String,
    pub metadata: Option<serde_json::Value>,
    pub created_at: String,
}

/// The answer of `POST /credits/use`; a replay with the same idempotency key gets it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UseCreditsResponse {
    pub success: bool,
    pub transaction: CreditTransaction,
    pub new_balance: CreditBalance,
}

/// `GET /credits/packages`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CreditPackageView {
    pub id: String,
    pub name: String,
    pub credits: i64,
    pub price_cents: i64,
    pub currency: String,
    /// Credits beyond what the price buys at the base rate (`CREDITS_PER_EURO`).
    pub bonus_credits: i64,
    pub sort_order: i32,
}

// Numbers arrive as text so that a bad value is reported with its field name.

/// `GET /credits/transactions?limit=&offset=`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// How many to list, 1 to 100 (default 50).
    #[cfg_attr(feature = "openapi", param(value_type = Option<i64>))]
    pub limit: Option<String>,
    /// How many of the newest to skip (default 0).
    #[cfg_attr(feature = "openapi", param(value_type = Option<i64>))]
    pub offset: Option<String>,
}

/// `POST /credits/purchases`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreatePurchaseRequest {
    /// A package on sale (`GET /credits/packages`).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub package_id: String,
    /// `checkout` (Stripe's payment page, for the web) or `payment_intent` (the mobile payment
    /// sheet confirms the returned `clientSecret`).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub flow: String,
    /// Makes retries safe: the same key answers the same purchase and never creates a second
    /// payment. Scoped to the user. May also come as the `Idempotency-Key` header.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// The purchase and what the client pays with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CreatePurchaseResponse {
    pub purchase: PurchaseView,
    /// `checkout`: the page to send the buyer to.
    pub checkout_url: Option<String>,
    /// `payment_intent`: what the payment sheet confirms.
    pub client_secret: Option<String>,
}

/// The answer to a webhook delivery that was accepted (applied, already applied, or not ours).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookReceived {
    pub received: bool,
}

/// `GET /credits/purchases`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PurchaseView {
    pub id: String,
    pub package_id: Option<String>,
    pub credits: i64,
    pub amount_cents: i64,
    pub currency: String,
    pub status: String,
    pub created_at: String,
    pub completed_at: Option<String>,
}
