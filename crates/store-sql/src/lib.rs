//! The storage rules of mana-core-auth, written once for every SQL backend.
//!
//! Each rule (which statements a store call runs, in which unit of work, and how rows become
//! domain values) lives here, over a [`Backend`]: the dialect-specific part that each backend
//! crate supplies (reaching its database, encoding values as its schema stores them, row-level
//! security, locking). The SQL itself is written in PostgreSQL's spelling and rendered for
//! SQLite by [`sql`].
//!
//! Adding a table: its `CREATE TABLE` in each backend's migrations, its statements and decoding
//! here, one `impl` of the store trait here.

mod admin;
mod backend;
mod credits;
mod decode;
mod events;
mod identities;
mod ledger_audit;
mod ledger_writes;
mod lifecycle;
mod mfa;
mod payments;
mod retention;
mod sessions;
pub mod sql;
mod statement;
mod users;

use std::ops::Deref;

use async_trait::async_trait;
use mana_core::ids::UserId;
use mana_core::store::Store;

pub use backend::{Backend, Conn, SqlRow};
pub use decode::corrupt;
/// For [`plain_column_readers!`].
pub use mana_core::store::StoreResult;
pub use sql::{Dialect, Sql};
pub use statement::{Statement, Value};

/// The service's store on any [`Backend`]; derefs to the backend for what only it offers
/// (migrations, its pool).
#[derive(Debug, Clone)]
pub struct SqlStore<B> {
    backend: B,
}

impl<B: Backend> SqlStore<B> {
    pub fn new(backend: B) -> Self {
        Self { backend }
    }

    /// One statement on a connection of its own.
    async fn execute(&self, statement: Statement) -> StoreResult<u64> {
        let mut conn = self.backend.connection().await?;
        let affected = B::execute(&mut conn, statement).await?;
        B::finish(conn).await?;
        Ok(affected)
    }

    async fn fetch_optional(&self, statement: Statement) -> StoreResult<Option<B::Row>> {
        let mut conn = self.backend.connection().await?;
        let row = B::fetch_optional(&mut conn, statement).await?;
        B::finish(conn).await?;
        Ok(row)
    }

    async fn fetch_all(&self, statement: Statement) -> StoreResult<Vec<B::Row>> {
        let mut conn = self.backend.connection().await?;
        let rows = B::fetch_all(&mut conn, statement).await?;
        B::finish(conn).await?;
        Ok(rows)
    }

    /// One read made for `user`, who sees only their own rows.
    async fn fetch_all_as(&self, user: UserId, statement: Statement) -> StoreResult<Vec<B::Row>> {
        let mut conn = self.backend.read_as(user).await?;
        let rows = B::fetch_all(&mut conn, statement).await?;
        B::finish(conn).await?;
        Ok(rows)
    }
}

impl<B> Deref for SqlStore<B> {
    type Target = B;

    fn deref(&self) -> &B {
        &self.backend
    }
}

static PING: Sql = Sql::new("SELECT 1");

#[async_trait]
impl<B: Backend> Store for SqlStore<B> {
    async fn ping(&self) -> StoreResult<()> {
        self.execute(Statement::new(&PING)).await?;
        Ok(())
    }

    fn backend_name(&self) -> &'static str {
        B::DIALECT.name()
    }
}
