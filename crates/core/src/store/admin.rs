//! What administrators read and change across users (SPEC §9): finding users, their role,
//! locking, restoring a deleted account, and usage across the service.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use super::{SecurityEventKind, StoreResult, User};
use crate::credits::{AppId, Credits};
use crate::email::Email;
use crate::ids::{Role, UserId};

/// How a user list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserOrder {
    #[default]
    NewestFirst,
    OldestFirst,
    Email,
}

/// A search for users: by the start of their email or of their name (case-insensitive), in
/// an order, a page at a time.
#[derive(Debug, Clone, Default)]
pub struct UserSearch {
    /// Matched against the start of the email, and of the name (lowercased); `None`: everyone.
    pub prefix: Option<String>,
    pub order: UserOrder,
    pub include_deleted: bool,
    pub limit: i64,
    pub offset: i64,
}

/// A page of users and how many match in all.
#[derive(Debug, Clone)]
pub struct UserPage {
    pub users: Vec<User>,
    pub total: i64,
}

/// Why a deleted account could not be restored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreOutcome {
    Restored,
    /// It is not deleted (or does not exist).
    NotDeleted,
    /// A live account has its email now.
    EmailTaken,
}

/// Credits used per app and day, across every user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyUsage {
    pub day: NaiveDate,
    pub app_id: AppId,
    pub credits_used: Credits,
    pub uses: i64,
}

/// How many of something happened on one day (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayCount {
    pub day: NaiveDate,
    pub count: i64,
}

/// How many security events of one kind were recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindCount {
    pub kind: SecurityEventKind,
    pub count: i64,
}

#[async_trait]
pub trait AdminStore: Send + Sync {
    async fn search_users(&self, search: &UserSearch) -> StoreResult<UserPage>;

    /// Sets the role of the live user with this email; their id, or `None` if there is none.
    async fn set_role(&self, email: &Email, role: Role, at: DateTime<Utc>) -> StoreResult<Option<UserId>>;

    /// Locks a live account and ends every session of it, in one transaction; `false` if it is
    /// gone or locked already. A session being started at the same moment is either refused or
    /// ended with the others.
    async fn lock_user(&self, user: UserId, at: DateTime<Utc>) -> StoreResult<bool>;

    /// `false` if it was not locked.
    async fn unlock_user(&self, user: UserId, at: DateTime<Utc>) -> StoreResult<bool>;

    async fn restore_user(&self, user: UserId, at: DateTime<Utc>) -> StoreResult<RestoreOutcome>;

    /// Usage on the days from `from` to `to`, both included, oldest first.
    async fn daily_usage(&self, from: NaiveDate, to: NaiveDate) -> StoreResult<Vec<DailyUsage>>;

    /// Accounts created (deleted ones included) per UTC day from `from` up to, not including,
    /// `to`; days without any are left out; oldest first.
    async fn daily_signups(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<DayCount>>;

    /// How many events of each of `kinds` were recorded from `from` up to, not including, `to`;
    /// kinds with none are left out.
    async fn count_events(
        &self,
        kinds: &[SecurityEventKind],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<KindCount>>;
}
