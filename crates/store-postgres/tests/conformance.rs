//! The shared storage suite against PostgreSQL, each test on a fresh database.

// Test helpers outside #[test] functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use mana_store_conformance::{SharedStore, conformance_suite};
use mana_store_postgres::testing::fresh_database;

async fn fresh_store() -> SharedStore {
    let (store, _url) = fresh_database(8).await.expect("a PostgreSQL server for tests (see scripts/test)");
    Arc::new(store)
}

conformance_suite!(fresh_store);
