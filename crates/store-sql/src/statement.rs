//! A statement ready to run: its text and its arguments as dialect-neutral values, which each
//! backend encodes the way its schema stores them (a UUID is `uuid` in PostgreSQL and text in
//! SQLite, a time `timestamptz` or microseconds since the epoch).

use std::borrow::Cow;
use std::fmt::Write;

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::sql::{Dialect, Sql};

/// One argument.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(Option<i64>),
    Text(Option<String>),
    Flag(bool),
    Bytes(Option<Vec<u8>>),
    Id(Option<Uuid>),
    Time(Option<DateTime<Utc>>),
    Day(NaiveDate),
    Json(Option<serde_json::Value>),
}

#[derive(Debug, Clone)]
pub struct Statement {
    sql: &'static Sql,
    /// For multi-row inserts: `VALUES` groups of this many parameters each, appended to `sql`.
    row_width: Option<usize>,
    args: Vec<Value>,
}

impl Statement {
    pub fn new(sql: &'static Sql) -> Self {
        Self { sql, row_width: None, args: Vec::new() }
    }

    /// An `INSERT … ` head followed by one `VALUES` group per row of `width` arguments, all
    /// in one statement; add the rows' arguments in order.
    pub fn insert_rows(head: &'static Sql, width: usize) -> Self {
        Self { sql: head, row_width: Some(width), args: Vec::new() }
    }

    pub fn text(&self, dialect: Dialect) -> Cow<'static, str> {
        let head = self.sql.text(dialect);
        let Some(width) = self.row_width.filter(|&width| width > 0) else {
            return Cow::Borrowed(head);
        };
        let mut text = String::with_capacity(head.len() + self.args.len() * 5 + 8);
        text.push_str(head);
        text.push_str(" VALUES ");
        for (index, _) in self.args.iter().enumerate() {
            let opens_row = index % width == 0;
            if opens_row && index > 0 {
                text.push_str("), ");
            }
            text.push_str(if opens_row { "(" } else { ", " });
            // Writing into a String cannot fail.
            let _ = write!(text, "${}", index + 1);
        }
        text.push(')');
        Cow::Owned(text)
    }

    pub fn into_args(self) -> Vec<Value> {
        self.args
    }

    fn push(mut self, value: Value) -> Self {
        self.args.push(value);
        self
    }

    pub fn int(self, value: i64) -> Self {
        self.push(Value::Int(Some(value)))
    }

    pub fn text_arg(self, value: impl Into<String>) -> Self {
        self.push(Value::Text(Some(value.into())))
    }

    pub fn opt_text(self, value: Option<&str>) -> Self {
        self.push(Value::Text(value.map(str::to_owned)))
    }

    pub fn flag(self, value: bool) -> Self {
        self.push(Value::Flag(value))
    }

    pub fn bytes(self, value: &[u8]) -> Self {
        self.push(Value::Bytes(Some(value.to_vec())))
    }

    pub fn id(self, value: Uuid) -> Self {
        self.push(Value::Id(Some(value)))
    }

    pub fn opt_id(self, value: Option<Uuid>) -> Self {
        self.push(Value::Id(value))
    }

    pub fn time(self, value: DateTime<Utc>) -> Self {
        self.push(Value::Time(Some(value)))
    }

    pub fn opt_time(self, value: Option<DateTime<Utc>>) -> Self {
        self.push(Value::Time(value))
    }

    pub fn day(self, value: NaiveDate) -> Self {
        self.push(Value::Day(value))
    }

    pub fn json(self, value: serde_json::Value) -> Self {
        self.push(Value::Json(Some(value)))
    }

    pub fn opt_json(self, value: Option<serde_json::Value>) -> Self {
        self.push(Value::Json(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static HEAD: Sql = Sql::new("INSERT INTO credits.postings (transaction_id, account)");

    #[test]
    fn multi_row_inserts_number_their_parameters_row_by_row() {
        let statement = Statement::insert_rows(&HEAD, 2).int(1).int(2).int(3).int(4);
        assert_eq!(
            statement.text(Dialect::Sqlite),
            "INSERT INTO credit_postings (transaction_id, account) VALUES ($1, $2), ($3, $4)"
        );
    }
}
