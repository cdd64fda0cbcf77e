use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mana_core::email::Email;
use mana_core::ids::UserId;
use mana_core::store::{Credentials, NewUser, PasswordStore, StoreError, StoreResult, User, UserStore};
use sqlx::Row;

use crate::PostgresStore;
use crate::convert::{self, USER_COLUMNS, db};
use crate::ledger_writes::{insert_balance, insert_ledger};
use crate::scope::begin_for_user;

#[async_trait]
impl UserStore for PostgresStore {
    async fn create_user(&self, new: NewUser) -> StoreResult<User> {
        let mut tx = self.begin().await?;
        db(sqlx::query(
            "INSERT INTO auth.users (id, email, name, role, email_verified, created_at, updated_at)
             VALUES ($1, $2, $3, $4, false, $5, $5)",
        )
        .bind(new.id.0)
        .bind(new.email.as_str())
        .bind(new.name.as_deref())
        .bind(new.role.as_str())
        .bind(new.created_at)
        .execute(&mut *tx)
        .await)?;
        db(sqlx::query("INSERT INTO auth.passwords (user_id, hash, updated_at) VALUES ($1, $2, $3)")
            .bind(new.id.0)
            .bind(&new.password_hash)
            .bind(new.created_at)
            .execute(&mut *tx)
            .await)?;
        insert_balance(&mut tx, &new.opening_balance).await?;
        insert_ledger(&mut tx, &new.opening_transactions).await?;
        db(tx.commit().await)?;
        Ok(User {
            id: new.id,
            email: new.email,
            name: new.name,
            role: new.role,
            email_verified: false,
            created_at: new.created_at,
            updated_at: new.created_at,
            deleted_at: None,
        })
    }

    async fn find_user(&self, id: UserId) -> StoreResult<Option<User>> {
        let mut conn = self.conn().await?;
        let row = db(sqlx::query(&format!("SELECT {USER_COLUMNS} FROM auth.users WHERE id = $1"))
            .bind(id.0)
            .fetch_optional(&mut *conn)
            .await)?;
        conn.finish().await?;
        row.map(|row| convert::user(&row, "")).transpose()
    }

    async fn find_credentials(&self, email: &Email) -> StoreResult<Option<Credentials>> {
        let mut conn = self.conn().await?;
        let row = db(sqlx::query(
            "SELECT u.id, u.email, u.name, u.role, u.email_verified, u.created_at, u.updated_at,
                    u.deleted_at, p.hash
             FROM auth.users u JOIN auth.passwords p ON p.user_id = u.id
             WHERE u.email = $1 AND u.deleted_at IS NULL",
        )
        .bind(email.as_str())
        .fetch_optional(&mut *conn)
        .await)?;
        conn.finish().await?;
        row.map(|row| Ok(Credentials { user: convert::user(&row, "")?, password_hash: db(row.try_get("hash"))? }))
            .transpose()
    }

    async fn soft_delete_user(&self, id: UserId, at: DateTime<Utc>) -> StoreResult<bool> {
        let mut tx = begin_for_user(self, id).await?;
        let deleted = db(sqlx::query(
            "UPDATE auth.users SET deleted_at = $1, updated_at = $1 WHERE id = $2 AND deleted_at IS NULL",
        )
        .bind(at)
        .bind(id.0)
        .execute(&mut *tx)
        .await)?
        .rows_affected()
            == 1;
        if deleted {
            db(sqlx::query("UPDATE auth.sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
                .bind(at)
                .bind(id.0)
                .execute(&mut *tx)
                .await)?;
        }
        db(tx.commit().await)?;
        Ok(deleted)
    }
}

#[async_trait]
impl PasswordStore for PostgresStore {
    async fn set_password_hash(&self, user: UserId, hash: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        let updated = db(sqlx::query("UPDATE auth.passwords SET hash = $1, updated_at = $2 WHERE user_id = $3")
            .bind(hash)
            .bind(at)
            .bind(user.0)
            .execute(&mut *conn)
            .await)?;
        conn.finish().await?;
        if updated.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }
}
