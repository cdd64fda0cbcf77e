//! Administration on the wire (`/admin/*`, admin access tokens only).

use serde::{Deserialize, Serialize};

use crate::{CreditBalance, CreditTransaction, IdentityView, PurchaseView, SecurityEventView, SessionView};

/// `GET /admin/users`: a search by the start of the email or name, a page at a time.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserSearchQuery {
    /// The start of the email or of the name (any case); absent: everyone.
    #[serde(default)]
    pub q: Option<String>,
    /// `newest` (default), `oldest` or `email`.
    #[serde(default)]
    pub sort: Option<String>,
    /// `true`: deleted accounts too.
    #[serde(default)]
    pub include_deleted: Option<String>,
    /// 1 to 100, default 20.
    #[serde(default)]
    pub limit: Option<String>,
    #[serde(default)]
    pub offset: Option<String>,
}

/// An account as the admin API lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AdminUserView {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub role: String,
    pub email_verified: bool,
    pub created_at: String,
    /// Set while an administrator has the account locked.
    pub locked_at: Option<String>,
    /// Set once the account is deleted.
    pub deleted_at: Option<String>,
}

/// `GET /admin/users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UserList {
    pub users: Vec<AdminUserView>,
    /// How many match in all.
    pub total: i64,
}

/// `GET /admin/users/{id}`: everything support needs about one account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AdminUserDetailView {
    pub user: AdminUserView,
    pub two_factor_enabled: bool,
    pub identities: Vec<IdentityView>,
    /// Every session, ended ones included (`current` is always false here).
    pub sessions: Vec<SessionView>,
    /// The latest 50.
    pub security_events: Vec<SecurityEventView>,
    pub balance: CreditBalance,
    /// The latest 50.
    pub transactions: Vec<CreditTransaction>,
    pub purchases: Vec<PurchaseView>,
}

/// `POST /admin/users/{id}/credits`: an adjustment.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdjustCreditsRequest {
    /// Paid credits to add, or (negative) to take back; not 0.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub amount: Option<i64>,
    /// Why; shown to the user as the transaction's description.
    #[cfg_attr(feature = "openapi", schema(required = true, min_length = 1))]
    #[serde(default)]
    pub reason: String,
    /// Makes a retry safe: the same key and request answers the first result again.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// `POST /admin/users/{id}/credits`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AdjustCreditsResponse {
    pub transaction: CreditTransaction,
    pub balance: CreditBalance,
}

/// `GET /admin/ledger/verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct LedgerReport {
    /// No invariant is violated.
    pub ok: bool,
    pub balances_checked: usize,
    pub purchases_checked: usize,
    pub violations: Vec<String>,
}

/// `GET /admin/usage?from=&to=` (days, `YYYY-MM-DD`; default the last 30).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UsageQuery {
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
}

/// Credits used by one app on one day, across all users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DailyUsageView {
    pub day: String,
    pub app_id: String,
    pub credits_used: i64,
    pub uses: i64,
}

/// A package as administrators see it, withdrawn ones included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AdminPackageView {
    pub id: String,
    pub name: String,
    pub credits: i64,
    pub price_cents: i64,
    pub currency: String,
    pub bonus_credits: i64,
    pub stripe_price_id: Option<String>,
    /// On sale.
    pub active: bool,
    pub sort_order: i32,
}

/// `PUT /admin/packages/{id}`: the package as it should be.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PackageRequest {
    #[cfg_attr(feature = "openapi", schema(required = true, min_length = 1))]
    #[serde(default)]
    pub name: String,
    /// Credits a purchase grants, bonus included.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub credits: Option<i64>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub price_cents: Option<i64>,
    /// Default `EUR`.
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub stripe_price_id: Option<String>,
    /// Default `true`.
    #[serde(default)]
    pub active: Option<bool>,
    #[serde(default)]
    pub sort_order: Option<i32>,
}
