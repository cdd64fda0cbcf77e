//! The double-entry ledger: every movement is one immutable transaction of postings that sum to
//! zero across accounts.

use std::fmt;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::amount::{Credits, checked_sum};
use super::names::AppId;
use crate::ids::UserId;

/// One of a user's three spendable buckets, or the debt of credits taken back after they were
/// spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Bucket {
    /// The daily allowance; what is left expires at the next reset.
    Daily,
    /// Signup bonus and other free grants.
    Free,
    /// Purchased credits.
    Paid,
    /// Credits a refund or dispute took back that had been spent already: a debt the next
    /// purchases repay first. Never spendable. Its postings are negative while a debt stands
    /// (the user owes), so the user's postings still sum to what they hold minus what they owe;
    /// the cached `owed` is that debt as a positive number.
    Owed,
}

impl Bucket {
    pub const ALL: [Bucket; 4] = [Bucket::Daily, Bucket::Free, Bucket::Paid, Bucket::Owed];
    /// What spending draws from, in order.
    pub const SPENDABLE: [Bucket; 3] = [Bucket::Daily, Bucket::Free, Bucket::Paid];

    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::Daily => "daily",
            Bucket::Free => "free",
            Bucket::Paid => "paid",
            Bucket::Owed => "owed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.as_str() == text)
    }
}

/// The other side of every user movement. These accounts have no cached balance row: their
/// balance is the sum of their postings, so concurrent spenders never contend on them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SystemAccount {
    SignupBonus,
    DailyIssuer,
    Purchases,
    /// Credits consumed by one app.
    Usage(String),
    Expiry,
    Adjustments,
    Refunds,
}

impl SystemAccount {
    /// The stored name, e.g. `usage:chat`.
    pub fn name(&self) -> String {
        match self {
            SystemAccount::SignupBonus => "signup_bonus".into(),
            SystemAccount::DailyIssuer => "daily_issuer".into(),
            SystemAccount::Purchases => "purchases".into(),
            SystemAccount::Usage(app) => format!("usage:{app}"),
            SystemAccount::Expiry => "expiry".into(),
            SystemAccount::Adjustments => "adjustments".into(),
            SystemAccount::Refunds => "refunds".into(),
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "signup_bonus" => SystemAccount::SignupBonus,
            "daily_issuer" => SystemAccount::DailyIssuer,
            "purchases" => SystemAccount::Purchases,
            "expiry" => SystemAccount::Expiry,
            "adjustments" => SystemAccount::Adjustments,
            "refunds" => SystemAccount::Refunds,
            other => SystemAccount::Usage(other.strip_prefix("usage:")?.to_owned()),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Account {
    User(UserId, Bucket),
    System(SystemAccount),
}

impl Account {
    /// How an account is stored: a user bucket as (its user, `daily`/`free`/`paid`), a system
    /// account as (no user, its name).
    pub fn columns(&self) -> (Option<UserId>, String) {
        match self {
            Account::User(user, bucket) => (Some(*user), bucket.as_str().to_owned()),
            Account::System(system) => (None, system.name()),
        }
    }

    /// The inverse of [`Account::columns`]; `None` for a name no account has.
    pub fn from_columns(user: Option<UserId>, name: &str) -> Option<Self> {
        match user {
            Some(user) => Bucket::parse(name).map(|bucket| Account::User(user, bucket)),
            None => SystemAccount::parse(name).map(Account::System),
        }
    }
}

/// One leg of a transaction: a signed change to one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub account: Account,
    pub amount: Credits,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransactionKind {
    Purchase,
    Usage,
    Refund,
    Bonus,
    Daily,
    Expiry,
    Adjustment,
}

impl TransactionKind {
    pub const ALL: [TransactionKind; 7] = [
        TransactionKind::Purchase,
        TransactionKind::Usage,
        TransactionKind::Refund,
        TransactionKind::Bonus,
        TransactionKind::Daily,
        TransactionKind::Expiry,
        TransactionKind::Adjustment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TransactionKind::Purchase => "purchase",
            TransactionKind::Usage => "usage",
            TransactionKind::Refund => "refund",
            TransactionKind::Bonus => "bonus",
            TransactionKind::Daily => "daily",
            TransactionKind::Expiry => "expiry",
            TransactionKind::Adjustment => "adjustment",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

impl fmt::Display for TransactionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A ledger transaction as the user sees it, and its postings.
///
/// `amount` is the net change of the user's total credits (negative for usage and expiry);
/// `balance_after` is the user's total (all buckets) once it is applied.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerTransaction {
    pub id: Uuid,
    pub user_id: UserId,
    pub kind: TransactionKind,
    pub amount: Credits,
    pub balance_after: Credits,
    pub app_id: Option<AppId>,
    pub description: String,
    pub metadata: Option<serde_json::Value>,
    /// The purchase whose payment, refund or dispute this is.
    pub purchase_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub postings: Vec<Posting>,
}

impl LedgerTransaction {
    /// Whether the postings sum to zero and the user's net equals `amount`. Every transaction
    /// the domain builds satisfies this; stores and `ledger verify` re-check it.
    pub fn is_balanced(&self) -> bool {
        let total = checked_sum(self.postings.iter().map(|p| p.amount));
        let user_net =
            checked_sum(self.postings.iter().filter(|p| matches!(p.account, Account::User(..))).map(|p| p.amount));
        self.postings.len() >= 2 && total == Some(Credits::ZERO) && user_net == Some(self.amount)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_round_trip_through_their_stored_columns() {
        let user = UserId::generate();
        for account in [
            Account::User(user, Bucket::Daily),
            Account::User(user, Bucket::Paid),
            Account::System(SystemAccount::Usage("chat".into())),
            Account::System(SystemAccount::SignupBonus),
        ] {
            let (owner, name) = account.columns();
            assert_eq!(Account::from_columns(owner, &name), Some(account));
        }
        assert_eq!(Account::from_columns(Some(user), "usage:chat"), None);
        assert_eq!(Account::from_columns(None, "paid"), None);
    }
}
