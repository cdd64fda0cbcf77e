//! Reads and writes of the credit tables, shared by registration and credit updates. Each
//! takes a connection so that callers compose them inside one transaction.

use chrono::{DateTime, Utc};
use mana_core::credits::{AppId, Balance, IdempotencyKey, LedgerTransaction};
use mana_core::ids::UserId;
use mana_core::store::{CreditChanges, CreditSnapshot, IdempotencyRecord, StoreError, StoreResult, UsageIncrement};

use crate::backend::Backend;
use crate::decode;
use crate::sql::Sql;
use crate::statement::Statement;

macro_rules! snapshot_sql {
    () => {
        "SELECT b.daily, b.free, b.paid, b.owed, b.total_earned, b.total_spent, b.daily_reset_at, b.version,
                i.key AS i_key, i.request_hash, i.response, i.created_at AS i_created_at
         FROM credits.balances b
         LEFT JOIN credits.idempotency_keys i ON i.user_id = b.user_id AND i.key = $2
         WHERE b.user_id = $1"
    };
}
static SNAPSHOT: Sql = Sql::new(snapshot_sql!());
static SNAPSHOT_LOCKED: Sql = Sql::new(concat!(snapshot_sql!(), " FOR UPDATE OF b"));

/// Whether a read keeps the balance row locked until the transaction ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    None,
    Balance,
}

/// The balance and the idempotency record under `key`; `NotFound` without a balance.
pub async fn read_snapshot<B: Backend>(
    conn: &mut B::Conn,
    user: UserId,
    key: Option<&IdempotencyKey>,
    lock: Lock,
) -> StoreResult<CreditSnapshot> {
    let sql = match lock {
        Lock::None => &SNAPSHOT,
        Lock::Balance => &SNAPSHOT_LOCKED,
    };
    let statement = Statement::new(sql).id(user.0).opt_text(key.map(IdempotencyKey::as_str));
    let row = B::fetch_optional(conn, statement).await?.ok_or(StoreError::NotFound)?;
    Ok(CreditSnapshot { balance: decode::balance(&row, user)?, idempotency: decode::idempotency_record(&row)? })
}

/// The five amounts of a balance, in the order of their columns.
fn with_amounts(statement: Statement, balance: &Balance) -> Statement {
    statement
        .int(balance.daily.0)
        .int(balance.free.0)
        .int(balance.paid.0)
        .int(balance.total_earned.0)
        .int(balance.total_spent.0)
}

static INSERT_BALANCE: Sql = Sql::new(
    "INSERT INTO credits.balances
         (user_id, daily, free, paid, total_earned, total_spent, daily_reset_at, version, updated_at, owed)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7, $9)",
);

pub async fn insert_balance<B: Backend>(conn: &mut B::Conn, balance: &Balance) -> StoreResult<()> {
    let statement = with_amounts(Statement::new(&INSERT_BALANCE).id(balance.user_id.0), balance)
        .time(balance.daily_reset_at)
        .int(balance.version)
        .int(balance.owed.0);
    B::execute(conn, statement).await?;
    Ok(())
}

static UPDATE_BALANCE: Sql = Sql::new(
    "UPDATE credits.balances
     SET daily = $1, free = $2, paid = $3, total_earned = $4, total_spent = $5, daily_reset_at = $6,
         version = $9, updated_at = $7, owed = $10
     WHERE user_id = $8 AND version = $9 - 1",
);

/// Writes the new balance over the version before it; returns whether that was still stored.
async fn update_balance<B: Backend>(conn: &mut B::Conn, balance: &Balance, now: DateTime<Utc>) -> StoreResult<bool> {
    let statement = with_amounts(Statement::new(&UPDATE_BALANCE), balance)
        .time(balance.daily_reset_at)
        .time(now)
        .id(balance.user_id.0)
        .int(balance.version)
        .int(balance.owed.0);
    Ok(B::execute(conn, statement).await? == 1)
}

static INSERT_TRANSACTIONS: Sql = Sql::new(
    "INSERT INTO credits.transactions
         (id, user_id, kind, amount, balance_after, app_id, description, metadata, created_at, purchase_id)",
);
static INSERT_POSTINGS: Sql = Sql::new("INSERT INTO credits.postings (transaction_id, user_id, account, amount)");

/// Inserts transactions and all their postings, one statement each.
pub async fn insert_ledger<B: Backend>(conn: &mut B::Conn, transactions: &[LedgerTransaction]) -> StoreResult<()> {
    if transactions.is_empty() {
        return Ok(());
    }
    let mut insert = Statement::insert_rows(&INSERT_TRANSACTIONS, 10);
    for t in transactions {
        insert = insert
            .id(t.id)
            .id(t.user_id.0)
            .text_arg(t.kind.as_str())
            .int(t.amount.0)
            .int(t.balance_after.0)
            .opt_text(t.app_id.as_ref().map(AppId::as_str))
            .text_arg(t.description.as_str())
            .opt_json(t.metadata.clone())
            .time(t.created_at)
            .opt_id(t.purchase_id);
    }
    B::execute(conn, insert).await?;

    let mut insert = Statement::insert_rows(&INSERT_POSTINGS, 4);
    for t in transactions {
        for posting in &t.postings {
            let (user, account) = posting.account.columns();
            insert = insert.id(t.id).opt_id(user.map(|u| u.0)).text_arg(account).int(posting.amount.0);
        }
    }
    B::execute(conn, insert).await?;
    Ok(())
}

static ADD_USAGE: Sql = Sql::new(
    "INSERT INTO credits.usage_stats AS u (user_id, app_id, day, credits_used, uses) VALUES ($1, $2, $3, $4, 1)
     ON CONFLICT (user_id, app_id, day)
     DO UPDATE SET credits_used = u.credits_used + excluded.credits_used, uses = u.uses + 1",
);

async fn add_usage<B: Backend>(conn: &mut B::Conn, user: UserId, usage: &UsageIncrement) -> StoreResult<()> {
    let statement =
        Statement::new(&ADD_USAGE).id(user.0).text_arg(usage.app_id.as_str()).day(usage.day).int(usage.credits.0);
    B::execute(conn, statement).await?;
    Ok(())
}

static INSERT_IDEMPOTENCY: Sql = Sql::new(
    "INSERT INTO credits.idempotency_keys (user_id, key, request_hash, response, created_at)
     VALUES ($1, $2, $3, $4, $5)",
);

async fn insert_idempotency<B: Backend>(
    conn: &mut B::Conn,
    user: UserId,
    record: &IdempotencyRecord,
) -> StoreResult<()> {
    let receipt = serde_json::to_value(&record.receipt).map_err(|e| StoreError::Other(e.into()))?;
    let statement = Statement::new(&INSERT_IDEMPOTENCY)
        .id(user.0)
        .text_arg(record.key.as_str())
        .bytes(&record.request_hash)
        .json(receipt)
        .time(record.created_at);
    B::execute(conn, statement).await?;
    Ok(())
}

/// Applies a decision's changes if the balance is still at the version it was decided on.
/// Returns `false`, having written nothing, if another writer got there first.
pub async fn apply_changes<B: Backend>(
    conn: &mut B::Conn,
    changes: &CreditChanges,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    if !update_balance::<B>(conn, &changes.balance, now).await? {
        return Ok(false);
    }
    let user = changes.balance.user_id;
    insert_ledger::<B>(conn, &changes.transactions).await?;
    if let Some(usage) = &changes.usage {
        add_usage::<B>(conn, user, usage).await?;
    }
    if let Some(record) = &changes.idempotency {
        insert_idempotency::<B>(conn, user, record).await?;
    }
    Ok(true)
}
