//! Email link tokens and the email outbox.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mana_core::email::Email;
use mana_core::ids::UserId;
use mana_core::store::{
    LinkEffect, LinkMail, LinkTokenRecord, LinkTokenStore, OutboxMessage, OutboxStore, OutgoingEmail, StoreResult,
};
use mana_core::tokens::{LinkPurpose, TokenHash};
use uuid::Uuid;

use crate::SqlStore;
use crate::backend::{Backend, SqlRow};
use crate::decode::{self, corrupt};
use crate::sql::Sql;
use crate::statement::Statement;

static VOID_RESET_TOKENS: Sql = Sql::new(
    "UPDATE auth.verification_tokens SET used_at = $2
     WHERE user_id = $1 AND purpose = 'password_reset' AND used_at IS NULL",
);
static INSERT_TOKEN: Sql = Sql::new(
    "INSERT INTO auth.verification_tokens (id, user_id, purpose, token_hash, new_email, created_at, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)",
);
static FIND_TOKEN: Sql = Sql::new(
    "SELECT user_id, purpose, new_email, expires_at, used_at FROM auth.verification_tokens WHERE token_hash = $1",
);
/// The single use: of concurrent statements, only the first to update the row returns it.
static CONSUME_TOKEN: Sql = Sql::new(
    "UPDATE auth.verification_tokens SET used_at = $3
     WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3
     RETURNING user_id, new_email",
);
static VERIFY_EMAIL: Sql =
    Sql::new("UPDATE auth.users SET email_verified = true, updated_at = $2 WHERE id = $1 AND deleted_at IS NULL");
static CHANGE_EMAIL: Sql = Sql::new(
    "UPDATE auth.users SET email = $3, email_verified = true, updated_at = $2 WHERE id = $1 AND deleted_at IS NULL",
);
/// A reset sets the password of an account that had none (made by social sign-in) too.
static SET_PASSWORD: Sql = Sql::new(
    "INSERT INTO auth.passwords (user_id, hash, updated_at) VALUES ($1, $3, $2)
     ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, updated_at = excluded.updated_at",
);
static REVOKE_SESSIONS: Sql =
    Sql::new("UPDATE auth.sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL");
static QUEUE_EMAIL: Sql = Sql::new(
    "INSERT INTO auth.email_outbox (id, user_id, to_address, subject, text_body, html_body, created_at, attempts,
         next_attempt_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $7)",
);
static CLAIM: Sql = Sql::new(
    "UPDATE auth.email_outbox SET locked_until = $2, attempts = attempts + 1
     WHERE id IN (
         SELECT id FROM auth.email_outbox
         WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1
           AND (locked_until IS NULL OR locked_until <= $1)
         ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
     RETURNING id, user_id, to_address, subject, text_body, html_body, attempts, created_at",
);
static MARK_DELIVERED: Sql =
    Sql::new("UPDATE auth.email_outbox SET delivered_at = $2, locked_until = NULL, last_error = NULL WHERE id = $1");
static MARK_RETRY: Sql =
    Sql::new("UPDATE auth.email_outbox SET last_error = $2, next_attempt_at = $3, locked_until = NULL WHERE id = $1");
static MARK_GIVEN_UP: Sql =
    Sql::new("UPDATE auth.email_outbox SET last_error = $2, failed_at = $3, locked_until = NULL WHERE id = $1");

/// Stores the token (voiding the user's earlier reset tokens if it is one) and queues its
/// message, inside the caller's transaction.
pub(crate) async fn insert_link_mail<B: Backend>(tx: &mut B::Conn, mail: &LinkMail) -> StoreResult<()> {
    let token = &mail.token;
    if token.purpose == LinkPurpose::PasswordReset {
        B::execute(tx, Statement::new(&VOID_RESET_TOKENS).id(token.user_id.0).time(token.created_at)).await?;
    }
    let insert = Statement::new(&INSERT_TOKEN)
        .id(token.id)
        .id(token.user_id.0)
        .text_arg(token.purpose.as_str())
        .bytes(token.hash.as_bytes())
        .opt_text(token.new_email.as_ref().map(Email::as_str))
        .time(token.created_at)
        .time(token.expires_at);
    B::execute(tx, insert).await?;
    B::execute(tx, queue_email(&mail.email)).await?;
    if let Some(notice) = &mail.notice {
        B::execute(tx, queue_email(notice)).await?;
    }
    Ok(())
}

pub(crate) fn queue_email(email: &OutgoingEmail) -> Statement {
    Statement::new(&QUEUE_EMAIL)
        .id(email.id)
        .id(email.user_id.0)
        .text_arg(email.to.as_str())
        .text_arg(email.subject.as_str())
        .text_arg(email.text_body.as_str())
        .text_arg(email.html_body.as_str())
        .time(email.created_at)
}

fn email(text: Option<String>) -> StoreResult<Option<Email>> {
    text.map(|text| Email::parse(&text).map_err(|e| corrupt(format!("stored email {text:?} {e}")))).transpose()
}

fn purpose(row: &impl SqlRow) -> StoreResult<LinkPurpose> {
    let text = row.text("purpose")?;
    LinkPurpose::parse(&text).ok_or_else(|| corrupt(format!("unknown token purpose {text:?}")))
}

fn outbox_message(row: &impl SqlRow) -> StoreResult<OutboxMessage> {
    Ok(OutboxMessage {
        id: row.id("id")?,
        user_id: decode::user_id(row, "user_id")?,
        to: row.text("to_address")?,
        subject: row.text("subject")?,
        text_body: row.text("text_body")?,
        html_body: row.text("html_body")?,
        attempts: row.int("attempts")?,
        created_at: row.time("created_at")?,
    })
}

#[async_trait]
impl<B: Backend> LinkTokenStore for SqlStore<B> {
    async fn issue_link_token(&self, mail: LinkMail) -> StoreResult<()> {
        let mut tx = self.backend.write_as(mail.token.user_id).await?;
        insert_link_mail::<B>(&mut tx, &mail).await?;
        B::finish(tx).await
    }

    async fn find_link_token(&self, hash: &TokenHash) -> StoreResult<Option<LinkTokenRecord>> {
        let row = self.fetch_optional(Statement::new(&FIND_TOKEN).bytes(hash.as_bytes())).await?;
        row.map(|row| {
            Ok(LinkTokenRecord {
                user_id: decode::user_id(&row, "user_id")?,
                purpose: purpose(&row)?,
                new_email: email(row.opt_text("new_email")?)?,
                expires_at: row.time("expires_at")?,
                used_at: row.opt_time("used_at")?,
            })
        })
        .transpose()
    }

    async fn use_link_token(
        &self,
        hash: &TokenHash,
        purpose: LinkPurpose,
        now: DateTime<Utc>,
        effect: LinkEffect,
        notice: Option<OutgoingEmail>,
    ) -> StoreResult<bool> {
        // The user is known only once the token is: the owner's unit of work, not a user's.
        let mut tx = self.backend.write().await?;
        let consume = Statement::new(&CONSUME_TOKEN).bytes(hash.as_bytes()).text_arg(purpose.as_str()).time(now);
        let Some(row) = B::fetch_optional(&mut tx, consume).await? else {
            B::finish(tx).await?;
            return Ok(false);
        };
        let user = decode::user_id(&row, "user_id")?;
        apply::<B>(&mut tx, user, now, effect).await?;
        if let Some(notice) = &notice {
            B::execute(&mut tx, queue_email(notice)).await?;
        }
        B::finish(tx).await?;
        Ok(true)
    }
}

async fn apply<B: Backend>(tx: &mut B::Conn, user: UserId, now: DateTime<Utc>, effect: LinkEffect) -> StoreResult<()> {
    match effect {
        LinkEffect::VerifyEmail => {
            B::execute(tx, Statement::new(&VERIFY_EMAIL).id(user.0).time(now)).await?;
        }
        LinkEffect::ChangeEmail(email) => {
            B::execute(tx, Statement::new(&CHANGE_EMAIL).id(user.0).time(now).text_arg(email.as_str())).await?;
        }
        LinkEffect::ResetPassword { password_hash } => {
            B::execute(tx, Statement::new(&SET_PASSWORD).id(user.0).time(now).text_arg(password_hash)).await?;
            B::execute(tx, Statement::new(&REVOKE_SESSIONS).id(user.0).time(now)).await?;
        }
    }
    Ok(())
}

#[async_trait]
impl<B: Backend> OutboxStore for SqlStore<B> {
    async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<OutboxMessage>> {
        let mut tx = self.backend.write().await?;
        let rows = B::fetch_all(&mut tx, Statement::new(&CLAIM).time(now).time(lease_until).int(limit)).await?;
        B::finish(tx).await?;
        rows.iter().map(outbox_message).collect()
    }

    async fn mark_delivered(&self, id: Uuid, at: DateTime<Utc>) -> StoreResult<()> {
        self.execute(Statement::new(&MARK_DELIVERED).id(id).time(at)).await?;
        Ok(())
    }

    async fn mark_failed(
        &self,
        id: Uuid,
        error: &str,
        at: DateTime<Utc>,
        retry_at: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        let statement = match retry_at {
            Some(retry_at) => Statement::new(&MARK_RETRY).id(id).text_arg(error).time(retry_at),
            None => Statement::new(&MARK_GIVEN_UP).id(id).text_arg(error).time(at),
        };
        self.execute(statement).await?;
        Ok(())
    }
}
