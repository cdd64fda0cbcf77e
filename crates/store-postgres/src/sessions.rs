use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mana_core::ids::{SessionId, UserId};
use mana_core::store::{
    NewSession, RefreshTokenRecord, Rotation, Session, SessionAccess, SessionStore, SessionWithUser, StoreError,
    StoreResult,
};
use mana_core::tokens::TokenHash;
use sqlx::Row;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use crate::PostgresStore;
use crate::convert::{self, db};
use crate::scope::fetch_all_for_user;

const SESSION_COLUMNS: &str = "s.id, s.user_id, s.device_id, s.device_name, s.ip, s.user_agent, s.created_at,
    s.last_used_at, s.expires_at, s.revoked_at, s.generation, s.refresh_token_hash, s.rotated_at,
    s.rotation_nonce, s.access_jti, s.access_issued_at";

fn session(row: &PgRow) -> StoreResult<Session> {
    let nonce: Option<Vec<u8>> = db(row.try_get("rotation_nonce"))?;
    Ok(Session {
        id: SessionId(db(row.try_get::<Uuid, _>("id"))?),
        user_id: UserId(db(row.try_get::<Uuid, _>("user_id"))?),
        device_id: db(row.try_get("device_id"))?,
        device_name: db(row.try_get("device_name"))?,
        client: convert::client(row)?,
        created_at: db(row.try_get("created_at"))?,
        last_used_at: db(row.try_get("last_used_at"))?,
        expires_at: db(row.try_get("expires_at"))?,
        revoked_at: db(row.try_get("revoked_at"))?,
        generation: db(row.try_get("generation"))?,
        refresh_token_hash: convert::token_hash(&db(row.try_get::<Vec<u8>, _>("refresh_token_hash"))?)?,
        rotated_at: db(row.try_get("rotated_at"))?,
        rotation_nonce: nonce
            .map(|bytes| bytes.try_into().map_err(|_| StoreError::Other(anyhow::anyhow!("bad rotation nonce"))))
            .transpose()?,
        access_jti: db(row.try_get("access_jti"))?,
        access_issued_at: db(row.try_get("access_issued_at"))?,
    })
}

#[async_trait]
impl SessionStore for PostgresStore {
    async fn create_session(&self, new: NewSession) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        db(sqlx::query(
            "INSERT INTO auth.sessions (id, user_id, device_id, device_name, ip, user_agent, created_at,
                 last_used_at, expires_at, generation, refresh_token_hash, access_jti, access_issued_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, 0, $9, $10, $11)",
        )
        .bind(new.id.0)
        .bind(new.user_id.0)
        .bind(&new.device_id)
        .bind(&new.device_name)
        .bind(&new.client.ip)
        .bind(&new.client.user_agent)
        .bind(new.created_at)
        .bind(new.expires_at)
        .bind(new.refresh_token_hash.as_bytes().as_slice())
        .bind(&new.access_jti)
        .bind(new.access_issued_at)
        .execute(&mut *tx)
        .await)?;
        db(sqlx::query(
            "INSERT INTO auth.refresh_tokens (token_hash, session_id, generation, created_at) VALUES ($1, $2, 0, $3)",
        )
        .bind(new.refresh_token_hash.as_bytes().as_slice())
        .bind(new.id.0)
        .bind(new.created_at)
        .execute(&mut *tx)
        .await)?;
        db(tx.commit().await)
    }

    async fn find_refresh_token(&self, hash: &TokenHash) -> StoreResult<Option<RefreshTokenRecord>> {
        let mut conn = self.conn().await?;
        let row = db(sqlx::query("SELECT session_id, generation FROM auth.refresh_tokens WHERE token_hash = $1")
            .bind(hash.as_bytes().as_slice())
            .fetch_optional(&mut *conn)
            .await)?;
        conn.finish().await?;
        row.map(|row| {
            Ok(RefreshTokenRecord {
                session_id: SessionId(db(row.try_get::<Uuid, _>("session_id"))?),
                generation: db(row.try_get("generation"))?,
            })
        })
        .transpose()
    }

    async fn find_session(&self, id: SessionId) -> StoreResult<Option<SessionWithUser>> {
        let mut conn = self.conn().await?;
        let row = db(sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS}, u.id AS u_id, u.email AS u_email, u.name AS u_name, u.role AS u_role,
                    u.email_verified AS u_email_verified, u.created_at AS u_created_at,
                    u.updated_at AS u_updated_at, u.deleted_at AS u_deleted_at
             FROM auth.sessions s JOIN auth.users u ON u.id = s.user_id
             WHERE s.id = $1"
        ))
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await)?;
        conn.finish().await?;
        row.map(|row| Ok(SessionWithUser { session: session(&row)?, user: convert::user(&row, "u_")? })).transpose()
    }

    async fn session_access(&self, id: SessionId) -> StoreResult<Option<SessionAccess>> {
        let mut conn = self.conn().await?;
        let row = db(sqlx::query(
            "SELECT s.user_id, s.revoked_at IS NOT NULL AS revoked, u.deleted_at IS NOT NULL AS deleted, u.role
             FROM auth.sessions s JOIN auth.users u ON u.id = s.user_id WHERE s.id = $1",
        )
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await)?;
        conn.finish().await?;
        row.map(|row| {
            let role: String = db(row.try_get("role"))?;
            Ok(SessionAccess {
                user_id: UserId(db(row.try_get::<Uuid, _>("user_id"))?),
                revoked: db(row.try_get("revoked"))?,
                user_deleted: db(row.try_get("deleted"))?,
                role: role.parse().map_err(|e: String| StoreError::Other(anyhow::anyhow!(e)))?,
            })
        })
        .transpose()
    }

    async fn rotate_session(&self, rotation: Rotation) -> StoreResult<bool> {
        // One statement: the conditional UPDATE is the compare-and-swap, and the INSERT runs only
        // if it matched a row.
        let mut conn = self.conn().await?;
        let inserted = db(sqlx::query(
            "WITH rotated AS (
                 UPDATE auth.sessions
                 SET generation = generation + 1, refresh_token_hash = $1, rotation_nonce = $2, rotated_at = $3,
                     last_used_at = $3, expires_at = $4, access_jti = $5, access_issued_at = $6,
                     ip = COALESCE($7, ip), user_agent = COALESCE($8, user_agent)
                 WHERE id = $9 AND generation = $10 AND revoked_at IS NULL
                 RETURNING id, generation
             )
             INSERT INTO auth.refresh_tokens (token_hash, session_id, generation, created_at)
             SELECT $1, id, generation, $3 FROM rotated",
        )
        .bind(rotation.new_token_hash.as_bytes().as_slice())
        .bind(rotation.nonce.as_slice())
        .bind(rotation.at)
        .bind(rotation.expires_at)
        .bind(&rotation.access_jti)
        .bind(rotation.access_issued_at)
        .bind(&rotation.client.ip)
        .bind(&rotation.client.user_agent)
        .bind(rotation.session_id.0)
        .bind(rotation.from_generation)
        .execute(&mut *conn)
        .await)?;
        conn.finish().await?;
        Ok(inserted.rows_affected() == 1)
    }

    async fn revoke_session(&self, id: SessionId, at: DateTime<Utc>) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        let revoked = db(sqlx::query("UPDATE auth.sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(at)
            .bind(id.0)
            .execute(&mut *conn)
            .await)?;
        conn.finish().await?;
        Ok(revoked.rows_affected() == 1)
    }

    async fn list_sessions(&self, user: UserId) -> StoreResult<Vec<Session>> {
        let rows = fetch_all_for_user(self, user, sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM auth.sessions s WHERE s.user_id = $1 ORDER BY s.created_at DESC, s.id DESC"
        ))
        .bind(user.0)).await?;
        rows.iter().map(session).collect()
    }
}
