//! Access tokens: short-lived JWTs (`typ: at+jwt`, RFC 9068) signed with the newest key.

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Validation, decode, decode_header};
use mana_proto::AccessTokenClaims;
use serde::Serialize;

use super::TokenRejection;
use super::keys::KeyRing;
use crate::crypto::base64url_encode;

pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

#[derive(Debug, Clone)]
pub struct AccessTokenSettings {
    pub issuer: String,
    pub audience: String,
    pub ttl: Duration,
    /// Clock skew tolerated when checking `exp` and `iat`.
    pub leeway: Duration,
}

/// Issues and verifies access tokens with one key ring.
#[derive(Debug, Clone)]
pub struct AccessTokens {
    keys: KeyRing,
    settings: AccessTokenSettings,
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'a str,
    typ: &'a str,
    kid: &'a str,
}

impl AccessTokens {
    pub fn new(keys: KeyRing, settings: AccessTokenSettings) -> Self {
        Self { keys, settings }
    }

    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    pub fn settings(&self) -> &AccessTokenSettings {
        &self.settings
    }

    /// The claims of a token issued at `issued_at` (whole seconds are used).
    pub fn claims(
        &self,
        subject: String,
        email: String,
        role: String,
        session: String,
        jti: String,
        issued_at: DateTime<Utc>,
    ) -> AccessTokenClaims {
        let iat = issued_at.timestamp();
        AccessTokenClaims {
            sub: subject,
            email,
            role,
            sid: session,
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            iat,
            exp: iat + self.settings.ttl.num_seconds(),
            jti,
        }
    }

    /// Signs the claims with the newest key. RS256 and EdDSA signatures are deterministic, so
    /// the same claims give the same token: the refresh grace window relies on that.
    pub fn sign(&self, claims: &AccessTokenClaims) -> anyhow::Result<String> {
        let key = self.keys.signing_key();
        let header = Header { alg: key.algorithm().jwt_name(), typ: ACCESS_TOKEN_TYPE, kid: key.kid() };
        let mut token = base64url_encode(&serde_json::to_vec(&header)?);
        token.push('.');
        token.push_str(&base64url_encode(&serde_json::to_vec(claims)?));
        let signature = key.sign(token.as_bytes())?;
        token.push('.');
        token.push_str(&base64url_encode(&signature));
        Ok(token)
    }

    /// Checks the signature with the key named by `kid` and only that key's algorithm, then the
    /// type, issuer, audience and lifetime. Whether the session is still live is the caller's
    /// second step.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<AccessTokenClaims, TokenRejection> {
        let header = decode_header(token).map_err(|_| TokenRejection::Malformed)?;
        if header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE) {
            return Err(TokenRejection::WrongType);
        }
        let kid = header.kid.as_deref().ok_or(TokenRejection::UnknownKey)?;
        let key = self.keys.get(kid).ok_or(TokenRejection::UnknownKey)?;

        let mut validation = Validation::new(key.algorithm().jsonwebtoken());
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        // Lifetime is checked below against the service clock, which tests control.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;

        let claims = decode::<AccessTokenClaims>(token, key.decoding_key(), &validation)
            .map_err(|error| match error.kind() {
                ErrorKind::InvalidSignature => TokenRejection::BadSignature,
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => TokenRejection::WrongAlgorithm,
                ErrorKind::InvalidIssuer => TokenRejection::WrongIssuer,
                ErrorKind::InvalidAudience => TokenRejection::WrongAudience,
                _ => TokenRejection::Malformed,
            })?
            .claims;

        let now = now.timestamp();
        let leeway = self.settings.leeway.num_seconds();
        if now > claims.exp + leeway {
            return Err(TokenRejection::Expired);
        }
        if claims.iat > now + leeway {
            return Err(TokenRejection::NotYetValid);
        }
        Ok(claims)
    }
}
