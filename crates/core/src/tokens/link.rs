//! Tokens sent in email links: 256-bit secrets, stored only as their SHA-256, each bound to one
//! purpose and one user, used once, and short-lived.

use std::fmt;

use chrono::Duration;

use super::TokenHash;
use crate::crypto::{base64url_decode, base64url_encode, random_bytes, sha256};

/// What a link token may be used for; a token of one purpose is refused for any other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkPurpose {
    EmailVerification,
    PasswordReset,
    /// Confirms a new address; the change applies when the link is used.
    EmailChange,
}

impl LinkPurpose {
    pub const ALL: [LinkPurpose; 3] =
        [LinkPurpose::EmailVerification, LinkPurpose::PasswordReset, LinkPurpose::EmailChange];

    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkPurpose::EmailVerification => "email_verification",
            LinkPurpose::PasswordReset => "password_reset",
            LinkPurpose::EmailChange => "email_change",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|purpose| purpose.as_str() == text)
    }

    /// How long a link stays usable: a day to confirm an address, an hour to reset a password.
    pub fn lifetime(self) -> Duration {
        match self {
            LinkPurpose::EmailVerification | LinkPurpose::EmailChange => Duration::hours(24),
            LinkPurpose::PasswordReset => Duration::hours(1),
        }
    }
}

/// A link token in the clear. Its `Debug` form never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct LinkToken([u8; 32]);

impl LinkToken {
    pub fn generate() -> Self {
        Self(random_bytes())
    }

    /// Accepts exactly the form [`LinkToken::expose`] produces.
    pub fn parse(text: &str) -> Option<Self> {
        base64url_decode(text)?.try_into().ok().map(Self)
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash(sha256(&self.0))
    }

    /// The text that goes into the link.
    pub fn expose(&self) -> String {
        base64url_encode(&self.0)
    }
}

impl fmt::Debug for LinkToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkToken(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_through_their_text_and_hide_in_debug_output() {
        let token = LinkToken::generate();
        let text = token.expose();
        assert_eq!(text.len(), 43, "32 bytes in unpadded base64url");
        assert_eq!(LinkToken::parse(&text), Some(token.clone()));
        assert_eq!(LinkToken::parse(&text[1..]), None);
        assert!(!format!("{token:?}").contains(&text));
        assert_ne!(LinkToken::generate().hash(), token.hash());
    }

    #[test]
    fn purposes_read_back_from_their_stored_names() {
        for purpose in LinkPurpose::ALL {
            assert_eq!(LinkPurpose::parse(purpose.as_str()), Some(purpose));
        }
        assert_eq!(LinkPurpose::PasswordReset.lifetime(), Duration::hours(1));
    }
}
