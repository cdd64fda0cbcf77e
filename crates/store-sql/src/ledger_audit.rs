//! The ledger as `ledger verify` sees it: each fact read from one snapshot (so they all describe
//! the same ledger) and handed to the audit row by row, never held whole. The database does the
//! sums; the rules that compare them are the audit's.

use mana_core::credits::{Bucket, Credits};
use mana_core::store::{
    LedgerAudit, MisstatedTransaction, PostedTotals, PurchaseSettlement, StoreResult, UnbalancedTransaction,
    UsageComparison, UserLedger,
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
/// Each user's balance beside the sum of their postings per bucket (NULL where a bucket has
/// none) and their transactions summed by effect. Both sums are read from indexes that hold
/// their amounts, the postings' covering.
static USERS: Sql = Sql::new(
    "SELECT b.user_id, b.daily, b.free, b.paid, b.owed, b.total_earned, b.total_spent, b.daily_reset_at, b.version,
            p.daily AS posted_daily, p.free AS posted_free, p.paid AS posted_paid, p.owed AS posted_owed,
            COALESCE(t.earned, 0) AS earned, COALESCE(t.spent, 0) AS spent, COALESCE(t.expired, 0) AS expired
     FROM credits.balances b
     LEFT JOIN (
         SELECT user_id,
                CAST(SUM(CASE WHEN account = 'daily' THEN amount END) AS BIGINT) AS daily,
                CAST(SUM(CASE WHEN account = 'free' THEN amount END) AS BIGINT) AS free,
                CAST(SUM(CASE WHEN account = 'paid' THEN amount END) AS BIGINT) AS paid,
                CAST(SUM(CASE WHEN account = 'owed' THEN amount END) AS BIGINT) AS owed
         FROM credits.postings WHERE user_id IS NOT NULL GROUP BY user_id
     ) p ON p.user_id = b.user_id
     LEFT JOIN (
         SELECT user_id,
                CAST(SUM(CASE WHEN kind NOT IN ('usage', 'expiry') THEN amount ELSE 0 END) AS BIGINT) AS earned,
                CAST(-SUM(CASE WHEN kind = 'usage' THEN amount ELSE 0 END) AS BIGINT) AS spent,
                CAST(-SUM(CASE WHEN kind = 'expiry' THEN amount ELSE 0 END) AS BIGINT) AS expired
         FROM credits.transactions GROUP BY user_id
     ) t ON t.user_id = b.user_id",
);
/// Buckets with postings of users without a balance (none, while the ledger is sound).
static POSTINGS_WITHOUT_BALANCE: Sql = Sql::new(
    "SELECT DISTINCT user_id, account FROM credits.postings p
     WHERE user_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM credits.balances b WHERE b.user_id = p.user_id)",
);
/// Usage per user, app and UTC day from the usage transactions beside the statistics. Days are
/// UTC calendar days; the stores keep times differently, so each says how to take one.
static USAGE: Sql = Sql::each(
    "SELECT COALESCE(l.user_id, s.user_id) AS user_id, COALESCE(l.app_id, s.app_id) AS app_id,
            COALESCE(l.day, s.day) AS day, l.credits_used AS ledger_credits, l.uses AS ledger_uses,
            s.credits_used AS stats_credits, s.uses AS stats_uses
     FROM (
         SELECT user_id, app_id, (created_at AT TIME ZONE 'UTC')::date AS day,
                CAST(-SUM(amount) AS BIGINT) AS credits_used, COUNT(*) AS uses
         FROM credits.transactions WHERE kind = 'usage' GROUP BY 1, 2, 3
     ) l
     FULL JOIN credits.usage_stats s ON s.user_id = l.user_id AND s.app_id = l.app_id AND s.day = l.day",
    "SELECT COALESCE(l.user_id, s.user_id) AS user_id, COALESCE(l.app_id, s.app_id) AS app_id,
            COALESCE(l.day, s.day) AS day, l.credits_used AS ledger_credits, l.uses AS ledger_uses,
            s.credits_used AS stats_credits, s.uses AS stats_uses
     FROM (
         SELECT user_id, app_id, date(created_at / 1000000, 'unixepoch') AS day, -SUM(amount) AS credits_used,
                COUNT(*) AS uses
         FROM credit_transactions WHERE kind = 'usage' GROUP BY 1, 2, 3
     ) l
     FULL JOIN credit_usage_stats s ON s.user_id = l.user_id AND s.app_id = l.app_id AND s.day = l.day",
);

pub async fn audit<B: Backend>(backend: &B, audit: &mut dyn LedgerAudit) -> StoreResult<()> {
    let credits = |row: &B::Row, column: &str| row.int(column).map(Credits);
    let mut conn = backend.snapshot().await?;
    B::for_each(&mut conn, Statement::new(&UNBALANCED), |r| {
        audit.unbalanced(UnbalancedTransaction {
            id: r.id("id")?,
            sum: credits(&r, "total")?,
            postings: r.int("legs")?,
        });
        Ok(())
    })
    .await?;
    B::for_each(&mut conn, Statement::new(&MISSTATED), |r| {
        audit.misstated(MisstatedTransaction {
            id: r.id("id")?,
            amount: credits(&r, "amount")?,
            net: credits(&r, "net")?,
        });
        Ok(())
    })
    .await?;
    B::for_each(&mut conn, Statement::new(&USERS), |r| {
        let balance = decode::balance(&r, decode::user_id(&r, "user_id")?)?;
        let mut posted = Vec::new();
        for bucket in Bucket::ALL {
            if let Some(sum) = r.opt_int(&format!("posted_{}", bucket.as_str()))? {
                posted.push((bucket, Credits(sum)));
            }
        }
        let totals = PostedTotals {
            earned: credits(&r, "earned")?,
            spent: credits(&r, "spent")?,
            expired: credits(&r, "expired")?,
        };
        audit.user(UserLedger { balance, posted, totals });
        Ok(())
    })
    .await?;
    B::for_each(&mut conn, Statement::new(&POSTINGS_WITHOUT_BALANCE), |r| {
        audit.postings_without_balance(decode::user_id(&r, "user_id")?, decode::bucket(&r)?);
        Ok(())
    })
    .await?;
    B::for_each(&mut conn, Statement::new(&USAGE), |r| {
        let side = |credits: &str, uses: &str| -> StoreResult<Option<(Credits, i64)>> {
            Ok(r.opt_int(credits)?.zip(r.opt_int(uses)?).map(|(c, n)| (Credits(c), n)))
        };
        audit.usage(UsageComparison {
            user: decode::user_id(&r, "user_id")?,
            app: decode::app_id(&r.text("app_id")?)?,
            day: r.day("day")?,
            ledger: side("ledger_credits", "ledger_uses")?,
            stats: side("stats_credits", "stats_uses")?,
        });
        Ok(())
    })
    .await?;
    B::for_each(&mut conn, Statement::new(&crate::payments::SETTLEMENTS), |r| {
        audit.purchase(PurchaseSettlement { purchase: decode::purchase(&r)?, ledger_net: credits(&r, "ledger_net")? });
        Ok(())
    })
    .await?;
    B::finish(conn).await
}
