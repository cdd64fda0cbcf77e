//! What administrators do to other accounts (SPEC §9). Every action is recorded on the
//! account it changed, naming the administrator.

use chrono::Duration;

use super::{AuthService, Authenticated};
use crate::error::{Error, Result};
use crate::ids::{SessionId, UserId};
use crate::paging::Page;
use crate::store::{
    AccountLinks, ClientInfo, EventDetails, RestoreOutcome, SecurityEvent, SecurityEventKind, Session, User, UserOrder,
    UserPage, UserSearch,
};
use crate::tokens::RefreshToken;

/// How long a sign-in to the admin console lasts, however busy the administrator is.
pub const CONSOLE_SESSION_HOURS: i64 = 8;

/// The longest search prefix taken.
const SEARCH_MAX_CHARS: usize = 254;

/// One account as support sees it.
#[derive(Debug, Clone)]
pub struct AdminUserDetail {
    pub user: User,
    pub sessions: Vec<Session>,
    pub security_events: Vec<SecurityEvent>,
    pub links: AccountLinks,
}

impl AuthService {
    /// The caller of the admin console, whose cookie holds the refresh token of the session
    /// the console's sign-in started. The console never rotates it, so it must be the
    /// session's current token; the session must be live, unexpired and younger than
    /// [`CONSOLE_SESSION_HOURS`]. `None` for anything else; whether the caller is an
    /// administrator (as stored now) is for the console to check on `role`.
    pub async fn console_caller(&self, refresh_token: &str) -> Result<Option<Authenticated>> {
        let Some(token) = RefreshToken::parse(refresh_token.trim()) else { return Ok(None) };
        let Some(record) = self.store.find_refresh_token(&token.hash()).await? else { return Ok(None) };
        let found = match self.live_session(record.session_id).await {
            Ok(found) => found,
            Err(Error::InvalidRefreshToken) => return Ok(None),
            Err(other) => return Err(other),
        };
        let (session, now) = (&found.session, self.clock.now());
        if record.generation != session.generation
            || now >= session.expires_at
            || now >= session.created_at + Duration::hours(CONSOLE_SESSION_HOURS)
        {
            return Ok(None);
        }
        let claims = self.tokens.claims(
            &found.user,
            session.id,
            session.access_jti.clone(),
            session.access_issued_at,
            &session.amr,
        );
        Ok(Some(Authenticated { user_id: found.user.id, role: found.user.role, session_id: session.id, claims }))
    }

    /// Users whose email or name starts with `query`, in `order`, a page at a time.
    pub async fn search_users(
        &self,
        query: Option<&str>,
        order: UserOrder,
        include_deleted: bool,
        page: Page,
    ) -> Result<UserPage> {
        let (limit, offset) = page.bounds()?;
        let prefix = query.map(str::trim).filter(|q| !q.is_empty());
        if prefix.is_some_and(|q| q.chars().count() > SEARCH_MAX_CHARS || q.chars().any(char::is_control)) {
            return Err(Error::invalid_field("q", format!("must be at most {SEARCH_MAX_CHARS} printable characters")));
        }
        let search = UserSearch { prefix: prefix.map(str::to_owned), order, include_deleted, limit, offset };
        Ok(self.store.search_users(&search).await?)
    }

    /// An account, deleted or not, with its sessions, its latest 50 security events and what is
    /// linked to it.
    pub async fn user_detail(&self, user: UserId) -> Result<AdminUserDetail> {
        let user = self.store.find_user(user).await?.ok_or(Error::NotFound)?;
        Ok(AdminUserDetail {
            sessions: self.store.list_sessions(user.id).await?,
            security_events: self.store.security_events(user.id, 50, 0).await?,
            links: self.store.account_links(user.id).await?,
            user,
        })
    }

    /// Ends every live session of the account; how many.
    pub async fn admin_revoke_sessions(&self, admin: &Authenticated, user: UserId, client: &ClientInfo) -> Result<u64> {
        let user = self.store.find_user(user).await?.ok_or(Error::NotFound)?;
        let now = self.clock.now();
        let mut revoked = 0;
        for session in self.store.list_sessions(user.id).await? {
            if session.revoked_at.is_none() && self.store.revoke_session(session.id, now).await? {
                revoked += 1;
            }
        }
        self.record_admin_event(admin, user.id, SecurityEventKind::SessionRevoked, client).await?;
        Ok(revoked)
    }

    /// Ends one session of the account.
    pub async fn admin_revoke_session(
        &self,
        admin: &Authenticated,
        user: UserId,
        session: SessionId,
        client: &ClientInfo,
    ) -> Result<()> {
        match self.store.find_session(session).await? {
            Some(found) if found.session.user_id == user => {}
            _ => return Err(Error::NotFound),
        }
        self.store.revoke_session(session, self.clock.now()).await?;
        let details =
            EventDetails { session_id: Some(session), admin_id: Some(admin.user_id), ..EventDetails::default() };
        self.record_event(Some(user), SecurityEventKind::SessionRevoked, client, details).await
    }

    /// Locks the account and ends its sessions; it cannot sign in until unlocked. An
    /// administrator cannot lock themselves out.
    pub async fn lock_user(&self, admin: &Authenticated, user: UserId, client: &ClientInfo) -> Result<()> {
        if user == admin.user_id {
            return Err(Error::invalid_field("id", "an administrator cannot lock their own account"));
        }
        let found = self.store.find_user(user).await?.filter(|u| u.deleted_at.is_none()).ok_or(Error::NotFound)?;
        if found.locked_at.is_some() || !self.store.lock_user(user, self.clock.now()).await? {
            return Ok(());
        }
        self.record_admin_event(admin, user, SecurityEventKind::AccountLocked, client).await
    }

    pub async fn unlock_user(&self, admin: &Authenticated, user: UserId, client: &ClientInfo) -> Result<()> {
        self.store.find_user(user).await?.ok_or(Error::NotFound)?;
        if self.store.unlock_user(user, self.clock.now()).await? {
            self.record_admin_event(admin, user, SecurityEventKind::AccountUnlocked, client).await?;
        }
        Ok(())
    }

    /// Soft-deletes the account as its owner could (sessions end, identities are released).
    pub async fn admin_delete_user(&self, admin: &Authenticated, user: UserId, client: &ClientInfo) -> Result<()> {
        if user == admin.user_id {
            return Err(Error::invalid_field("id", "an administrator cannot delete their own account here"));
        }
        self.store.find_user(user).await?.ok_or(Error::NotFound)?;
        if self.store.soft_delete_user(user, self.clock.now()).await? {
            self.record_admin_event(admin, user, SecurityEventKind::AccountDeleted, client).await?;
        }
        Ok(())
    }

    /// Brings a deleted account back, unless a live account has taken its email since.
    pub async fn restore_user(&self, admin: &Authenticated, user: UserId, client: &ClientInfo) -> Result<()> {
        self.store.find_user(user).await?.ok_or(Error::NotFound)?;
        match self.store.restore_user(user, self.clock.now()).await? {
            RestoreOutcome::Restored => {
                self.record_admin_event(admin, user, SecurityEventKind::AccountRestored, client).await
            }
            RestoreOutcome::NotDeleted => Ok(()),
            RestoreOutcome::EmailTaken => Err(Error::EmailTaken),
        }
    }

    /// Records an administrator's action on `user`.
    pub async fn record_admin_event(
        &self,
        admin: &Authenticated,
        user: UserId,
        kind: SecurityEventKind,
        client: &ClientInfo,
    ) -> Result<()> {
        let details = EventDetails { admin_id: Some(admin.user_id), ..EventDetails::default() };
        self.record_event(Some(user), kind, client, details).await
    }
}
