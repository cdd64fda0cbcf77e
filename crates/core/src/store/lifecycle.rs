//! What account lifecycle needs from a database: email link tokens and the outbox that
//! delivers email (SPEC §4).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreResult;
use crate::email::Email;
use crate::ids::UserId;
use crate::tokens::{LinkPurpose, TokenHash};

/// A rendered message to queue in the outbox, in the transaction of the change that causes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    pub id: Uuid,
    /// Whose account the message is about (row-level security scopes it to them).
    pub user_id: UserId,
    pub to: Email,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub created_at: DateTime<Utc>,
}

/// A queued message claimed for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    pub id: Uuid,
    pub user_id: UserId,
    pub to: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    /// Delivery attempts so far, this one included.
    pub attempts: i64,
    pub created_at: DateTime<Utc>,
}

/// A link token to store; only its hash is kept.
#[derive(Debug, Clone)]
pub struct NewLinkToken {
    pub id: Uuid,
    pub user_id: UserId,
    pub purpose: LinkPurpose,
    pub hash: TokenHash,
    /// For [`LinkPurpose::EmailChange`]: the address that becomes the user's when it is used.
    pub new_email: Option<Email>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A link token and the message that carries it, written in one transaction.
#[derive(Debug, Clone)]
pub struct LinkMail {
    pub token: NewLinkToken,
    pub email: OutgoingEmail,
    /// Another message queued with it (the notice to the old address of an email change).
    pub notice: Option<OutgoingEmail>,
}

/// A stored link token, as found by its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkTokenRecord {
    pub user_id: UserId,
    pub purpose: LinkPurpose,
    pub new_email: Option<Email>,
    pub expires_at: DateTime<Utc>,
    /// When it was used, or voided by a newer token of the same purpose.
    pub used_at: Option<DateTime<Utc>>,
}

/// What using a link token changes, in the transaction that consumes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEffect {
    /// The user's address is verified.
    VerifyEmail,
    /// The user's address becomes this one, verified. Taken by a live user meanwhile: a
    /// conflict on `USERS_EMAIL_CONSTRAINT`, and the token stays unused.
    ChangeEmail(Email),
    /// The password hash is replaced and every session of the user is revoked.
    ResetPassword { password_hash: String },
}

#[async_trait]
pub trait LinkTokenStore: Send + Sync {
    /// Stores the token and queues its email in one transaction. A password-reset token voids
    /// the user's earlier unused ones.
    async fn issue_link_token(&self, mail: LinkMail) -> StoreResult<()>;
    async fn find_link_token(&self, hash: &TokenHash) -> StoreResult<Option<LinkTokenRecord>>;
    /// Consumes the token if it is of `purpose`, unused and unexpired at `now`, applies
    /// `effect` and queues `notice`, all in one transaction. Of concurrent uses exactly one
    /// returns `true`; the others change nothing.
    async fn use_link_token(
        &self,
        hash: &TokenHash,
        purpose: LinkPurpose,
        now: DateTime<Utc>,
        effect: LinkEffect,
        notice: Option<OutgoingEmail>,
    ) -> StoreResult<bool>;
}

#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Claims up to `limit` messages due at `now` until `lease_until`: no other claim, from
    /// this instance or another, is handed them before the lease ends. Counts the attempt.
    async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<OutboxMessage>>;
    async fn mark_delivered(&self, id: Uuid, at: DateTime<Utc>) -> StoreResult<()>;
    /// Records a failed attempt: tried again from `retry_at`, or given up for good (`None`).
    async fn mark_failed(
        &self,
        id: Uuid,
        error: &str,
        at: DateTime<Utc>,
        retry_at: Option<DateTime<Utc>>,
    ) -> StoreResult<()>;
}
