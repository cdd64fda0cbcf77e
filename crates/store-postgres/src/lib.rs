//! The PostgreSQL backend: schemas `auth` and `credits`, for production. The storage rules
//! themselves are `mana-store-sql`'s; this crate reaches the database (directly or through a
//! pooler), scopes statements made for one user by row-level security, and encodes values.

mod backend;
mod connection;
mod scope;
pub mod testing;

use std::str::FromStr;
use std::time::Duration;

use mana_core::store::StoreError;
use mana_store_sql::SqlStore;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

pub use sqlx::migrate::MigrateError;
use sqlx::migrate::Migrator;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");
/// Any fixed number; shared by every instance migrating this database.
const MIGRATION_LOCK_ID: i64 = 0x6d61_6e61_6d69_6772;

/// The service's store on PostgreSQL.
pub type PostgresStore = SqlStore<PostgresBackend>;

#[derive(Debug, Clone)]
pub struct PostgresBackend {
    pool: PgPool,
    /// The URL leads to a pooler in transaction mode (see `connection`).
    transaction_pooling: bool,
}

impl PostgresBackend {
    /// `transaction_pooling`: `url` is a pooler in transaction mode, such as PgBouncer with
    /// `pool_mode = transaction`; statements then run only inside transactions.
    ///
    /// One connection is made first, on its own, so that a failure says what went wrong
    /// (refused, unknown host, no such database, bad password) instead of the pool's "timed out
    /// while waiting for an open connection". Errors never contain the password.
    pub async fn connect(url: &str, max_connections: u32, transaction_pooling: bool) -> anyhow::Result<PostgresStore> {
        let mut options = PgConnectOptions::from_str(url)
            .map_err(|_| anyhow::anyhow!("not a valid PostgreSQL URL (postgres://user:password@host:port/database)"))?
            .application_name("mana-core-auth");
        if transaction_pooling {
            // A statement cache would outlive the transaction that prepared it.
            options = options.statement_cache_capacity(0);
        }
        let target = describe_target(&options);
        let first = tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await;
        match first {
            Err(_) => anyhow::bail!("{target}: no answer within {} s", CONNECT_TIMEOUT.as_secs()),
            Ok(Err(error)) => anyhow::bail!("{target}: {}", describe_connect_error(&error)),
            Ok(Ok(connection)) => drop(connection.close().await),
        }
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_lazy_with(options);
        Ok(SqlStore::new(Self { pool, transaction_pooling }))
    }

    /// Whether the role the service connects as is exempt from row-level security (a
    /// superuser, or a role with BYPASSRLS): then the per-user policies protect nothing.
    pub async fn bypasses_row_level_security(&self) -> anyhow::Result<bool> {
        let mut conn = self.conn().await?;
        let bypasses: bool =
            sqlx::query_scalar("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
                .fetch_one(&mut *conn)
                .await?;
        conn.finish().await?;
        Ok(bypasses)
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

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where `url` leads, as [`describe_target`] says it.
pub fn describe_url(url: &str) -> String {
    PgConnectOptions::from_str(url).map(|options| describe_target(&options)).unwrap_or_else(|_| "PostgreSQL".into())
}

/// `user@host:port/database`: where the service connects, never with the password.
fn describe_target(options: &PgConnectOptions) -> String {
    format!(
        "PostgreSQL {}@{}:{}/{}",
        options.get_username(),
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or(options.get_username())
    )
}

/// The cause of a failed connection, once: sqlx's `Database` errors repeat the server's
/// message in their source, and I/O errors hide the OS reason behind "error communicating".
fn describe_connect_error(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Io(io) => format!("cannot connect ({io})"),
        sqlx::Error::Database(db) => db.message().to_owned(),
        sqlx::Error::Tls(tls) => format!("TLS failed ({tls})"),
        other => other.to_string(),
    }
}

pub(crate) fn store_error(error: sqlx::Error) -> StoreError {
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
