//! The one error type of the domain. The server maps each variant to an HTTP status with an
//! exhaustive match, so adding a variant forces a decision about how clients see it.

use mana_proto::FieldError;

use crate::store::StoreError;
use crate::tokens::TokenRejection;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is well-formed JSON but some fields are not acceptable.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("an account with this email already exists")]
    EmailTaken,
    /// Unknown email, wrong password and deleted account alike: the caller must not learn which.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The right password for an account whose address must be verified before it signs in.
    #[error("email address not verified")]
    EmailNotVerified,
    /// Unknown, expired, revoked or reused refresh token.
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    /// An email link's token that is malformed, unknown, used, expired or meant for something
    /// else: one answer for all, so that none can be told apart.
    #[error("invalid or expired link")]
    InvalidLinkToken,
    /// A login's second-step token that is malformed, unknown, used, expired, out of
    /// attempts, or whose account is gone.
    #[error("invalid or expired mfa token")]
    InvalidMfaToken,
    /// A wrong, malformed or already used second-factor code at a login's second step.
    #[error("invalid two-factor code")]
    InvalidSecondFactor,
    #[error("two-factor authentication is already enabled")]
    TwoFactorAlreadyEnabled,
    #[error("two-factor authentication is not enabled")]
    TwoFactorNotEnabled,
    /// Enabling needs a secret from `POST /auth/2fa/totp/setup` first.
    #[error("two-factor authentication is not set up")]
    TwoFactorNotSetUp,
    /// A social-login callback whose `state` this service did not issue, or already used.
    #[error("invalid oauth state")]
    InvalidOAuthState,
    /// An exchange code that is malformed, unknown, used or older than 60 seconds.
    #[error("invalid exchange code")]
    InvalidExchangeCode,
    /// A provider's identity names the email of an existing account but does not vouch for it.
    #[error("an account uses this email; sign in and link the provider")]
    EmailInUse,
    /// The provider's identity is linked to another account (or the account has one of this
    /// provider already).
    #[error("this provider account is linked to another account")]
    IdentityInUse,
    /// Removing it would leave the account no way to sign in.
    #[error("the last way to sign in cannot be removed")]
    LastSignInMethod,
    /// A new account needs an email and the provider gave none.
    #[error("the provider gave no email address")]
    EmailNotProvided,
    /// An administrator locked the account; it signs in again once unlocked.
    #[error("account locked")]
    AccountLocked,
    #[error("invalid access token: {0}")]
    InvalidAccessToken(TokenRejection),
    /// The resource does not exist, or is not the caller's (which reads the same).
    #[error("not found")]
    NotFound,
    /// The three buckets together cannot cover the amount; nothing moved.
    #[error("insufficient credits")]
    InsufficientCredits,
    /// An idempotency key was used before for a different request.
    #[error("idempotency key reused for a different request")]
    IdempotencyKeyReused,
    /// A write lost too many optimistic-locking races in a row.
    #[error("the resource was changed concurrently; retry the request")]
    Conflict,
    /// The database is out of reach for now; the client may retry. The cause goes to the log.
    #[error("storage unavailable")]
    Unavailable(anyhow::Error),
    /// Anything the client cannot fix. The cause goes to the log, never to the client.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Error {
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Error::Validation(vec![FieldError::new(field, message)])
    }
}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict { constraint } => {
                Error::Internal(anyhow::anyhow!("unexpected conflict on {constraint}"))
            }
            StoreError::NotFound => Error::Internal(anyhow::anyhow!("record not found")),
            StoreError::Unavailable(cause) => Error::Unavailable(cause),
            StoreError::Other(cause) => Error::Internal(cause),
        }
    }
}
