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

/// `$1`: a LIKE pattern or NULL for everyone; `$2`: whether deleted accounts are included.
macro_rules! user_filter {
    () => {
        " FROM auth.users
          WHERE ($1 IS NULL OR email LIKE $1 ESCAPE '\\' OR lower(name) LIKE $1 ESCAPE '\\')
            AND ($2 OR deleted_at IS NULL)"
    };
}
static COUNT_USERS: Sql = Sql::new(concat!("SELECT count(*) AS total", user_filter!()));
static USERS_NEWEST: Sql = Sql::new(concat!(
    "SELECT ",
    user_columns!(),
    user_filter!(),
    " ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"
));
static USERS_OLDEST: Sql =
    Sql::new(concat!("SELECT ", user_columns!(), user_filter!(), " ORDER BY created_at, id LIMIT $3 OFFSET $4"));
static USERS_BY_EMAIL: Sql =
    Sql::new(concat!("SELECT ", user_columns!(), user_filter!(), " ORDER BY email, id LIMIT $3 OFFSET $4"));
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

/// A LIKE pattern matching values that start with `prefix`, its own `%`, `_` and `\` escaped.
fn prefix_pattern(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[async_trait]
impl<B: Backend> AdminStore for SqlStore<B> {
    async fn search_users(&self, search: &UserSearch) -> StoreResult<UserPage> {
        let pattern = search.prefix.as_deref().map(prefix_pattern);
        let filter = |sql: &'static Sql| Statement::new(sql).opt_text(pattern.as_deref()).flag(search.include_deleted);
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
    fn a_search_prefix_matches_itself_literally() {
        assert_eq!(prefix_pattern("Ada"), "ada%");
        assert_eq!(prefix_pattern("100%_x\\"), "100\\%\\_x\\\\%");
    }
}
