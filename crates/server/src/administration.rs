//! What the admin API and the admin console both do (SPEC §9), written once: the routes in
//! `routes::admin` answer it as JSON, the console's pages as HTML.

use chrono::{Duration, NaiveDate};
use mana_core::Error;
use mana_core::auth::Authenticated;
use mana_core::credits::{BalanceSummary, verify_ledger};
use mana_core::ids::{SessionId, UserId};
use mana_core::paging::Page;
use mana_core::payments::PackageInput;
use mana_core::store::{ClientInfo, CreditPackage, SecurityEventKind};
use mana_proto::{
    AdjustCreditsResponse, AdminPackageView, AdminUserDetailView, DailyUsageView, FieldError, IdentityView,
    LedgerReport, PackageRequest,
};

use crate::state::AppState;
use crate::views::{admin_user_view, balance_view, purchase_view, security_event_view, session_view, transaction_view};

/// The longest usage report, in days.
pub const USAGE_MAX_DAYS: i64 = 366;

/// One account: profile, sessions, security events, identities, 2FA, balance, the latest 50
/// transactions and the purchases.
pub async fn user_detail(state: &AppState, user: UserId) -> Result<AdminUserDetailView, Error> {
    let detail = state.auth().user_detail(user).await?;
    let credits = state.credits();
    let user = detail.user.id;
    let balance = BalanceSummary::of(&credits.balance(user).await?, credits.policy());
    let transactions = credits.transactions(user, Page { limit: Some(50), offset: None }).await?;
    let purchases = credits.purchases(user).await?;
    let no_current = SessionId(uuid::Uuid::nil());
    Ok(AdminUserDetailView {
        user: admin_user_view(&detail.user),
        two_factor_enabled: detail.links.two_factor_enabled,
        identities: detail
            .links
            .identities
            .iter()
            .map(|i| IdentityView { provider: i.provider.clone(), email: i.email.clone() })
            .collect(),
        sessions: detail.sessions.iter().map(|s| session_view(s, no_current)).collect(),
        security_events: detail.security_events.iter().map(security_event_view).collect(),
        balance: balance_view(&balance),
        transactions: transactions.iter().map(transaction_view).collect(),
        purchases: purchases.iter().map(purchase_view).collect(),
    })
}

/// Adds paid credits to a live account, or takes them back (negative `amount`), as an
/// `adjustment` naming the administrator. With a key, a retry answers the first result, moves
/// nothing and records no second event.
pub async fn adjust_credits(
    state: &AppState,
    admin: &Authenticated,
    user: UserId,
    amount: Option<i64>,
    reason: &str,
    idempotency_key: Option<&str>,
    client: &ClientInfo,
) -> Result<AdjustCreditsResponse, Error> {
    state
        .auth()
        .store()
        .find_user(user)
        .await
        .map_err(Error::from)?
        .filter(|u| u.deleted_at.is_none())
        .ok_or(Error::NotFound)?;
    let amount = amount.ok_or_else(|| Error::invalid_field("amount", "is required"))?;
    let (receipt, moved) = state.credits().adjust(user, admin.user_id, amount, reason, idempotency_key).await?;
    if moved {
        state.auth().record_admin_event(admin, user, SecurityEventKind::CreditsAdjusted, client).await?;
    }
    Ok(AdjustCreditsResponse {
        transaction: transaction_view(&receipt.transaction),
        balance: balance_view(&receipt.balance),
    })
}

/// Every ledger invariant checked, as `mana-core-auth ledger verify` does.
pub async fn ledger_report(state: &AppState) -> Result<LedgerReport, Error> {
    let verdict = verify_ledger(state.auth().store().as_ref()).await.map_err(Error::from)?;
    Ok(LedgerReport {
        ok: verdict.is_sound(),
        balances_checked: verdict.balances_checked,
        purchases_checked: verdict.purchases_checked,
        violations: verdict.violations.iter().map(ToString::to_string).collect(),
    })
}

/// The days a usage report covers: `from` to `to` as given (YYYY-MM-DD), by default the 30
/// days up to today.
pub fn usage_days(state: &AppState, from: Option<&str>, to: Option<&str>) -> Result<(NaiveDate, NaiveDate), Error> {
    let today = state.auth().clock().now().date_naive();
    let mut errors = Vec::new();
    let mut day = |field: &str, text: Option<&str>, default: NaiveDate| match text.map(str::trim) {
        None | Some("") => default,
        Some(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap_or_else(|_| {
            errors.push(FieldError::new(field, "must be a day as YYYY-MM-DD"));
            default
        }),
    };
    let to = day("to", to, today);
    let from = day("from", from, to - Duration::days(29));
    if errors.is_empty() && (from > to || (to - from).num_days() >= USAGE_MAX_DAYS) {
        errors.push(FieldError::new("from", format!("must be on or before `to`, at most {USAGE_MAX_DAYS} days")));
    }
    if errors.is_empty() { Ok((from, to)) } else { Err(Error::Validation(errors)) }
}

/// Credits used per app and day across all users, oldest day first.
pub async fn usage(state: &AppState, from: NaiveDate, to: NaiveDate) -> Result<Vec<DailyUsageView>, Error> {
    let rows = state.auth().store().daily_usage(from, to).await.map_err(Error::from)?;
    Ok(rows
        .iter()
        .map(|row| DailyUsageView {
            day: row.day.to_string(),
            app_id: row.app_id.as_str().to_owned(),
            credits_used: row.credits_used.0,
            uses: row.uses,
        })
        .collect())
}

pub fn package_view(package: &CreditPackage, credits_per_euro: i64) -> AdminPackageView {
    AdminPackageView {
        id: package.id.clone(),
        name: package.name.clone(),
        credits: package.credits.0,
        price_cents: package.price_cents,
        currency: package.currency.clone(),
        bonus_credits: mana_core::payments::bonus_credits(package, credits_per_euro).0,
        stripe_price_id: package.stripe_price_id.clone(),
        active: package.active,
        sort_order: package.sort_order,
    }
}

/// Every package, withdrawn ones too, in display order.
pub async fn packages(state: &AppState) -> Result<Vec<AdminPackageView>, Error> {
    let packages = state.auth().store().all_packages().await.map_err(Error::from)?;
    Ok(packages.iter().map(|p| package_view(p, state.credits_per_euro())).collect())
}

/// Adds the package, or changes the one with this id; a `package_changed` event on the
/// administrator's own account.
pub async fn save_package(
    state: &AppState,
    admin: &Authenticated,
    id: String,
    body: PackageRequest,
    client: &ClientInfo,
) -> Result<AdminPackageView, Error> {
    let input = PackageInput {
        id,
        name: body.name,
        credits: body.credits.unwrap_or(0),
        price_cents: body.price_cents.unwrap_or(0),
        currency: body.currency.unwrap_or_else(|| "EUR".into()),
        stripe_price_id: body.stripe_price_id,
        active: body.active.unwrap_or(true),
        sort_order: body.sort_order.unwrap_or(0),
    };
    let package = input.into_package()?;
    state.auth().store().upsert_package(&package).await.map_err(Error::from)?;
    state.auth().record_admin_event(admin, admin.user_id, SecurityEventKind::PackageChanged, client).await?;
    Ok(package_view(&package, state.credits_per_euro()))
}

/// Withdraws the package from sale (purchases already made keep it); 404 if there is none.
pub async fn withdraw_package(
    state: &AppState,
    admin: &Authenticated,
    id: &str,
    client: &ClientInfo,
) -> Result<(), Error> {
    if !state.auth().store().deactivate_package(id).await.map_err(Error::from)? {
        return Err(Error::NotFound);
    }
    state.auth().record_admin_event(admin, admin.user_id, SecurityEventKind::PackageChanged, client).await?;
    Ok(())
}
