use async_trait::async_trait;
use mana_core::credits::{Bucket, Credits, Posting, TransactionKind};
use mana_core::ids::UserId;
use mana_core::store::{
    CreditDecision, CreditPackage, CreditStore, Decide, LedgerFacts, Purchase, PurchaseStatus, StoreError, StoreResult,
    TransactionView, UsageStat,
};
use sqlx::Row;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use crate::PostgresStore;
use crate::convert::db;
use crate::ledger_writes::{account_from_columns, apply_changes, balance_from_row, read_snapshot};
use crate::scope::{begin_for_user, fetch_all_for_user};

fn usage_stat(row: &PgRow) -> StoreResult<UsageStat> {
    Ok(UsageStat {
        user_id: UserId(db(row.try_get("user_id"))?),
        app_id: db(row.try_get("app_id"))?,
        day: db(row.try_get("day"))?,
        credits_used: Credits(db(row.try_get("credits_used"))?),
        uses: db(row.try_get("uses"))?,
    })
}

fn purchase_status(text: &str) -> StoreResult<PurchaseStatus> {
    PurchaseStatus::parse(text).ok_or_else(|| StoreError::Other(anyhow::anyhow!("unknown purchase status {text:?}")))
}

#[async_trait]
impl CreditStore for PostgresStore {
    async fn update_credits(&self, user: UserId, key: Option<&str>, decide: Decide<'_>) -> StoreResult<CreditDecision> {
        // Optimistic pass: decide on a plain read, write only if the version is unchanged. All
        // of it acts for `user` under row-level security (one extra statement, no extra
        // transaction); read-only decisions (a balance with no reset due, a replay) write nothing.
        let mut tx = begin_for_user(self, user).await?;
        let snapshot = read_snapshot(&mut tx, user, key, false).await?;
        let decision = decide(&snapshot);
        let Some(changes) = &decision.changes else {
            db(tx.commit().await)?;
            return Ok(decision);
        };
        let at = changes.transactions.last().map_or(changes.balance.daily_reset_at, |t| t.created_at);
        if apply_changes(&mut tx, changes, at).await? {
            db(tx.commit().await)?;
            return Ok(decision);
        }
        // Lost the race: decide again with the balance row locked, which cannot lose. Every
        // writer of this user's credits takes this row first, so idempotency keys and usage
        // statistics are serialized with it.
        let snapshot = read_snapshot(&mut tx, user, key, true).await?;
        let decision = decide(&snapshot);
        if let Some(changes) = &decision.changes
            && !apply_changes(&mut tx, changes, at).await?
        {
            return Err(StoreError::Conflict { constraint: "credits.balances.version".into() });
        }
        db(tx.commit().await)?;
        Ok(decision)
    }

    async fn list_transactions(&self, user: UserId, limit: i64, offset: i64) -> StoreResult<Vec<TransactionView>> {
        let rows = fetch_all_for_user(
            self,
            user,
            sqlx::query(
                "SELECT id, kind, amount, balance_after, app_id, description, metadata, created_at
             FROM credits.transactions WHERE user_id = $1
             ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
            )
            .bind(user.0)
            .bind(limit)
            .bind(offset),
        )
        .await?;
        rows.iter()
            .map(|row| {
                let kind: String = db(row.try_get("kind"))?;
                Ok(TransactionView {
                    id: db(row.try_get("id"))?,
                    kind: TransactionKind::parse(&kind)
                        .ok_or_else(|| StoreError::Other(anyhow::anyhow!("unknown transaction kind {kind:?}")))?,
                    amount: Credits(db(row.try_get("amount"))?),
                    balance_after: Credits(db(row.try_get("balance_after"))?),
                    app_id: db(row.try_get("app_id"))?,
                    description: db(row.try_get("description"))?,
                    metadata: db(row.try_get("metadata"))?,
                    created_at: db(row.try_get("created_at"))?,
                })
            })
            .collect()
    }

    async fn transaction_postings(&self, transaction: Uuid) -> StoreResult<Vec<Posting>> {
        let mut conn = self.conn().await?;
        let rows = db(sqlx::query(
            "SELECT user_id, account, amount FROM credits.postings WHERE transaction_id = $1
             ORDER BY user_id IS NULL, account",
        )
        .bind(transaction)
        .fetch_all(&mut *conn)
        .await)?;
        conn.finish().await?;
        rows.iter()
            .map(|row| {
                let account: String = db(row.try_get("account"))?;
                Ok(Posting {
                    account: account_from_columns(db(row.try_get("user_id"))?, &account)?,
                    amount: Credits(db(row.try_get("amount"))?),
                })
            })
            .collect()
    }

    async fn list_packages(&self) -> StoreResult<Vec<CreditPackage>> {
        let mut conn = self.conn().await?;
        let rows = db(sqlx::query(
            "SELECT id, name, credits, price_cents, currency, stripe_price_id, active, sort_order
             FROM credits.packages WHERE active ORDER BY sort_order, id",
        )
        .fetch_all(&mut *conn)
        .await)?;
        conn.finish().await?;
        rows.iter()
            .map(|row| {
                Ok(CreditPackage {
                    id: db(row.try_get("id"))?,
                    name: db(row.try_get("name"))?,
                    credits: Credits(db(row.try_get("credits"))?),
                    price_cents: db(row.try_get("price_cents"))?,
                    currency: db(row.try_get("currency"))?,
                    stripe_price_id: db(row.try_get("stripe_price_id"))?,
                    active: db(row.try_get("active"))?,
                    sort_order: db(row.try_get("sort_order"))?,
                })
            })
            .collect()
    }

    async fn list_purchases(&self, user: UserId) -> StoreResult<Vec<Purchase>> {
        let rows = fetch_all_for_user(self, user, sqlx::query(
            "SELECT id, package_id, credits, amount_cents, currency, status, provider_reference, created_at, completed_at
             FROM credits.purchases WHERE user_id = $1 ORDER BY created_at DESC, id DESC",
        )
        .bind(user.0)).await?;
        rows.iter()
            .map(|row| {
                Ok(Purchase {
                    id: db(row.try_get("id"))?,
                    user_id: user,
                    package_id: db(row.try_get("package_id"))?,
                    credits: Credits(db(row.try_get("credits"))?),
                    amount_cents: db(row.try_get("amount_cents"))?,
                    currency: db(row.try_get("currency"))?,
                    status: purchase_status(&db(row.try_get::<String, _>("status"))?)?,
                    provider_reference: db(row.try_get("provider_reference"))?,
                    created_at: db(row.try_get("created_at"))?,
                    completed_at: db(row.try_get("completed_at"))?,
                })
            })
            .collect()
    }

    async fn usage_stats(&self, user: UserId) -> StoreResult<Vec<UsageStat>> {
        let rows = fetch_all_for_user(
            self,
            user,
            sqlx::query(
                "SELECT user_id, app_id, day, credits_used, uses FROM credits.usage_stats WHERE user_id = $1
             ORDER BY day, app_id",
            )
            .bind(user.0),
        )
        .await?;
        rows.iter().map(usage_stat).collect()
    }

    async fn ledger_facts(&self) -> StoreResult<LedgerFacts> {
        // One snapshot for all the aggregates, so that they describe the same ledger.
        let mut tx = self.begin().await?;
        db(sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await)?;
        let unbalanced = db(sqlx::query(
            "SELECT transaction_id AS id, SUM(amount)::bigint AS total, COUNT(*) AS legs FROM credits.postings
             GROUP BY transaction_id HAVING SUM(amount) <> 0 OR COUNT(*) < 2
             UNION ALL
             SELECT id, 0, 0 FROM credits.transactions t
             WHERE NOT EXISTS (SELECT 1 FROM credits.postings p WHERE p.transaction_id = t.id)",
        )
        .fetch_all(&mut *tx)
        .await)?;
        let misstated = db(sqlx::query(
            "SELECT t.id, t.amount, COALESCE(SUM(p.amount) FILTER (WHERE p.user_id IS NOT NULL), 0)::bigint AS net
             FROM credits.transactions t LEFT JOIN credits.postings p ON p.transaction_id = t.id
             GROUP BY t.id, t.amount
             HAVING t.amount <> COALESCE(SUM(p.amount) FILTER (WHERE p.user_id IS NOT NULL), 0)",
        )
        .fetch_all(&mut *tx)
        .await)?;
        let posted = db(sqlx::query(
            "SELECT user_id, account, SUM(amount)::bigint AS total FROM credits.postings
             WHERE user_id IS NOT NULL GROUP BY user_id, account",
        )
        .fetch_all(&mut *tx)
        .await)?;
        let balances = db(sqlx::query(
            "SELECT user_id, daily, free, paid, total_earned, total_spent, daily_reset_at, version FROM credits.balances",
        )
        .fetch_all(&mut *tx)
        .await)?;
        let totals = db(sqlx::query(
            "SELECT user_id,
                    COALESCE(SUM(amount) FILTER (WHERE kind NOT IN ('usage', 'expiry')), 0)::bigint AS earned,
                    COALESCE(-SUM(amount) FILTER (WHERE kind = 'usage'), 0)::bigint AS spent,
                    COALESCE(-SUM(amount) FILTER (WHERE kind = 'expiry'), 0)::bigint AS expired
             FROM credits.transactions GROUP BY user_id",
        )
        .fetch_all(&mut *tx)
        .await)?;
        let usage = db(sqlx::query(
            "SELECT user_id, app_id, (created_at AT TIME ZONE 'UTC')::date AS day,
                    (-SUM(amount))::bigint AS credits_used, COUNT(*) AS uses
             FROM credits.transactions WHERE kind = 'usage' GROUP BY 1, 2, 3",
        )
        .fetch_all(&mut *tx)
        .await)?;
        let stats = db(sqlx::query("SELECT user_id, app_id, day, credits_used, uses FROM credits.usage_stats")
            .fetch_all(&mut *tx)
            .await)?;
        db(tx.commit().await)?;

        let user = |row: &PgRow| -> StoreResult<UserId> { Ok(UserId(db(row.try_get("user_id"))?)) };
        Ok(LedgerFacts {
            unbalanced: unbalanced
                .iter()
                .map(|r| Ok((db(r.try_get("id"))?, Credits(db(r.try_get("total"))?), db(r.try_get("legs"))?)))
                .collect::<StoreResult<_>>()?,
            misstated: misstated
                .iter()
                .map(|r| Ok((db(r.try_get("id"))?, Credits(db(r.try_get("amount"))?), Credits(db(r.try_get("net"))?))))
                .collect::<StoreResult<_>>()?,
            posted: posted
                .iter()
                .map(|r| {
                    let account: String = db(r.try_get("account"))?;
                    let bucket = Bucket::parse(&account)
                        .ok_or_else(|| StoreError::Other(anyhow::anyhow!("unknown bucket {account:?}")))?;
                    Ok((user(r)?, bucket, Credits(db(r.try_get("total"))?)))
                })
                .collect::<StoreResult<_>>()?,
            balances: balances.iter().map(|r| balance_from_row(r, user(r)?)).collect::<StoreResult<_>>()?,
            posted_totals: totals
                .iter()
                .map(|r| {
                    Ok((
                        user(r)?,
                        Credits(db(r.try_get("earned"))?),
                        Credits(db(r.try_get("spent"))?),
                        Credits(db(r.try_get("expired"))?),
                    ))
                })
                .collect::<StoreResult<_>>()?,
            usage_from_ledger: usage.iter().map(usage_stat).collect::<StoreResult<_>>()?,
            usage_stats: stats.iter().map(usage_stat).collect::<StoreResult<_>>()?,
        })
    }
}
