//! Fresh databases for tests: each test gets its own, so tests never see each other's rows.
//!
//! They are owned by, and used through, an ordinary role (`mana_owner`) rather than the server's
//! superuser, as in production: superusers bypass row-level security, so only an ordinary owner
//! shows that the forced policies let the service do its work.

use std::str::FromStr;

use anyhow::Context;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::{PostgresBackend, PostgresStore};

/// The role that owns test databases; its password only matters where the test server asks.
pub const OWNER_ROLE: &str = "mana_owner";
const OWNER_PASSWORD: &str = "mana_owner";

/// The server that tests use: `TEST_DATABASE_URL`, else the local default. Must be a role that
/// can create roles and databases.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Creates an empty database named `mana_test_<random>` owned by [`OWNER_ROLE`], migrates it as
/// that role, and returns a store connected as that role with its URL. The test script drops
/// leftovers before a run.
pub async fn fresh_database(max_connections: u32) -> anyhow::Result<(PostgresStore, String)> {
    let admin = PgConnectOptions::from_str(&admin_url()).context("TEST_DATABASE_URL is not a valid postgres URL")?;
    let name = format!("mana_test_{}", uuid::Uuid::new_v4().simple());
    let mut connection = admin.connect().await.context("cannot reach the test PostgreSQL server")?;
    // Tests create databases in parallel; the first to get here creates the role.
    sqlx::query(&format!(
        "DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{OWNER_ROLE}') THEN
                CREATE ROLE {OWNER_ROLE} LOGIN CREATEROLE PASSWORD '{OWNER_PASSWORD}';
            END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END $$"
    ))
    .execute(&mut connection)
    .await?;
    sqlx::query(&format!("CREATE DATABASE {name} OWNER {OWNER_ROLE}")).execute(&mut connection).await?;
    connection.close().await?;
    let owner = admin.database(&name).username(OWNER_ROLE).password(OWNER_PASSWORD);
    let url = owner.to_url_lossy().to_string();
    let store = PostgresBackend::connect(&url, max_connections, false).await?;
    store.migrate().await?;
    Ok((store, url))
}
