//! Domain values as the API shows them: the only place where domain types become wire types.

use chrono::{DateTime, SecondsFormat, Utc};
use mana_core::auth::{IssuedTokens, Profile};
use mana_core::credits::{BalanceSummary, SpendReceipt};
use mana_core::ids::SessionId;
use mana_core::store::{CreditPackage, Purchase, SecurityEvent, Session, TransactionView, User};
use mana_proto::{
    AccountExport, CreditBalance, CreditPackageView, CreditTransaction, IdentityView, ProfileView, PurchaseView,
    RegisteredUser, SecurityEventView, SessionView, TokenResponse, TokenUser, UseCreditsResponse,
};

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn balance_view(balance: &BalanceSummary) -> CreditBalance {
    CreditBalance {
        balance: balance.paid.0,
        free_credits_remaining: balance.free.0,
        daily_free_credits: balance.daily.0,
        owed: balance.owed.0,
        next_daily_reset_at: timestamp(balance.next_daily_reset_at),
        total_earned: balance.total_earned.0,
        total_spent: balance.total_spent.0,
    }
}

pub fn transaction_view(transaction: &TransactionView) -> CreditTransaction {
    CreditTransaction {
        id: transaction.id.to_string(),
        kind: transaction.kind.as_str().to_owned(),
        amount: transaction.amount.0,
        balance_after: transaction.balance_after.0,
        app_id: transaction.app_id.as_ref().map(ToString::to_string),
        description: transaction.description.clone(),
        metadata: transaction.metadata.clone(),
        created_at: timestamp(transaction.created_at),
    }
}

pub fn spend_response(receipt: &SpendReceipt) -> UseCreditsResponse {
    UseCreditsResponse {
        success: true,
        transaction: transaction_view(&receipt.transaction),
        new_balance: balance_view(&receipt.balance),
    }
}

/// `credits_per_euro` is the base rate; what a package gives beyond it is its bonus.
pub fn package_view(package: &CreditPackage, credits_per_euro: i64) -> CreditPackageView {
    let base = package.price_cents.saturating_mul(credits_per_euro) / 100;
    CreditPackageView {
        bonus_credits: (package.credits.0 - base).max(0),
        id: package.id.clone(),
        name: package.name.clone(),
        credits: package.credits.0,
        price_cents: package.price_cents,
        currency: package.currency.clone(),
        sort_order: package.sort_order,
    }
}

pub fn purchase_view(purchase: &Purchase) -> PurchaseView {
    PurchaseView {
        id: purchase.id.to_string(),
        package_id: purchase.package_id.clone(),
        credits: purchase.credits.0,
        amount_cents: purchase.amount_cents,
        currency: purchase.currency.clone(),
        status: purchase.status.as_str().to_owned(),
        created_at: timestamp(purchase.created_at),
        completed_at: purchase.completed_at.map(timestamp),
    }
}

pub fn token_response(issued: IssuedTokens) -> TokenResponse {
    TokenResponse {
        user: TokenUser {
            id: issued.user.id.to_string(),
            email: issued.user.email.to_string(),
            name: issued.user.name.clone(),
            role: issued.user.role.to_string(),
        },
        access_token: issued.access_token,
        refresh_token: issued.refresh_token.expose(),
        expires_in: issued.expires_in,
        token_type: "Bearer".into(),
        device_token: None,
    }
}

pub fn registered_user(user: &User) -> RegisteredUser {
    RegisteredUser {
        id: user.id.to_string(),
        email: user.email.to_string(),
        name: user.name.clone(),
        role: user.role.to_string(),
        email_verified: user.email_verified,
        created_at: timestamp(user.created_at),
    }
}

pub fn profile_view(profile: &Profile) -> ProfileView {
    let user = &profile.user;
    ProfileView {
        id: user.id.to_string(),
        email: user.email.to_string(),
        name: user.name.clone(),
        role: user.role.to_string(),
        email_verified: user.email_verified,
        created_at: timestamp(user.created_at),
        two_factor_enabled: profile.links.two_factor_enabled,
        identities: profile
            .links
            .identities
            .iter()
            .map(|identity| IdentityView { provider: identity.provider.clone(), email: identity.email.clone() })
            .collect(),
    }
}

pub fn session_view(session: &Session, current: SessionId) -> SessionView {
    SessionView {
        id: session.id.to_string(),
        device_id: session.device_id.clone(),
        device_name: session.device_name.clone(),
        ip: session.client.ip.clone(),
        user_agent: session.client.user_agent.clone(),
        created_at: timestamp(session.created_at),
        last_used_at: timestamp(session.last_used_at),
        current: session.id == current,
    }
}

pub fn admin_user_view(user: &User) -> mana_proto::AdminUserView {
    mana_proto::AdminUserView {
        id: user.id.to_string(),
        email: user.email.as_str().to_owned(),
        name: user.name.clone(),
        role: user.role.as_str().to_owned(),
        email_verified: user.email_verified,
        created_at: timestamp(user.created_at),
        locked_at: user.locked_at.map(timestamp),
        deleted_at: user.deleted_at.map(timestamp),
    }
}

pub fn security_event_view(event: &SecurityEvent) -> SecurityEventView {
    SecurityEventView {
        id: event.id,
        kind: event.kind.as_str().to_owned(),
        ip: event.client.ip.clone(),
        user_agent: event.client.user_agent.clone(),
        created_at: timestamp(event.at),
        session_id: event.details.session_id.map(|id| id.to_string()),
        reason: event.details.reason.map(|reason| reason.as_str().to_owned()),
        admin_id: event.details.admin_id.map(|id| id.to_string()),
        provider: event.details.provider.clone(),
    }
}

pub fn export_view(export: &mana_core::auth::AccountExport, current: SessionId, at: DateTime<Utc>) -> AccountExport {
    AccountExport {
        exported_at: timestamp(at),
        profile: profile_view(&export.profile),
        sessions: export.sessions.iter().map(|session| session_view(session, current)).collect(),
        security_events: export.security_events.iter().map(security_event_view).collect(),
        credit_transactions: export.transactions.iter().map(transaction_view).collect(),
        purchases: export.purchases.iter().map(purchase_view).collect(),
    }
}
