//! The authentication service: registration, login, refresh-token rotation, logout and token
//! checks, written once over the [`Store`] traits.

mod account;
mod admin;
mod login;
mod recovery;
mod register;
mod sessions;
mod social;
mod two_factor;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use mana_proto::AccessTokenClaims;

use crate::clock::Clock;
use crate::credits::CreditPolicy;
use crate::error::Result;
use crate::ids::{Role, SessionId, UserId};
use crate::mail::MailComposer;
use crate::mfa::SecretBox;
use crate::password::PasswordHasher;
use crate::store::{ClientInfo, EventDetails, NewSecurityEvent, SecurityEventKind, Store, User};
use crate::tokens::{AccessTokens, RefreshToken};

pub use account::{AccountExport, Profile, WRONG_PASSWORD};
pub use admin::{AdminUserDetail, CONSOLE_SESSION_HOURS};
pub use login::LoginAttempt;
pub use register::Registration;
pub use social::{
    AMR_OAUTH, EXCHANGE_CODE_LIFETIME, FlowStart, IdentityResolution, OAUTH_FLOW_LIFETIME, pkce_challenge,
};
pub use two_factor::{
    AMR_PASSWORD, AMR_PASSWORD_AND_OTP, LoginOutcome, MFA_CHALLENGE_LIFETIME, MFA_MAX_ATTEMPTS, SecondFactor,
    TotpSetup, TwoFactorSettings, WRONG_CODE, totp_sealing_context,
};

#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// How long a refresh token stays usable after it is issued.
    pub refresh_ttl: Duration,
    /// How long after a rotation the previous token may still be replayed for the same answer.
    pub reuse_grace: Duration,
    /// How long a session may last from its login, however often it is refreshed: a stolen
    /// refresh token that keeps being rotated still dies then.
    pub max_lifetime: Duration,
    /// Sessions start only for accounts whose address is verified (`REQUIRE_EMAIL_VERIFICATION`).
    pub require_verified_email: bool,
}

impl SessionSettings {
    /// When a refresh token issued `now` for a session begun at `started` stops working: its
    /// own lifetime, cut short by the session's absolute one.
    pub fn refresh_expiry(&self, started: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
        (now + self.refresh_ttl).min(started + self.max_lifetime)
    }
}

/// A successful login or refresh.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub user: User,
    pub access_token: String,
    pub refresh_token: RefreshToken,
    pub expires_in: i64,
}

/// The caller behind a valid access token of a live session.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub user_id: UserId,
    /// The role as stored now (it may be newer than the token's).
    pub role: Role,
    pub session_id: SessionId,
    pub claims: AccessTokenClaims,
}

pub struct AuthService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    passwords: PasswordHasher,
    tokens: AccessTokens,
    sessions: SessionSettings,
    /// Registration opens the user's credit account with these amounts.
    credit_policy: CreditPolicy,
    /// Writes the messages with links (verification, reset) and notices.
    mail: MailComposer,
    two_factor: TwoFactorSettings,
}

/// What the service is made of, besides its store and clock.
pub struct AuthParts {
    pub passwords: PasswordHasher,
    pub tokens: AccessTokens,
    pub sessions: SessionSettings,
    pub credit_policy: CreditPolicy,
    pub mail: MailComposer,
    pub two_factor: TwoFactorSettings,
}

impl AuthService {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, parts: AuthParts) -> Self {
        let AuthParts { passwords, tokens, sessions, credit_policy, mail, two_factor } = parts;
        Self { store, clock, passwords, tokens, sessions, credit_policy, mail, two_factor }
    }

    /// Seals and opens TOTP secrets; `keys rotate-encryption` re-seals with it.
    pub fn secrets(&self) -> &SecretBox {
        &self.two_factor.secrets
    }

    pub fn tokens(&self) -> &AccessTokens {
        &self.tokens
    }

    pub fn passwords(&self) -> &PasswordHasher {
        &self.passwords
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    async fn record_event(
        &self,
        user_id: Option<UserId>,
        kind: SecurityEventKind,
        client: &ClientInfo,
        details: EventDetails,
    ) -> Result<()> {
        let event = NewSecurityEvent { user_id, kind, client: client.clone(), at: self.clock.now(), details };
        self.store.record_security_event(event).await?;
        Ok(())
    }

    /// Soft-deletes an account: it can no longer log in, refresh or use its access tokens;
    /// its data stays.
    pub async fn delete_account(&self, user: UserId, client: &ClientInfo) -> Result<bool> {
        let deleted = self.store.soft_delete_user(user, self.clock.now()).await?;
        if deleted {
            self.record_event(Some(user), SecurityEventKind::AccountDeleted, client, EventDetails::default()).await?;
        }
        Ok(deleted)
    }
}

/// JWT times are whole seconds; storing the truncated value lets a token be re-signed exactly.
fn whole_seconds(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(at.timestamp(), 0).unwrap_or(at)
}
