//! Refresh tokens: 256-bit opaque secrets, stored only as their SHA-256.
//!
//! Rotation derives the next token from the presented one and fresh randomness:
//! `child = HMAC-SHA256(key = parent, message = nonce)`. The nonce is stored; the tokens are
//! not. Whoever presents the immediate parent within the grace window can therefore be given
//! the same current token again (two tabs refreshing at once), while a database dump alone
//! yields no usable token, and a stolen older token cannot compute the current one.

use std::fmt;

use crate::crypto::{base64url_decode, base64url_encode, constant_time_eq, hmac_sha256, random_bytes, sha256};

const TOKEN_BYTES: usize = 32;

/// A refresh token in the clear. Its `Debug` form never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken([u8; TOKEN_BYTES]);

/// The SHA-256 of a refresh token: what the database keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn matches(&self, other: &TokenHash) -> bool {
        constant_time_eq(&self.0, &other.0)
    }
}

impl RefreshToken {
    pub fn generate() -> Self {
        Self(random_bytes())
    }

    /// Accepts exactly the form [`RefreshToken::expose`] produces.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = base64url_decode(text)?;
        bytes.try_into().ok().map(Self)
    }

    /// The token that replaces this one when rotated with `nonce`.
    pub fn derive_child(&self, nonce: &[u8; 32]) -> Self {
        Self(hmac_sha256(&self.0, nonce))
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash(sha256(&self.0))
    }

    /// The text given to the client.
    pub fn expose(&self) -> String {
        base64url_encode(&self.0)
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposed_text_parses_back_to_the_same_token() {
        let token = RefreshToken::generate();
        assert_eq!(token.expose().len(), 43);
        assert_eq!(RefreshToken::parse(&token.expose()), Some(token));
    }

    #[test]
    fn anything_else_is_not_a_token() {
        for bad in ["", "short", "!!!!", &"A".repeat(44), &"A".repeat(42)] {
            assert!(RefreshToken::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn children_depend_on_parent_and_nonce() {
        let parent = RefreshToken::generate();
        let nonce = random_bytes();
        assert_eq!(parent.derive_child(&nonce), parent.derive_child(&nonce));
        assert_ne!(parent.derive_child(&nonce), parent.derive_child(&random_bytes()));
        assert_ne!(RefreshToken::generate().derive_child(&nonce), parent.derive_child(&nonce));
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let token = RefreshToken::generate();
        assert!(!format!("{token:?}").contains(&token.expose()));
    }
}
