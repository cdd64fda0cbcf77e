//! The credit store: the optimistic-then-locked update and the user's credit listings.

use async_trait::async_trait;
use mana_core::credits::{Credits, IdempotencyKey, Posting};
use mana_core::ids::UserId;
use mana_core::store::{
    CreditDecision, CreditPackage, CreditStore, Decide, LedgerAudit, Purchase, StoreError, StoreResult,
    TransactionView, UsageStat,
};
use uuid::Uuid;

use crate::backend::{Backend, SqlRow};
use crate::decode;
use crate::ledger_writes::{Lock, apply_changes, read_snapshot};
use crate::sql::Sql;
use crate::statement::Statement;
use crate::{SqlStore, ledger_audit};

static LIST_TRANSACTIONS: Sql = Sql::new(
    "SELECT id, kind, amount, balance_after, app_id, description, metadata, created_at
     FROM credits.transactions WHERE user_id = $1
     ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
);
static TRANSACTION_POSTINGS: Sql = Sql::new(
    "SELECT user_id, account, amount FROM credits.postings WHERE transaction_id = $1
     ORDER BY user_id IS NULL, account",
);
static LIST_PACKAGES: Sql = Sql::new(
    "SELECT id, name, credits, price_cents, currency, stripe_price_id, active, sort_order
     FROM credits.packages WHERE active ORDER BY sort_order, id",
);
static LIST_PURCHASES: Sql = Sql::new(concat!(
    "SELECT ",
    crate::purchase_columns!(),
    " FROM credits.purchases WHERE user_id = $1 ORDER BY created_at DESC, id DESC"
));
static USAGE_STATS: Sql = Sql::new(
    "SELECT user_id, app_id, day, credits_used, uses FROM credits.usage_stats WHERE user_id = $1
     ORDER BY day, app_id",
);

#[async_trait]
impl<B: Backend> CreditStore for SqlStore<B> {
    async fn update_credits(
        &self,
        user: UserId,
        key: Option<&IdempotencyKey>,
        decide: Decide<'_>,
    ) -> StoreResult<CreditDecision> {
        // Optimistic pass: decide on a plain read, write only if the version is unchanged. Most
        // requests finish here; read-only decisions (a balance with no reset due, a replay)
        // write nothing.
        let mut conn = self.backend.read_as(user).await?;
        let snapshot = read_snapshot::<B>(&mut conn, user, key, Lock::None).await?;
        let decision = decide(&snapshot);
        let Some(changes) = &decision.changes else {
            B::finish(conn).await?;
            return Ok(decision);
        };
        let at = changes.transactions.last().map_or(changes.balance.daily_reset_at, |t| t.created_at);
        let mut conn = self.backend.continue_as_write(conn, user).await?;
        if apply_changes::<B>(&mut conn, changes, at).await? {
            B::finish(conn).await?;
            return Ok(decision);
        }
        // Lost the race: decide again with the balance row locked, which cannot lose. Every
        // writer of this user's credits takes this row first, so idempotency keys and usage
        // statistics are serialized with it.
        let snapshot = read_snapshot::<B>(&mut conn, user, key, Lock::Balance).await?;
        let decision = decide(&snapshot);
        if let Some(changes) = &decision.changes
            && !apply_changes::<B>(&mut conn, changes, at).await?
        {
            return Err(StoreError::Conflict { constraint: "credits.balances.version".into() });
        }
        B::finish(conn).await?;
        Ok(decision)
    }

    async fn list_transactions(&self, user: UserId, limit: i64, offset: i64) -> StoreResult<Vec<TransactionView>> {
        let statement = Statement::new(&LIST_TRANSACTIONS).id(user.0).int(limit).int(offset);
        let rows = self.fetch_all_as(user, statement).await?;
        rows.iter().map(decode::transaction_view).collect()
    }

    async fn transaction_postings(&self, transaction: Uuid) -> StoreResult<Vec<Posting>> {
        let rows = self.fetch_all(Statement::new(&TRANSACTION_POSTINGS).id(transaction)).await?;
        rows.iter()
            .map(|row| Ok(Posting { account: decode::account(row)?, amount: Credits(row.int("amount")?) }))
            .collect()
    }

    async fn list_packages(&self) -> StoreResult<Vec<CreditPackage>> {
        let rows = self.fetch_all(Statement::new(&LIST_PACKAGES)).await?;
        rows.iter().map(decode::package).collect()
    }

    async fn list_purchases(&self, user: UserId) -> StoreResult<Vec<Purchase>> {
        let rows = self.fetch_all_as(user, Statement::new(&LIST_PURCHASES).id(user.0)).await?;
        rows.iter().map(decode::purchase).collect()
    }

    async fn usage_stats(&self, user: UserId) -> StoreResult<Vec<UsageStat>> {
        let rows = self.fetch_all_as(user, Statement::new(&USAGE_STATS).id(user.0)).await?;
        rows.iter().map(decode::usage_stat).collect()
    }

    async fn audit_ledger(&self, audit: &mut dyn LedgerAudit) -> StoreResult<()> {
        ledger_audit::audit(&self.backend, audit).await
    }
}
