//! Reads and writes of the credit tables, shared by registration and credit updates. Each
//! takes a connection so that callers compose them inside one transaction.

use mana_core::credits::{Account, Balance, Credits, LedgerTransaction};
use mana_core::ids::UserId;
use mana_core::store::{CreditChanges, CreditSnapshot, IdempotencyRecord, StoreError, StoreResult, UsageIncrement};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use crate::convert::{db, micros, time};

pub fn account_from_columns(user: Option<String>, account: &str) -> StoreResult<Account> {
    let user = user.as_deref().map(crate::convert::user_id).transpose()?;
    Account::from_columns(user, account)
        .ok_or_else(|| StoreError::Other(anyhow::anyhow!("unknown ledger account {account:?}")))
}

/// Reads the balance columns (`daily`, `free`, `paid`, totals, `daily_reset_at`, `version`).
pub fn balance_from_row(row: &SqliteRow, user: UserId) -> StoreResult<Balance> {
    Ok(Balance {
        user_id: user,
        daily: Credits(db(row.try_get("daily"))?),
        free: Credits(db(row.try_get("free"))?),
        paid: Credits(db(row.try_get("paid"))?),
        total_earned: Credits(db(row.try_get("total_earned"))?),
        total_spent: Credits(db(row.try_get("total_spent"))?),
        daily_reset_at: time(db(row.try_get("daily_reset_at"))?)?,
        version: db(row.try_get("version"))?,
    })
}

pub async fn read_snapshot(
    conn: &mut SqliteConnection,
    user: UserId,
    key: Option<&str>,
) -> StoreResult<CreditSnapshot> {
    let row = db(sqlx::query(
        "SELECT b.daily, b.free, b.paid, b.total_earned, b.total_spent, b.daily_reset_at, b.version,
                i.key AS i_key, i.request_hash, i.response, i.created_at AS i_created_at
         FROM credit_balances b
         LEFT JOIN credit_idempotency_keys i ON i.user_id = b.user_id AND i.key = ?2
         WHERE b.user_id = ?1",
    )
    .bind(user.to_string())
    .bind(key)
    .fetch_optional(&mut *conn)
    .await)?
    .ok_or(StoreError::NotFound)?;
    let balance = balance_from_row(&row, user)?;
    let idempotency = match db(row.try_get::<Option<String>, _>("i_key"))? {
        None => None,
        Some(key) => {
            let hash: Vec<u8> = db(row.try_get("request_hash"))?;
            let response: String = db(row.try_get("response"))?;
            Some(IdempotencyRecord {
                key,
                request_hash: hash.try_into().map_err(|_| StoreError::Other(anyhow::anyhow!("bad request hash")))?,
                receipt: serde_json::from_str(&response).map_err(|e| StoreError::Other(e.into()))?,
                created_at: time(db(row.try_get("i_created_at"))?)?,
            })
        }
    };
    Ok(CreditSnapshot { balance, idempotency })
}

pub async fn insert_balance(conn: &mut SqliteConnection, balance: &Balance) -> StoreResult<()> {
    db(sqlx::query(
        "INSERT INTO credit_balances (user_id, daily, free, paid, total_earned, total_spent, daily_reset_at, version, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?7)",
    )
    .bind(balance.user_id.to_string())
    .bind(balance.daily.0)
    .bind(balance.free.0)
    .bind(balance.paid.0)
    .bind(balance.total_earned.0)
    .bind(balance.total_spent.0)
    .bind(micros(balance.daily_reset_at))
    .bind(balance.version)
    .execute(&mut *conn)
    .await)?;
    Ok(())
}

/// Writes the new balance over the version before it; returns whether that was still stored.
async fn update_balance(conn: &mut SqliteConnection, balance: &Balance, now: i64) -> StoreResult<bool> {
    let updated = db(sqlx::query(
        "UPDATE credit_balances
         SET daily = ?1, free = ?2, paid = ?3, total_earned = ?4, total_spent = ?5, daily_reset_at = ?6,
             version = ?9, updated_at = ?7
         WHERE user_id = ?8 AND version = ?9 - 1",
    )
    .bind(balance.daily.0)
    .bind(balance.free.0)
    .bind(balance.paid.0)
    .bind(balance.total_earned.0)
    .bind(balance.total_spent.0)
    .bind(micros(balance.daily_reset_at))
    .bind(now)
    .bind(balance.user_id.to_string())
    .bind(balance.version)
    .execute(&mut *conn)
    .await)?;
    Ok(updated.rows_affected() == 1)
}

/// Inserts transactions and all their postings, one statement each.
pub async fn insert_ledger(conn: &mut SqliteConnection, transactions: &[LedgerTransaction]) -> StoreResult<()> {
    if transactions.is_empty() {
        return Ok(());
    }
    let mut insert = QueryBuilder::<Sqlite>::new(
        "INSERT INTO credit_transactions (id, user_id, kind, amount, balance_after, app_id, description, metadata, created_at) ",
    );
    insert.push_values(transactions, |mut row, t| {
        row.push_bind(t.id.to_string())
            .push_bind(t.user_id.to_string())
            .push_bind(t.kind.as_str())
            .push_bind(t.amount.0)
            .push_bind(t.balance_after.0)
            .push_bind(t.app_id.clone())
            .push_bind(t.description.clone())
            .push_bind(t.metadata.as_ref().map(|m| m.to_string()))
            .push_bind(micros(t.created_at));
    });
    db(insert.build().execute(&mut *conn).await)?;

    let postings: Vec<_> = transactions.iter().flat_map(|t| t.postings.iter().map(move |p| (t.id, p))).collect();
    let mut insert =
        QueryBuilder::<Sqlite>::new("INSERT INTO credit_postings (transaction_id, user_id, account, amount) ");
    insert.push_values(postings, |mut row, (id, posting)| {
        let (user, account) = posting.account.columns();
        row.push_bind(id.to_string())
            .push_bind(user.map(|u| u.to_string()))
            .push_bind(account)
            .push_bind(posting.amount.0);
    });
    db(insert.build().execute(&mut *conn).await)?;
    Ok(())
}

async fn add_usage(conn: &mut SqliteConnection, user: UserId, usage: &UsageIncrement) -> StoreResult<()> {
    db(sqlx::query(
        "INSERT INTO credit_usage_stats (user_id, app_id, day, credits_used, uses) VALUES (?1, ?2, ?3, ?4, 1)
         ON CONFLICT (user_id, app_id, day)
         DO UPDATE SET credits_used = credits_used + excluded.credits_used, uses = uses + 1",
    )
    .bind(user.to_string())
    .bind(&usage.app_id)
    .bind(usage.day.to_string())
    .bind(usage.credits.0)
    .execute(&mut *conn)
    .await)?;
    Ok(())
}

async fn insert_idempotency(conn: &mut SqliteConnection, user: UserId, record: &IdempotencyRecord) -> StoreResult<()> {
    db(sqlx::query(
        "INSERT INTO credit_idempotency_keys (user_id, key, request_hash, response, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .bind(user.to_string())
    .bind(&record.key)
    .bind(record.request_hash.as_slice())
    .bind(serde_json::to_string(&record.receipt).map_err(|e| StoreError::Other(e.into()))?)
    .bind(micros(record.created_at))
    .execute(&mut *conn)
    .await)?;
    Ok(())
}

/// Applies a decision's changes if the balance is still at the version it was decided on.
/// Returns `false`, having written nothing, if another writer got there first.
pub async fn apply_changes(conn: &mut SqliteConnection, changes: &CreditChanges, now: i64) -> StoreResult<bool> {
    if !update_balance(conn, &changes.balance, now).await? {
        return Ok(false);
    }
    let user = changes.balance.user_id;
    insert_ledger(conn, &changes.transactions).await?;
    if let Some(usage) = &changes.usage {
        add_usage(conn, user, usage).await?;
    }
    if let Some(record) = &changes.idempotency {
        insert_idempotency(conn, user, record).await?;
    }
    Ok(true)
}
