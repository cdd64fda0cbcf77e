//! Sessions and their refresh tokens.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mana_core::ids::{SessionId, UserId};
use mana_core::store::{
    NewSession, RefreshTokenRecord, Rotation, Session, SessionAccess, SessionStore, SessionWithUser, StoreResult,
};
use mana_core::tokens::TokenHash;

use crate::SqlStore;
use crate::backend::{Backend, SqlRow};
use crate::decode::{self, session_columns};
use crate::sql::Sql;
use crate::statement::Statement;

static INSERT_SESSION: Sql = Sql::new(
    "INSERT INTO auth.sessions (id, user_id, device_id, device_name, ip, user_agent, created_at,
         last_used_at, expires_at, generation, refresh_token_hash, access_jti, access_issued_at, amr)
     SELECT $1, $2, $3, $4, $5, $6, $7, $7, $8, 0, $9, $10, $11, $12
     FROM auth.users WHERE id = $2 AND deleted_at IS NULL AND locked_at IS NULL",
);
static INSERT_REFRESH_TOKEN: Sql = Sql::new(
    "INSERT INTO auth.refresh_tokens (token_hash, session_id, generation, created_at) VALUES ($1, $2, $3, $4)",
);
static FIND_REFRESH_TOKEN: Sql =
    Sql::new("SELECT session_id, generation FROM auth.refresh_tokens WHERE token_hash = $1");
static FIND_SESSION: Sql = Sql::new(concat!(
    "SELECT ",
    session_columns!(),
    ", u.id AS u_id, u.email AS u_email, u.name AS u_name, u.role AS u_role,
       u.email_verified AS u_email_verified, u.created_at AS u_created_at,
       u.updated_at AS u_updated_at, u.deleted_at AS u_deleted_at, u.locked_at AS u_locked_at
     FROM auth.sessions s JOIN auth.users u ON u.id = s.user_id
     WHERE s.id = $1"
));
static SESSION_ACCESS: Sql = Sql::new(
    "SELECT s.user_id, s.revoked_at IS NOT NULL AS revoked, u.deleted_at IS NOT NULL AS deleted, u.role
     FROM auth.sessions s JOIN auth.users u ON u.id = s.user_id WHERE s.id = $1",
);
/// The compare-and-swap of a rotation: it matches only the live session at the generation the
/// caller saw.
macro_rules! rotate_session_sql {
    () => {
        "UPDATE auth.sessions
         SET generation = generation + 1, refresh_token_hash = $1, rotation_nonce = $2, rotated_at = $3,
             last_used_at = $3, expires_at = $4, access_jti = $5, access_issued_at = $6,
             ip = COALESCE($7, ip), user_agent = COALESCE($8, user_agent)
         WHERE id = $9 AND generation = $10 AND revoked_at IS NULL"
    };
}
static ROTATE_SESSION: Sql = Sql::new(rotate_session_sql!());
/// The same in one round trip: the new refresh token is inserted only if the update matched.
static ROTATE_SESSION_AND_RECORD_TOKEN: Sql = Sql::new(concat!(
    "WITH rotated AS (",
    rotate_session_sql!(),
    " RETURNING id, generation)
     INSERT INTO auth.refresh_tokens (token_hash, session_id, generation, created_at)
     SELECT $1, id, generation, $3 FROM rotated"
));
static REVOKE_SESSION: Sql = Sql::new("UPDATE auth.sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL");
pub(crate) static REVOKE_OTHER_SESSIONS: Sql =
    Sql::new("UPDATE auth.sessions SET revoked_at = $3 WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL");
static LIST_SESSIONS: Sql = Sql::new(concat!(
    "SELECT ",
    session_columns!(),
    " FROM auth.sessions s WHERE s.user_id = $1 ORDER BY s.created_at DESC, s.id DESC"
));

fn rotation_statement(sql: &'static Sql, rotation: &Rotation) -> Statement {
    Statement::new(sql)
        .bytes(rotation.new_token_hash.as_bytes())
        .bytes(&rotation.nonce)
        .time(rotation.at)
        .time(rotation.expires_at)
        .text_arg(rotation.access_jti.as_str())
        .time(rotation.access_issued_at)
        .opt_text(rotation.client.ip.as_deref())
        .opt_text(rotation.client.user_agent.as_deref())
        .id(rotation.session_id.0)
        .int(rotation.from_generation)
}

#[async_trait]
impl<B: Backend> SessionStore for SqlStore<B> {
    async fn create_session(&self, new: NewSession) -> StoreResult<bool> {
        let mut tx = self.backend.write().await?;
        let insert_session = Statement::new(&INSERT_SESSION)
            .id(new.id.0)
            .id(new.user_id.0)
            .opt_text(new.device_id.as_deref())
            .opt_text(new.device_name.as_deref())
            .opt_text(new.client.ip.as_deref())
            .opt_text(new.client.user_agent.as_deref())
            .time(new.created_at)
            .time(new.expires_at)
            .bytes(new.refresh_token_hash.as_bytes())
            .text_arg(new.access_jti.as_str())
            .time(new.access_issued_at)
            .text_arg(new.amr.join(" "));
        // A locked or deleted account gets no session: decided by the insert itself, so a lock
        // committed a moment earlier is seen (and one committed later ends this session).
        if B::execute(&mut tx, insert_session).await? == 0 {
            B::finish(tx).await?;
            return Ok(false);
        }
        let insert_token = Statement::new(&INSERT_REFRESH_TOKEN)
            .bytes(new.refresh_token_hash.as_bytes())
            .id(new.id.0)
            .int(0)
            .time(new.created_at);
        B::execute(&mut tx, insert_token).await?;
        B::finish(tx).await?;
        Ok(true)
    }

    async fn find_refresh_token(&self, hash: &TokenHash) -> StoreResult<Option<RefreshTokenRecord>> {
        let row = self.fetch_optional(Statement::new(&FIND_REFRESH_TOKEN).bytes(hash.as_bytes())).await?;
        row.map(|row| {
            Ok(RefreshTokenRecord { session_id: SessionId(row.id("session_id")?), generation: row.int("generation")? })
        })
        .transpose()
    }

    async fn find_session(&self, id: SessionId) -> StoreResult<Option<SessionWithUser>> {
        let row = self.fetch_optional(Statement::new(&FIND_SESSION).id(id.0)).await?;
        row.map(|row| Ok(SessionWithUser { session: decode::session(&row)?, user: decode::user(&row, "u_")? }))
            .transpose()
    }

    async fn session_access(&self, id: SessionId) -> StoreResult<Option<SessionAccess>> {
        let row = self.fetch_optional(Statement::new(&SESSION_ACCESS).id(id.0)).await?;
        row.map(|row| {
            Ok(SessionAccess {
                user_id: decode::user_id(&row, "user_id")?,
                revoked: row.flag("revoked")?,
                user_deleted: row.flag("deleted")?,
                role: decode::role(&row, "role")?,
            })
        })
        .transpose()
    }

    async fn rotate_session(&self, rotation: Rotation) -> StoreResult<bool> {
        if B::DIALECT.has_writable_ctes() {
            let statement = rotation_statement(&ROTATE_SESSION_AND_RECORD_TOKEN, &rotation);
            return Ok(self.execute(statement).await? == 1);
        }
        let mut tx = self.backend.write().await?;
        let applied = B::execute(&mut tx, rotation_statement(&ROTATE_SESSION, &rotation)).await? == 1;
        if applied {
            let insert_token = Statement::new(&INSERT_REFRESH_TOKEN)
                .bytes(rotation.new_token_hash.as_bytes())
                .id(rotation.session_id.0)
                .int(rotation.from_generation + 1)
                .time(rotation.at);
            B::execute(&mut tx, insert_token).await?;
        }
        B::finish(tx).await?;
        Ok(applied)
    }

    async fn revoke_session(&self, id: SessionId, at: DateTime<Utc>) -> StoreResult<bool> {
        Ok(self.execute(Statement::new(&REVOKE_SESSION).time(at).id(id.0)).await? == 1)
    }

    async fn list_sessions(&self, user: UserId) -> StoreResult<Vec<Session>> {
        let rows = self.fetch_all_as(user, Statement::new(&LIST_SESSIONS).id(user.0)).await?;
        rows.iter().map(decode::session).collect()
    }

    async fn revoke_other_sessions(&self, user: UserId, keep: SessionId, at: DateTime<Utc>) -> StoreResult<u64> {
        let mut tx = self.backend.write_as(user).await?;
        let revoked =
            B::execute(&mut tx, Statement::new(&REVOKE_OTHER_SESSIONS).id(user.0).id(keep.0).time(at)).await?;
        B::finish(tx).await?;
        Ok(revoked)
    }
}
