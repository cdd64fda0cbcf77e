//! Stripe webhook throughput on PostgreSQL: signed `checkout.session.completed` events, each
//! delivered twice (so half the deliveries are redeliveries, which must change nothing), against
//! pending purchases of 64 users; and pgbench running the same SQL as its limit.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context;
use mana_core::payments::signature_header;
use serde_json::json;
use sqlx::{Connection, Executor, Row};

use crate::limits::{PgbenchResult, run_pgbench, scratch_postgres, seed_users};
use crate::load::{Call, Stats, closed_loop};
use crate::server::Server;

const SECRET: &str = "whsec_bench";

pub struct WebhookRun {
    pub stats: Stats,
    /// Events applied (first deliveries) as the database counts them.
    pub applied: i64,
    pub pgbench: PgbenchResult,
    /// Whether every applied event credited its purchase once (balances = 1,100 × applied).
    pub credited_once: bool,
}

/// Per delivery in the pgbench script (after `\set p random(1, <purchases>)`): half apply a new
/// event to a purchase, half find the event recorded already. The statements are the service's
/// (`store-sql/src/payments.rs`), without its decisions: every "new" event credits.
const PGBENCH_WEBHOOK: &str = r#"
\set redelivery random(0, 1)
SELECT id AS pid, user_id AS uid FROM bench_purchases WHERE n = :p \gset
BEGIN;
SELECT id, user_id, status, paid, credits_granted FROM credits.purchases WHERE id = :pid FOR UPDATE;
\if :redelivery
INSERT INTO credits.stripe_events (id, type, purchase_id, received_at) VALUES ('evt_seen', 'checkout.session.completed', NULL, now())
ON CONFLICT (id) DO NOTHING;
\else
SELECT gen_random_uuid() AS eid \gset
INSERT INTO credits.stripe_events (id, type, purchase_id, received_at) VALUES (:eid, 'checkout.session.completed', :pid, now())
ON CONFLICT (id) DO NOTHING;
SELECT b.daily, b.free, b.paid, b.owed, b.total_earned, b.total_spent, b.daily_reset_at, b.version
FROM credits.balances b WHERE b.user_id = :uid FOR UPDATE OF b;
UPDATE credits.balances SET paid = paid + 1100, total_earned = total_earned + 1100, version = version + 1, updated_at = now()
WHERE user_id = :uid;
SELECT gen_random_uuid() AS tid \gset
INSERT INTO credits.transactions (id, user_id, kind, amount, balance_after, app_id, description, metadata, created_at, purchase_id)
VALUES (:tid, :uid, 'purchase', 1100, 0, NULL, 'Purchase of 1100 credits', NULL, now(), :pid);
INSERT INTO credits.postings (transaction_id, user_id, account, amount)
VALUES (:tid, :uid, 'paid', 1100), (:tid, NULL, 'purchases', -1100);
UPDATE credits.purchases SET status = 'succeeded', paid = true, credits_granted = 1100, completed_at = now(), updated_at = now()
WHERE id = :pid;
\endif
COMMIT;
"#;

pub async fn stripe_webhooks(admin_url: &str, seconds: u64) -> anyhow::Result<WebhookRun> {
    let (url, drop_database) = scratch_postgres(admin_url, "mana_bench_webhooks").await?;
    let result = run(&url, seconds).await;
    drop_database.await;
    result
}

async fn run(url: &str, seconds: u64) -> anyhow::Result<WebhookRun> {
    let environment = [
        ("STRIPE_SECRET_KEY", "sk_test_bench".to_owned()),
        ("STRIPE_WEBHOOK_SECRETS", SECRET.to_owned()),
        // Events name their purchase in the metadata: Stripe is never asked.
        ("STRIPE_API_BASE", "http://127.0.0.1:9".to_owned()),
        ("CHECKOUT_SUCCESS_URL", "https://app.bench/ok".to_owned()),
        ("CHECKOUT_CANCEL_URL", "https://app.bench/no".to_owned()),
    ];
    let server = Server::start(Some(url.to_owned()), 4, None, &environment).await?;
    let mut db = sqlx::PgConnection::connect(url).await?;
    seed_users(&mut db, "hook", 0).await?;
    // More pending purchases than the run can pay for.
    let purchases: Vec<String> = sqlx::query(
        "INSERT INTO credits.purchases
             (id, user_id, package_id, credits, amount_cents, currency, status, flow, created_at, updated_at)
         SELECT gen_random_uuid(), u.id, 'standard', 1100, 1000, 'EUR', 'pending', 'checkout', now(), now()
         FROM bench_users u, generate_series(1, $1) RETURNING id::text",
    )
    .bind(i32::try_from(seconds * 60).unwrap_or(i32::MAX))
    .fetch_all(&mut db)
    .await?
    .iter()
    .map(|row| row.get::<String, _>(0))
    .collect();

    let (http, endpoint) = (reqwest::Client::new(), format!("{}/api/v1/webhooks/stripe", server.base));
    let purchases = Arc::new(purchases);
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<Call> = (0..32)
        .map(|_| {
            let (http, endpoint, purchases, next) = (http.clone(), endpoint.clone(), purchases.clone(), next.clone());
            let call: Call = Box::new(move || {
                let (http, endpoint, purchases, next) =
                    (http.clone(), endpoint.clone(), purchases.clone(), next.clone());
                Box::pin(async move {
                    // Deliveries 2k and 2k+1 carry the same event: the second is a redelivery.
                    let n = next.fetch_add(1, Ordering::Relaxed) / 2;
                    let Some(purchase) = purchases.get(n) else { return false };
                    let body = json!({"id": format!("evt_bench_{n}"), "object": "event",
                        "type": "checkout.session.completed",
                        "data": {"object": {"id": format!("cs_bench_{n}"), "object": "checkout.session",
                            "payment_status": "paid", "payment_intent": null,
                            "metadata": {"purchase_id": purchase}}}})
                    .to_string();
                    let signature = signature_header(body.as_bytes(), SECRET, chrono::Utc::now().timestamp());
                    let sent = http
                        .post(&endpoint)
                        .header("content-type", "application/json")
                        .header("stripe-signature", signature)
                        .body(body)
                        .send()
                        .await;
                    sent.is_ok_and(|r| r.status().is_success())
                })
            });
            call
        })
        .collect();
    let stats = closed_loop(workers, Duration::from_secs(seconds)).await;
    server.stop().await;

    let row = sqlx::query(
        "SELECT (SELECT count(*) FROM credits.stripe_events) AS applied,
                (SELECT CAST(COALESCE(SUM(paid), 0) AS BIGINT) FROM credits.balances) AS paid",
    )
    .fetch_one(&mut db)
    .await?;
    let (applied, paid): (i64, i64) = (row.try_get("applied")?, row.try_get("paid")?);
    db.execute(
        "CREATE TABLE bench_purchases AS SELECT row_number() OVER () AS n, id, user_id FROM credits.purchases;
         CREATE UNIQUE INDEX ON bench_purchases (n);",
    )
    .await?;
    db.close().await?;
    let script = format!("\\set p random(1, {})\n{PGBENCH_WEBHOOK}", purchases.len());
    let pgbench = run_pgbench(url, 32, seconds, &script).await.context("pgbench of the webhook SQL")?;
    Ok(WebhookRun { stats, applied, pgbench, credited_once: paid == applied * 1100 })
}
