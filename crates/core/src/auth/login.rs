use mana_proto::FieldError;
use mana_proto::limits::DEVICE_FIELD_MAX_CHARS;

use super::AuthService;
use super::two_factor::{AMR_PASSWORD, LoginOutcome};
use crate::email::Email;
use crate::error::{Error, Result};
use crate::password::Password;
use crate::store::{ClientInfo, Credentials, EventDetails, LoginFailureReason, SecurityEventKind};

/// What a client sends to log in.
#[derive(Debug, Clone, Default)]
pub struct LoginAttempt {
    pub email: String,
    pub password: String,
    pub device_id: Option<String>,
    pub device_name: Option<String>,
}

impl AuthService {
    /// Unknown email, wrong password and deleted account all end in the same
    /// [`Error::InvalidCredentials`] after one password verification each, so neither the
    /// answer nor its timing tells them apart.
    ///
    /// The right password for an account with a second factor starts no session: the answer
    /// is a challenge for `POST /auth/2fa/verify`.
    pub async fn login(&self, attempt: LoginAttempt, client: &ClientInfo) -> Result<LoginOutcome> {
        let (device_id, device_name) = validate_shape(&attempt)?;

        let credentials = match Email::parse(&attempt.email) {
            Ok(email) => self.store.find_credentials(&email).await?,
            Err(_) => None,
        };
        let Some(Credentials { user, password_hash }) = credentials else {
            self.passwords.verify_against_dummy(&attempt.password).await?;
            crate::telemetry::login("unknown_account");
            let details = EventDetails { reason: Some(LoginFailureReason::UnknownAccount), ..EventDetails::default() };
            self.record_event(None, SecurityEventKind::LoginFailure, client, details).await?;
            return Err(Error::InvalidCredentials);
        };
        if !self.passwords.verify(&attempt.password, &password_hash).await? {
            crate::telemetry::login("wrong_password");
            let details = EventDetails { reason: Some(LoginFailureReason::WrongPassword), ..EventDetails::default() };
            self.record_event(Some(user.id), SecurityEventKind::LoginFailure, client, details).await?;
            return Err(Error::InvalidCredentials);
        }
        self.upgrade_hash_if_weak(&user, &attempt.password, &password_hash).await?;
        // Only after the password proved the caller owns the account: the answer says nothing
        // to anyone else. A fresh link goes out with it, since without a session the owner
        // could not ask for one; only the owner can make it send one.
        if self.sessions.require_verified_email && !user.email_verified {
            self.resend_verification(user.id).await?;
            crate::telemetry::login("email_not_verified");
            let details =
                EventDetails { reason: Some(LoginFailureReason::EmailNotVerified), ..EventDetails::default() };
            self.record_event(Some(user.id), SecurityEventKind::LoginFailure, client, details).await?;
            return Err(Error::EmailNotVerified);
        }

        if let Some(mfa_token) = self.challenge_if_needed(user.id, AMR_PASSWORD[0], &device_id, &device_name).await? {
            crate::telemetry::login("second_factor_required");
            return Ok(LoginOutcome::SecondFactorRequired { mfa_token });
        }
        let issued = self.start_session(user, device_id, device_name, AMR_PASSWORD, client).await?;
        crate::telemetry::login("success");
        Ok(LoginOutcome::Signed(issued))
    }

    /// After a cost or algorithm change, each user's hash is upgraded at their next login,
    /// the only time the plain password is at hand.
    async fn upgrade_hash_if_weak(&self, user: &crate::store::User, password: &str, stored: &str) -> Result<()> {
        if !self.passwords.needs_rehash(stored) {
            return Ok(());
        }
        // A password from before the current policy cannot be re-hashed as a `Password`; it
        // keeps its old hash until the user changes it.
        if let Ok(password) = Password::parse(password) {
            let upgraded = self.passwords.hash(&password).await?;
            self.store.set_password_hash(user.id, &upgraded, self.clock.now()).await?;
        }
        Ok(())
    }
}

fn validate_shape(attempt: &LoginAttempt) -> Result<(Option<String>, Option<String>)> {
    let mut errors = Vec::new();
    if attempt.email.trim().is_empty() {
        errors.push(FieldError::new("email", "is required"));
    }
    if attempt.password.is_empty() {
        errors.push(FieldError::new("password", "is required"));
    }
    let device = validate_device(&mut errors, &attempt.device_id, &attempt.device_name);
    if errors.is_empty() { Ok(device) } else { Err(Error::Validation(errors)) }
}

/// A device's id and name as a login may give them: trimmed, blank as none, bounded and
/// printable. Problems are added to `errors`.
pub(super) fn validate_device(
    errors: &mut Vec<FieldError>,
    device_id: &Option<String>,
    device_name: &Option<String>,
) -> (Option<String>, Option<String>) {
    let mut device_field = |field: &str, value: &Option<String>| {
        let value = value.as_deref().map(str::trim).filter(|v| !v.is_empty());
        match value {
            Some(v) if v.chars().count() > DEVICE_FIELD_MAX_CHARS || v.chars().any(char::is_control) => {
                errors.push(FieldError::new(
                    field,
                    format!("must be at most {DEVICE_FIELD_MAX_CHARS} printable characters"),
                ));
                None
            }
            other => other.map(str::to_owned),
        }
    };
    (device_field("deviceId", device_id), device_field("deviceName", device_name))
}
