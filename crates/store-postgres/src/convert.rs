//! Conversions between domain values and PostgreSQL column values.

use anyhow::anyhow;
use mana_core::email::Email;
use mana_core::ids::{Role, UserId};
use mana_core::store::{ClientInfo, StoreError, User};
use mana_core::tokens::TokenHash;
use sqlx::Row;
use sqlx::postgres::PgRow;
use uuid::Uuid;

pub fn db<T>(result: Result<T, sqlx::Error>) -> Result<T, StoreError> {
    result.map_err(super::store_error)
}

pub fn token_hash(bytes: &[u8]) -> Result<TokenHash, StoreError> {
    TokenHash::from_slice(bytes).ok_or_else(|| StoreError::Other(anyhow!("stored token hash has the wrong length")))
}

/// Reads the user columns `{prefix}id`, `{prefix}email`, … of a row.
pub fn user(row: &PgRow, prefix: &str) -> Result<User, StoreError> {
    let col = |name: &str| format!("{prefix}{name}");
    let email: String = db(row.try_get(col("email").as_str()))?;
    let role: String = db(row.try_get(col("role").as_str()))?;
    Ok(User {
        id: UserId(db(row.try_get::<Uuid, _>(col("id").as_str()))?),
        email: Email::parse(&email).map_err(|e| StoreError::Other(anyhow!("stored email {email:?} {e}")))?,
        name: db(row.try_get(col("name").as_str()))?,
        role: role.parse::<Role>().map_err(|e| StoreError::Other(anyhow!(e)))?,
        email_verified: db(row.try_get(col("email_verified").as_str()))?,
        created_at: db(row.try_get(col("created_at").as_str()))?,
        updated_at: db(row.try_get(col("updated_at").as_str()))?,
        deleted_at: db(row.try_get(col("deleted_at").as_str()))?,
    })
}

pub fn client(row: &PgRow) -> Result<ClientInfo, StoreError> {
    Ok(ClientInfo { ip: db(row.try_get("ip"))?, user_agent: db(row.try_get("user_agent"))? })
}

pub const USER_COLUMNS: &str = "id, email, name, role, email_verified, created_at, updated_at, deleted_at";
