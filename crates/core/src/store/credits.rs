//! What the credit ledger needs from a database.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::StoreResult;
use crate::credits::{
    AppId, Balance, Bucket, Credits, IdempotencyKey, LedgerTransaction, Posting, SpendReceipt, TransactionKind,
};
use crate::ids::UserId;
use crate::payments::{PaymentFacts, Settled, Terms};

/// A stored answer to an idempotent request, kept in the same transaction as its movement.
#[derive(Debug, Clone, PartialEq)]
pub struct IdempotencyRecord {
    pub key: IdempotencyKey,
    /// SHA-256 of the request's parameters, to tell a retry from a different request.
    pub request_hash: [u8; 32],
    pub receipt: SpendReceipt,
    pub created_at: DateTime<Utc>,
}

/// What a credit decision sees: the user's balance and, if the request carries an idempotency
/// key, what was stored under it.
#[derive(Debug, Clone)]
pub struct CreditSnapshot {
    pub balance: Balance,
    pub idempotency: Option<IdempotencyRecord>,
}

/// One more use of an app by a user on a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageIncrement {
    pub app_id: AppId,
    pub day: NaiveDate,
    pub credits: Credits,
}

/// Everything one decision writes, atomically.
#[derive(Debug, Clone)]
pub struct CreditChanges {
    /// The new balance. Its `version` is one more than the version it was derived from; the
    /// store writes it only if the stored row still has that earlier version.
    pub balance: Balance,
    pub transactions: Vec<LedgerTransaction>,
    pub usage: Option<UsageIncrement>,
    pub idempotency: Option<IdempotencyRecord>,
}

/// What a decision concluded, for the caller.
#[derive(Debug, Clone)]
pub enum CreditOutcome {
    /// The balance after any due daily reset.
    Balance(Balance),
    /// Credits were granted.
    Granted { transaction: LedgerTransaction, balance: Balance },
    /// Credits were spent (and the receipt stored with the key, if there is one).
    Spent(SpendReceipt),
    /// The same request was made before under this key: its original receipt.
    Replayed(SpendReceipt),
    /// The key was used before for a different request.
    KeyReused,
    /// The buckets together cannot cover the amount.
    Insufficient(Balance),
    /// An amount would overflow.
    Overflow,
}

#[derive(Debug, Clone)]
pub struct CreditDecision {
    pub changes: Option<CreditChanges>,
    pub outcome: CreditOutcome,
}

/// A pure function from what is stored to what to write.
pub type Decide<'a> = &'a (dyn Fn(&CreditSnapshot) -> CreditDecision + Send + Sync);

/// A ledger transaction as listed to its user (postings omitted). Stored inside receipts,
/// under the names receipts have always used.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionView {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: TransactionKind,
    pub amount: Credits,
    pub balance_after: Credits,
    pub app_id: Option<AppId>,
    pub description: String,
    pub metadata: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditPackage {
    pub id: String,
    pub name: String,
    pub credits: Credits,
    pub price_cents: i64,
    pub currency: String,
    pub stripe_price_id: Option<String>,
    pub active: bool,
    pub sort_order: i32,
}

/// Where a purchase stands (SPEC §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PurchaseStatus {
    Pending,
    Succeeded,
    Failed,
    Canceled,
    Refunded,
    PartiallyRefunded,
    Disputed,
}

impl PurchaseStatus {
    pub const ALL: [PurchaseStatus; 7] = [
        PurchaseStatus::Pending,
        PurchaseStatus::Succeeded,
        PurchaseStatus::Failed,
        PurchaseStatus::Canceled,
        PurchaseStatus::Refunded,
        PurchaseStatus::PartiallyRefunded,
        PurchaseStatus::Disputed,
    ];

    /// As stored and as the API shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            PurchaseStatus::Pending => "pending",
            PurchaseStatus::Succeeded => "succeeded",
            PurchaseStatus::Failed => "failed",
            PurchaseStatus::Canceled => "canceled",
            PurchaseStatus::Refunded => "refunded",
            PurchaseStatus::PartiallyRefunded => "partially_refunded",
            PurchaseStatus::Disputed => "disputed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchase {
    pub id: Uuid,
    pub user_id: UserId,
    pub package_id: Option<String>,
    pub credits: Credits,
    pub amount_cents: i64,
    pub currency: String,
    pub status: PurchaseStatus,
    pub flow: PaymentFlow,
    /// Stripe's ids, once known.
    pub checkout_session_id: Option<String>,
    pub payment_intent_id: Option<String>,
    /// What the buyer's client pays with: the checkout page, or the payment intent's secret.
    pub checkout_url: Option<String>,
    pub client_secret: Option<String>,
    /// What the payment's events said, merged.
    pub facts: PaymentFacts,
    /// What the purchase moved in the ledger so far.
    pub settled: Settled,
    pub created_at: DateTime<Utc>,
    /// When it was first paid.
    pub completed_at: Option<DateTime<Utc>>,
}

impl Purchase {
    pub fn terms(&self) -> Terms {
        Terms { credits: self.credits, amount_cents: self.amount_cents }
    }
}

/// How the buyer pays: on Stripe's checkout page (web), or in the app with a payment sheet
/// confirming a payment intent (mobile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentFlow {
    Checkout,
    PaymentIntent,
}

impl PaymentFlow {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentFlow::Checkout => "checkout",
            PaymentFlow::PaymentIntent => "payment_intent",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [PaymentFlow::Checkout, PaymentFlow::PaymentIntent].into_iter().find(|flow| flow.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageStat {
    pub user_id: UserId,
    pub app_id: AppId,
    pub day: NaiveDate,
    pub credits_used: Credits,
    pub uses: i64,
}

/// A transaction whose postings do not sum to zero, or that has fewer than two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnbalancedTransaction {
    pub id: Uuid,
    pub sum: Credits,
    pub postings: i64,
}

/// A transaction whose `amount` differs from the net of its user postings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MisstatedTransaction {
    pub id: Uuid,
    pub amount: Credits,
    pub net: Credits,
}

/// One user's transactions summed by effect, each as a positive number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PostedTotals {
    /// Credited by grants and purchases.
    pub earned: Credits,
    /// Spent by usage.
    pub spent: Credits,
    pub expired: Credits,
}

/// One user's cached balance beside what their ledger says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserLedger {
    pub balance: Balance,
    /// The sum of the user's postings to each bucket that has any.
    pub posted: Vec<(Bucket, Credits)>,
    pub totals: PostedTotals,
}

/// The usage of one app by one user on one UTC day, as the usage transactions and as the
/// statistics count it: (credits, uses), `None` where one side has nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageComparison {
    pub user: UserId,
    pub app: AppId,
    pub day: NaiveDate,
    pub ledger: Option<(Credits, i64)>,
    pub stats: Option<(Credits, i64)>,
}

/// What `ledger verify` is shown of the ledger, one fact at a time. The store reads every fact
/// from one snapshot and hands each over as it reads it, so that checking a large ledger holds
/// no more of it in memory than a row.
pub trait LedgerAudit: Send {
    fn unbalanced(&mut self, transaction: UnbalancedTransaction);
    fn misstated(&mut self, transaction: MisstatedTransaction);
    /// Every user with a balance.
    fn user(&mut self, user: UserLedger);
    /// Every bucket with postings of a user who has no balance.
    fn postings_without_balance(&mut self, user: UserId, bucket: Bucket);
    /// Every (user, app, day) the usage transactions or the statistics know.
    fn usage(&mut self, usage: UsageComparison);
    /// Every purchase with the net of the ledger transactions that name it.
    fn purchase(&mut self, settlement: super::PurchaseSettlement);
}

#[async_trait]
pub trait CreditStore: Send + Sync {
    /// Reads the user's balance (and the idempotency record under `key`), asks `decide`, and
    /// applies its changes in one transaction. Optimistic first: the balance is written only if
    /// its version is unchanged; a lost race is decided again with the balance row locked.
    /// `NotFound` if the user has no balance.
    async fn update_credits(
        &self,
        user: UserId,
        key: Option<&IdempotencyKey>,
        decide: Decide<'_>,
    ) -> StoreResult<CreditDecision>;
    /// Newest first.
    async fn list_transactions(&self, user: UserId, limit: i64, offset: i64) -> StoreResult<Vec<TransactionView>>;
    async fn transaction_postings(&self, transaction: Uuid) -> StoreResult<Vec<Posting>>;
    /// Active packages by sort order.
    async fn list_packages(&self) -> StoreResult<Vec<CreditPackage>>;
    /// Newest first.
    async fn list_purchases(&self, user: UserId) -> StoreResult<Vec<Purchase>>;
    async fn usage_stats(&self, user: UserId) -> StoreResult<Vec<UsageStat>>;
    /// Shows `audit` the whole ledger, read in one snapshot.
    async fn audit_ledger(&self, audit: &mut dyn LedgerAudit) -> StoreResult<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_purchase_status_reads_back_from_its_stored_name() {
        for status in PurchaseStatus::ALL {
            assert_eq!(PurchaseStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(PurchaseStatus::parse("Pending"), None, "stored names are exact");
    }
}
