//! Second factors as stored (SPEC §5): one TOTP factor per user with its secret sealed, the
//! user's backup codes as hashes, and the challenges that carry a login from its password to
//! its second factor.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::ids::UserId;
use crate::tokens::TokenHash;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpFactor {
    /// The secret sealed with the service's encryption key (`mfa::SecretBox`), never in clear.
    pub sealed_secret: String,
    /// `None` while it is set up but not yet confirmed with a code.
    pub enabled_at: Option<DateTime<Utc>>,
    /// The last time step whose code was accepted; it and every older step are refused.
    pub last_step: Option<i64>,
}

/// A login whose password was right, waiting for its second factor.
#[derive(Debug, Clone)]
pub struct NewMfaChallenge {
    pub token_hash: TokenHash,
    pub user_id: UserId,
    /// What the login said about its device, for the session it will start.
    pub device_id: Option<String>,
    pub device_name: Option<String>,
    /// How the first step was made (`pwd`, or `oauth` after a provider): the session's `amr`
    /// names it with the second.
    pub first_factor: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A challenge as an attempt at it sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaChallenge {
    pub user_id: UserId,
    pub device_id: Option<String>,
    pub device_name: Option<String>,
    pub first_factor: String,
}

#[async_trait]
pub trait MfaStore: Send + Sync {
    async fn totp_factor(&self, user: UserId) -> StoreResult<Option<TotpFactor>>;

    /// Keeps `sealed_secret` as the factor to confirm, replacing one set up before; `false`
    /// (and nothing changes) when the user's 2FA is already on.
    async fn set_up_totp(&self, user: UserId, sealed_secret: &str, at: DateTime<Utc>) -> StoreResult<bool>;

    /// Turns the set-up factor on, with the step of the code that confirmed it as the last one
    /// accepted, and replaces the backup codes with `backup_codes`: one transaction. `false`
    /// when nothing was set up or 2FA is already on.
    async fn enable_totp(
        &self,
        user: UserId,
        step: i64,
        backup_codes: &[TokenHash],
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Records `step` as the last accepted one if it is newer than the last: of two requests
    /// with one code, however they race, one gets `true`.
    async fn accept_totp_step(&self, user: UserId, step: i64) -> StoreResult<bool>;

    /// Removes the factor and the backup codes; `false` if 2FA was not on.
    async fn disable_totp(&self, user: UserId) -> StoreResult<bool>;

    /// Voids every backup code of the user and stores `codes` instead.
    async fn replace_backup_codes(&self, user: UserId, codes: &[TokenHash], at: DateTime<Utc>) -> StoreResult<()>;

    /// Uses the code if it is one of the user's unused ones: `true` once, however raced.
    async fn use_backup_code(&self, user: UserId, code: &TokenHash, at: DateTime<Utc>) -> StoreResult<bool>;

    async fn unused_backup_codes(&self, user: UserId) -> StoreResult<i64>;

    async fn create_mfa_challenge(&self, challenge: NewMfaChallenge) -> StoreResult<()>;

    /// Whose challenge the token is, while it is unused and unexpired (attempts not counted).
    async fn mfa_challenge_user(&self, token: &TokenHash, now: DateTime<Utc>) -> StoreResult<Option<UserId>>;

    /// Counts an attempt at the challenge and returns it, if it is unused, unexpired and has
    /// had fewer than `max_attempts` attempts; the count is taken before the code is checked,
    /// so parallel guesses cannot exceed it.
    async fn attempt_mfa_challenge(
        &self,
        token: &TokenHash,
        now: DateTime<Utc>,
        max_attempts: i64,
    ) -> StoreResult<Option<MfaChallenge>>;

    /// Marks the challenge used: `true` once.
    async fn complete_mfa_challenge(&self, token: &TokenHash, now: DateTime<Utc>) -> StoreResult<bool>;

    /// Every sealed TOTP secret, for re-sealing under a new key.
    async fn sealed_totp_secrets(&self) -> StoreResult<Vec<(UserId, String)>>;

    /// Replaces a user's sealed secret if it is still `old` (a setup in between wins).
    async fn reseal_totp_secret(&self, user: UserId, old: &str, new: &str) -> StoreResult<bool>;
}
