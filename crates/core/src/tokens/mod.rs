//! Access tokens (signed JWTs) and refresh tokens (opaque secrets).

mod access;
mod keys;
mod refresh;

pub use access::{AccessTokenSettings, AccessTokens};
pub use keys::{KeyAlgorithm, KeyRing, SigningKey, new_key_id};
pub use refresh::{RefreshToken, TokenHash};

use std::fmt;

/// Why an access token was refused. The `code` is what `/auth/validate` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRejection {
    Malformed,
    WrongType,
    UnknownKey,
    WrongAlgorithm,
    BadSignature,
    WrongIssuer,
    WrongAudience,
    Expired,
    NotYetValid,
    SessionRevoked,
    UserDeleted,
}

impl TokenRejection {
    pub fn code(self) -> &'static str {
        match self {
            TokenRejection::Malformed => "malformed_token",
            TokenRejection::WrongType => "wrong_token_type",
            TokenRejection::UnknownKey => "unknown_key",
            TokenRejection::WrongAlgorithm => "wrong_algorithm",
            TokenRejection::BadSignature => "invalid_signature",
            TokenRejection::WrongIssuer => "invalid_issuer",
            TokenRejection::WrongAudience => "invalid_audience",
            TokenRejection::Expired => "token_expired",
            TokenRejection::NotYetValid => "token_not_yet_valid",
            TokenRejection::SessionRevoked => "session_revoked",
            TokenRejection::UserDeleted => "user_deleted",
        }
    }
}

impl fmt::Display for TokenRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}
