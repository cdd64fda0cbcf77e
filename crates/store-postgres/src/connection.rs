//! How the store reaches PostgreSQL: straight from its pool, or, behind a pooler in
//! transaction mode (PgBouncer before 1.21, which cannot follow prepared statements from one
//! server connection to another), only ever inside a transaction.
//!
//! sqlx prepares every statement, Parse and Sync first, then Bind, Execute and Sync. Between
//! the two a transaction-mode pooler may hand the client another server connection, where the
//! statement does not exist. Inside a transaction the server connection is pinned, so with
//! transaction pooling on, a lone statement gets a transaction of its own; and each
//! transaction starts with `DEALLOCATE ALL`, clearing what earlier clients of that server
//! connection left prepared there, so the statement names sqlx picks cannot collide.

use mana_core::store::StoreResult;
use mana_store_sql::Conn;
use sqlx::{Postgres, Transaction};

use crate::{PostgresBackend, store_error};

impl PostgresBackend {
    /// A transaction, ready for statements under either pooling.
    pub(crate) async fn begin(&self) -> StoreResult<Transaction<'static, Postgres>> {
        self.begin_with(None).await
    }

    /// A transaction whose first statements are `setup`, sent with `BEGIN` in one simple-query
    /// round trip (which is why `setup` must be fixed SQL, never text from a client).
    pub(crate) async fn begin_with(&self, setup: Option<&str>) -> StoreResult<Transaction<'static, Postgres>> {
        let pooler_reset = if self.transaction_pooling { "DEALLOCATE ALL;" } else { "" };
        if pooler_reset.is_empty() && setup.is_none() {
            return self.pool.begin().await.map_err(store_error);
        }
        let statement = format!("BEGIN; {pooler_reset} {}", setup.unwrap_or_default());
        self.pool.begin_with(statement).await.map_err(store_error)
    }

    /// A connection for statements that need no transaction of their own.
    pub(crate) async fn conn(&self) -> StoreResult<Conn<Postgres>> {
        if self.transaction_pooling {
            Ok(Conn::Transaction(self.begin().await?))
        } else {
            Ok(Conn::Pooled(self.pool.acquire().await.map_err(store_error)?))
        }
    }
}
