//! The PostgreSQL backend: schemas `auth` and `credits`, for production.

mod connection;
mod convert;
mod credits;
mod events;
mod ledger_writes;
mod scope;
mod sessions;
pub mod testing;
mod users;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use mana_core::store::{Store, StoreError, StoreResult};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

pub use sqlx::migrate::MigrateError;
use sqlx::migrate::Migrator;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");
/// Any fixed number; shared by every instance migrating this database.
const MIGRATION_LOCK_ID: i64 = 0x6d61_6e61_6d69_6772;

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// The URL leads to a pooler in transaction mode (see `connection`).
    transaction_pooling: bool,
}

impl PostgresStore {
    /// `transaction_pooling`: `url` is a pooler in transaction mode, such as PgBouncer with
    /// `pool_mode = transaction`; statements then run only inside transactions.
    pub async fn connect(url: &str, max_connections: u32, transaction_pooling: bool) -> anyhow::Result<Self> {
        let mut options = PgConnectOptions::from_str(url)?.application_name("mana-core-auth");
        if transaction_pooling {
            // A statement cache would outlive the transaction that prepared it.
            options = options.statement_cache_capacity(0);
        }
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        Ok(Self { pool, transaction_pooling })
    }

    /// Applies pending migrations in one transaction, under a transaction-scoped advisory lock
    /// instead of sqlx's session lock: instances starting together still migrate one at a
    /// time, and nothing outlives the transaction, so it is safe through PgBouncer in
    /// transaction mode (a session lock taken there can stay stuck on a pooled server
    /// connection and hang the next start). A failing migration leaves nothing behind.
    pub async fn migrate(&self) -> Result<(), MigrateError> {
        let migrator = Migrator { migrations: MIGRATOR.migrations.clone(), locking: false, ..Migrator::DEFAULT };
        let mut tx = self.begin().await.map_err(|error| MigrateError::Source(error.into()))?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(MIGRATION_LOCK_ID).execute(&mut *tx).await?;
        // sqlx's own way around "Acquire is not general enough" for a borrowed connection.
        migrator.run_direct(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether every embedded migration has been applied.
    pub async fn migrations_applied(&self) -> anyhow::Result<bool> {
        let mut conn = self.conn().await?;
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(&mut *conn)
            .await
            .unwrap_or_default();
        conn.finish().await?;
        Ok(MIGRATOR.iter().all(|migration| applied.contains(&migration.version)))
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        sqlx::query("SELECT 1").execute(&mut *conn).await.map_err(store_error)?;
        conn.finish().await
    }

    fn backend_name(&self) -> &'static str {
        "postgres"
    }
}

fn store_error(error: sqlx::Error) -> StoreError {
    if is_unavailable(&error) {
        return StoreError::Unavailable(error.into());
    }
    // Serialization failures and deadlocks are lost races: the caller may retry.
    if let sqlx::Error::Database(db) = &error
        && matches!(db.code().as_deref(), Some("40001" | "40P01"))
    {
        return StoreError::Conflict { constraint: "serialization".into() };
    }
    if let sqlx::Error::Database(db) = &error
        && (db.is_unique_violation() || db.is_foreign_key_violation())
    {
        let constraint = db.constraint().unwrap_or("unknown").to_owned();
        return StoreError::Conflict { constraint };
    }
    StoreError::Other(error.into())
}

/// Failures of reach rather than of the request: no connection, a lost one, an exhausted
/// pool, a server shutting down or starting (SQLSTATE class 08 and 57P), or PgBouncer unable
/// to log in to it.
fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
        _ => false,
    }
}
