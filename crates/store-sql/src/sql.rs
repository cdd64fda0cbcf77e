//! SQL text written once, in PostgreSQL's spelling, and rendered for each dialect.
//!
//! The shared statements name tables by schema (`auth.users`, `credits.balances`) and number
//! their parameters (`$1`), which sqlx's SQLite driver reads as well. SQLite has no schemas, so
//! its tables carry the schema in their name instead (`users`, `credit_balances`), and a
//! SQLite write transaction already holds the whole database's write lock, so a trailing
//! `FOR UPDATE` clause has nothing to add there and is dropped. Statements that the dialects
//! genuinely spell differently give both texts with [`Sql::each`].

use std::sync::OnceLock;

/// The SQL dialects the service runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Sqlite,
}

impl Dialect {
    /// Short name for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::Sqlite => "sqlite",
        }
    }

    /// Whether a data-modifying statement may sit in a `WITH` clause, so that two dependent
    /// writes take one round trip.
    pub fn has_writable_ctes(self) -> bool {
        matches!(self, Dialect::Postgres)
    }
}

/// One statement's text; declare it as a `static` so its SQLite rendering is made once.
#[derive(Debug)]
pub struct Sql {
    postgres: &'static str,
    sqlite: Option<&'static str>,
    rendered: OnceLock<String>,
}

impl Sql {
    /// A statement both dialects read alike once tables are renamed.
    pub const fn new(text: &'static str) -> Self {
        Self { postgres: text, sqlite: None, rendered: OnceLock::new() }
    }

    /// A statement each dialect spells its own way (date arithmetic, for instance).
    pub const fn each(postgres: &'static str, sqlite: &'static str) -> Self {
        Self { postgres, sqlite: Some(sqlite), rendered: OnceLock::new() }
    }

    /// The text to send to a database of `dialect`.
    pub fn text(&'static self, dialect: Dialect) -> &'static str {
        match (dialect, self.sqlite) {
            (Dialect::Postgres, _) => self.postgres,
            (Dialect::Sqlite, Some(written)) => written,
            (Dialect::Sqlite, None) => self.rendered.get_or_init(|| render_for_sqlite(self.postgres)),
        }
    }
}

/// `auth.users` → `users`, `credits.balances` → `credit_balances`, and no `FOR UPDATE` clauses.
fn render_for_sqlite(text: &str) -> String {
    let text = without_row_locks(text);
    let text = text.as_str();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(['a', 'c']) {
        let (before, candidate) = rest.split_at(at);
        out.push_str(before);
        // A schema name only where no identifier continues to its left (`oauth.` is no schema).
        let starts_word = !out.chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.');
        if starts_word && let Some(tail) = candidate.strip_prefix("auth.") {
            rest = tail;
        } else if starts_word && let Some(tail) = candidate.strip_prefix("credits.") {
            out.push_str("credit_");
            rest = tail;
        } else {
            out.push_str(&candidate[..1]);
            rest = &candidate[1..];
        }
    }
    out.push_str(rest);
    out
}

/// Drops each `FOR UPDATE` clause with its `OF <table>`, `SKIP LOCKED` or `NOWAIT`, wherever it
/// stands (at the end, or closing a subquery).
fn without_row_locks(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(" FOR UPDATE") {
        out.push_str(&rest[..at]);
        rest = &rest[at + " FOR UPDATE".len()..];
        loop {
            let trimmed = rest.trim_start();
            if let Some(after) = trimmed.strip_prefix("OF ") {
                let table_end = after.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(after.len());
                rest = &after[table_end..];
            } else if let Some(after) = trimmed.strip_prefix("SKIP LOCKED") {
                rest = after;
            } else if let Some(after) = trimmed.strip_prefix("NOWAIT") {
                rest = after;
            } else {
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    static STATEMENT: Sql = Sql::new(
        "SELECT b.daily, oauth.x FROM credits.balances b JOIN auth.users u ON u.id = b.user_id
         WHERE b.user_id = $1 FOR UPDATE OF b",
    );

    #[test]
    fn sqlite_sees_prefixed_tables_and_no_row_lock() {
        assert_eq!(
            STATEMENT.text(Dialect::Sqlite),
            "SELECT b.daily, oauth.x FROM credit_balances b JOIN users u ON u.id = b.user_id
         WHERE b.user_id = $1"
        );
    }

    #[test]
    fn row_locks_inside_subqueries_are_dropped_too() {
        static CLAIM: Sql = Sql::new(
            "UPDATE auth.outbox SET locked_until = $1 WHERE id IN \
             (SELECT id FROM auth.outbox WHERE sent_at IS NULL LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING id",
        );
        assert_eq!(
            CLAIM.text(Dialect::Sqlite),
            "UPDATE outbox SET locked_until = $1 WHERE id IN \
             (SELECT id FROM outbox WHERE sent_at IS NULL LIMIT $2) RETURNING id"
        );
    }

    #[test]
    fn postgres_sees_the_text_as_written() {
        assert!(STATEMENT.text(Dialect::Postgres).ends_with("FOR UPDATE OF b"));
    }

    #[test]
    fn statements_written_per_dialect_are_sent_as_written() {
        static DAY: Sql = Sql::each("SELECT now()::date", "SELECT date('now')");
        assert_eq!(DAY.text(Dialect::Postgres), "SELECT now()::date");
        assert_eq!(DAY.text(Dialect::Sqlite), "SELECT date('now')");
    }
}
