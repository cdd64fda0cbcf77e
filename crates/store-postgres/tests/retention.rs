//! Instances sharing one PostgreSQL database take turns pruning: while one prunes, another's
//! prune does nothing and says so.

// Test helpers outside #[test] functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use mana_core::store::{PruneCutoffs, RetentionStore};
use mana_store_postgres::PostgresBackend;
use mana_store_postgres::testing::fresh_database;

#[tokio::test]
async fn a_second_instance_skips_pruning_while_the_first_prunes() {
    let (first, url) = fresh_database(2).await.unwrap();
    let second = PostgresBackend::connect(&url, 2, false).await.unwrap();
    let now = chrono::Utc::now();
    let cutoffs = PruneCutoffs { now, idempotency_before: now, events_before: now };

    // Hold a lock on the last table a prune deletes from, so that the first prune stays inside
    // its transaction until this one ends.
    let mut blocker = first.pool().begin().await.unwrap();
    sqlx::query("LOCK TABLE auth.security_events IN ACCESS EXCLUSIVE MODE").execute(&mut *blocker).await.unwrap();
    let pruning = {
        let first = first.clone();
        tokio::spawn(async move { first.prune(cutoffs).await })
    };
    let mut waited = Duration::ZERO;
    loop {
        let stuck: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE wait_event_type = 'Lock' AND query LIKE 'DELETE FROM auth.security_events%'",
        )
        .fetch_one(second.pool())
        .await
        .unwrap();
        if stuck == 1 {
            break;
        }
        assert!(waited < Duration::from_secs(10), "the first prune never reached the locked table");
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += Duration::from_millis(20);
    }

    assert_eq!(second.prune(cutoffs).await.unwrap(), None, "the second instance skips its turn");
    blocker.rollback().await.unwrap();
    let report = pruning.await.unwrap().unwrap();
    assert!(report.is_some(), "the first instance finished its prune");
    assert!(second.prune(cutoffs).await.unwrap().is_some(), "once it is done, the next prune runs");
}
