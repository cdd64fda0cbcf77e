//! What the domain needs from a database, as small role traits combined into [`Store`].
//!
//! Each backend crate implements every trait. Methods that must change several tables do it in
//! one database transaction inside the backend, so a caller never sees half a change.

mod admin;
mod credits;
mod identities;
mod lifecycle;
mod mfa;
mod payments;
mod retention;

pub use admin::*;
pub use credits::*;
pub use identities::*;
pub use lifecycle::*;
pub use mfa::*;
pub use payments::*;
pub use retention::*;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::credits::{Balance, LedgerTransaction};
use crate::email::Email;
use crate::ids::{Role, SessionId, UserId};
use crate::tokens::TokenHash;

/// Failures of a store call. Backends map their driver errors into these.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness or foreign-key rule refused the write; `constraint` names the rule.
    #[error("conflict on {constraint}")]
    Conflict { constraint: String },
    /// The database cannot be reached right now (connection refused or lost, pool exhausted,
    /// server shutting down); the same request may succeed in a moment.
    #[error("database unavailable: {0}")]
    Unavailable(anyhow::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The constraint name both backends report when an email is already taken by a live user.
pub const USERS_EMAIL_CONSTRAINT: &str = "users_email_live_key";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub name: Option<String>,
    pub role: Role,
    pub email_verified: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    /// Set by an administrator: the account cannot sign in until it is unlocked.
    pub locked_at: Option<DateTime<Utc>>,
}

/// A user to create together with the hash of their password.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: UserId,
    pub email: Email,
    pub name: Option<String>,
    pub role: Role,
    /// `None` for an account made by social sign-in, which has no password until one is set
    /// by reset.
    pub password_hash: Option<String>,
    /// Whether the address is known to be the user's (a provider vouched for it).
    pub email_verified: bool,
    pub created_at: DateTime<Utc>,
    /// The credit account opened with the user: its balance and the ledger transactions that
    /// fund it (signup bonus, first daily allowance), written in the same database transaction.
    pub opening_balance: Balance,
    pub opening_transactions: Vec<LedgerTransaction>,
    /// The address's verification link and its message, queued with the account.
    pub verification: Option<LinkMail>,
}

/// A live user and their stored password hash, as login needs them.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
}

/// Where a request came from, for sessions and security events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: SessionId,
    pub user_id: UserId,
    pub device_id: Option<String>,
    pub device_name: Option<String>,
    pub client: ClientInfo,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub refresh_token_hash: TokenHash,
    pub access_jti: String,
    /// When its first access token was issued (whole seconds, as in its `iat`).
    pub access_issued_at: DateTime<Utc>,
    /// How the login was made (RFC 8176: `pwd`, `otp`, …): its access tokens' `amr` claim.
    pub amr: Vec<String>,
}

/// A session and its refresh-token state.
///
/// `generation` counts rotations. `refresh_token_hash` is the hash of the current refresh
/// token; `rotation_nonce` is the randomness that derived it from its parent, so that the
/// parent, replayed within the grace window, can re-derive the same current token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub device_id: Option<String>,
    pub device_name: Option<String>,
    pub client: ClientInfo,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub generation: i64,
    pub refresh_token_hash: TokenHash,
    pub rotated_at: Option<DateTime<Utc>>,
    pub rotation_nonce: Option<[u8; 32]>,
    pub access_jti: String,
    /// When the current access token was issued (whole seconds, as in its `iat`).
    pub access_issued_at: DateTime<Utc>,
    pub amr: Vec<String>,
}

/// A session together with its user, as token checks need both in one read.
#[derive(Debug, Clone)]
pub struct SessionWithUser {
    pub session: Session,
    pub user: User,
}

/// The four facts an access-token check needs about its session, read in one narrow query on
/// every authenticated request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionAccess {
    pub user_id: UserId,
    pub revoked: bool,
    pub user_deleted: bool,
    /// The user's role now (it may differ from the one in an older token).
    pub role: Role,
}

/// Which session, and which rotation of it, a refresh token was issued for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    pub session_id: SessionId,
    pub generation: i64,
}

/// Replace the current refresh token of a session, but only if nobody else did first.
#[derive(Debug, Clone)]
pub struct Rotation {
    pub session_id: SessionId,
    /// The generation the caller saw; the rotation fails if the session has moved on.
    pub from_generation: i64,
    pub new_token_hash: TokenHash,
    pub nonce: [u8; 32],
    pub access_jti: String,
    pub access_issued_at: DateTime<Utc>,
    pub at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub client: ClientInfo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecurityEventKind {
    Register,
    LoginSuccess,
    LoginFailure,
    RefreshTokenReuse,
    Logout,
    PasswordChange,
    AccountDeleted,
    PasswordResetRequested,
    PasswordReset,
    EmailVerified,
    SessionRevoked,
    ProfileUpdated,
    EmailChangeRequested,
    EmailChanged,
    TwoFactorEnabled,
    TwoFactorDisabled,
    /// A second-factor code or backup code that was wrong, or used before.
    TwoFactorFailed,
    BackupCodeUsed,
    BackupCodesRegenerated,
    /// An administrator locked the account (its sessions ended), or unlocked it.
    AccountLocked,
    AccountUnlocked,
    /// An administrator restored a deleted account.
    AccountRestored,
    /// An administrator added or took credits (`adjustment`).
    CreditsAdjusted,
    /// The account's role changed (`users promote` / `demote`).
    RoleChanged,
    /// An administrator added, changed or withdrew a credit package (recorded on their own
    /// account).
    PackageChanged,
    /// A provider's identity was linked to the account.
    IdentityLinked,
    IdentityUnlinked,
    /// A provider-verified identity took over the unverified account holding its email.
    AccountTakenOver,
}

impl SecurityEventKind {
    pub const ALL: [SecurityEventKind; 28] = [
        SecurityEventKind::Register,
        SecurityEventKind::LoginSuccess,
        SecurityEventKind::LoginFailure,
        SecurityEventKind::RefreshTokenReuse,
        SecurityEventKind::Logout,
        SecurityEventKind::PasswordChange,
        SecurityEventKind::AccountDeleted,
        SecurityEventKind::PasswordResetRequested,
        SecurityEventKind::PasswordReset,
        SecurityEventKind::EmailVerified,
        SecurityEventKind::SessionRevoked,
        SecurityEventKind::ProfileUpdated,
        SecurityEventKind::EmailChangeRequested,
        SecurityEventKind::EmailChanged,
        SecurityEventKind::TwoFactorEnabled,
        SecurityEventKind::TwoFactorDisabled,
        SecurityEventKind::TwoFactorFailed,
        SecurityEventKind::BackupCodeUsed,
        SecurityEventKind::BackupCodesRegenerated,
        SecurityEventKind::IdentityLinked,
        SecurityEventKind::IdentityUnlinked,
        SecurityEventKind::AccountTakenOver,
        SecurityEventKind::AccountLocked,
        SecurityEventKind::AccountUnlocked,
        SecurityEventKind::AccountRestored,
        SecurityEventKind::CreditsAdjusted,
        SecurityEventKind::RoleChanged,
        SecurityEventKind::PackageChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SecurityEventKind::Register => "register",
            SecurityEventKind::LoginSuccess => "login_success",
            SecurityEventKind::LoginFailure => "login_failure",
            SecurityEventKind::RefreshTokenReuse => "refresh_token_reuse",
            SecurityEventKind::Logout => "logout",
            SecurityEventKind::PasswordChange => "password_change",
            SecurityEventKind::AccountDeleted => "account_deleted",
            SecurityEventKind::PasswordResetRequested => "password_reset_requested",
            SecurityEventKind::PasswordReset => "password_reset",
            SecurityEventKind::EmailVerified => "email_verified",
            SecurityEventKind::SessionRevoked => "session_revoked",
            SecurityEventKind::ProfileUpdated => "profile_updated",
            SecurityEventKind::EmailChangeRequested => "email_change_requested",
            SecurityEventKind::EmailChanged => "email_changed",
            SecurityEventKind::TwoFactorEnabled => "two_factor_enabled",
            SecurityEventKind::TwoFactorDisabled => "two_factor_disabled",
            SecurityEventKind::TwoFactorFailed => "two_factor_failed",
            SecurityEventKind::BackupCodeUsed => "backup_code_used",
            SecurityEventKind::BackupCodesRegenerated => "backup_codes_regenerated",
            SecurityEventKind::IdentityLinked => "identity_linked",
            SecurityEventKind::IdentityUnlinked => "identity_unlinked",
            SecurityEventKind::AccountTakenOver => "account_taken_over",
            SecurityEventKind::AccountLocked => "account_locked",
            SecurityEventKind::AccountUnlocked => "account_unlocked",
            SecurityEventKind::AccountRestored => "account_restored",
            SecurityEventKind::CreditsAdjusted => "credits_adjusted",
            SecurityEventKind::RoleChanged => "role_changed",
            SecurityEventKind::PackageChanged => "package_changed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// Facts recorded with a security event (never secrets). Stored as a JSON object in camelCase;
/// facts that do not apply are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<SessionId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<LoginFailureReason>,
    /// For a refresh-token reuse: the generation of the token presented, and the session's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presented_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_generation: Option<i64>,
    /// The administrator who did it, for actions taken on someone else's account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_id: Option<UserId>,
    /// The social-login provider of a sign-up, link, unlink or takeover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
}

/// Why a login failed, as far as the log may say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginFailureReason {
    UnknownAccount,
    WrongPassword,
    /// The password was right, but the address must be verified first.
    EmailNotVerified,
}

impl LoginFailureReason {
    /// As stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            LoginFailureReason::UnknownAccount => "unknown_account",
            LoginFailureReason::WrongPassword => "wrong_password",
            LoginFailureReason::EmailNotVerified => "email_not_verified",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewSecurityEvent {
    pub user_id: Option<UserId>,
    pub kind: SecurityEventKind,
    pub client: ClientInfo,
    pub at: DateTime<Utc>,
    pub details: EventDetails,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SecurityEvent {
    pub id: i64,
    pub user_id: Option<UserId>,
    pub kind: SecurityEventKind,
    pub client: ClientInfo,
    pub at: DateTime<Utc>,
    pub details: EventDetails,
}

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates the user, their password row and their credit account in one transaction. An email already used by a
    /// live user is `Conflict { constraint: USERS_EMAIL_CONSTRAINT }`.
    async fn create_user(&self, user: NewUser) -> StoreResult<User>;
    async fn find_user(&self, id: UserId) -> StoreResult<Option<User>>;
    /// The live (not deleted) user with this email, and their password hash.
    async fn find_credentials(&self, email: &Email) -> StoreResult<Option<Credentials>>;
    /// Marks the user deleted and revokes their sessions; `false` if already deleted or unknown.
    async fn soft_delete_user(&self, id: UserId, at: DateTime<Utc>) -> StoreResult<bool>;
}

#[async_trait]
pub trait PasswordStore: Send + Sync {
    async fn set_password_hash(&self, user: UserId, hash: &str, at: DateTime<Utc>) -> StoreResult<()>;
    /// Replaces the hash, revokes every other session of the user and queues `notice`, in one
    /// transaction; returns how many sessions were revoked.
    async fn change_password(
        &self,
        user: UserId,
        hash: &str,
        keep: SessionId,
        at: DateTime<Utc>,
        notice: Option<OutgoingEmail>,
    ) -> StoreResult<u64>;
}

/// A sign-in method linked to an account (SPEC §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedIdentity {
    pub provider: String,
    pub email: Option<String>,
}

/// What an account has besides its password: a second factor, linked identities.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountLinks {
    pub two_factor_enabled: bool,
    pub identities: Vec<LinkedIdentity>,
}

#[async_trait]
pub trait ProfileStore: Send + Sync {
    /// `false` if the user is unknown or deleted.
    async fn set_display_name(&self, user: UserId, name: Option<&str>, at: DateTime<Utc>) -> StoreResult<bool>;
    async fn account_links(&self, user: UserId) -> StoreResult<AccountLinks>;
}

#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Creates the session and records its first refresh token, in one transaction; `false`
    /// (and nothing is written) when the user is deleted or locked.
    async fn create_session(&self, session: NewSession) -> StoreResult<bool>;
    async fn find_refresh_token(&self, hash: &TokenHash) -> StoreResult<Option<RefreshTokenRecord>>;
    async fn find_session(&self, id: SessionId) -> StoreResult<Option<SessionWithUser>>;
    async fn session_access(&self, id: SessionId) -> StoreResult<Option<SessionAccess>>;
    /// Compare-and-swap: applies the rotation only if the session is live and still at
    /// `from_generation`. Returns whether it was applied.
    async fn rotate_session(&self, rotation: Rotation) -> StoreResult<bool>;
    /// Returns `false` if the session was already revoked or does not exist.
    async fn revoke_session(&self, id: SessionId, at: DateTime<Utc>) -> StoreResult<bool>;
    async fn list_sessions(&self, user: UserId) -> StoreResult<Vec<Session>>;
    /// Revokes every live session of `user` but `keep`; returns how many.
    async fn revoke_other_sessions(&self, user: UserId, keep: SessionId, at: DateTime<Utc>) -> StoreResult<u64>;
}

#[async_trait]
pub trait SecurityEventStore: Send + Sync {
    async fn record_security_event(&self, event: NewSecurityEvent) -> StoreResult<()>;
    /// Newest first.
    async fn security_events(&self, user: UserId, limit: i64, offset: i64) -> StoreResult<Vec<SecurityEvent>>;
}

/// Everything the service stores, on one database.
#[async_trait]
pub trait Store:
    UserStore
    + PasswordStore
    + ProfileStore
    + SessionStore
    + SecurityEventStore
    + CreditStore
    + LinkTokenStore
    + OutboxStore
    + PaymentStore
    + MfaStore
    + IdentityStore
    + AdminStore
    + RetentionStore
    + Send
    + Sync
    + 'static
{
    /// Cheap round trip, for readiness checks.
    async fn ping(&self) -> StoreResult<()>;
    /// Short backend name for logs: `sqlite` or `postgres`.
    fn backend_name(&self) -> &'static str;
}
