use async_trait::async_trait;
use chrono::NaiveDate;
use mana_core::credits::{Credits, Posting, TransactionKind};
use mana_core::ids::UserId;
use mana_core::store::{
    CreditDecision, CreditPackage, CreditStore, Decide, LedgerFacts, Purchase, PurchaseStatus, StoreError, StoreResult,
    TransactionView, UsageStat,
};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

use crate::SqliteStore;
use crate::convert::{self, db, micros, optional_time, time};
use crate::ledger_writes::{account_from_columns, apply_changes, balance_from_row, read_snapshot};

fn uuid(text: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(text).map_err(|e| StoreError::Other(e.into()))
}

fn day(text: &str) -> StoreResult<NaiveDate> {
    text.parse().map_err(|e: chrono::ParseError| StoreError::Other(e.into()))
}

fn usage_stat(row: &SqliteRow) -> StoreResult<UsageStat> {
    Ok(UsageStat {
        user_id: convert::user_id(&db(row.try_get::<String, _>("user_id"))?)?,
        app_id: db(row.try_get("app_id"))?,
        day: day(&db(row.try_get::<String, _>("day"))?)?,
        credits_used: Credits(db(row.try_get("credits_used"))?),
        uses: db(row.try_get("uses"))?,
    })
}

fn purchase_status(text: &str) -> StoreResult<PurchaseStatus> {
    PurchaseStatus::parse(text).ok_or_else(|| StoreError::Other(anyhow::anyhow!("unknown purchase status {text:?}")))
}

#[async_trait]
impl CreditStore for SqliteStore {
    async fn update_credits(&self, user: UserId, key: Option<&str>, decide: Decide<'_>) -> StoreResult<CreditDecision> {
        // Optimistic pass: decide on a plain read; most requests (and every read-only one)
        // finish here without taking the write lock for long.
        let snapshot = {
            let mut conn = db(self.pool.acquire().await)?;
            read_snapshot(&mut conn, user, key).await?
        };
        let decision = decide(&snapshot);
        let Some(changes) = &decision.changes else {
            return Ok(decision);
        };
        let at = micros(changes.transactions.last().map_or(changes.balance.daily_reset_at, |t| t.created_at));
        let mut tx = self.begin_write().await?;
        if apply_changes(&mut tx, changes, at).await? {
            db(tx.commit().await)?;
            return Ok(decision);
        }
        // Lost the race. This transaction holds SQLite's write lock, so deciding again on a
        // fresh read cannot lose.
        let snapshot = read_snapshot(&mut tx, user, key).await?;
        let decision = decide(&snapshot);
        if let Some(changes) = &decision.changes
            && !apply_changes(&mut tx, changes, at).await?
        {
            return Err(StoreError::Conflict { constraint: "credit_balances.version".into() });
        }
        db(tx.commit().await)?;
        Ok(decision)
    }

    async fn list_transactions(&self, user: UserId, limit: i64, offset: i64) -> StoreResult<Vec<TransactionView>> {
        let rows = db(sqlx::query(
            "SELECT id, kind, amount, balance_after, app_id, description, metadata, created_at
             FROM credit_transactions WHERE user_id = ?1
             ORDER BY created_at DESC, id DESC LIMIT ?2 OFFSET ?3",
        )
        .bind(user.to_string())
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await)?;
        rows.iter()
            .map(|row| {
                let kind: String = db(row.try_get("kind"))?;
                let metadata: Option<String> = db(row.try_get("metadata"))?;
                Ok(TransactionView {
                    id: uuid(&db(row.try_get::<String, _>("id"))?)?,
                    kind: TransactionKind::parse(&kind)
                        .ok_or_else(|| StoreError::Other(anyhow::anyhow!("unknown transaction kind {kind:?}")))?,
                    amount: Credits(db(row.try_get("amount"))?),
                    balance_after: Credits(db(row.try_get("balance_after"))?),
                    app_id: db(row.try_get("app_id"))?,
                    description: db(row.try_get("description"))?,
                    metadata: metadata
                        .map(|m| serde_json::from_str(&m))
                        .transpose()
                        .map_err(|e| StoreError::Other(e.into()))?,
                    created_at: time(db(row.try_get("created_at"))?)?,
                })
            })
            .collect()
    }

    async fn transaction_postings(&self, transaction: Uuid) -> StoreResult<Vec<Posting>> {
        let rows = db(sqlx::query(
            "SELECT user_id, account, amount FROM credit_postings WHERE transaction_id = ?1 ORDER BY user_id IS NULL, account",
        )
        .bind(transaction.to_string())
        .fetch_all(&self.pool)
        .await)?;
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
        let rows = db(sqlx::query(
            "SELECT id, name, credits, price_cents, currency, stripe_price_id, active, sort_order
             FROM credit_packages WHERE active = 1 ORDER BY sort_order, id",
        )
        .fetch_all(&self.pool)
        .await)?;
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
        let rows = db(sqlx::query(
            "SELECT id, user_id, package_id, credits, amount_cents, currency, status, provider_reference, created_at,
                    completed_at
             FROM credit_purchases WHERE user_id = ?1 ORDER BY created_at DESC, id DESC",
        )
        .bind(user.to_string())
        .fetch_all(&self.pool)
        .await)?;
        rows.iter()
            .map(|row| {
                Ok(Purchase {
                    id: uuid(&db(row.try_get::<String, _>("id"))?)?,
                    user_id: user,
                    package_id: db(row.try_get("package_id"))?,
                    credits: Credits(db(row.try_get("credits"))?),
                    amount_cents: db(row.try_get("amount_cents"))?,
                    currency: db(row.try_get("currency"))?,
                    status: purchase_status(&db(row.try_get::<String, _>("status"))?)?,
                    provider_reference: db(row.try_get("provider_reference"))?,
                    created_at: time(db(row.try_get("created_at"))?)?,
                    completed_at: optional_time(db(row.try_get("completed_at"))?)?,
                })
            })
            .collect()
    }

    async fn usage_stats(&self, user: UserId) -> StoreResult<Vec<UsageStat>> {
        let rows = db(sqlx::query(
            "SELECT user_id, app_id, day, credits_used, uses FROM credit_usage_stats WHERE user_id = ?1
             ORDER BY day, app_id",
        )
        .bind(user.to_string())
        .fetch_all(&self.pool)
        .await)?;
        rows.iter().map(usage_stat).collect()
    }

    async fn ledger_facts(&self) -> StoreResult<LedgerFacts> {
        // One read transaction: in WAL mode it is a snapshot, so the aggregates agree.
        let mut tx = db(self.pool.begin().await)?;
        let unbalanced = db(sqlx::query(
            "SELECT transaction_id AS id, SUM(amount) AS total, COUNT(*) AS legs FROM credit_postings
             GROUP BY transaction_id HAVING SUM(amount) <> 0 OR COUNT(*) < 2
             UNION ALL
             SELECT id, 0, 0 FROM credit_transactions t
             WHERE NOT EXISTS (SELECT 1 FROM credit_postings p WHERE p.transaction_id = t.id)",
        )
        .fetch_all(&mut *tx)
        .await)?;
        let misstated = db(sqlx::query(
            "SELECT t.id, t.amount, COALESCE(SUM(CASE WHEN p.user_id IS NOT NULL THEN p.amount END), 0) AS net
             FROM credit_transactions t LEFT JOIN credit_postings p ON p.transaction_id = t.id
             GROUP BY t.id, t.amount
             HAVING t.amount <> COALESCE(SUM(CASE WHEN p.user_id IS NOT NULL THEN p.amount END), 0)",
        )
        .fetch_all(&mut *tx)
        .await)?;
        let posted = db(sqlx::query(
            "SELECT user_id, account, SUM(amount) AS total FROM credit_postings
             WHERE user_id IS NOT NULL GROUP BY user_id, account",
        )
        .fetch_all(&mut *tx)
        .await)?;
        let balances = db(sqlx::query(
            "SELECT user_id, daily, free, paid, total_earned, total_spent, daily_reset_at, version FROM credit_balances",
        )
        .fetch_all(&mut *tx)
        .await)?;
        let totals = db(sqlx::query(
            "SELECT user_id,
                    SUM(CASE WHEN kind NOT IN ('usage', 'expiry') THEN amount ELSE 0 END) AS earned,
                    -SUM(CASE WHEN kind = 'usage' THEN amount ELSE 0 END) AS spent,
                    -SUM(CASE WHEN kind = 'expiry' THEN amount ELSE 0 END) AS expired
             FROM credit_transactions GROUP BY user_id",
        )
        .fetch_all(&mut *tx)
        .await)?;
        let usage = db(sqlx::query(
            "SELECT user_id, app_id, date(created_at / 1000000, 'unixepoch') AS day, -SUM(amount) AS credits_used,
                    COUNT(*) AS uses
             FROM credit_transactions WHERE kind = 'usage' GROUP BY 1, 2, 3",
        )
        .fetch_all(&mut *tx)
        .await)?;
        let stats = db(sqlx::query("SELECT user_id, app_id, day, credits_used, uses FROM credit_usage_stats")
            .fetch_all(&mut *tx)
            .await)?;

        db(tx.commit().await)?;

        let user = |row: &SqliteRow| convert::user_id(&db(row.try_get::<String, _>("user_id"))?);
        Ok(LedgerFacts {
            unbalanced: unbalanced
                .iter()
                .map(|r| {
                    Ok((
                        uuid(&db(r.try_get::<String, _>("id"))?)?,
                        Credits(db(r.try_get("total"))?),
                        db(r.try_get("legs"))?,
                    ))
                })
                .collect::<StoreResult<_>>()?,
            misstated: misstated
                .iter()
                .map(|r| {
                    Ok((
                        uuid(&db(r.try_get::<String, _>("id"))?)?,
                        Credits(db(r.try_get("amount"))?),
                        Credits(db(r.try_get("net"))?),
                    ))
                })
                .collect::<StoreResult<_>>()?,
            posted: posted
                .iter()
                .map(|r| {
                    let account: String = db(r.try_get("account"))?;
                    let bucket = mana_core::credits::Bucket::parse(&account)
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
