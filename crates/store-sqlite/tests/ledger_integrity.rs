//! The ledger tables refuse to be rewritten, whatever the caller.

// Test helpers outside #[test] functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use mana_store_conformance::{SharedStore, create_user};
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
