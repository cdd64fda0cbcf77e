//! Second factors: TOTP factors, backup codes and login challenges.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mana_core::ids::UserId;
use mana_core::store::{MfaChallenge, MfaStore, NewMfaChallenge, StoreResult, TotpFactor};
use mana_core::tokens::TokenHash;

use crate::SqlStore;
use crate::backend::{Backend, SqlRow};
use crate::decode;
use crate::sql::Sql;
use crate::statement::Statement;

static FACTOR: Sql = Sql::new("SELECT sealed_secret, enabled_at, last_step FROM auth.totp_factors WHERE user_id = $1");
/// A factor not yet enabled is replaced; an enabled one is left alone (no row changes).
static SET_UP: Sql = Sql::new(
    "INSERT INTO auth.totp_factors (user_id, sealed_secret, created_at) VALUES ($1, $2, $3)
     ON CONFLICT (user_id) DO UPDATE SET sealed_secret = excluded.sealed_secret, created_at = excluded.created_at,
         last_step = NULL
     WHERE auth.totp_factors.enabled_at IS NULL",
);
static ENABLE: Sql =
    Sql::new("UPDATE auth.totp_factors SET enabled_at = $3, last_step = $2 WHERE user_id = $1 AND enabled_at IS NULL");
/// Compare-and-set: only a newer step than the last accepted one is recorded.
static ACCEPT_STEP: Sql = Sql::new(
    "UPDATE auth.totp_factors SET last_step = $2
     WHERE user_id = $1 AND enabled_at IS NOT NULL AND (last_step IS NULL OR last_step < $2)",
);
static DISABLE: Sql = Sql::new("DELETE FROM auth.totp_factors WHERE user_id = $1 AND enabled_at IS NOT NULL");
static DELETE_CODES: Sql = Sql::new("DELETE FROM auth.backup_codes WHERE user_id = $1");
static INSERT_CODES: Sql = Sql::new("INSERT INTO auth.backup_codes (code_hash, user_id, created_at)");
static USE_CODE: Sql =
    Sql::new("UPDATE auth.backup_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL");
static UNUSED_CODES: Sql =
    Sql::new("SELECT count(*) AS unused FROM auth.backup_codes WHERE user_id = $1 AND used_at IS NULL");
static INSERT_CHALLENGE: Sql = Sql::new(
    "INSERT INTO auth.mfa_challenges (token_hash, user_id, device_id, device_name, first_factor, created_at,
         expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)",
);
/// The attempt is counted by the statement that finds the challenge: racing attempts each take
/// one, and none gets past the limit.
static ATTEMPT: Sql = Sql::new(
    "UPDATE auth.mfa_challenges SET attempts = attempts + 1
     WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 AND attempts < $3
     RETURNING user_id, device_id, device_name, first_factor",
);
static CHALLENGE_USER: Sql =
    Sql::new("SELECT user_id FROM auth.mfa_challenges WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2");
static COMPLETE: Sql =
    Sql::new("UPDATE auth.mfa_challenges SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL");
static ALL_SECRETS: Sql = Sql::new("SELECT user_id, sealed_secret FROM auth.totp_factors ORDER BY user_id");
static RESEAL: Sql =
    Sql::new("UPDATE auth.totp_factors SET sealed_secret = $3 WHERE user_id = $1 AND sealed_secret = $2");

async fn replace_codes<B: Backend>(
    tx: &mut B::Conn,
    user: UserId,
    codes: &[TokenHash],
    at: DateTime<Utc>,
) -> StoreResult<()> {
    B::execute(tx, Statement::new(&DELETE_CODES).id(user.0)).await?;
    if codes.is_empty() {
        return Ok(());
    }
    let mut insert = Statement::insert_rows(&INSERT_CODES, 3);
    for code in codes {
        insert = insert.bytes(code.as_bytes()).id(user.0).time(at);
    }
    B::execute(tx, insert).await?;
    Ok(())
}

impl<B: Backend> SqlStore<B> {
    /// One write for `user`, committed; the number of rows it changed.
    async fn execute_as(&self, user: UserId, statement: Statement) -> StoreResult<u64> {
        let mut tx = self.backend.write_as(user).await?;
        let changed = B::execute(&mut tx, statement).await?;
        B::finish(tx).await?;
        Ok(changed)
    }
}

#[async_trait]
impl<B: Backend> MfaStore for SqlStore<B> {
    async fn totp_factor(&self, user: UserId) -> StoreResult<Option<TotpFactor>> {
        let mut conn = self.backend.read_as(user).await?;
        let row = B::fetch_optional(&mut conn, Statement::new(&FACTOR).id(user.0)).await?;
        B::finish(conn).await?;
        row.map(|row| {
            Ok(TotpFactor {
                sealed_secret: row.text("sealed_secret")?,
                enabled_at: row.opt_time("enabled_at")?,
                last_step: row.opt_int("last_step")?,
            })
        })
        .transpose()
    }

    async fn set_up_totp(&self, user: UserId, sealed_secret: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let statement = Statement::new(&SET_UP).id(user.0).text_arg(sealed_secret).time(at);
        Ok(self.execute_as(user, statement).await? == 1)
    }

    async fn enable_totp(
        &self,
        user: UserId,
        step: i64,
        backup_codes: &[TokenHash],
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.backend.write_as(user).await?;
        if B::execute(&mut tx, Statement::new(&ENABLE).id(user.0).int(step).time(at)).await? != 1 {
            B::finish(tx).await?;
            return Ok(false);
        }
        replace_codes::<B>(&mut tx, user, backup_codes, at).await?;
        B::finish(tx).await?;
        Ok(true)
    }

    async fn accept_totp_step(&self, user: UserId, step: i64) -> StoreResult<bool> {
        Ok(self.execute_as(user, Statement::new(&ACCEPT_STEP).id(user.0).int(step)).await? == 1)
    }

    async fn disable_totp(&self, user: UserId) -> StoreResult<bool> {
        let mut tx = self.backend.write_as(user).await?;
        let disabled = B::execute(&mut tx, Statement::new(&DISABLE).id(user.0)).await? == 1;
        if disabled {
            B::execute(&mut tx, Statement::new(&DELETE_CODES).id(user.0)).await?;
        }
        B::finish(tx).await?;
        Ok(disabled)
    }

    async fn replace_backup_codes(&self, user: UserId, codes: &[TokenHash], at: DateTime<Utc>) -> StoreResult<()> {
        let mut tx = self.backend.write_as(user).await?;
        replace_codes::<B>(&mut tx, user, codes, at).await?;
        B::finish(tx).await
    }

    async fn use_backup_code(&self, user: UserId, code: &TokenHash, at: DateTime<Utc>) -> StoreResult<bool> {
        let statement = Statement::new(&USE_CODE).id(user.0).bytes(code.as_bytes()).time(at);
        Ok(self.execute_as(user, statement).await? == 1)
    }

    async fn unused_backup_codes(&self, user: UserId) -> StoreResult<i64> {
        let rows = self.fetch_all_as(user, Statement::new(&UNUSED_CODES).id(user.0)).await?;
        rows.first().map(|row| row.int("unused")).transpose().map(Option::unwrap_or_default)
    }

    async fn create_mfa_challenge(&self, challenge: NewMfaChallenge) -> StoreResult<()> {
        let statement = Statement::new(&INSERT_CHALLENGE)
            .bytes(challenge.token_hash.as_bytes())
            .id(challenge.user_id.0)
            .opt_text(challenge.device_id.as_deref())
            .opt_text(challenge.device_name.as_deref())
            .text_arg(challenge.first_factor)
            .time(challenge.created_at)
            .time(challenge.expires_at);
        self.execute_as(challenge.user_id, statement).await?;
        Ok(())
    }

    async fn mfa_challenge_user(&self, token: &TokenHash, now: DateTime<Utc>) -> StoreResult<Option<UserId>> {
        let row = self.fetch_optional(Statement::new(&CHALLENGE_USER).bytes(token.as_bytes()).time(now)).await?;
        row.map(|row| decode::user_id(&row, "user_id")).transpose()
    }

    async fn attempt_mfa_challenge(
        &self,
        token: &TokenHash,
        now: DateTime<Utc>,
        max_attempts: i64,
    ) -> StoreResult<Option<MfaChallenge>> {
        // The user is known only once the token is: the owner's unit of work.
        let mut tx = self.backend.write().await?;
        let attempt = Statement::new(&ATTEMPT).bytes(token.as_bytes()).time(now).int(max_attempts);
        let row = B::fetch_optional(&mut tx, attempt).await?;
        B::finish(tx).await?;
        row.map(|row| {
            Ok(MfaChallenge {
                user_id: decode::user_id(&row, "user_id")?,
                device_id: row.opt_text("device_id")?,
                device_name: row.opt_text("device_name")?,
                first_factor: row.text("first_factor")?,
            })
        })
        .transpose()
    }

    async fn complete_mfa_challenge(&self, token: &TokenHash, now: DateTime<Utc>) -> StoreResult<bool> {
        let mut tx = self.backend.write().await?;
        let changed = B::execute(&mut tx, Statement::new(&COMPLETE).bytes(token.as_bytes()).time(now)).await?;
        B::finish(tx).await?;
        Ok(changed == 1)
    }

    async fn sealed_totp_secrets(&self) -> StoreResult<Vec<(UserId, String)>> {
        let rows = self.fetch_all(Statement::new(&ALL_SECRETS)).await?;
        rows.iter().map(|row| Ok((decode::user_id(row, "user_id")?, row.text("sealed_secret")?))).collect()
    }

    async fn reseal_totp_secret(&self, user: UserId, old: &str, new: &str) -> StoreResult<bool> {
        Ok(self.execute_as(user, Statement::new(&RESEAL).id(user.0).text_arg(old).text_arg(new)).await? == 1)
    }
}
