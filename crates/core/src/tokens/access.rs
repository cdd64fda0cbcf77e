//! Access tokens: short-lived JWTs (`typ: at+jwt`, RFC 9068) signed with the newest key.

use std::sync::Arc;

use arc_swap::ArcSwap;
use chrono::{DateTime, Duration, Utc};
use mana_proto::AccessTokenClaims;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::TokenRejection;
use super::keys::KeyRing;
use crate::crypto::{base64url_decode, base64url_encode};
use crate::ids::SessionId;
use crate::store::User;

pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

#[derive(Debug, Clone)]
pub struct AccessTokenSettings {
    pub issuer: String,
    pub audience: String,
    pub ttl: Duration,
    /// Clock skew tolerated when checking `exp` and `iat`.
    pub leeway: Duration,
}

/// Issues and verifies access tokens with one key ring. Clones share the ring, so a ring
/// swapped in by [`AccessTokens::replace_keys`] (a key directory re-read) reaches every user.
#[derive(Debug, Clone)]
pub struct AccessTokens {
    keys: Arc<ArcSwap<KeyRing>>,
    settings: AccessTokenSettings,
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'a str,
    typ: &'a str,
    kid: &'a str,
}

/// The header fields verification looks at; any others are ignored, except that a `crit`
/// list naming anything at all is refused: this verifier understands no extensions (RFC 7515
/// section 4.1.11).
#[derive(Deserialize)]
struct VerifiedHeader {
    alg: String,
    typ: Option<String>,
    kid: Option<String>,
    crit: Option<serde_json::Value>,
}

fn decode_json<T: DeserializeOwned>(part: &str) -> Option<T> {
    serde_json::from_slice(&base64url_decode(part)?).ok()
}

impl AccessTokens {
    pub fn new(keys: KeyRing, settings: AccessTokenSettings) -> Self {
        Self { keys: Arc::new(ArcSwap::from_pointee(keys)), settings }
    }

    /// The key ring in use now.
    pub fn keys(&self) -> Arc<KeyRing> {
        self.keys.load_full()
    }

    /// Swaps in a new ring: the newest key signs from now on, tokens of every key in it verify.
    pub fn replace_keys(&self, keys: KeyRing) {
        self.keys.store(Arc::new(keys));
    }

    pub fn settings(&self) -> &AccessTokenSettings {
        &self.settings
    }

    /// The claims of a token for `user` in `session`, issued at `issued_at` (whole seconds are
    /// used).
    pub fn claims(
        &self,
        user: &User,
        session: SessionId,
        jti: String,
        issued_at: DateTime<Utc>,
        amr: &[String],
    ) -> AccessTokenClaims {
        let iat = issued_at.timestamp();
        AccessTokenClaims {
            sub: user.id.to_string(),
            email: user.email.to_string(),
            email_verified: user.email_verified,
            role: user.role.to_string(),
            sid: session.to_string(),
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            iat,
            exp: iat + self.settings.ttl.num_seconds(),
            nbf: None,
            jti,
            amr: amr.to_vec(),
        }
    }

    /// Signs the claims with the newest key. RS256 and EdDSA signatures are deterministic, so
    /// the same claims give the same token: the refresh grace window relies on that.
    pub fn sign(&self, claims: &AccessTokenClaims) -> anyhow::Result<String> {
        self.sign_typed(ACCESS_TOKEN_TYPE, claims)
    }

    /// A compact JWS of `claims` with header `typ`, signed by the newest key. The `typ` keeps
    /// tokens of different purposes from being accepted for one another.
    pub(crate) fn sign_typed(&self, typ: &str, claims: &impl Serialize) -> anyhow::Result<String> {
        let keys = self.keys.load();
        let key = keys.signing_key();
        let header = Header { alg: key.algorithm().jwt_name(), typ, kid: key.kid() };
        let mut token = base64url_encode(&serde_json::to_vec(&header)?);
        token.push('.');
        token.push_str(&base64url_encode(&serde_json::to_vec(claims)?));
        let signature = key.sign(token.as_bytes())?;
        token.push('.');
        token.push_str(&base64url_encode(&signature));
        Ok(token)
    }

    /// Verifies a compact JWS: the header must name a published key (`kid`) and exactly that
    /// key's algorithm (`none`, HMAC and every other algorithm are refused before any signature
    /// check), carry `typ`, and list no `crit` extension; the signature must verify with that
    /// key. Returns the decoded payload.
    pub(crate) fn verify_typed<T: DeserializeOwned>(&self, typ: &str, token: &str) -> Result<T, TokenRejection> {
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenRejection::Malformed);
        };
        let header: VerifiedHeader = decode_json(header_b64).ok_or(TokenRejection::Malformed)?;
        if header.typ.as_deref() != Some(typ) {
            return Err(TokenRejection::WrongType);
        }
        if header.crit.is_some() {
            return Err(TokenRejection::UnsupportedCritical);
        }
        let keys = self.keys.load();
        let kid = header.kid.as_deref().ok_or(TokenRejection::UnknownKey)?;
        let key = keys.get(kid).ok_or(TokenRejection::UnknownKey)?;
        if header.alg != key.algorithm().jwt_name() {
            return Err(TokenRejection::WrongAlgorithm);
        }
        let signature = base64url_decode(signature_b64).ok_or(TokenRejection::Malformed)?;
        let signed_part = &token[..header_b64.len() + 1 + payload_b64.len()];
        if !key.verify(signed_part.as_bytes(), &signature) {
            return Err(TokenRejection::BadSignature);
        }
        decode_json(payload_b64).ok_or(TokenRejection::Malformed)
    }

    /// Verifies an access token: the JWS as [`Self::verify_typed`] checks it with `typ:
    /// at+jwt`, then issuer, audience and lifetime (`exp`, and `nbf`/`iat` not in the future,
    /// each with the leeway). Whether the session is still live is the caller's second step.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<AccessTokenClaims, TokenRejection> {
        let claims: AccessTokenClaims = self.verify_typed(ACCESS_TOKEN_TYPE, token)?;
        if claims.iss != self.settings.issuer {
            return Err(TokenRejection::WrongIssuer);
        }
        if claims.aud != self.settings.audience {
            return Err(TokenRejection::WrongAudience);
        }
        let now = now.timestamp();
        let leeway = self.settings.leeway.num_seconds();
        if now > claims.exp.saturating_add(leeway) {
            return Err(TokenRejection::Expired);
        }
        let not_before = claims.nbf.unwrap_or(i64::MIN).max(claims.iat);
        if not_before > now.saturating_add(leeway) {
            return Err(TokenRejection::NotYetValid);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, Utc};

    use super::*;
    use crate::tokens::KeyAlgorithm;

    fn tokens(algorithm: KeyAlgorithm) -> AccessTokens {
        crate::tokens::test_tokens(algorithm)
    }

    #[test]
    fn every_key_type_round_trips_and_rejects_a_flipped_bit() {
        for algorithm in [KeyAlgorithm::Rs256, KeyAlgorithm::Es256, KeyAlgorithm::EdDsa] {
            let tokens = tokens(algorithm);
            let now = Utc::now();
            let claims = crate::tokens::test_claims(&tokens, now);
            let token = tokens.sign(&claims).unwrap();
            assert_eq!(tokens.verify(&token, now), Ok(claims));

            let (signed, signature) = token.rsplit_once('.').unwrap();
            let mut bytes = base64url_decode(signature).unwrap();
            bytes[0] ^= 1;
            let tampered = format!("{signed}.{}", base64url_encode(&bytes));
            assert_eq!(tokens.verify(&tampered, now), Err(TokenRejection::BadSignature), "{algorithm:?}");
        }
    }

    #[test]
    fn structure_is_checked_before_anything_else() {
        let tokens = tokens(KeyAlgorithm::EdDsa);
        for broken in ["", "a", "a.b", "a.b.c.d", "!!.!!.!!", "e30.e30.e30"] {
            assert!(tokens.verify(broken, Utc::now()).is_err(), "{broken}");
        }
    }

    /// A token signed with the ring's key but with a header and claims of the test's choosing.
    fn signed_with(tokens: &AccessTokens, header: serde_json::Value, claims: &AccessTokenClaims) -> String {
        let keys = tokens.keys();
        let mut token = base64url_encode(&serde_json::to_vec(&header).unwrap());
        token.push('.');
        token.push_str(&base64url_encode(&serde_json::to_vec(claims).unwrap()));
        let signature = keys.signing_key().sign(token.as_bytes()).unwrap();
        format!("{token}.{}", base64url_encode(&signature))
    }

    #[test]
    fn a_token_not_valid_before_a_future_time_is_refused() {
        let tokens = tokens(KeyAlgorithm::EdDsa);
        let now = Utc::now();
        let mut claims = crate::tokens::test_claims(&tokens, now);
        claims.nbf = Some(now.timestamp() + 120);
        let token = tokens.sign(&claims).unwrap();
        assert_eq!(tokens.verify(&token, now), Err(TokenRejection::NotYetValid));
        assert!(tokens.verify(&token, now + Duration::seconds(120)).is_ok(), "valid once nbf has passed");
    }

    #[test]
    fn a_critical_header_extension_is_refused() {
        let tokens = tokens(KeyAlgorithm::EdDsa);
        let now = Utc::now();
        let claims = crate::tokens::test_claims(&tokens, now);
        let header =
            serde_json::json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "k", "crit": ["exp-policy"], "exp-policy": 1});
        let token = signed_with(&tokens, header, &claims);
        assert_eq!(tokens.verify(&token, now), Err(TokenRejection::UnsupportedCritical));
        let plain = serde_json::json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "k"});
        assert!(tokens.verify(&signed_with(&tokens, plain, &claims), now).is_ok(), "the same token without crit");
    }

    #[test]
    fn signing_twice_gives_the_same_rs256_token() {
        let tokens = tokens(KeyAlgorithm::Rs256);
        let claims = crate::tokens::test_claims(&tokens, Utc::now());
        assert_eq!(tokens.sign(&claims).unwrap(), tokens.sign(&claims).unwrap());
    }
}
