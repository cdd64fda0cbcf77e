//! The ledger tables refuse to be rewritten, whatever the caller.

// Test helpers outside #[test] functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use mana_store_conformance::{SharedStore, Tampering, create_user, each_tampering_is_found};
use mana_store_sqlite::SqliteBackend;
use std::sync::Arc;

#[tokio::test]
async fn ledger_rows_can_be_neither_changed_nor_deleted() {
    let store = SqliteBackend::in_memory().await.unwrap();
    store.migrate().await.unwrap();
    let shared: SharedStore = Arc::new(store.clone());
    create_user(&shared, "immutable@example.com").await;
    for statement in [
        "UPDATE credit_transactions SET amount = amount + 1",
        "DELETE FROM credit_transactions",
        "UPDATE credit_postings SET amount = 0",
        "DELETE FROM credit_postings",
    ] {
        let error = sqlx::query(statement).execute(store.pool()).await.unwrap_err().to_string();
        assert!(error.contains("immutable"), "{statement}: {error}");
    }
}

#[tokio::test]
async fn a_bucket_can_never_be_stored_negative() {
    let store = SqliteBackend::in_memory().await.unwrap();
    store.migrate().await.unwrap();
    let shared: SharedStore = Arc::new(store.clone());
    create_user(&shared, "negative@example.com").await;
    let error =
        sqlx::query("UPDATE credit_balances SET free = -1").execute(store.pool()).await.unwrap_err().to_string();
    assert!(error.contains("CHECK"), "{error}");
}

/// What the service keeps beside the ledger (balances, usage statistics) can be changed by
/// hand; `ledger verify` finds each such change.
#[tokio::test]
async fn ledger_verify_finds_each_change_made_behind_the_services_back() {
    let store = SqliteBackend::in_memory().await.unwrap();
    store.migrate().await.unwrap();
    let shared: SharedStore = Arc::new(store.clone());
    each_tampering_is_found(&shared, |tampering, user| {
        let pool = store.pool().clone();
        async move {
            let statement = match tampering {
                Tampering::RaisePaidBalance => "UPDATE credit_balances SET paid = paid + 1000 WHERE user_id = $1",
                Tampering::RaiseTotalEarned => "UPDATE credit_balances SET total_earned = total_earned + 5 WHERE user_id = $1",
                Tampering::LowerTotalSpent => "UPDATE credit_balances SET total_spent = total_spent - 1 WHERE user_id = $1",
                Tampering::RaiseUsage => "UPDATE credit_usage_stats SET credits_used = credits_used + 1 WHERE user_id = $1",
                Tampering::ForgetUsage => "DELETE FROM credit_usage_stats WHERE user_id = $1",
                Tampering::InventUsage => {
                    "INSERT INTO credit_usage_stats (user_id, app_id, day, credits_used, uses) VALUES ($1, 'ghost', '2020-01-01', 7, 1)"
                }
                Tampering::DeleteBalance => "DELETE FROM credit_balances WHERE user_id = $1",
            };
            let changed = sqlx::query(statement).bind(user.to_string()).execute(&pool).await.unwrap().rows_affected();
            assert_eq!(changed, 1, "{tampering:?}");
        }
    })
    .await;
}
