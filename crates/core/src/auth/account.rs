//! What a signed-in user does with their own account (SPEC §4): the profile, the sessions,
//! the security log, a new password.

use mana_proto::FieldError;

use super::register::parse_display_name;
use super::{AuthService, Authenticated};
use crate::error::{Error, Result};
use crate::ids::{SessionId, UserId};
use crate::mail::MessageKind;
use crate::paging::Page;
use crate::password::Password;
use crate::store::{AccountLinks, ClientInfo, EventDetails, SecurityEvent, SecurityEventKind, Session, User};

/// The user with what their account has besides a password.
#[derive(Debug, Clone)]
pub struct Profile {
    pub user: User,
    pub links: AccountLinks,
}

impl AuthService {
    pub async fn profile(&self, user: UserId) -> Result<Profile> {
        let user = self.live_user(user).await?;
        let links = self.store.account_links(user.id).await?;
        Ok(Profile { user, links })
    }

    /// Sets (or, with nothing or blank, clears) the display name.
    pub async fn rename(&self, caller: &Authenticated, name: Option<&str>, client: &ClientInfo) -> Result<Profile> {
        let name = parse_display_name(name).map_err(|problem| Error::invalid_field("name", problem))?;
        if !self.store.set_display_name(caller.user_id, name.as_deref(), self.clock.now()).await? {
            return Err(Error::InvalidAccessToken(crate::tokens::TokenRejection::UserDeleted));
        }
        self.record_event(Some(caller.user_id), SecurityEventKind::ProfileUpdated, client, EventDetails::default())
            .await?;
        self.profile(caller.user_id).await
    }

    /// The sessions still usable (not revoked, not expired), newest first.
    pub async fn active_sessions(&self, user: UserId) -> Result<Vec<Session>> {
        let now = self.clock.now();
        let sessions = self.store.list_sessions(user).await?;
        Ok(sessions.into_iter().filter(|s| s.revoked_at.is_none() && s.expires_at > now).collect())
    }

    /// Revokes one of the caller's own sessions; another user's reads as unknown.
    pub async fn revoke_session(&self, caller: &Authenticated, id: SessionId, client: &ClientInfo) -> Result<()> {
        match self.store.find_session(id).await? {
            Some(found) if found.session.user_id == caller.user_id => {}
            _ => return Err(Error::NotFound),
        }
        if self.store.revoke_session(id, self.clock.now()).await? {
            let details = EventDetails { session_id: Some(id), ..EventDetails::default() };
            self.record_event(Some(caller.user_id), SecurityEventKind::SessionRevoked, client, details).await?;
        }
        Ok(())
    }

    /// Revokes every session of the caller but the one making the request.
    pub async fn revoke_other_sessions(&self, caller: &Authenticated, client: &ClientInfo) -> Result<u64> {
        let revoked = self.store.revoke_other_sessions(caller.user_id, caller.session_id, self.clock.now()).await?;
        if revoked > 0 {
            let details = EventDetails { session_id: Some(caller.session_id), ..EventDetails::default() };
            self.record_event(Some(caller.user_id), SecurityEventKind::SessionRevoked, client, details).await?;
        }
        Ok(revoked)
    }

    /// The caller's own security log, newest first.
    pub async fn own_security_events(&self, user: UserId, page: Page) -> Result<Vec<SecurityEvent>> {
        let (limit, offset) = page.bounds()?;
        Ok(self.store.security_events(user, limit, offset).await?)
    }

    /// Replaces the password after checking the current one; the caller's session stays, every
    /// other ends, and a notice is emailed. The caller checks the current password against the
    /// failed-login budget before calling, as for a login.
    pub async fn change_password(
        &self,
        caller: &Authenticated,
        current: &str,
        new: &str,
        client: &ClientInfo,
    ) -> Result<()> {
        let new = Password::parse(new).map_err(|problem| Error::invalid_field("newPassword", problem))?;
        let user = self.live_user(caller.user_id).await?;
        let credentials = self.store.find_credentials(&user.email).await?.ok_or(Error::NotFound)?;
        if !self.passwords.verify(current, &credentials.password_hash).await? {
            return Err(Error::Validation(vec![FieldError::new("currentPassword", "is not the account's password")]));
        }
        let hash = self.passwords.hash(&new).await?;
        let now = self.clock.now();
        let notice = self.mail.compose(MessageKind::PasswordChanged, &user, None, now);
        self.store.change_password(user.id, &hash, caller.session_id, now, Some(notice)).await?;
        self.record_event(Some(user.id), SecurityEventKind::PasswordChange, client, EventDetails::default()).await
    }

    async fn live_user(&self, id: UserId) -> Result<User> {
        let user = self.store.find_user(id).await?.filter(|user| user.deleted_at.is_none());
        user.ok_or(Error::InvalidAccessToken(crate::tokens::TokenRejection::UserDeleted))
    }
}
