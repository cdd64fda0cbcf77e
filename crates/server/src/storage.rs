//! Picks the storage backend from the database URL's scheme. The only module that names the
//! concrete backends; everything else sees `Arc<dyn Store>`.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use mana_core::store::Store;
use mana_store_postgres::{PostgresBackend, PostgresStore};
use mana_store_sqlite::{SqliteBackend, SqliteStore};

#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Backend {
    /// `transaction_pooling`: a PostgreSQL URL that leads to a pooler in transaction mode.
    pub async fn open(url: &str, max_connections: u32, transaction_pooling: bool) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            create_parent_dir(url)?;
            let store = SqliteBackend::connect(url, max_connections)
                .await
                .context("DATABASE_URL: cannot open the SQLite database")?;
            Ok(Backend::Sqlite(store))
        } else {
            let store = PostgresBackend::connect(url, max_connections, transaction_pooling)
                .await
                .map_err(|error| anyhow::anyhow!("DATABASE_URL: {error}"))?;
            Ok(Backend::Postgres(store))
        }
    }

    /// Where the data lives, for the start-up summary: the SQLite file, or PostgreSQL's
    /// `user@host:port/database` (never a password).
    pub fn describe(&self, url: &str) -> String {
        match self {
            Backend::Sqlite(_) => format!("SQLite at {}", sqlite_path(url)),
            Backend::Postgres(_) => mana_store_postgres::describe_url(url),
        }
    }

    /// Whether the connection's role is exempt from row-level security (PostgreSQL only).
    pub async fn bypasses_row_level_security(&self) -> anyhow::Result<bool> {
        match self {
            Backend::Sqlite(_) => Ok(false),
            Backend::Postgres(store) => store.bypasses_row_level_security().await,
        }
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Backend::Sqlite(store) => store.migrate().await.context("applying SQLite migrations"),
            Backend::Postgres(store) => store.migrate().await.context("applying PostgreSQL migrations"),
        }
    }

    pub async fn migrations_applied(&self) -> anyhow::Result<bool> {
        match self {
            Backend::Sqlite(store) => store.migrations_applied().await,
            Backend::Postgres(store) => store.migrations_applied().await,
        }
    }

    /// (open connections, idle connections) of the pool.
    pub fn pool_state(&self) -> (u32, usize) {
        match self {
            Backend::Sqlite(store) => (store.pool().size(), store.pool().num_idle()),
            Backend::Postgres(store) => (store.pool().size(), store.pool().num_idle()),
        }
    }

    /// Waits for checked-out connections to return, then closes the pool.
    pub async fn close(&self) {
        match self {
            Backend::Sqlite(store) => store.pool().close().await,
            Backend::Postgres(store) => store.pool().close().await,
        }
    }

    pub fn store(&self) -> Arc<dyn Store> {
        match self {
            Backend::Sqlite(store) => Arc::new(store.clone()),
            Backend::Postgres(store) => Arc::new(store.clone()),
        }
    }
}

/// The file part of a `sqlite:` URL.
fn sqlite_path(url: &str) -> &str {
    let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
    path.split('?').next().unwrap_or_default()
}

/// SQLite creates the file but not its directory; `./data/` may not exist on a fresh checkout.
fn create_parent_dir(url: &str) -> anyhow::Result<()> {
    let path = sqlite_path(url);
    if path.is_empty() || path.starts_with(":memory:") {
        return Ok(());
    }
    if let Some(parent) = Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("DATABASE_URL: cannot create the directory {}", parent.display()))?;
    }
    Ok(())
}
