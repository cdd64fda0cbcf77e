//! Checking an ID token from an OpenID provider (OpenID Connect Core §3.1.3.7): signature by
//! one of the provider's keys with the algorithm that key is pinned to, `iss`, `aud` (and
//! `azp` when there are several audiences), `exp` and `iat` on the service's clock, `nonce`.

use chrono::{DateTime, Utc};
use jsonwebtoken::{Validation, decode, decode_header};
use mana_core::crypto::{constant_time_eq, hex_encode, sha256};
use serde::{Deserialize, Deserializer};

use super::ProviderFailure;
use super::http::ProviderHttp;
use super::jwks::JwksCache;

/// Clock difference allowed between the provider and this service.
const LEEWAY_SECONDS: i64 = 60;

/// Why an ID token was refused; said to the user only as `invalid_id_token` with this reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdTokenRejection {
    #[error("the ID token is malformed")]
    Malformed,
    #[error("the ID token is signed by a key the provider does not publish")]
    UnknownKey,
    #[error("the ID token's algorithm is not its key's")]
    WrongAlgorithm,
    #[error("the ID token's signature is invalid")]
    BadSignature,
    #[error("the ID token is from another issuer")]
    WrongIssuer,
    #[error("the ID token is meant for another client")]
    WrongAudience,
    #[error("the ID token has expired")]
    Expired,
    #[error("the ID token is dated in the future")]
    IssuedInTheFuture,
    #[error("the ID token's nonce does not match")]
    NonceMismatch,
}

/// The claims this service reads. Apple sends its booleans as strings (`"true"`).
#[derive(Debug, Deserialize)]
pub struct IdTokenClaims {
    pub sub: String,
    pub exp: i64,
    pub iat: i64,
    #[serde(default)]
    pub azp: Option<String>,
    #[serde(default)]
    pub nonce: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub email_verified: bool,
    #[serde(default)]
    pub name: Option<String>,
}

fn lenient_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum BoolOrString {
        Bool(bool),
        String(String),
    }
    Ok(match Option::<BoolOrString>::deserialize(deserializer)? {
        Some(BoolOrString::Bool(value)) => value,
        Some(BoolOrString::String(value)) => value.eq_ignore_ascii_case("true"),
        None => false,
    })
}

/// What the token must say besides its signature.
pub struct Expectations<'a> {
    pub issuer: &'a str,
    /// The client ids it may be issued to; the first is the web client's.
    pub audiences: &'a [String],
    pub nonce: NonceCheck<'a>,
    pub now: DateTime<Utc>,
}

/// The nonce rule of a flow.
#[derive(Debug, Clone, Copy)]
pub enum NonceCheck<'a> {
    /// The web flow: the token carries exactly the nonce the flow sent.
    Exactly(&'a str),
    /// The native flow: the app passes the nonce it gave the platform SDK, which puts it in
    /// the token as it is (Google) or as its SHA-256 in hex (Apple, when the app hashes it as
    /// Apple advises). `None`: the app used none, and the token must carry none.
    Native(Option<&'a str>),
}

impl NonceCheck<'_> {
    fn holds(&self, claimed: Option<&str>) -> bool {
        match (self, claimed) {
            (NonceCheck::Exactly(expected), Some(claimed)) => constant_time_eq(expected.as_bytes(), claimed.as_bytes()),
            (NonceCheck::Native(Some(raw)), Some(claimed)) => {
                constant_time_eq(raw.as_bytes(), claimed.as_bytes())
                    || constant_time_eq(hex_encode(&sha256(raw.as_bytes())).as_bytes(), claimed.as_bytes())
            }
            (NonceCheck::Native(None), None) => true,
            _ => false,
        }
    }
}

pub async fn verify(
    http: &ProviderHttp,
    keys: &JwksCache,
    token: &str,
    expect: Expectations<'_>,
) -> Result<IdTokenClaims, ProviderFailure> {
    let reject = |rejection: IdTokenRejection| Err(ProviderFailure::IdToken(rejection));
    let Ok(header) = decode_header(token) else { return reject(IdTokenRejection::Malformed) };
    let Some(key) = keys.key(http, header.kid.as_deref()).await? else { return reject(IdTokenRejection::UnknownKey) };
    if header.alg != key.algorithm {
        return reject(IdTokenRejection::WrongAlgorithm);
    }
    let mut validation = Validation::new(key.algorithm);
    // Time is checked below on the service's clock (which tests can move), not the host's.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.set_required_spec_claims(&["iss", "aud", "sub", "exp"]);
    validation.set_issuer(&[expect.issuer]);
    validation.set_audience(expect.audiences);
    let claims = match decode::<IdTokenClaims>(token, &key.key, &validation) {
        Ok(data) => data.claims,
        Err(error) => {
            use jsonwebtoken::errors::ErrorKind;
            return reject(match error.kind() {
                ErrorKind::InvalidSignature => IdTokenRejection::BadSignature,
                ErrorKind::InvalidIssuer => IdTokenRejection::WrongIssuer,
                ErrorKind::InvalidAudience => IdTokenRejection::WrongAudience,
                ErrorKind::InvalidAlgorithm => IdTokenRejection::WrongAlgorithm,
                _ => IdTokenRejection::Malformed,
            });
        }
    };
    // Several audiences: the authorized party must be one of ours (Core §3.1.3.7, items 4-5).
    if let Some(azp) = &claims.azp
        && !expect.audiences.contains(azp)
    {
        return reject(IdTokenRejection::WrongAudience);
    }
    let now = expect.now.timestamp();
    if claims.exp + LEEWAY_SECONDS <= now {
        return reject(IdTokenRejection::Expired);
    }
    if claims.iat > now + LEEWAY_SECONDS {
        return reject(IdTokenRejection::IssuedInTheFuture);
    }
    if !expect.nonce.holds(claims.nonce.as_deref()) {
        return reject(IdTokenRejection::NonceMismatch);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apple_string_booleans_are_read() {
        let claims: IdTokenClaims = serde_json::from_value(serde_json::json!({
            "sub": "s", "exp": 1, "iat": 0, "email_verified": "true"
        }))
        .unwrap();
        assert!(claims.email_verified);
        let claims: IdTokenClaims =
            serde_json::from_value(serde_json::json!({"sub": "s", "exp": 1, "iat": 0, "email_verified": "false"}))
                .unwrap();
        assert!(!claims.email_verified);
        let claims: IdTokenClaims =
            serde_json::from_value(serde_json::json!({"sub": "s", "exp": 1, "iat": 0})).unwrap();
        assert!(!claims.email_verified, "absent means not vouched for");
    }

    #[test]
    fn nonces_match_exactly_or_as_apples_hash_in_the_native_flow() {
        assert!(NonceCheck::Exactly("abc").holds(Some("abc")));
        assert!(!NonceCheck::Exactly("abc").holds(Some("abd")));
        assert!(!NonceCheck::Exactly("abc").holds(None));
        let hashed = hex_encode(&sha256(b"raw-nonce"));
        assert!(NonceCheck::Native(Some("raw-nonce")).holds(Some(&hashed)));
        assert!(NonceCheck::Native(Some("raw-nonce")).holds(Some("raw-nonce")));
        assert!(!NonceCheck::Native(Some(&hashed)).holds(Some("raw-nonce")), "the hash is not the secret");
        assert!(!NonceCheck::Native(Some("raw-nonce")).holds(None));
        assert!(!NonceCheck::Native(None).holds(Some("a nonce the app did not show")));
        assert!(NonceCheck::Native(None).holds(None));
    }
}
