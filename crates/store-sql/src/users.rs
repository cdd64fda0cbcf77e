//! Users and their passwords.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mana_core::email::Email;
use mana_core::ids::SessionId;
use mana_core::ids::UserId;
use mana_core::store::{
    AccountLinks, Credentials, LinkedIdentity, NewUser, OutgoingEmail, PasswordStore, ProfileStore, StoreError,
    StoreResult, User, UserStore,
};

use crate::SqlStore;
use crate::backend::{Backend, SqlRow};
use crate::decode::{self, user_columns};
use crate::ledger_writes::{insert_balance, insert_ledger};
use crate::lifecycle::{insert_link_mail, queue_email};
use crate::sessions::REVOKE_OTHER_SESSIONS;
use crate::sql::Sql;
use crate::statement::Statement;

static INSERT_USER: Sql = Sql::new(
    "INSERT INTO auth.users (id, email, name, role, email_verified, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $6)",
);
static INSERT_PASSWORD: Sql = Sql::new("INSERT INTO auth.passwords (user_id, hash, updated_at) VALUES ($1, $2, $3)");
static FIND_USER: Sql = Sql::new(concat!("SELECT ", user_columns!(), " FROM auth.users WHERE id = $1"));
static FIND_CREDENTIALS: Sql = Sql::new(
    "SELECT u.id, u.email, u.name, u.role, u.email_verified, u.created_at, u.updated_at,
            u.deleted_at, u.locked_at, p.hash
     FROM auth.users u JOIN auth.passwords p ON p.user_id = u.id
     WHERE u.email = $1 AND u.deleted_at IS NULL",
);
static SOFT_DELETE_USER: Sql =
    Sql::new("UPDATE auth.users SET deleted_at = $1, updated_at = $1 WHERE id = $2 AND deleted_at IS NULL");
static REVOKE_USER_SESSIONS: Sql =
    Sql::new("UPDATE auth.sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL");
/// A deleted account's providers are released, so that they can sign up afresh.
static RELEASE_IDENTITIES: Sql = Sql::new("DELETE FROM auth.accounts WHERE user_id = $1");
static SET_NAME: Sql =
    Sql::new("UPDATE auth.users SET name = $2, updated_at = $3 WHERE id = $1 AND deleted_at IS NULL");
static TWO_FACTOR_ENABLED: Sql =
    Sql::new("SELECT enabled_at IS NOT NULL AS enabled FROM auth.totp_factors WHERE user_id = $1");
static IDENTITIES: Sql =
    Sql::new("SELECT provider, provider_email FROM auth.accounts WHERE user_id = $1 ORDER BY created_at, provider");
static SET_PASSWORD: Sql = Sql::new("UPDATE auth.passwords SET hash = $1, updated_at = $2 WHERE user_id = $3");

/// The user, their password if they have one, their credit account and their verification
/// link, inside the caller's transaction.
pub(crate) async fn insert_user<B: Backend>(tx: &mut B::Conn, new: NewUser) -> StoreResult<User> {
    let insert_user = Statement::new(&INSERT_USER)
        .id(new.id.0)
        .text_arg(new.email.as_str())
        .opt_text(new.name.as_deref())
        .text_arg(new.role.as_str())
        .flag(new.email_verified)
        .time(new.created_at);
    B::execute(tx, insert_user).await?;
    if let Some(hash) = &new.password_hash {
        B::execute(tx, Statement::new(&INSERT_PASSWORD).id(new.id.0).text_arg(hash.as_str()).time(new.created_at))
            .await?;
    }
    insert_balance::<B>(tx, &new.opening_balance).await?;
    insert_ledger::<B>(tx, &new.opening_transactions).await?;
    if let Some(verification) = &new.verification {
        insert_link_mail::<B>(tx, verification).await?;
    }
    Ok(User {
        id: new.id,
        email: new.email,
        name: new.name,
        role: new.role,
        email_verified: new.email_verified,
        created_at: new.created_at,
        updated_at: new.created_at,
        deleted_at: None,
        locked_at: None,
    })
}

#[async_trait]
impl<B: Backend> UserStore for SqlStore<B> {
    async fn create_user(&self, new: NewUser) -> StoreResult<User> {
        let mut tx = self.backend.write().await?;
        let user = insert_user::<B>(&mut tx, new).await?;
        B::finish(tx).await?;
        Ok(user)
    }

    async fn find_user(&self, id: UserId) -> StoreResult<Option<User>> {
        let row = self.fetch_optional(Statement::new(&FIND_USER).id(id.0)).await?;
        row.map(|row| decode::user(&row, "")).transpose()
    }

    async fn find_credentials(&self, email: &Email) -> StoreResult<Option<Credentials>> {
        let row = self.fetch_optional(Statement::new(&FIND_CREDENTIALS).text_arg(email.as_str())).await?;
        row.map(|row| Ok(Credentials { user: decode::user(&row, "")?, password_hash: row.text("hash")? })).transpose()
    }

    async fn soft_delete_user(&self, id: UserId, at: DateTime<Utc>) -> StoreResult<bool> {
        let mut tx = self.backend.write_as(id).await?;
        let deleted = B::execute(&mut tx, Statement::new(&SOFT_DELETE_USER).time(at).id(id.0)).await? == 1;
        if deleted {
            B::execute(&mut tx, Statement::new(&REVOKE_USER_SESSIONS).time(at).id(id.0)).await?;
            B::execute(&mut tx, Statement::new(&RELEASE_IDENTITIES).id(id.0)).await?;
        }
        B::finish(tx).await?;
        Ok(deleted)
    }
}

#[async_trait]
impl<B: Backend> PasswordStore for SqlStore<B> {
    async fn set_password_hash(&self, user: UserId, hash: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let updated = self.execute(Statement::new(&SET_PASSWORD).text_arg(hash).time(at).id(user.0)).await?;
        if updated == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn change_password(
        &self,
        user: UserId,
        hash: &str,
        keep: SessionId,
        at: DateTime<Utc>,
        notice: Option<OutgoingEmail>,
    ) -> StoreResult<u64> {
        let mut tx = self.backend.write_as(user).await?;
        if B::execute(&mut tx, Statement::new(&SET_PASSWORD).text_arg(hash).time(at).id(user.0)).await? == 0 {
            return Err(StoreError::NotFound);
        }
        let revoke = Statement::new(&REVOKE_OTHER_SESSIONS).id(user.0).id(keep.0).time(at);
        let revoked = B::execute(&mut tx, revoke).await?;
        if let Some(notice) = &notice {
            B::execute(&mut tx, queue_email(notice)).await?;
        }
        B::finish(tx).await?;
        Ok(revoked)
    }
}

#[async_trait]
impl<B: Backend> ProfileStore for SqlStore<B> {
    async fn set_display_name(&self, user: UserId, name: Option<&str>, at: DateTime<Utc>) -> StoreResult<bool> {
        let mut tx = self.backend.write_as(user).await?;
        let updated = B::execute(&mut tx, Statement::new(&SET_NAME).id(user.0).opt_text(name).time(at)).await?;
        B::finish(tx).await?;
        Ok(updated == 1)
    }

    async fn account_links(&self, user: UserId) -> StoreResult<AccountLinks> {
        let mut conn = self.backend.read_as(user).await?;
        let two_factor = B::fetch_optional(&mut conn, Statement::new(&TWO_FACTOR_ENABLED).id(user.0)).await?;
        let identities = B::fetch_all(&mut conn, Statement::new(&IDENTITIES).id(user.0)).await?;
        B::finish(conn).await?;
        Ok(AccountLinks {
            two_factor_enabled: two_factor.map(|row| row.flag("enabled")).transpose()?.unwrap_or(false),
            identities: identities
                .iter()
                .map(|row| {
                    Ok(LinkedIdentity { provider: row.text("provider")?, email: row.opt_text("provider_email")? })
                })
                .collect::<StoreResult<_>>()?,
        })
    }
}
