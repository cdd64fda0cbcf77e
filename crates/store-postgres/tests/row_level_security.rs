//! Row-level security: acting as `mana_app` with one user's claims, every protected table hands
//! back only that user's rows; with no claims, nothing; writes to other users' rows are refused;
//! and none of it outlives the transaction.

// Test helpers outside #[test] functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use mana_store_conformance::{SharedStore, credit_fixture, new_session, spend_with_key, t0};
use mana_store_postgres::PostgresStore;
use mana_store_postgres::testing::fresh_database;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

/// Every table holding users' rows, and how to tell that a row is `$1`'s.
const PROTECTED: &[(&str, &str)] = &[
    ("auth.users", "id = $1"),
    ("auth.passwords", "user_id = $1"),
    ("auth.sessions", "user_id = $1"),
    ("auth.refresh_tokens", "session_id IN (SELECT id FROM auth.sessions WHERE user_id = $1)"),
    ("auth.security_events", "user_id = $1"),
    ("auth.accounts", "user_id = $1"),
    ("auth.verification_tokens", "user_id = $1"),
    ("auth.totp_factors", "user_id = $1"),
    ("auth.backup_codes", "user_id = $1"),
    ("auth.mfa_challenges", "user_id = $1"),
    ("auth.email_outbox", "user_id = $1"),
    ("credits.balances", "user_id = $1"),
    ("credits.transactions", "user_id = $1"),
    ("credits.postings", "transaction_id IN (SELECT id FROM credits.transactions WHERE user_id = $1)"),
    ("credits.idempotency_keys", "user_id = $1"),
    ("credits.usage_stats", "user_id = $1"),
    ("credits.purchases", "user_id = $1"),
];

/// Two users with a row in every protected table, written through the store where it has a
/// way, directly where no feature writes the table yet.
async fn two_users() -> (PostgresStore, Uuid, Uuid) {
    let (store, _) = fresh_database(4).await.unwrap();
    let shared: SharedStore = Arc::new(store.clone());
    let mut users = Vec::new();
    for _ in 0..2 {
        let (credits, _clock, user) = credit_fixture(&shared, Default::default()).await;
        let (session, _) = new_session(user, t0());
        shared.create_session(session).await.unwrap();
        credits.spend(user, spend_with_key(3, "k")).await.unwrap();
        let id = user.0;
        for statement in [
            "INSERT INTO auth.security_events (user_id, kind, created_at) VALUES ($1, 'login', now())",
            "INSERT INTO auth.accounts (id, user_id, provider, provider_account_id, created_at, updated_at)
             VALUES (gen_random_uuid(), $1, 'github', $1::text, now(), now())",
            "INSERT INTO auth.verification_tokens (id, user_id, purpose, token_hash, created_at, expires_at)
             VALUES (gen_random_uuid(), $1, 'email_verification', sha256($1::text::bytea), now(), now())",
            "INSERT INTO auth.totp_factors (user_id, sealed_secret, created_at) VALUES ($1, 'v1.x.y', now())",
            "INSERT INTO auth.backup_codes (code_hash, user_id, created_at) VALUES (sha256($1::text::bytea), $1, now())",
            "INSERT INTO auth.mfa_challenges (token_hash, user_id, created_at, expires_at)
             VALUES (sha256($1::text::bytea), $1, now(), now())",
            "INSERT INTO auth.email_outbox (id, user_id, to_address, subject, text_body, html_body, created_at,
                 next_attempt_at)
             VALUES (gen_random_uuid(), $1, 'a@example.com', 's', 't', 'h', now(), now())",
            "INSERT INTO credits.purchases (id, user_id, package_id, credits, amount_cents, currency, status, created_at)
             VALUES (gen_random_uuid(), $1, 'starter', 500, 500, 'EUR', 'pending', now())",
        ] {
            sqlx::query(statement).bind(id).execute(store.pool()).await.unwrap();
        }
        users.push(id);
    }
    (store, users[0], users[1])
}

async fn count(conn: &mut PgConnection, table: &str, filter: Option<(&str, Uuid)>) -> i64 {
    let query = match filter {
        Some((condition, _)) => format!("SELECT count(*) FROM {table} WHERE {condition}"),
        None => format!("SELECT count(*) FROM {table}"),
    };
    let mut query = sqlx::query(&query);
    if let Some((_, user)) = filter {
        query = query.bind(user);
    }
    query.fetch_one(conn).await.unwrap().get(0)
}

/// Opens a transaction acting as `mana_app` with `claims` (none: no claims at all).
async fn begin_as(conn: &mut PgConnection, claims: Option<serde_json::Value>) {
    sqlx::query("BEGIN").execute(&mut *conn).await.unwrap();
    sqlx::query("SELECT set_config('role', 'mana_app', true)").execute(&mut *conn).await.unwrap();
    if let Some(claims) = claims {
        sqlx::query("SELECT set_config('request.jwt.claims', $1, true)")
            .bind(claims.to_string())
            .execute(&mut *conn)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn with_a_users_claims_every_protected_table_shows_only_their_rows() {
    let (store, alice, bob) = two_users().await;
    let mut conn = store.pool().acquire().await.unwrap();
    // What the owner sees: each user has rows everywhere.
    let mut expected = Vec::new();
    for (table, condition) in PROTECTED {
        let own = count(&mut conn, table, Some((condition, alice))).await;
        let others = count(&mut conn, table, Some((condition, bob))).await;
        assert!(own > 0 && others > 0, "{table} has rows of both users");
        expected.push(own);
    }
    begin_as(&mut conn, Some(serde_json::json!({"sub": alice, "role": "user"}))).await;
    for ((table, _), own) in PROTECTED.iter().zip(&expected) {
        // No WHERE clause: the policy alone filters.
        assert_eq!(count(&mut conn, table, None).await, *own, "{table}");
    }
    sqlx::query("ROLLBACK").execute(&mut *conn).await.unwrap();
}

#[tokio::test]
async fn without_claims_nothing_is_visible_and_privileged_roles_see_everyone() {
    let (store, _, _) = two_users().await;
    let mut conn = store.pool().acquire().await.unwrap();
    begin_as(&mut conn, None).await;
    for (table, _) in PROTECTED {
        assert_eq!(count(&mut conn, table, None).await, 0, "{table}");
    }
    sqlx::query("ROLLBACK").execute(&mut *conn).await.unwrap();

    for role in ["admin", "service"] {
        begin_as(&mut conn, Some(serde_json::json!({"sub": Uuid::new_v4(), "role": role}))).await;
        assert_eq!(count(&mut conn, "auth.users", None).await, 2, "{role}");
        sqlx::query("ROLLBACK").execute(&mut *conn).await.unwrap();
    }
}

#[tokio::test]
async fn another_users_rows_cannot_be_written_either() {
    let (store, alice, bob) = two_users().await;
    let mut conn = store.pool().acquire().await.unwrap();
    begin_as(&mut conn, Some(serde_json::json!({"sub": alice, "role": "user"}))).await;
    let updated = sqlx::query("UPDATE credits.balances SET version = version WHERE user_id = $1")
        .bind(bob)
        .execute(&mut *conn)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(updated, 0, "bob's balance is invisible, so untouched");
    let renamed = sqlx::query("UPDATE auth.users SET name = 'x'").execute(&mut *conn).await.unwrap().rows_affected();
    assert_eq!(renamed, 1, "an UPDATE without WHERE reaches alice alone");
    let error = sqlx::query("INSERT INTO auth.security_events (user_id, kind, created_at) VALUES ($1, 'login', now())")
        .bind(bob)
        .execute(&mut *conn)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("row-level security"), "{error}");
    sqlx::query("ROLLBACK").execute(&mut *conn).await.unwrap();
}

#[tokio::test]
async fn the_role_and_claims_end_with_the_transaction() {
    let (store, alice, _) = two_users().await;
    let mut conn = store.pool().acquire().await.unwrap();
    let owner: String = sqlx::query_scalar("SELECT current_user::text").fetch_one(&mut *conn).await.unwrap();
    begin_as(&mut conn, Some(serde_json::json!({"sub": alice, "role": "user"}))).await;
    sqlx::query("COMMIT").execute(&mut *conn).await.unwrap();
    let (user, uid): (String, Option<Uuid>) =
        sqlx::query_as("SELECT current_user::text, auth.uid()").fetch_one(&mut *conn).await.unwrap();
    assert_eq!((user, uid), (owner, None), "a pooled connection goes back as it came");
}

#[tokio::test]
async fn every_table_with_user_rows_has_forced_row_level_security() {
    let (store, _, _) = two_users().await;
    let unprotected: Vec<String> = sqlx::query_scalar(
        "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname IN ('auth', 'credits') AND c.relkind = 'r'
           AND NOT (c.relrowsecurity AND c.relforcerowsecurity)
         ORDER BY 1",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    // The package catalogue is the same for everyone.
    assert_eq!(unprotected, vec!["credits.packages".to_owned()]);
    let is_superuser: bool = sqlx::query_scalar("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert!(!is_superuser, "the tests run as an ordinary owner, which RLS does not exempt");
}
