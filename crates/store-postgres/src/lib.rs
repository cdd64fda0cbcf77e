//! The PostgreSQL backend: schemas `auth` and `credits`, for production.

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

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let options = PgConnectOptions::from_str(url)?.application_name("mana-core-auth");
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }

    pub async fn migrate(&self) -> Result<(), MigrateError> {
        MIGRATOR.run(&self.pool).await
    }

    /// Whether every embedded migration has been applied.
    pub async fn migrations_applied(&self) -> anyhow::Result<bool> {
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(&self.pool)
            .await
            .unwrap_or_default();
        Ok(MIGRATOR.iter().all(|migration| applied.contains(&migration.version)))
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(store_error)?;
        Ok(())
    }

    fn backend_name(&self) -> &'static str {
        "postgres"
    }
}

fn store_error(error: sqlx::Error) -> StoreError {
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
