//! Transactions that act for one user under row-level security (migration
//! `20261127000003_row_level_security.sql`): the non-owner role `mana_app` with the user's
//! claims, both set with transaction scope (`SET LOCAL` semantics), so nothing outlives the
//! transaction: a pooled or PgBouncer-shared connection goes back exactly as it came.

use mana_core::ids::UserId;
use mana_core::store::StoreResult;
use sqlx::{Postgres, Transaction};

use crate::PostgresBackend;

/// The role per-user statements run as; created by the migration.
pub const APP_ROLE: &str = "mana_app";

/// Begins a transaction in which policies hand back only `user`'s rows. The settings travel
/// with `BEGIN` in one round trip; they are formatted into the SQL, which is safe because the
/// only variable part is a UUID (hex digits and hyphens).
pub async fn begin_for_user(store: &PostgresBackend, user: UserId) -> StoreResult<Transaction<'static, Postgres>> {
    let claims = format!(r#"{{"sub": "{}", "role": "user"}}"#, user.0.hyphenated());
    let setup =
        format!("SELECT set_config('role', '{APP_ROLE}', true), set_config('request.jwt.claims', '{claims}', true);");
    store.begin_with(Some(&setup)).await
}
