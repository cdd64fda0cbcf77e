//! How the shared storage rules run on PostgreSQL: native `uuid`, `timestamptz`, `date` and
//! `jsonb` values; statements made for one user inside a transaction scoped to them by
//! row-level security; and, behind a transaction-mode pooler, every statement inside a
//! transaction (see `connection`).

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::TryStreamExt;
use mana_core::ids::UserId;
use mana_core::store::StoreResult;
use mana_store_sql::{Backend, Conn, Dialect, SqlRow, Statement, Value};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{Postgres, Row};
use uuid::Uuid;

use crate::scope::begin_for_user;
use crate::{PostgresBackend, store_error};

fn db<T>(result: Result<T, sqlx::Error>) -> StoreResult<T> {
    result.map_err(store_error)
}

fn bind<'q>(query: Query<'q, Postgres, PgArguments>, value: Value) -> Query<'q, Postgres, PgArguments> {
    match value {
        Value::Int(v) => query.bind(v),
        Value::Text(v) => query.bind(v),
        Value::Flag(v) => query.bind(v),
        Value::Bytes(v) => query.bind(v),
        Value::Id(v) => query.bind(v),
        Value::Time(v) => query.bind(v),
        Value::Day(v) => query.bind(v),
        Value::Json(v) => query.bind(v),
    }
}

/// Runs `$method` (`fetch_all`, …) for `$statement` on `$conn`.
macro_rules! run {
    ($conn:expr, $statement:expr, $method:ident) => {{
        let text = $statement.text(Dialect::Postgres);
        let query = $statement.into_args().into_iter().fold(sqlx::query(&text), bind);
        db(query.$method(&mut **$conn).await)
    }};
}

impl Backend for PostgresBackend {
    const DIALECT: Dialect = Dialect::Postgres;
    type Conn = Conn<Postgres>;
    type Row = PgRecord;

    async fn connection(&self) -> StoreResult<Self::Conn> {
        self.conn().await
    }

    async fn write(&self) -> StoreResult<Self::Conn> {
        Ok(Conn::Transaction(self.begin().await?))
    }

    async fn read_as(&self, user: UserId) -> StoreResult<Self::Conn> {
        Ok(Conn::Transaction(begin_for_user(self, user).await?))
    }

    async fn write_as(&self, user: UserId) -> StoreResult<Self::Conn> {
        self.read_as(user).await
    }

    /// The transaction scoped to the user can write as it is.
    async fn continue_as_write(&self, read: Self::Conn, _user: UserId) -> StoreResult<Self::Conn> {
        Ok(read)
    }

    async fn snapshot(&self) -> StoreResult<Self::Conn> {
        let setup = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY;";
        Ok(Conn::Transaction(self.begin_with(Some(setup)).await?))
    }

    async fn finish(conn: Self::Conn) -> StoreResult<()> {
        db(conn.finish().await)
    }

    async fn fetch_all(conn: &mut Self::Conn, statement: Statement) -> StoreResult<Vec<PgRecord>> {
        let rows = run!(conn, statement, fetch_all)?;
        Ok(rows.into_iter().map(PgRecord).collect())
    }

    async fn fetch_optional(conn: &mut Self::Conn, statement: Statement) -> StoreResult<Option<PgRecord>> {
        Ok(run!(conn, statement, fetch_optional)?.map(PgRecord))
    }

    async fn for_each(
        conn: &mut Self::Conn,
        statement: Statement,
        mut visit: impl FnMut(PgRecord) -> StoreResult<()> + Send,
    ) -> StoreResult<()> {
        let text = statement.text(Dialect::Postgres);
        let query = statement.into_args().into_iter().fold(sqlx::query(&text), bind);
        let mut rows = query.fetch(&mut **conn);
        while let Some(row) = db(rows.try_next().await)? {
            visit(PgRecord(row))?;
        }
        Ok(())
    }

    async fn execute(conn: &mut Self::Conn, statement: Statement) -> StoreResult<u64> {
        Ok(run!(conn, statement, execute)?.rows_affected())
    }
}

/// A result row of PostgreSQL.
pub struct PgRecord(PgRow);

impl PgRecord {
    fn get<T>(&self, column: &str) -> StoreResult<T>
    where
        T: for<'r> sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
    {
        db(self.0.try_get(column))
    }
}

impl SqlRow for PgRecord {
    mana_store_sql::plain_column_readers!();

    fn id(&self, column: &str) -> StoreResult<Uuid> {
        self.get(column)
    }

    fn opt_id(&self, column: &str) -> StoreResult<Option<Uuid>> {
        self.get(column)
    }

    fn time(&self, column: &str) -> StoreResult<DateTime<Utc>> {
        self.get(column)
    }

    fn opt_time(&self, column: &str) -> StoreResult<Option<DateTime<Utc>>> {
        self.get(column)
    }

    fn day(&self, column: &str) -> StoreResult<NaiveDate> {
        self.get(column)
    }

    fn opt_json(&self, column: &str) -> StoreResult<Option<serde_json::Value>> {
        self.get(column)
    }
}
