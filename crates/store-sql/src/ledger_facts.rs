//! The aggregates `ledger verify` compares, read from one snapshot so they describe the same
//! ledger.

use mana_core::credits::Credits;
use mana_core::store::{
    LedgerFacts, MisstatedTransaction, PostedBucket, PostedTotals, PurchaseSettlement, StoreResult,
    UnbalancedTransaction,
};

use crate::backend::{Backend, SqlRow};
use crate::decode;
use crate::sql::Sql;
use crate::statement::Statement;

static UNBALANCED: Sql = Sql::new(
    "SELECT transaction_id AS id, CAST(SUM(amount) AS BIGINT) AS total, COUNT(*) AS legs FROM credits.postings
     GROUP BY transaction_id HAVING SUM(amount) <> 0 OR COUNT(*) < 2
     UNION ALL
     SELECT id, 0, 0 FROM credits.transactions t
     WHERE NOT EXISTS (SELECT 1 FROM credits.postings p WHERE p.transaction_id = t.id)",
);
static MISSTATED: Sql = Sql::new(
    "SELECT t.id, t.amount, CAST(COALESCE(SUM(CASE WHEN p.user_id IS NOT NULL THEN p.amount END), 0) AS BIGINT) AS net
     FROM credits.transactions t LEFT JOIN credits.postings p ON p.transaction_id = t.id
     GROUP BY t.id, t.amount
     HAVING t.amount <> COALESCE(SUM(CASE WHEN p.user_id IS NOT NULL THEN p.amount END), 0)",
);
static POSTED: Sql = Sql::new(
    "SELECT user_id, account, CAST(SUM(amount) AS BIGINT) AS total FROM credits.postings
     WHERE user_id IS NOT NULL GROUP BY user_id, account",
);
static BALANCES: Sql = Sql::new(
    "SELECT user_id, daily, free, paid, owed, total_earned, total_spent, daily_reset_at, version FROM credits.balances",
);
static POSTED_TOTALS: Sql = Sql::new(
    "SELECT user_id,
            CAST(SUM(CASE WHEN kind NOT IN ('usage', 'expiry') THEN amount ELSE 0 END) AS BIGINT) AS earned,
            CAST(-SUM(CASE WHEN kind = 'usage' THEN amount ELSE 0 END) AS BIGINT) AS spent,
            CAST(-SUM(CASE WHEN kind = 'expiry' THEN amount ELSE 0 END) AS BIGINT) AS expired
     FROM credits.transactions GROUP BY user_id",
);
/// Days are UTC calendar days; the stores keep times differently, so each says how to take one.
static USAGE_FROM_LEDGER: Sql = Sql::each(
    "SELECT user_id, app_id, (created_at AT TIME ZONE 'UTC')::date AS day,
            CAST(-SUM(amount) AS BIGINT) AS credits_used, COUNT(*) AS uses
     FROM credits.transactions WHERE kind = 'usage' GROUP BY 1, 2, 3",
    "SELECT user_id, app_id, date(created_at / 1000000, 'unixepoch') AS day, -SUM(amount) AS credits_used,
            COUNT(*) AS uses
     FROM credit_transactions WHERE kind = 'usage' GROUP BY 1, 2, 3",
);
static USAGE_STATS: Sql = Sql::new("SELECT user_id, app_id, day, credits_used, uses FROM credits.usage_stats");

pub async fn read<B: Backend>(backend: &B) -> StoreResult<LedgerFacts> {
    let mut conn = backend.snapshot().await?;
    let unbalanced = B::fetch_all(&mut conn, Statement::new(&UNBALANCED)).await?;
    let misstated = B::fetch_all(&mut conn, Statement::new(&MISSTATED)).await?;
    let posted = B::fetch_all(&mut conn, Statement::new(&POSTED)).await?;
    let balances = B::fetch_all(&mut conn, Statement::new(&BALANCES)).await?;
    let totals = B::fetch_all(&mut conn, Statement::new(&POSTED_TOTALS)).await?;
    let usage = B::fetch_all(&mut conn, Statement::new(&USAGE_FROM_LEDGER)).await?;
    let stats = B::fetch_all(&mut conn, Statement::new(&USAGE_STATS)).await?;
    let purchases = B::fetch_all(&mut conn, Statement::new(&crate::payments::SETTLEMENTS)).await?;
    B::finish(conn).await?;

    let credits = |row: &B::Row, column: &str| row.int(column).map(Credits);
    Ok(LedgerFacts {
        unbalanced: unbalanced
            .iter()
            .map(|r| Ok(UnbalancedTransaction { id: r.id("id")?, sum: credits(r, "total")?, postings: r.int("legs")? }))
            .collect::<StoreResult<_>>()?,
        misstated: misstated
            .iter()
            .map(|r| {
                Ok(MisstatedTransaction { id: r.id("id")?, amount: credits(r, "amount")?, net: credits(r, "net")? })
            })
            .collect::<StoreResult<_>>()?,
        posted: posted
            .iter()
            .map(|r| {
                Ok(PostedBucket {
                    user: decode::user_id(r, "user_id")?,
                    bucket: decode::bucket(r)?,
                    total: credits(r, "total")?,
                })
            })
            .collect::<StoreResult<_>>()?,
        balances: balances
            .iter()
            .map(|r| decode::balance(r, decode::user_id(r, "user_id")?))
            .collect::<StoreResult<_>>()?,
        posted_totals: totals
            .iter()
            .map(|r| {
                Ok(PostedTotals {
                    user: decode::user_id(r, "user_id")?,
                    earned: credits(r, "earned")?,
                    spent: credits(r, "spent")?,
                    expired: credits(r, "expired")?,
                })
            })
            .collect::<StoreResult<_>>()?,
        usage_from_ledger: usage.iter().map(decode::usage_stat).collect::<StoreResult<_>>()?,
        usage_stats: stats.iter().map(decode::usage_stat).collect::<StoreResult<_>>()?,
        purchases: purchases
            .iter()
            .map(|r| Ok(PurchaseSettlement { purchase: decode::purchase(r)?, ledger_net: credits(r, "ledger_net")? }))
            .collect::<StoreResult<_>>()?,
    })
}
