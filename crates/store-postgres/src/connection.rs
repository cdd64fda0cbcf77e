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

use std::ops::{Deref, DerefMut};

use mana_core::store::StoreResult;
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, Postgres, Transaction};

use crate::PostgresStore;
use crate::convert::db;

/// A connection for one operation; [`Conn::finish`] ends it.
pub enum Conn {
    Pooled(PoolConnection<Postgres>),
    Pinned(Transaction<'static, Postgres>),
}

impl Conn {
    /// Commits the pinning transaction, if there is one.
    pub async fn finish(self) -> StoreResult<()> {
        match self {
            Conn::Pooled(_) => Ok(()),
            Conn::Pinned(tx) => db(tx.commit().await),
        }
    }
}

impl Deref for Conn {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        match self {
            Conn::Pooled(conn) => conn,
            Conn::Pinned(tx) => tx,
        }
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut PgConnection {
        match self {
            Conn::Pooled(conn) => conn,
            Conn::Pinned(tx) => tx,
        }
    }
}

impl PostgresStore {
    /// A transaction, ready for statements under either pooling.
    pub(crate) async fn begin(&self) -> StoreResult<Transaction<'static, Postgres>> {
        self.begin_with(None).await
    }

    /// A transaction whose first statements are `setup`, sent with `BEGIN` in one simple-query
    /// round trip (which is why `setup` must be fixed SQL, never text from a client).
    pub(crate) async fn begin_with(&self, setup: Option<&str>) -> StoreResult<Transaction<'static, Postgres>> {
        let pooler_reset = if self.transaction_pooling { "DEALLOCATE ALL;" } else { "" };
        if pooler_reset.is_empty() && setup.is_none() {
            return db(self.pool.begin().await);
        }
        let statement = format!("BEGIN; {pooler_reset} {}", setup.unwrap_or_default());
        db(self.pool.begin_with(statement).await)
    }

    /// A connection for statements that need no transaction of their own.
    pub(crate) async fn conn(&self) -> StoreResult<Conn> {
        if self.transaction_pooling {
            Ok(Conn::Pinned(self.begin().await?))
        } else {
            Ok(Conn::Pooled(db(self.pool.acquire().await)?))
        }
    }
}
