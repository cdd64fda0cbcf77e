//! The shared storage suite against SQLite, each test on a fresh database file (a file, not
//! `:memory:`, so that concurrency tests see real locking between pooled connections).

// Test helpers outside #[test] functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use mana_store_conformance::{SharedStore, conformance_suite};
use mana_store_sqlite::SqliteBackend;

async fn fresh_store() -> SharedStore {
    let dir = std::env::temp_dir().join("mana-core-auth-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.db", uuid::Uuid::new_v4()));
    let store = SqliteBackend::connect(&format!("sqlite://{}", path.display()), 8).await.unwrap();
    store.migrate().await.unwrap();
    Arc::new(store)
}

conformance_suite!(fresh_store);
