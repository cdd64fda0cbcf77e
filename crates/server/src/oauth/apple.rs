//! Sign in with Apple's client secret: not a fixed string but an ES256 JWT signed with the
//! `.p8` key Apple issues to the developer team (header `kid` = the key's id; `iss` = team id,
//! `sub` = the Services ID, `aud` = Apple's issuer; at most six months). One is made when first
//! needed and kept until a day before it expires.

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

/// How long a client secret is made to last (Apple allows up to 15,777,000 s, six months).
const SECRET_LIFETIME: Duration = Duration::days(30);
/// A secret this close to its expiry is replaced.
const RENEW_BEFORE: Duration = Duration::days(1);

pub struct AppleClientSecret {
    team_id: String,
    key_id: String,
    client_id: String,
    audience: String,
    /// Parsed once: signing must not parse the key again each time.
    key: EncodingKey,
    current: Mutex<Option<(String, DateTime<Utc>)>>,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

impl AppleClientSecret {
    /// `private_key_pem`: the `.p8` file's contents (a PKCS#8 P-256 key).
    pub fn new(
        team_id: String,
        key_id: String,
        client_id: String,
        audience: String,
        private_key_pem: &str,
    ) -> anyhow::Result<Self> {
        let key = EncodingKey::from_ec_pem(private_key_pem.as_bytes())
            .map_err(|_| anyhow::anyhow!("the Apple private key is not a PKCS#8 P-256 key (.p8)"))?;
        Ok(Self { team_id, key_id, client_id, audience, key, current: Mutex::new(None) })
    }

    /// The secret to send at `now`: the kept one, or a new one when it is near its end.
    pub fn at(&self, now: DateTime<Utc>) -> anyhow::Result<String> {
        let mut current = self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((secret, expires_at)) = current.as_ref()
            && *expires_at - RENEW_BEFORE > now
        {
            return Ok(secret.clone());
        }
        let expires_at = now + SECRET_LIFETIME;
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.key_id.clone());
        let claims = Claims {
            iss: &self.team_id,
            sub: &self.client_id,
            aud: &self.audience,
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
        };
        let secret = jsonwebtoken::encode(&header, &claims, &self.key)?;
        *current = Some((secret.clone(), expires_at));
        Ok(secret)
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
    use serde_json::Value;

    use super::*;

    /// A P-256 key in the `.p8` form Apple hands out, and its public half.
    fn p8_key() -> (String, String) {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        (key.serialize_pem(), key.public_key_pem())
    }

    #[test]
    fn the_client_secret_verifies_with_the_p8_keys_public_half_and_says_what_apple_asks() {
        let (private_pem, public_pem) = p8_key();
        let secret = AppleClientSecret::new(
            "TEAM123456".into(),
            "KEY1234567".into(),
            "com.example.web".into(),
            "https://appleid.apple.com".into(),
            &private_pem,
        )
        .unwrap();
        let now = Utc::now();
        let token = secret.at(now).unwrap();
        let header = decode_header(&token).unwrap();
        assert_eq!((header.alg, header.kid.as_deref()), (Algorithm::ES256, Some("KEY1234567")));
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_audience(&["https://appleid.apple.com"]);
        validation.set_issuer(&["TEAM123456"]);
        let key = DecodingKey::from_ec_pem(public_pem.as_bytes()).unwrap();
        let claims: Value = decode(&token, &key, &validation).unwrap().claims;
        assert_eq!(claims["sub"], "com.example.web");
        let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
        assert!(lifetime <= 15_777_000, "Apple refuses secrets longer than six months");

        // Another key's public half does not verify it.
        let (_, stranger) = p8_key();
        let stranger = DecodingKey::from_ec_pem(stranger.as_bytes()).unwrap();
        assert!(decode::<Value>(&token, &stranger, &validation).is_err());
    }

    #[test]
    fn the_secret_is_kept_and_renewed_a_day_before_it_expires() {
        let (private_pem, _) = p8_key();
        let secret = AppleClientSecret::new("T".into(), "K".into(), "C".into(), "A".into(), &private_pem).unwrap();
        let now = Utc::now();
        let first = secret.at(now).unwrap();
        assert_eq!(secret.at(now + Duration::days(28)).unwrap(), first, "kept");
        assert_ne!(secret.at(now + Duration::days(29) + Duration::seconds(1)).unwrap(), first, "renewed");
        assert!(AppleClientSecret::new("T".into(), "K".into(), "C".into(), "A".into(), "not a key").is_err());
    }
}
