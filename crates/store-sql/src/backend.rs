//! What a backend supplies: how to reach its database, how to run a [`Statement`] there and
//! how to read a column back. Everything else (which statements, in which transactions, and
//! what their rows mean) is written once in this crate.

use std::future::Future;
use std::ops::{Deref, DerefMut};

use chrono::{DateTime, NaiveDate, Utc};
use mana_core::ids::UserId;
use mana_core::store::StoreResult;
use sqlx::pool::PoolConnection;
use sqlx::{Database, Transaction};
use uuid::Uuid;

use crate::sql::Dialect;
use crate::statement::Statement;

/// A database the storage rules can run on.
///
/// Units of work come in five kinds, because the backends differ in what they must do before
/// the first statement: PostgreSQL scopes statements made for one user by row-level security,
/// SQLite takes its single write lock up front so that a write can never fail half-way on a
/// lock upgrade.
pub trait Backend: Send + Sync + 'static {
    const DIALECT: Dialect;
    /// A connection for one unit of work, possibly inside a transaction.
    type Conn: Send;
    type Row: SqlRow + Send + Sync;

    /// For statements that act for nobody in particular and need no transaction.
    fn connection(&self) -> impl Future<Output = StoreResult<Self::Conn>> + Send;
    /// A transaction that will write.
    fn write(&self) -> impl Future<Output = StoreResult<Self::Conn>> + Send;
    /// Reads made for `user`, who may see only their own rows.
    fn read_as(&self, user: UserId) -> impl Future<Output = StoreResult<Self::Conn>> + Send;
    /// A transaction that writes for `user`.
    fn write_as(&self, user: UserId) -> impl Future<Output = StoreResult<Self::Conn>> + Send;
    /// Turns what [`Backend::read_as`] gave into a transaction that can write for `user`.
    fn continue_as_write(&self, read: Self::Conn, user: UserId)
    -> impl Future<Output = StoreResult<Self::Conn>> + Send;
    /// A read-only transaction over one consistent snapshot of every table.
    fn snapshot(&self) -> impl Future<Output = StoreResult<Self::Conn>> + Send;
    /// Ends the unit of work, committing its transaction if it has one.
    fn finish(conn: Self::Conn) -> impl Future<Output = StoreResult<()>> + Send;

    fn fetch_all(
        conn: &mut Self::Conn,
        statement: Statement,
    ) -> impl Future<Output = StoreResult<Vec<Self::Row>>> + Send;
    fn fetch_optional(
        conn: &mut Self::Conn,
        statement: Statement,
    ) -> impl Future<Output = StoreResult<Option<Self::Row>>> + Send;
    /// Hands each result row to `visit` as it arrives, so that a large result is never held
    /// whole; the first error (the database's or `visit`'s) ends it.
    fn for_each(
        conn: &mut Self::Conn,
        statement: Statement,
        visit: impl FnMut(Self::Row) -> StoreResult<()> + Send,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Returns the number of rows affected.
    fn execute(conn: &mut Self::Conn, statement: Statement) -> impl Future<Output = StoreResult<u64>> + Send;
}

/// Reads the columns of a result row as the values the domain uses; each backend decodes them
/// from the types its schema stores.
pub trait SqlRow {
    fn int(&self, column: &str) -> StoreResult<i64>;
    fn opt_int(&self, column: &str) -> StoreResult<Option<i64>>;
    fn int32(&self, column: &str) -> StoreResult<i32>;
    fn flag(&self, column: &str) -> StoreResult<bool>;
    fn text(&self, column: &str) -> StoreResult<String>;
    fn opt_text(&self, column: &str) -> StoreResult<Option<String>>;
    fn bytes(&self, column: &str) -> StoreResult<Vec<u8>>;
    fn opt_bytes(&self, column: &str) -> StoreResult<Option<Vec<u8>>>;
    fn id(&self, column: &str) -> StoreResult<Uuid>;
    fn opt_id(&self, column: &str) -> StoreResult<Option<Uuid>>;
    fn time(&self, column: &str) -> StoreResult<DateTime<Utc>>;
    fn opt_time(&self, column: &str) -> StoreResult<Option<DateTime<Utc>>>;
    fn day(&self, column: &str) -> StoreResult<NaiveDate>;
    fn opt_json(&self, column: &str) -> StoreResult<Option<serde_json::Value>>;
}

/// Expands, inside an `impl SqlRow for R`, to the readers of the columns every driver decodes
/// alike (integers, flags, text, bytes), each through `R::get(&self, column)`.
#[macro_export]
macro_rules! plain_column_readers {
    () => {
        $crate::plain_column_readers!(int: i64, opt_int: Option<i64>, int32: i32, flag: bool, text: String, opt_text: Option<String>,
            bytes: Vec<u8>, opt_bytes: Option<Vec<u8>>);
    };
    ($($name:ident: $type:ty),*) => {
        $(
            fn $name(&self, column: &str) -> $crate::StoreResult<$type> {
                self.get(column)
            }
        )*
    };
}

/// A pooled connection, or one held inside a transaction: what both backends' units of work
/// are made of.
pub enum Conn<DB: Database> {
    Pooled(PoolConnection<DB>),
    Transaction(Transaction<'static, DB>),
}

impl<DB: Database> Conn<DB> {
    /// Commits the transaction, if there is one.
    pub async fn finish(self) -> Result<(), sqlx::Error> {
        match self {
            Conn::Pooled(_) => Ok(()),
            Conn::Transaction(tx) => tx.commit().await,
        }
    }
}

impl<DB: Database> Deref for Conn<DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &DB::Connection {
        match self {
            Conn::Pooled(conn) => conn,
            Conn::Transaction(tx) => tx,
        }
    }
}

impl<DB: Database> DerefMut for Conn<DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        match self {
            Conn::Pooled(conn) => conn,
            Conn::Transaction(tx) => tx,
        }
    }
}
