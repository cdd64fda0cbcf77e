//! The ledger tables refuse to be rewritten, whatever the caller.

// Test helpers outside #[test] functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use mana_store_conformance::{SharedStore, create_user};
use mana_store_postgres::testing::fresh_database;

#[tokio::test]
async fn ledger_rows_can_be_neither_changed_nor_deleted() {
    let (store, _) = fresh_database(2).await.unwrap();
    let shared: SharedStore = Arc::new(store.clone());
    create_user(&shared, "immutable@example.com").await;
    for statement in [
        "UPDATE credits.transactions SET amount = amount + 1",
        "DELETE FROM credits.transactions",
        "UPDATE credits.postings SET amount = 0",
        "DELETE FROM credits.postings",
    ] {
        let error = sqlx::query(statement).execute(store.pool()).await.unwrap_err().to_string();
        assert!(error.contains("immutable"), "{statement}: {error}");
    }
}

#[tokio::test]
async fn a_bucket_can_never_be_stored_negative() {
    let (store, _) = fresh_database(2).await.unwrap();
    let shared: SharedStore = Arc::new(store.clone());
    create_user(&shared, "negative@example.com").await;
    let error =
        sqlx::query("UPDATE credits.balances SET free = -1").execute(store.pool()).await.unwrap_err().to_string();
    assert!(error.contains("check constraint"), "{error}");
}
