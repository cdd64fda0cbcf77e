//! Checking one compact JWS against a key set and the expected issuer and audience: the same
//! rules the server applies (`typ: at+jwt`, no `crit`, the key's own algorithm, then `iss`,
//! `aud`, `exp`, `nbf`/`iat` with a leeway).

use mana_proto::{AccessTokenClaims, TokenRejection};
use serde::Deserialize;

use crate::base64url;
use crate::keys::KeySet;

pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

#[derive(Deserialize)]
struct Header {
    alg: String,
    typ: Option<String>,
    kid: Option<String>,
    crit: Option<serde_json::Value>,
}

/// A token split into its parts, with the header read: what is needed to pick its key.
pub(crate) struct Parsed<'a> {
    kid: String,
    alg: String,
    signed_part: &'a str,
    payload: &'a str,
    signature: &'a str,
}

impl<'a> Parsed<'a> {
    /// Structure and header first: a token that could never verify needs no key.
    pub fn new(token: &'a str) -> Result<Self, TokenRejection> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenRejection::Malformed);
        };
        let header: Header = base64url::decode(header)
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(TokenRejection::Malformed)?;
        if header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE) {
            return Err(TokenRejection::WrongType);
        }
        // No extension is understood here, so any critical one is refused (RFC 7515 4.1.11).
        if header.crit.is_some() {
            return Err(TokenRejection::UnsupportedCritical);
        }
        let kid = header.kid.ok_or(TokenRejection::UnknownKey)?;
        let signed_part = &token[..token.len() - signature.len() - 1];
        Ok(Self { kid, alg: header.alg, signed_part, payload, signature })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The signature with the named key, pinned to its algorithm, then the payload.
    pub fn verify(&self, keys: &KeySet) -> Result<AccessTokenClaims, TokenRejection> {
        let key = keys.get(&self.kid).ok_or(TokenRejection::UnknownKey)?;
        if self.alg != key.algorithm {
            return Err(TokenRejection::WrongAlgorithm);
        }
        let signature = base64url::decode(self.signature).ok_or(TokenRejection::Malformed)?;
        if !key.verify(self.signed_part.as_bytes(), &signature) {
            return Err(TokenRejection::BadSignature);
        }
        base64url::decode(self.payload)
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(TokenRejection::Malformed)
    }
}

/// What a verified signature's claims must also satisfy.
#[derive(Debug, Clone)]
pub(crate) struct Expectations {
    pub issuer: String,
    pub audience: String,
    /// Clock skew tolerated for `exp`, `nbf` and `iat`, in seconds.
    pub leeway: i64,
}

impl Expectations {
    pub fn check(&self, claims: &AccessTokenClaims, now: i64) -> Result<(), TokenRejection> {
        if claims.iss != self.issuer {
            return Err(TokenRejection::WrongIssuer);
        }
        if claims.aud != self.audience {
            return Err(TokenRejection::WrongAudience);
        }
        if now > claims.exp.saturating_add(self.leeway) {
            return Err(TokenRejection::Expired);
        }
        let not_before = claims.nbf.unwrap_or(i64::MIN).max(claims.iat);
        if not_before > now.saturating_add(self.leeway) {
            return Err(TokenRejection::NotYetValid);
        }
        Ok(())
    }
}
