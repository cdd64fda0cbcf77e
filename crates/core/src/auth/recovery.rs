//! Email verification and password reset (SPEC §4): links carry single-use tokens; what a
//! link does happens in the transaction that consumes its token.

use crate::email::Email;
use crate::error::{Error, Result};
use crate::ids::UserId;
use crate::mail::{MessageKind, link};
use crate::password::Password;
use crate::store::{
    ClientInfo, EventDetails, LinkEffect, LinkMail, LinkTokenRecord, NewLinkToken, SecurityEventKind, StoreError,
    USERS_EMAIL_CONSTRAINT, User,
};
use crate::tokens::{LinkPurpose, LinkToken};

use super::AuthService;

impl AuthService {
    /// Sends a password-reset link if a live account has this address, and does nothing
    /// otherwise; the caller answers the same either way (and should not wait for this, so that
    /// the time of the answer says nothing either).
    pub async fn request_password_reset(&self, email: &Email, client: &ClientInfo) -> Result<()> {
        // Accounts without a password (made by social sign-in) may set one this way.
        let Some(user) = self.store.find_user_by_email(email).await? else {
            return Ok(());
        };
        self.send_link(&user, LinkPurpose::PasswordReset).await?;
        self.record_event(Some(user.id), SecurityEventKind::PasswordResetRequested, client, EventDetails::default())
            .await
    }

    /// Sets a new password with a reset link's token; every session of the user ends and a
    /// notice goes to their address.
    pub async fn reset_password(&self, token: &str, new_password: &str, client: &ClientInfo) -> Result<()> {
        let password = Password::parse(new_password).map_err(|problem| Error::invalid_field("password", problem))?;
        let (token, record) = self.live_link_token(token, &[LinkPurpose::PasswordReset]).await?;
        let user = self.store.find_user(record.user_id).await?.filter(|u| u.deleted_at.is_none());
        let user = user.ok_or(Error::InvalidLinkToken)?;
        let password_hash = self.passwords.hash(&password).await?;
        let now = self.clock.now();
        let notice = self.mail.compose(MessageKind::PasswordChanged, &user, None, now);
        let effect = LinkEffect::ResetPassword { password_hash };
        if !self.store.use_link_token(&token.hash(), LinkPurpose::PasswordReset, now, effect, Some(notice)).await? {
            return Err(Error::InvalidLinkToken);
        }
        self.record_event(Some(user.id), SecurityEventKind::PasswordReset, client, EventDetails::default()).await
    }

    /// Confirms an address with a verification link's token: the account's own, or the new one
    /// of an email change, which then becomes the account's.
    pub async fn verify_email(&self, token: &str, client: &ClientInfo) -> Result<()> {
        let purposes = [LinkPurpose::EmailVerification, LinkPurpose::EmailChange];
        let (token, record) = self.live_link_token(token, &purposes).await?;
        let (hash, now) = (token.hash(), self.clock.now());
        let (effect, kind) = match (record.purpose, record.new_email.clone()) {
            (LinkPurpose::EmailChange, Some(new_email)) => {
                (LinkEffect::ChangeEmail(new_email), SecurityEventKind::EmailChanged)
            }
            (LinkPurpose::EmailChange, None) => return Err(Error::InvalidLinkToken),
            _ => (LinkEffect::VerifyEmail, SecurityEventKind::EmailVerified),
        };
        match self.store.use_link_token(&hash, record.purpose, now, effect, None).await {
            Ok(true) => {}
            Ok(false) => return Err(Error::InvalidLinkToken),
            Err(StoreError::Conflict { constraint }) if constraint == USERS_EMAIL_CONSTRAINT => {
                return Err(Error::EmailTaken);
            }
            Err(other) => return Err(other.into()),
        }
        self.record_event(Some(record.user_id), kind, client, EventDetails::default()).await
    }

    /// Sends a new verification link to a user whose address is not verified yet; nothing for
    /// one whose address is (or who is deleted).
    pub async fn resend_verification(&self, user: UserId) -> Result<()> {
        let user = self.store.find_user(user).await?.filter(|u| u.deleted_at.is_none());
        match user {
            Some(user) if !user.email_verified => self.send_link(&user, LinkPurpose::EmailVerification).await,
            _ => Ok(()),
        }
    }

    /// Stores a new token for `user` and queues its email, in one transaction.
    async fn send_link(&self, user: &User, purpose: LinkPurpose) -> Result<()> {
        self.store.issue_link_token(self.link_mail(user, purpose)).await?;
        Ok(())
    }

    /// A new token of `purpose` for `user` and the message with its link.
    pub(super) fn link_mail(&self, user: &User, purpose: LinkPurpose) -> LinkMail {
        let token = LinkToken::generate();
        let now = self.clock.now();
        let (kind, template) = match purpose {
            LinkPurpose::PasswordReset => (MessageKind::PasswordReset, &self.mail.links.reset_password),
            LinkPurpose::EmailVerification | LinkPurpose::EmailChange => {
                (MessageKind::VerifyEmail, &self.mail.links.verify_email)
            }
        };
        let url = link(template, &token.expose());
        let email = self.mail.compose(kind, user, Some(&url), now);
        let new = NewLinkToken {
            id: uuid::Uuid::now_v7(),
            user_id: user.id,
            purpose,
            hash: token.hash(),
            new_email: None,
            created_at: now,
            expires_at: now + purpose.lifetime(),
        };
        LinkMail { token: new, email, notice: None }
    }

    /// The token and its record if it is well-formed, known, of one of `purposes`, unused and
    /// unexpired; every other case is the same error, so the answer tells nothing apart.
    async fn live_link_token(&self, text: &str, purposes: &[LinkPurpose]) -> Result<(LinkToken, LinkTokenRecord)> {
        let token = LinkToken::parse(text.trim()).ok_or(Error::InvalidLinkToken)?;
        let record = self.store.find_link_token(&token.hash()).await?.ok_or(Error::InvalidLinkToken)?;
        let live =
            purposes.contains(&record.purpose) && record.used_at.is_none() && record.expires_at > self.clock.now();
        if live { Ok((token, record)) } else { Err(Error::InvalidLinkToken) }
    }
}
