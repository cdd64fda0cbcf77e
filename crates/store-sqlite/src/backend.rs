//! How the shared storage rules run on SQLite: values as the schema stores them (UUIDs and
//! days as text, times as microseconds since the epoch, JSON as text), and units of work that
//! take the single write lock up front. SQLite has no row-level security: acting for a user
//! needs nothing more than any read or write.

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::TryStreamExt;
use mana_core::ids::UserId;
use mana_core::store::{StoreError, StoreResult};
use mana_store_sql::{Backend, Conn, Dialect, SqlRow, Statement, Value, corrupt};
use sqlx::query::Query;
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Row, Sqlite};
use uuid::Uuid;

use crate::{SqliteBackend, store_error};

fn db<T>(result: Result<T, sqlx::Error>) -> StoreResult<T> {
    result.map_err(store_error)
}

fn bind<'q>(query: Query<'q, Sqlite, SqliteArguments<'q>>, value: Value) -> Query<'q, Sqlite, SqliteArguments<'q>> {
    match value {
        Value::Int(v) => query.bind(v),
        Value::Text(v) => query.bind(v),
        Value::Flag(v) => query.bind(v),
        Value::Bytes(v) => query.bind(v),
        Value::Id(v) => query.bind(v.map(|id| id.to_string())),
        Value::Time(v) => query.bind(v.map(|at| at.timestamp_micros())),
        Value::Day(v) => query.bind(v.to_string()),
        Value::Json(v) => query.bind(v.map(|json| json.to_string())),
    }
}

/// Runs `$method` (`fetch_all`, …) for `$statement` on `$conn`.
macro_rules! run {
    ($conn:expr, $statement:expr, $method:ident) => {{
        let text = $statement.text(Dialect::Sqlite);
        let query = $statement.into_args().into_iter().fold(sqlx::query(&text), bind);
        db(query.$method(&mut **$conn).await)
    }};
}

impl Backend for SqliteBackend {
    const DIALECT: Dialect = Dialect::Sqlite;
    type Conn = Conn<Sqlite>;
    type Row = SqliteRecord;

    async fn connection(&self) -> StoreResult<Self::Conn> {
        Ok(Conn::Pooled(db(self.pool.acquire().await)?))
    }

    async fn write(&self) -> StoreResult<Self::Conn> {
        Ok(Conn::Transaction(self.begin_write().await?))
    }

    async fn read_as(&self, _user: UserId) -> StoreResult<Self::Conn> {
        self.connection().await
    }

    async fn write_as(&self, _user: UserId) -> StoreResult<Self::Conn> {
        self.write().await
    }

    /// A plain read holds no lock that could be upgraded, so the write starts afresh (and takes
    /// the write lock at once).
    async fn continue_as_write(&self, read: Self::Conn, _user: UserId) -> StoreResult<Self::Conn> {
        drop(read);
        self.write().await
    }

    /// In WAL mode a read transaction sees one snapshot from its first read on.
    async fn snapshot(&self) -> StoreResult<Self::Conn> {
        Ok(Conn::Transaction(db(self.pool.begin().await)?))
    }

    async fn finish(conn: Self::Conn) -> StoreResult<()> {
        db(conn.finish().await)
    }

    async fn fetch_all(conn: &mut Self::Conn, statement: Statement) -> StoreResult<Vec<SqliteRecord>> {
        let rows = run!(conn, statement, fetch_all)?;
        Ok(rows.into_iter().map(SqliteRecord).collect())
    }

    async fn fetch_optional(conn: &mut Self::Conn, statement: Statement) -> StoreResult<Option<SqliteRecord>> {
        Ok(run!(conn, statement, fetch_optional)?.map(SqliteRecord))
    }

    async fn for_each(
        conn: &mut Self::Conn,
        statement: Statement,
        mut visit: impl FnMut(SqliteRecord) -> StoreResult<()> + Send,
    ) -> StoreResult<()> {
        let text = statement.text(Dialect::Sqlite);
        let query = statement.into_args().into_iter().fold(sqlx::query(&text), bind);
        let mut rows = query.fetch(&mut **conn);
        while let Some(row) = db(rows.try_next().await)? {
            visit(SqliteRecord(row))?;
        }
        Ok(())
    }

    async fn execute(conn: &mut Self::Conn, statement: Statement) -> StoreResult<u64> {
        Ok(run!(conn, statement, execute)?.rows_affected())
    }
}

/// A result row of SQLite.
pub struct SqliteRecord(SqliteRow);

impl SqliteRecord {
    fn get<T>(&self, column: &str) -> StoreResult<T>
    where
        T: for<'r> sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
    {
        db(self.0.try_get(column))
    }
}

fn time(micros: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros).ok_or_else(|| corrupt(format!("timestamp out of range: {micros}")))
}

fn id(text: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(text).map_err(|_| corrupt(format!("bad id {text:?}")))
}

impl SqlRow for SqliteRecord {
    mana_store_sql::plain_column_readers!();

    fn id(&self, column: &str) -> StoreResult<Uuid> {
        id(&self.get::<String>(column)?)
    }

    fn opt_id(&self, column: &str) -> StoreResult<Option<Uuid>> {
        self.get::<Option<String>>(column)?.as_deref().map(id).transpose()
    }

    fn time(&self, column: &str) -> StoreResult<DateTime<Utc>> {
        time(self.get(column)?)
    }

    fn opt_time(&self, column: &str) -> StoreResult<Option<DateTime<Utc>>> {
        self.get::<Option<i64>>(column)?.map(time).transpose()
    }

    fn day(&self, column: &str) -> StoreResult<NaiveDate> {
        let text: String = self.get(column)?;
        text.parse().map_err(|_| corrupt(format!("bad day {text:?}")))
    }

    fn opt_json(&self, column: &str) -> StoreResult<Option<serde_json::Value>> {
        let text: Option<String> = self.get(column)?;
        text.map(|text| serde_json::from_str(&text).map_err(|e| StoreError::Other(e.into()))).transpose()
    }
}
