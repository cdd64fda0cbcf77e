//! Fresh databases for tests: each test gets its own, so tests never see each other's rows.

use std::str::FromStr;

use anyhow::Context;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::PostgresStore;

/// The server that tests use: `TEST_DATABASE_URL`, else the local default.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Creates an empty database named `mana_test_<random>` on the test server, migrates it, and
/// returns a store connected to it with its URL. The test script drops leftovers before a run.
pub async fn fresh_database(max_connections: u32) -> anyhow::Result<(PostgresStore, String)> {
    let admin = PgConnectOptions::from_str(&admin_url()).context("TEST_DATABASE_URL is not a valid postgres URL")?;
    let name = format!("mana_test_{}", uuid::Uuid::new_v4().simple());
    let mut connection = admin.connect().await.context("cannot reach the test PostgreSQL server")?;
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut connection).await?;
    connection.close().await?;
    let url = admin.database(&name).to_url_lossy().to_string();
    let store = PostgresStore::connect(&url, max_connections).await?;
    store.migrate().await?;
    Ok((store, url))
}
