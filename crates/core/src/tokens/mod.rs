//! Access tokens (signed JWTs) and refresh tokens (opaque secrets).

mod access;
mod device;
mod keys;
mod refresh;

pub use access::{AccessTokenSettings, AccessTokens};
pub use device::{DEVICE_TOKEN_LIFETIME, KnownDevice, account_key};
mod link;
pub use keys::{Jwk, Jwks, KeyAlgorithm, KeyRing, SigningKey, new_key_id};
pub use link::{LinkPurpose, LinkToken};
pub use refresh::{RefreshToken, TokenHash};

/// Why an access token was refused; the wire crate owns it so that `/auth/validate`'s
/// `error` and the SDKs share one list.
pub use mana_proto::TokenRejection;

/// An access-token issuer for unit tests: one fresh key of `algorithm`, fixed settings.
#[cfg(test)]
pub(crate) fn test_tokens(algorithm: KeyAlgorithm) -> AccessTokens {
    let (key, _) = SigningKey::generate(algorithm, "k".into(), 1).expect("a test key");
    let settings = AccessTokenSettings {
        issuer: "https://issuer.test".into(),
        audience: "apps".into(),
        ttl: chrono::Duration::minutes(15),
        leeway: chrono::Duration::seconds(30),
    };
    AccessTokens::new(KeyRing::new(vec![key]).expect("one key"), settings)
}

/// The claims of an access token for some user and session, issued at `now`.
#[cfg(test)]
pub(crate) fn test_claims(tokens: &AccessTokens, now: chrono::DateTime<chrono::Utc>) -> mana_proto::AccessTokenClaims {
    use crate::email::Email;
    use crate::ids::{Role, SessionId, UserId};
    let user = crate::store::User {
        id: UserId::generate(),
        email: Email::parse("e@x.io").expect("a valid email"),
        name: None,
        role: Role::User,
        email_verified: true,
        created_at: now,
        updated_at: now,
        deleted_at: None,
        locked_at: None,
    };
    tokens.claims(&user, SessionId::generate(), "j".into(), now, &["pwd".to_owned()])
}
