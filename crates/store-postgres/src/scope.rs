//! Transactions that act for one user under row-level security (migration
//! `20261127000003_row_level_security.sql`): the non-owner role `mana_app` with the user's
//! claims, both set with transaction scope (`SET LOCAL` semantics), so nothing outlives the
//! transaction: a pooled or PgBouncer-shared connection goes back exactly as it came.

use mana_core::ids::UserId;
use mana_core::store::StoreResult;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{Postgres, Transaction};

use crate::PostgresStore;

use crate::convert::db;

/// The role per-user statements run as; created by the migration.
pub const APP_ROLE: &str = "mana_app";

/// Begins a transaction in which policies hand back only `user`'s rows.
pub async fn begin_for_user(store: &PostgresStore, user: UserId) -> StoreResult<Transaction<'static, Postgres>> {
    let mut tx = store.begin().await?;
    let claims = serde_json::json!({ "sub": user.0, "role": "user" }).to_string();
    // One round trip for both settings.
    db(sqlx::query("SELECT set_config('role', $1, true), set_config('request.jwt.claims', $2, true)")
        .bind(APP_ROLE)
        .bind(claims)
        .execute(&mut *tx)
        .await)?;
    Ok(tx)
}

/// Runs one read for `user` under their claims.
pub async fn fetch_all_for_user(
    store: &PostgresStore,
    user: UserId,
    query: Query<'_, Postgres, PgArguments>,
) -> StoreResult<Vec<PgRow>> {
    let mut tx = begin_for_user(store, user).await?;
    let rows = db(query.fetch_all(&mut *tx).await)?;
    db(tx.commit().await)?;
    Ok(rows)
}
