//! A provider's signing keys (its JWKS), fetched when first needed, kept for an hour, and
//! fetched again early when a token names a key not yet seen (the provider rotated). Such early
//! fetches happen at most once every ten seconds, so that tokens with made-up key ids cannot
//! make us hammer the provider; the first one is always allowed, so a rotation is followed at
//! once.

use std::str::FromStr;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::Mutex;

use super::http::{ProviderError, ProviderHttp};

/// How long a fetched key set is trusted without asking again.
const KEYS_TTL: Duration = Duration::from_secs(3600);
/// The shortest time between two fetches caused by unknown key ids.
const REFETCH_INTERVAL: Duration = Duration::from_secs(10);

/// A key ready to check signatures, with the one algorithm it may be used with.
#[derive(Clone)]
pub struct VerificationKey {
    pub kid: Option<String>,
    pub algorithm: Algorithm,
    pub key: DecodingKey,
}

struct Fetched {
    keys: Vec<VerificationKey>,
    at: Instant,
}

#[derive(Default)]
struct Cached {
    fetched: Option<Fetched>,
    /// When a token's unknown key id last made us fetch early.
    last_early_fetch: Option<Instant>,
}

pub struct JwksCache {
    uri: String,
    cached: Mutex<Cached>,
}

impl JwksCache {
    pub fn new(uri: String) -> Self {
        Self { uri, cached: Mutex::new(Cached::default()) }
    }

    /// The key a token's header names. `Ok(None)`: the provider has no such key, even after
    /// asking it again (when the last fetch is old enough).
    pub async fn key(&self, http: &ProviderHttp, kid: Option<&str>) -> Result<Option<VerificationKey>, ProviderError> {
        let mut cached = self.cached.lock().await;
        let fresh = cached.fetched.as_ref().filter(|f| f.at.elapsed() < KEYS_TTL);
        if let Some(fetched) = fresh {
            if let Some(key) = find(&fetched.keys, kid) {
                return Ok(Some(key));
            }
            if cached.last_early_fetch.is_some_and(|at| at.elapsed() < REFETCH_INTERVAL) {
                return Ok(None);
            }
            cached.last_early_fetch = Some(Instant::now());
        }
        let keys = parse_key_set(&http.get_json(&self.uri).await?);
        let key = find(&keys, kid);
        cached.fetched = Some(Fetched { keys, at: Instant::now() });
        Ok(key)
    }
}

/// By key id; a token without one may use the set's only key.
fn find(keys: &[VerificationKey], kid: Option<&str>) -> Option<VerificationKey> {
    match kid {
        Some(kid) => keys.iter().find(|key| key.kid.as_deref() == Some(kid)).cloned(),
        None if keys.len() == 1 => keys.first().cloned(),
        None => None,
    }
}

/// Every usable signing key of a JWKS document; keys this service cannot use (encryption
/// keys, symmetric keys, unknown types) are skipped rather than failing the whole set.
pub fn parse_key_set(document: &serde_json::Value) -> Vec<VerificationKey> {
    let Some(keys) = document.get("keys").and_then(|keys| keys.as_array()) else {
        return Vec::new();
    };
    keys.iter()
        .filter_map(|value| serde_json::from_value::<Jwk>(value.clone()).ok())
        .filter(|jwk| {
            jwk.common.public_key_use.as_ref().is_none_or(|u| *u == jsonwebtoken::jwk::PublicKeyUse::Signature)
        })
        .filter_map(|jwk| {
            let algorithm = signing_algorithm(&jwk)?;
            let key = DecodingKey::from_jwk(&jwk).ok()?;
            Some(VerificationKey { kid: jwk.common.key_id.clone(), algorithm, key })
        })
        .collect()
}

/// The algorithm a key is pinned to: the one its `alg` names, else the usual one for its type
/// and curve. Symmetric keys are never accepted from a provider.
fn signing_algorithm(jwk: &Jwk) -> Option<Algorithm> {
    let from_type = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(params) => match params.curve {
            EllipticCurve::P256 => Algorithm::ES256,
            EllipticCurve::P384 => Algorithm::ES384,
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
        _ => return None,
    };
    let algorithm = match jwk.common.key_algorithm {
        Some(named) => Algorithm::from_str(&named.to_string()).ok()?,
        None => from_type,
    };
    let family_matches = matches!(
        (&jwk.algorithm, algorithm),
        (AlgorithmParameters::RSA(_), Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512)
            | (AlgorithmParameters::RSA(_), Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512)
            | (AlgorithmParameters::EllipticCurve(_), Algorithm::ES256 | Algorithm::ES384)
            | (AlgorithmParameters::OctetKeyPair(_), Algorithm::EdDSA)
    );
    family_matches.then_some(algorithm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_encryption_and_unknown_keys_are_skipped_and_the_rest_kept() {
        let document = serde_json::json!({"keys": [
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "sXch", "e": "AQAB"},
            {"kty": "RSA", "kid": "hs-claimed", "alg": "HS256", "n": "sXch", "e": "AQAB"},
            {"kty": "weird", "kid": "unknown"},
            {"kty": "RSA", "kid": "sig", "n": "sXch", "e": "AQAB"},
            {"kty": "EC", "kid": "ec", "crv": "P-256",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
        ]});
        let keys = parse_key_set(&document);
        let kids: Vec<_> = keys.iter().map(|k| (k.kid.clone().unwrap(), k.algorithm)).collect();
        assert_eq!(kids, [("sig".to_string(), Algorithm::RS256), ("ec".to_string(), Algorithm::ES256)]);
        assert!(parse_key_set(&serde_json::json!({"nokeys": 1})).is_empty());
    }

    #[test]
    fn a_token_without_a_key_id_may_use_only_a_sole_key() {
        let one = parse_key_set(&serde_json::json!({"keys": [{"kty": "RSA", "kid": "a", "n": "sXch", "e": "AQAB"}]}));
        assert!(find(&one, None).is_some());
        assert!(find(&one, Some("b")).is_none());
        let two = parse_key_set(&serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "a", "n": "sXch", "e": "AQAB"}, {"kty": "RSA", "kid": "b", "n": "sXch", "e": "AQAB"}
        ]}));
        assert!(find(&two, None).is_none());
        assert_eq!(find(&two, Some("b")).unwrap().kid.as_deref(), Some("b"));
    }
}
