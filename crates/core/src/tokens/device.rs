//! Device tokens (OWASP's "device cookies"): a successful login hands the client a signed
//! token naming the account it signed in to. A later login that presents it is known to come
//! from a device that has signed in before, so an account lock caused by somebody else's
//! guesses does not shut it out; it gets a small failure budget of its own instead.
//!
//! The token is a JWS signed with the access-token keys but with its own `typ`, so neither
//! kind is accepted as the other. It names the account by the same digest of the normalised
//! email that keys the account's failure budget, so checking it needs no database.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::AccessTokens;

pub const DEVICE_TOKEN_TYPE: &str = "device+jwt";

/// How long a device token is honoured; every successful login issues a fresh one.
pub const DEVICE_TOKEN_LIFETIME: Duration = Duration::days(180);

#[derive(Debug, Serialize, Deserialize)]
struct DeviceClaims {
    /// The account key: hex SHA-256 of the normalised email.
    sub: String,
    /// The device's id; its failure budget is keyed by it.
    jti: String,
    iss: String,
    iat: i64,
    exp: i64,
}

/// The key of the account an email names, for budgets and device tokens: the same for
/// `A@x.org ` and `a@x.org`, and no address in Redis, memory dumps or tokens. Unknown emails
/// have keys too, so that their budgets behave exactly like real accounts'.
pub fn account_key(email: &str) -> String {
    crate::crypto::hex_encode(&crate::crypto::sha256(email.trim().to_lowercase().as_bytes()))
}

/// A device that proved, with a valid token for this account, that it signed in before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownDevice {
    pub id: String,
}

impl AccessTokens {
    /// A device token for `account`, with a new device id.
    pub fn issue_device_token(&self, account: &str, now: DateTime<Utc>) -> anyhow::Result<String> {
        let claims = DeviceClaims {
            sub: account.to_owned(),
            jti: Uuid::new_v4().to_string(),
            iss: self.settings().issuer.clone(),
            iat: now.timestamp(),
            exp: (now + DEVICE_TOKEN_LIFETIME).timestamp(),
        };
        self.sign_typed(DEVICE_TOKEN_TYPE, &claims)
    }

    /// The device behind `token`, if the token is genuine, unexpired, ours and for `account`.
    /// Anything else is treated as no token at all: the login falls back to the account's
    /// budget, so a forged or foreign token gains nothing.
    pub fn known_device(&self, token: &str, account: &str, now: DateTime<Utc>) -> Option<KnownDevice> {
        let claims: DeviceClaims = self.verify_typed(DEVICE_TOKEN_TYPE, token).ok()?;
        let fits = claims.sub == account && claims.iss == self.settings().issuer && now.timestamp() < claims.exp;
        fits.then_some(KnownDevice { id: claims.jti })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> AccessTokens {
        crate::tokens::test_tokens(crate::tokens::KeyAlgorithm::EdDsa)
    }

    #[test]
    fn a_device_token_is_honoured_only_for_its_account_and_lifetime() {
        let tokens = tokens();
        let now = Utc::now();
        let token = tokens.issue_device_token("account-a", now).unwrap();
        let device = tokens.known_device(&token, "account-a", now).expect("its own account");
        assert!(!device.id.is_empty());
        assert_eq!(tokens.known_device(&token, "account-b", now), None, "another account");
        assert_eq!(tokens.known_device(&token, "account-a", now + DEVICE_TOKEN_LIFETIME), None, "expired");
        assert_eq!(tokens.known_device("not.a.token", "account-a", now), None);
    }

    #[test]
    fn device_and_access_tokens_are_not_interchangeable() {
        let tokens = tokens();
        let now = Utc::now();
        let device = tokens.issue_device_token("account-a", now).unwrap();
        assert_eq!(tokens.verify(&device, now), Err(crate::tokens::TokenRejection::WrongType));
        let claims = crate::tokens::test_claims(&tokens, now);
        let access = tokens.sign(&claims).unwrap();
        assert_eq!(tokens.known_device(&access, "u", now), None);
    }
}
