//! Domain values as the API shows them.

use chrono::{DateTime, SecondsFormat, Utc};
use mana_proto::{CreditBalance, CreditPackageView, CreditTransaction, PurchaseView};

use super::{Balance, CreditPolicy, LedgerTransaction};
use crate::store::{CreditPackage, Purchase, TransactionView};

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn balance_view(balance: &Balance, policy: &CreditPolicy) -> CreditBalance {
    CreditBalance {
        balance: balance.paid.0,
        free_credits_remaining: balance.free.0,
        daily_free_credits: balance.daily.0,
        next_daily_reset_at: timestamp(balance.next_daily_reset_at(policy)),
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
        app_id: transaction.app_id.clone(),
        description: transaction.description.clone(),
        metadata: transaction.metadata.clone(),
        created_at: timestamp(transaction.created_at),
    }
}

impl From<&LedgerTransaction> for TransactionView {
    fn from(t: &LedgerTransaction) -> Self {
        TransactionView {
            id: t.id,
            kind: t.kind,
            amount: t.amount,
            balance_after: t.balance_after,
            app_id: t.app_id.clone(),
            description: t.description.clone(),
            metadata: t.metadata.clone(),
            created_at: t.created_at,
        }
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
        status: purchase.status.clone(),
        created_at: timestamp(purchase.created_at),
        completed_at: purchase.completed_at.map(timestamp),
    }
}
