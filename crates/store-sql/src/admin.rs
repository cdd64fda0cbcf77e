//! Administration across users: search, role, lock, restore, usage by day.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use mana_core::credits::{AppId, Credits};
use mana_core::email::Email;
use mana_core::ids::{Role, UserId};
use mana_core::store::{
    AdminStore, DailyUsage, DayCount, KindCount, RestoreOutcome, SecurityEventKind, StoreResult, UserOrder, UserPage,
    UserSearch,
};

use crate::SqlStore;
use crate::backend::{Backend, SqlRow};
use crate::decode::{self, user_columns};
use crate::sql::Sql;
use crate::statement::Statement;

/// The search's condition for a prefix: users whose email or lowercased name lies in
/// `[$1, $2)`, the range of strings that start with the prefix, so that each term is a range of
/// one index (a LIKE with a bound pattern is not, on SQLite, and needs a per-value plan on
/// PostgreSQL). PostgreSQL compares byte-wise with the `text_pattern_ops` operators (its `<`
/// follows the collation, whose ranges are no prefixes); SQLite's binary collation already
/// does. `$3`: whether deleted accounts are included.
macro_rules! prefix_range {
    ($ge:literal, $lt:literal) => {
        concat!(
            " WHERE ((email ",
            $ge,
            " $1 AND email ",
            $lt,
            " $2)",
            " OR (lower(name) ",
            $ge,
            " $1 AND lower(name) ",
            $lt,
            " $2))",
            " AND ($3 OR deleted_at IS NULL)"
        )
    };
}
/// One statement of the search: for everyone (`$1`: whether deleted accounts are included;
/// `$2`, `$3`: limit and offset) and for a prefix (`$1`–`$3` as in [`prefix_range!`]; `$4`,
/// `$5`: limit and offset).
macro_rules! search {
    ($select:expr) => {
        search!($select, "", "", "")
    };
    ($select:expr, $order:literal) => {
        search!($select, $order, " LIMIT $2 OFFSET $3", " LIMIT $4 OFFSET $5")
    };
    ($select:expr, $order:literal, $page_everyone:literal, $page_prefix:literal) => {
        (
            Sql::new(concat!($select, " FROM auth.users WHERE ($1 OR deleted_at IS NULL)", $order, $page_everyone)),
            Sql::each(
                concat!($select, " FROM auth.users", prefix_range!("~>=~", "~<~"), $order, $page_prefix),
                concat!($select, " FROM users", prefix_range!(">=", "<"), $order, $page_prefix),
            ),
        )
    };
}
static COUNT_USERS: (Sql, Sql) = search!("SELECT count(*) AS total");
static USERS_NEWEST: (Sql, Sql) = search!(concat!("SELECT ", user_columns!()), " ORDER BY created_at DESC, id DESC");
static USERS_OLDEST: (Sql, Sql) = search!(concat!("SELECT ", user_columns!()), " ORDER BY created_at, id");
static USERS_BY_EMAIL: (Sql, Sql) = search!(concat!("SELECT ", user_columns!()), " ORDER BY email, id");
static SET_ROLE: Sql =
    Sql::new("UPDATE auth.users SET role = $2, updated_at = $3 WHERE email = $1 AND deleted_at IS NULL RETURNING id");
/// The user's row is updated first: a session inserted at the same moment either sees the
/// lock (and is refused) or is committed before the revocation below looks for sessions.
static LOCK: Sql = Sql::new(
    "UPDATE auth.users SET locked_at = $2, updated_at = $2 WHERE id = $1 AND deleted_at IS NULL AND locked_at IS NULL",
);
static REVOKE_SESSIONS: Sql =
    Sql::new("UPDATE auth.sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL");
static UNLOCK: Sql =
    Sql::new("UPDATE auth.users SET locked_at = NULL, updated_at = $2 WHERE id = $1 AND locked_at IS NOT NULL");
static DELETED_EMAIL: Sql = Sql::new("SELECT email FROM auth.users WHERE id = $1 AND deleted_at IS NOT NULL");
static LIVE_WITH_EMAIL: Sql = Sql::new("SELECT id FROM auth.users WHERE email = $1 AND deleted_at IS NULL");
static RESTORE: Sql =
    Sql::new("UPDATE auth.users SET deleted_at = NULL, updated_at = $2 WHERE id = $1 AND deleted_at IS NOT NULL");
static DAILY_USAGE: Sql = Sql::new(
    "SELECT day, app_id, CAST(sum(credits_used) AS BIGINT) AS credits_used, CAST(sum(uses) AS BIGINT) AS uses
     FROM credits.usage_stats
     WHERE day >= $1 AND day <= $2 GROUP BY day, app_id ORDER BY day, app_id",
);

static DAILY_SIGNUPS: Sql = Sql::each(
    "SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS total
     FROM auth.users WHERE created_at >= $1 AND created_at < $2 GROUP BY 1 ORDER BY 1",
    "SELECT date(created_at / 1000000, 'unixepoch') AS day, count(*) AS total
     FROM users WHERE created_at >= $1 AND created_at < $2 GROUP BY 1 ORDER BY 1",
);
/// One kind at a time: each count is a range of the `(kind, created_at)` index.
static COUNT_EVENTS: Sql = Sql::new(
    "SELECT count(*) AS total FROM auth.security_events WHERE kind = $1 AND created_at >= $2 AND created_at < $3",
);

/// The strings that start with `prefix` (lowercased), as `[from, below)` in code point order,
/// which is UTF-8's byte order.
fn prefix_range(prefix: &str) -> (String, String) {
    let from = prefix.to_lowercase();
    let mut below = from.clone();
    // The least string after every one that starts with `from`: its last character that can
    // grow, grown, and what followed it dropped.
    while let Some(last) = below.pop() {
        let next = match last {
            '\u{D7FF}' => Some('\u{E000}'),
            other => char::from_u32(other as u32 + 1),
        };
        if let Some(next) = next {
            below.push(next);
            return (from, below);
        }
    }
    // Only U+10FFFF, the last code point (a noncharacter no one types): no string follows every
    // one that starts with it, so the bound is one longer than any email or name kept.
    let longest = mana_proto::limits::EMAIL_MAX_CHARS.max(mana_proto::limits::NAME_MAX_CHARS);
    (from, char::MAX.to_string().repeat(longest + 1))
}

#[async_trait]
impl<B: Backend> AdminStore for SqlStore<B> {
    async fn search_users(&self, search: &UserSearch) -> StoreResult<UserPage> {
        let range = search.prefix.as_deref().map(prefix_range);
        let filter = |(everyone, with_prefix): &'static (Sql, Sql)| match &range {
            None => Statement::new(everyone).flag(search.include_deleted),
            Some((from, below)) => Statement::new(with_prefix)
                .text_arg(from.as_str())
                .text_arg(below.as_str())
                .flag(search.include_deleted),
        };
        let list = match search.order {
            UserOrder::NewestFirst => &USERS_NEWEST,
            UserOrder::OldestFirst => &USERS_OLDEST,
            UserOrder::Email => &USERS_BY_EMAIL,
        };
        let mut conn = self.backend.connection().await?;
        let total = B::fetch_optional(&mut conn, filter(&COUNT_USERS)).await?;
        let rows = B::fetch_all(&mut conn, filter(list).int(search.limit).int(search.offset)).await?;
        B::finish(conn).await?;
        Ok(UserPage {
            users: rows.iter().map(|row| decode::user(row, "")).collect::<StoreResult<_>>()?,
            total: total.map(|row| row.int("total")).transpose()?.unwrap_or(0),
        })
    }

    async fn set_role(&self, email: &Email, role: Role, at: DateTime<Utc>) -> StoreResult<Option<UserId>> {
        let mut tx = self.backend.write().await?;
        let statement = Statement::new(&SET_ROLE).text_arg(email.as_str()).text_arg(role.as_str()).time(at);
        let row = B::fetch_optional(&mut tx, statement).await?;
        B::finish(tx).await?;
        row.map(|row| decode::user_id(&row, "id")).transpose()
    }

    async fn lock_user(&self, user: UserId, at: DateTime<Utc>) -> StoreResult<bool> {
        let mut tx = self.backend.write().await?;
        let locked = B::execute(&mut tx, Statement::new(&LOCK).id(user.0).time(at)).await? == 1;
        if locked {
            B::execute(&mut tx, Statement::new(&REVOKE_SESSIONS).id(user.0).time(at)).await?;
        }
        B::finish(tx).await?;
        Ok(locked)
    }

    async fn unlock_user(&self, user: UserId, at: DateTime<Utc>) -> StoreResult<bool> {
        let mut tx = self.backend.write().await?;
        let unlocked = B::execute(&mut tx, Statement::new(&UNLOCK).id(user.0).time(at)).await? == 1;
        B::finish(tx).await?;
        Ok(unlocked)
    }

    async fn restore_user(&self, user: UserId, at: DateTime<Utc>) -> StoreResult<RestoreOutcome> {
        let mut tx = self.backend.write().await?;
        let Some(row) = B::fetch_optional(&mut tx, Statement::new(&DELETED_EMAIL).id(user.0)).await? else {
            B::finish(tx).await?;
            return Ok(RestoreOutcome::NotDeleted);
        };
        let email = row.text("email")?;
        if B::fetch_optional(&mut tx, Statement::new(&LIVE_WITH_EMAIL).text_arg(email)).await?.is_some() {
            B::finish(tx).await?;
            return Ok(RestoreOutcome::EmailTaken);
        }
        // The unique index on live emails settles a registration racing this restore.
        B::execute(&mut tx, Statement::new(&RESTORE).id(user.0).time(at)).await?;
        B::finish(tx).await?;
        Ok(RestoreOutcome::Restored)
    }

    async fn daily_usage(&self, from: NaiveDate, to: NaiveDate) -> StoreResult<Vec<DailyUsage>> {
        let rows = self.fetch_all(Statement::new(&DAILY_USAGE).day(from).day(to)).await?;
        rows.iter()
            .map(|row| {
                Ok(DailyUsage {
                    day: row.day("day")?,
                    app_id: {
                        let app = row.text("app_id")?;
                        AppId::parse(&app).ok_or_else(|| decode::corrupt(format!("stored app id {app:?}")))?
                    },
                    credits_used: Credits(row.int("credits_used")?),
                    uses: row.int("uses")?,
                })
            })
            .collect()
    }

    async fn daily_signups(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<DayCount>> {
        let rows = self.fetch_all(Statement::new(&DAILY_SIGNUPS).time(from).time(to)).await?;
        rows.iter().map(|row| Ok(DayCount { day: row.day("day")?, count: row.int("total")? })).collect()
    }

    async fn count_events(
        &self,
        kinds: &[SecurityEventKind],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<KindCount>> {
        let mut conn = self.backend.connection().await?;
        let mut counts = Vec::with_capacity(kinds.len());
        for &kind in kinds {
            let statement = Statement::new(&COUNT_EVENTS).text_arg(kind.as_str()).time(from).time(to);
            let count = B::fetch_optional(&mut conn, statement).await?.map(|row| row.int("total")).transpose()?;
            if let Some(count) = count.filter(|&count| count > 0) {
                counts.push(KindCount { kind, count });
            }
        }
        B::finish(conn).await?;
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_becomes_the_range_of_the_strings_that_start_with_it() {
        let range = |prefix: &str| prefix_range(prefix);
        assert_eq!(range("Ada"), ("ada".into(), "adb".into()));
        assert_eq!(range("100%_x"), ("100%_x".into(), "100%_y".into()), "no character is special");
        assert_eq!(range("a\u{D7FF}"), ("a\u{D7FF}".into(), "a\u{E000}".into()), "surrogates are no characters");
        assert_eq!(range("b\u{10FFFF}"), ("b\u{10FFFF}".into(), "c".into()));
        let (from, below) = range("\u{10FFFF}");
        assert_eq!(from, "\u{10FFFF}");
        assert!(below.chars().all(|c| c == char::MAX) && below.chars().count() > 254);
    }

    #[test]
    fn every_string_with_the_prefix_and_no_other_lies_in_its_range() {
        let words = [
            "",
            "a",
            "ad",
            "ada",
            "adaz",
            "ada\u{10FFFF}x",
            "adb",
            "ad\u{E9}",
            "b",
            "\u{10FFFF}",
            "\u{10FFFF}\u{10FFFF}z",
        ];
        for prefix in words {
            let (from, below) = prefix_range(prefix);
            for word in words {
                let inside = word >= from.as_str() && word < below.as_str();
                assert_eq!(inside, word.starts_with(prefix), "{word:?} against the prefix {prefix:?}");
            }
        }
    }
}
