//! What a signed-in user does with their own account (SPEC §4): the profile, the sessions,
//! the security log, a new password.

use mana_proto::FieldError;

use super::register::parse_display_name;
use super::{AuthService, Authenticated};
use crate::email::Email;
use crate::error::{Error, Result};
use crate::ids::{SessionId, UserId};
use crate::mail::{MessageKind, link};
use crate::paging::Page;
use crate::password::Password;
use crate::store::{
    AccountLinks, ClientInfo, EventDetails, LinkMail, NewLinkToken, SecurityEvent, SecurityEventKind, Session, User,
};
use crate::tokens::{LinkPurpose, LinkToken};

/// The field message of a wrong password in a request that needs the account's password.
pub const WRONG_PASSWORD: &str = "is not the account's password";

/// Everything stored about a user, for `GET /auth/me/export`.
#[derive(Debug, Clone)]
pub struct AccountExport {
    pub profile: Profile,
    pub sessions: Vec<Session>,
    pub security_events: Vec<SecurityEvent>,
    pub transactions: Vec<crate::store::TransactionView>,
    pub purchases: Vec<crate::store::Purchase>,
}

/// Rows read per query while exporting.
const EXPORT_PAGE: i64 = 500;

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
        self.check_password(&user, current, "currentPassword").await?;
        let hash = self.passwords.hash(&new).await?;
        let now = self.clock.now();
        let notice = self.mail.compose(MessageKind::PasswordChanged, &user, None, now);
        self.store.change_password(user.id, &hash, caller.session_id, now, Some(notice)).await?;
        self.record_event(Some(user.id), SecurityEventKind::PasswordChange, client, EventDetails::default()).await
    }

    /// Starts moving the account to `new_email`: a link goes to the new address (the change
    /// happens only when it is used) and a notice to the current one. The caller checks the
    /// password against the failed-login budget, as for a login.
    pub async fn request_email_change(
        &self,
        caller: &Authenticated,
        new_email: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<()> {
        let new_email =
            Email::parse(new_email).map_err(|problem| Error::invalid_field("newEmail", problem.to_string()))?;
        let user = self.live_user(caller.user_id).await?;
        self.check_password(&user, password, "password").await?;
        if new_email == user.email {
            return Err(Error::invalid_field("newEmail", "is already the account's address"));
        }
        if self.store.find_credentials(&new_email).await?.is_some() {
            return Err(Error::EmailTaken);
        }
        let now = self.clock.now();
        let token = LinkToken::generate();
        let to_new = User { email: new_email.clone(), ..user.clone() };
        let url = link(&self.mail.links.verify_email, &token.expose());
        let mail = LinkMail {
            token: NewLinkToken {
                id: uuid::Uuid::now_v7(),
                user_id: user.id,
                purpose: LinkPurpose::EmailChange,
                hash: token.hash(),
                new_email: Some(new_email),
                created_at: now,
                expires_at: now + LinkPurpose::EmailChange.lifetime(),
            },
            email: self.mail.compose(MessageKind::EmailChange, &to_new, Some(&url), now),
            notice: Some(self.mail.compose(MessageKind::EmailChangeRequested, &user, None, now)),
        };
        self.store.issue_link_token(mail).await?;
        self.record_event(Some(user.id), SecurityEventKind::EmailChangeRequested, client, EventDetails::default()).await
    }

    /// Soft-deletes the caller's account after checking the password: every session ends and
    /// the address is free for a new account. The caller checks the password against the
    /// failed-login budget.
    pub async fn delete_own_account(&self, caller: &Authenticated, password: &str, client: &ClientInfo) -> Result<()> {
        let user = self.live_user(caller.user_id).await?;
        self.check_password(&user, password, "password").await?;
        self.delete_account(user.id, client).await?;
        Ok(())
    }

    /// `Ok` if `password` is the user's; otherwise a validation error naming `field`.
    pub(super) async fn check_password(&self, user: &User, password: &str, field: &str) -> Result<()> {
        let credentials = self.store.find_credentials(&user.email).await?.ok_or(Error::NotFound)?;
        if self.passwords.verify(password, &credentials.password_hash).await? {
            Ok(())
        } else {
            Err(Error::Validation(vec![FieldError::new(field, WRONG_PASSWORD)]))
        }
    }

    /// Everything stored about the user: profile, every session, the security log, the ledger
    /// and purchases.
    pub async fn export(&self, user: UserId) -> Result<AccountExport> {
        let profile = self.profile(user).await?;
        let sessions = self.store.list_sessions(user).await?;
        let mut security_events = Vec::new();
        loop {
            let page = self.store.security_events(user, EXPORT_PAGE, security_events.len() as i64).await?;
            let done = (page.len() as i64) < EXPORT_PAGE;
            security_events.extend(page);
            if done {
                break;
            }
        }
        let mut transactions = Vec::new();
        loop {
            let page = self.store.list_transactions(user, EXPORT_PAGE, transactions.len() as i64).await?;
            let done = (page.len() as i64) < EXPORT_PAGE;
            transactions.extend(page);
            if done {
                break;
            }
        }
        let purchases = self.store.list_purchases(user).await?;
        Ok(AccountExport { profile, sessions, security_events, transactions, purchases })
    }

    pub(super) async fn live_user(&self, id: UserId) -> Result<User> {
        let user = self.store.find_user(id).await?.filter(|user| user.deleted_at.is_none());
        user.ok_or(Error::InvalidAccessToken(crate::tokens::TokenRejection::UserDeleted))
    }
}
