//! The SQLite backend: the embedded default, one file, WAL mode. The storage rules themselves
//! are `mana-store-sql`'s; this crate reaches the database and encodes values the way its
//! schema stores them.

mod backend;

use std::str::FromStr;
use std::time::Duration;

use mana_core::store::{StoreError, StoreResult};
use mana_store_sql::SqlStore;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{SqlitePool, Transaction};

pub use sqlx::migrate::MigrateError;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The service's store on SQLite.
pub type SqliteStore = SqlStore<SqliteBackend>;

#[derive(Debug, Clone)]
pub struct SqliteBackend {
    pool: SqlitePool,
}

impl SqliteBackend {
    /// Opens (and creates, if missing) the database at a `sqlite:` URL.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL is durable across application crashes in WAL mode; only an OS crash or
            // power loss can drop the last transactions.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new().max_connections(max_connections.max(1)).connect_with(options).await?;
        Ok(SqlStore::new(Self { pool }))
    }

    /// A private in-memory database, for tests.
    pub async fn in_memory() -> anyhow::Result<SqliteStore> {
        // One connection: every connection to `:memory:` would be a separate database.
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await?;
        Ok(SqlStore::new(Self { pool }))
    }

    pub async fn migrate(&self) -> Result<(), MigrateError> {
        MIGRATOR.run(&self.pool).await
    }

    /// Whether every embedded migration has been applied.
    pub async fn migrations_applied(&self) -> anyhow::Result<bool> {
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success = 1")
            .fetch_all(&self.pool)
            .await
            .unwrap_or_default();
        Ok(MIGRATOR.iter().all(|migration| applied.contains(&migration.version)))
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// A write transaction that takes the database's write lock at once, so that it can never
    /// fail half-way on a lock upgrade.
    pub(crate) async fn begin_write(&self) -> StoreResult<Transaction<'static, sqlx::Sqlite>> {
        self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(store_error)
    }
}

/// SQLite names the violated columns, not the index; map them to the shared constraint names.
pub(crate) fn store_error(error: sqlx::Error) -> StoreError {
    // Every connection busy for longer than the pool waits: retry later.
    if matches!(error, sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed) {
        return StoreError::Unavailable(error.into());
    }
    // SQLITE_BUSY and its variants: another writer held the lock too long; the caller may retry.
    if let sqlx::Error::Database(db) = &error
        && matches!(db.code().as_deref(), Some("5" | "261" | "517"))
    {
        return StoreError::Conflict { constraint: "database busy".into() };
    }
    if let sqlx::Error::Database(db) = &error
        && (db.is_unique_violation() || db.is_foreign_key_violation())
    {
        let constraint = match db.message() {
            m if m.contains("users.email") => mana_core::store::USERS_EMAIL_CONSTRAINT.to_owned(),
            m if m.contains("accounts.provider, accounts.provider_account_id") => {
                mana_core::store::IDENTITY_CONSTRAINT.to_owned()
            }
            m => m.trim_start_matches("UNIQUE constraint failed: ").to_owned(),
        };
        return StoreError::Conflict { constraint };
    }
    StoreError::Other(error.into())
}
