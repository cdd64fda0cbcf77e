//! Two-factor authentication (SPEC §5): setting up and enabling TOTP, backup codes, disabling,
//! and the second step of a login whose account has a second factor.
//!
//! A code is accepted once: the step it belongs to must be newer than the last accepted one,
//! recorded by a compare-and-set, so two requests with one code (a replay, or a race) get one
//! success. A login's second step is a challenge stored by the hash of its token: five minutes,
//! five attempts (each counted before the code is checked), used once.

use chrono::Duration;

use super::{AuthService, IssuedTokens};
use crate::error::{Error, Result};
use crate::ids::UserId;
use crate::mfa::{BackupCode, SecretBox, TotpSecret};
use crate::store::{ClientInfo, EventDetails, NewMfaChallenge, SecurityEventKind, TotpFactor};
use crate::tokens::RefreshToken;

/// How long a login may wait for its second factor.
pub const MFA_CHALLENGE_LIFETIME: Duration = Duration::minutes(5);
/// Codes tried against one challenge before it is dead.
pub const MFA_MAX_ATTEMPTS: i64 = 5;
/// RFC 8176 method references: a password, and a one-time password after it.
pub const AMR_PASSWORD: &[&str] = &["pwd"];
pub const AMR_PASSWORD_AND_OTP: &[&str] = &["pwd", "otp"];

/// What two-factor authentication needs from the configuration.
#[derive(Debug)]
pub struct TwoFactorSettings {
    /// The name authenticator apps show next to the account (`TOTP_ISSUER`).
    pub issuer: String,
    /// Seals TOTP secrets at rest (`ENCRYPTION_KEY`).
    pub secrets: SecretBox,
}

/// A TOTP secret just made, for the user to put into an authenticator app.
#[derive(Debug, Clone)]
pub struct TotpSetup {
    pub secret: TotpSecret,
    pub otpauth_url: String,
}

/// The second factor a request presents.
#[derive(Debug, Clone)]
pub enum SecondFactor {
    Totp(String),
    BackupCode(String),
}

/// What a login with the right password leads to.
#[derive(Debug, Clone)]
pub enum LoginOutcome {
    Signed(IssuedTokens),
    /// The account has a second factor: the token for `POST /auth/2fa/verify`.
    SecondFactorRequired {
        mfa_token: String,
    },
}

/// The associated data a user's sealed TOTP secret is bound to.
pub fn totp_sealing_context(user: UserId) -> Vec<u8> {
    let mut context = b"totp-secret:".to_vec();
    context.extend_from_slice(user.0.as_bytes());
    context
}

/// The field message of a wrong code in a request made with an access token.
pub const WRONG_CODE: &str = "is not a valid code from the authenticator app, or was used before";

fn wrong_code() -> Error {
    Error::invalid_field("code", WRONG_CODE)
}

impl AuthService {
    /// Makes a new secret for the caller and keeps it, sealed, until a code confirms it; a
    /// setup not yet confirmed is replaced. Refused while 2FA is on.
    pub async fn set_up_totp(&self, user: UserId) -> Result<TotpSetup> {
        let user = self.live_user(user).await?;
        let secret = TotpSecret::generate();
        let sealed = self.two_factor.secrets.seal(secret.as_bytes(), &totp_sealing_context(user.id));
        if !self.store.set_up_totp(user.id, &sealed, self.clock.now()).await? {
            return Err(Error::TwoFactorAlreadyEnabled);
        }
        let otpauth_url = secret.otpauth_url(&self.two_factor.issuer, user.email.as_str());
        Ok(TotpSetup { secret, otpauth_url })
    }

    /// Turns 2FA on once `code` proves the app has the secret; the new backup codes, to be
    /// shown once.
    pub async fn enable_totp(&self, user: UserId, code: &str, client: &ClientInfo) -> Result<Vec<BackupCode>> {
        let user = self.live_user(user).await?;
        let factor = self.store.totp_factor(user.id).await?.ok_or(Error::TwoFactorNotSetUp)?;
        if factor.enabled_at.is_some() {
            return Err(Error::TwoFactorAlreadyEnabled);
        }
        let secret = self.open_secret(user.id, &factor)?;
        let Some(step) = secret.matching_step(code, self.clock.now().timestamp()) else {
            let event = SecurityEventKind::TwoFactorFailed;
            self.record_event(Some(user.id), event, client, EventDetails::default()).await?;
            return Err(wrong_code());
        };
        let codes = BackupCode::generate_set();
        let hashes: Vec<_> = codes.iter().map(|code| code.hash(user.id)).collect();
        if !self.store.enable_totp(user.id, step, &hashes, self.clock.now()).await? {
            // Another request enabled it (or disabled and set it up again) in between.
            return Err(Error::TwoFactorAlreadyEnabled);
        }
        self.record_event(Some(user.id), SecurityEventKind::TwoFactorEnabled, client, EventDetails::default()).await?;
        Ok(codes)
    }

    /// Turns 2FA off, with the account's password and a code (or a backup code, for someone
    /// who lost the app).
    pub async fn disable_two_factor(
        &self,
        user: UserId,
        password: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<()> {
        let user = self.live_user(user).await?;
        self.check_password(&user, password, "password").await?;
        let factor = self.enabled_factor(user.id).await?;
        if !self.second_factor_holds(user.id, &factor, &any_factor(code), client).await? {
            return Err(wrong_code());
        }
        if !self.store.disable_totp(user.id).await? {
            return Err(Error::TwoFactorNotEnabled);
        }
        self.record_event(Some(user.id), SecurityEventKind::TwoFactorDisabled, client, EventDetails::default()).await
    }

    /// A new set of backup codes, voiding the old set, after a code from the app.
    pub async fn regenerate_backup_codes(
        &self,
        user: UserId,
        code: &str,
        client: &ClientInfo,
    ) -> Result<Vec<BackupCode>> {
        let user = self.live_user(user).await?;
        let factor = self.enabled_factor(user.id).await?;
        if !self.second_factor_holds(user.id, &factor, &SecondFactor::Totp(code.to_owned()), client).await? {
            return Err(wrong_code());
        }
        let codes = BackupCode::generate_set();
        let hashes: Vec<_> = codes.iter().map(|code| code.hash(user.id)).collect();
        self.store.replace_backup_codes(user.id, &hashes, self.clock.now()).await?;
        let event = SecurityEventKind::BackupCodesRegenerated;
        self.record_event(Some(user.id), event, client, EventDetails::default()).await?;
        Ok(codes)
    }

    pub async fn two_factor_enabled(&self, user: UserId) -> Result<bool> {
        Ok(self.store.totp_factor(user).await?.is_some_and(|factor| factor.enabled_at.is_some()))
    }

    /// After the password: a challenge for the second factor if the account has one.
    pub(super) async fn challenge_if_needed(
        &self,
        user: UserId,
        first_factor: &str,
        device_id: &Option<String>,
        device_name: &Option<String>,
    ) -> Result<Option<String>> {
        if !self.two_factor_enabled(user).await? {
            return Ok(None);
        }
        let token = RefreshToken::generate();
        let now = self.clock.now();
        self.store
            .create_mfa_challenge(NewMfaChallenge {
                token_hash: token.hash(),
                user_id: user,
                device_id: device_id.clone(),
                device_name: device_name.clone(),
                first_factor: first_factor.to_owned(),
                created_at: now,
                expires_at: now + MFA_CHALLENGE_LIFETIME,
            })
            .await?;
        Ok(Some(token.expose()))
    }

    /// The failed-login budget key (`tokens::account_key`) of a live challenge's account.
    pub async fn second_factor_account(&self, mfa_token: &str) -> Result<Option<String>> {
        let Some(token) = RefreshToken::parse(mfa_token.trim()) else { return Ok(None) };
        let Some(user) = self.store.mfa_challenge_user(&token.hash(), self.clock.now()).await? else {
            return Ok(None);
        };
        Ok(self.store.find_user(user).await?.map(|user| crate::tokens::account_key(user.email.as_str())))
    }

    /// Completes a login with its second factor. A dead token (unknown, used, expired, out of
    /// attempts, or its account gone) is [`Error::InvalidMfaToken`]; a wrong code is
    /// [`Error::InvalidSecondFactor`] and uses up one of the token's attempts. The user id is
    /// returned with the error-free answer's tokens.
    pub async fn verify_second_factor(
        &self,
        mfa_token: &str,
        factor: SecondFactor,
        client: &ClientInfo,
    ) -> Result<IssuedTokens> {
        let token = RefreshToken::parse(mfa_token.trim()).ok_or(Error::InvalidMfaToken)?;
        let now = self.clock.now();
        let challenge = self
            .store
            .attempt_mfa_challenge(&token.hash(), now, MFA_MAX_ATTEMPTS)
            .await?
            .ok_or(Error::InvalidMfaToken)?;
        let user = self.live_user(challenge.user_id).await.map_err(|_| Error::InvalidMfaToken)?;
        let stored = self.store.totp_factor(user.id).await?.filter(|f| f.enabled_at.is_some());
        // 2FA switched off in between: the password was right and nothing else is asked.
        if let Some(stored) = &stored
            && !self.second_factor_holds(user.id, stored, &factor, client).await?
        {
            return Err(Error::InvalidSecondFactor);
        }
        if !self.store.complete_mfa_challenge(&token.hash(), self.clock.now()).await? {
            return Err(Error::InvalidMfaToken);
        }
        let first = challenge.first_factor.as_str();
        let amr: &[&str] = if stored.is_some() { &[first, "otp"] } else { &[first] };
        self.start_session(user, challenge.device_id, challenge.device_name, amr, client).await
    }

    /// The user's factor if 2FA is on.
    async fn enabled_factor(&self, user: UserId) -> Result<TotpFactor> {
        let factor = self.store.totp_factor(user).await?;
        factor.filter(|factor| factor.enabled_at.is_some()).ok_or(Error::TwoFactorNotEnabled)
    }

    fn open_secret(&self, user: UserId, factor: &TotpFactor) -> Result<TotpSecret> {
        let bytes =
            self.two_factor.secrets.open(&factor.sealed_secret, &totp_sealing_context(user)).map_err(|error| {
                Error::Internal(anyhow::anyhow!("the TOTP secret of user {user} cannot be opened: {error}"))
            })?;
        TotpSecret::from_bytes(&bytes)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("the TOTP secret of user {user} has the wrong length")))
    }

    /// Whether `factor` is a good second factor for `user` now, using it up if so (the TOTP
    /// step, or the backup code). A failure is a security event; a used backup code is one too.
    async fn second_factor_holds(
        &self,
        user: UserId,
        stored: &TotpFactor,
        factor: &SecondFactor,
        client: &ClientInfo,
    ) -> Result<bool> {
        let now = self.clock.now();
        let held = match factor {
            SecondFactor::Totp(code) => {
                let secret = self.open_secret(user, stored)?;
                match secret.matching_step(code, now.timestamp()) {
                    // Refused when this step or a later one was accepted before: a replay.
                    Some(step) => self.store.accept_totp_step(user, step).await?,
                    None => false,
                }
            }
            SecondFactor::BackupCode(code) => match BackupCode::parse(code) {
                Some(code) => {
                    let used = self.store.use_backup_code(user, &code.hash(user), now).await?;
                    if used {
                        let event = SecurityEventKind::BackupCodeUsed;
                        self.record_event(Some(user), event, client, EventDetails::default()).await?;
                    }
                    used
                }
                None => false,
            },
        };
        if !held {
            let event = SecurityEventKind::TwoFactorFailed;
            self.record_event(Some(user), event, client, EventDetails::default()).await?;
        }
        Ok(held)
    }
}

/// A code typed where either kind is accepted: six digits are the app's, anything else is
/// tried as a backup code.
fn any_factor(code: &str) -> SecondFactor {
    let digits = code.chars().filter(|c| !c.is_whitespace()).count();
    if digits == crate::mfa::DIGITS && code.chars().all(|c| c.is_ascii_digit() || c.is_whitespace()) {
        SecondFactor::Totp(code.to_owned())
    } else {
        SecondFactor::BackupCode(code.to_owned())
    }
}
