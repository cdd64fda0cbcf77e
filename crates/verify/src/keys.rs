//! The server's published keys (its JWKS), each parsed once into a verifier pinned to the one
//! algorithm the key states: a token naming another algorithm for the key is refused before any
//! signature is checked.

use std::collections::HashMap;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ED25519, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use serde::Deserialize;

use crate::base64url;

/// One key of a JWKS as published (RFC 7517/7518/8037); members this crate does not use are
/// ignored.
#[derive(Debug, Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    key_use: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

#[derive(Debug, Deserialize)]
struct JwkSet {
    keys: Vec<Jwk>,
}

/// A public key and the algorithm it is pinned to.
pub(crate) struct PublicKey {
    pub algorithm: &'static str,
    verifier: ParsedPublicKey,
}

impl PublicKey {
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.verifier.verify_sig(message, signature).is_ok()
    }
}

/// The usable keys of a JWKS by `kid`. Keys that are not for signatures, have no `kid` or
/// `alg`, or name an algorithm this crate does not verify are left out (a key without `alg`
/// could be tried with any algorithm; pinning is the point).
#[derive(Default)]
pub(crate) struct KeySet {
    keys: HashMap<String, PublicKey>,
}

impl KeySet {
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        let set: JwkSet = serde_json::from_slice(body).map_err(|e| format!("not a JWKS: {e}"))?;
        let mut keys = HashMap::new();
        for jwk in set.keys {
            if jwk.key_use.as_deref().is_some_and(|u| u != "sig") {
                continue;
            }
            let (Some(kid), Some(alg)) = (jwk.kid.clone(), jwk.alg.clone()) else { continue };
            if let Some(key) = public_key(&jwk, &alg) {
                keys.insert(kid, key);
            } else {
                tracing::warn!(kid, alg, "a published key could not be used");
            }
        }
        Ok(Self { keys })
    }

    pub fn get(&self, kid: &str) -> Option<&PublicKey> {
        self.keys.get(kid)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }
}

fn public_key(jwk: &Jwk, alg: &str) -> Option<PublicKey> {
    let member = |value: &Option<String>| value.as_deref().and_then(base64url::decode);
    let (algorithm, verifier) = match (alg, jwk.kty.as_str(), jwk.crv.as_deref()) {
        ("RS256", "RSA", _) => {
            let der = rsa_public_key_der(&member(&jwk.n)?, &member(&jwk.e)?);
            ("RS256", ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der).ok()?)
        }
        ("ES256", "EC", Some("P-256")) => {
            let (x, y) = (member(&jwk.x)?, member(&jwk.y)?);
            if x.len() != 32 || y.len() != 32 {
                return None;
            }
            let point = [&[0x04][..], &x, &y].concat();
            ("ES256", ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).ok()?)
        }
        ("EdDSA", "OKP", Some("Ed25519")) => ("EdDSA", ParsedPublicKey::new(&ED25519, member(&jwk.x)?).ok()?),
        _ => return None,
    };
    Some(PublicKey { algorithm, verifier })
}

/// `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }` in DER (RFC 8017
/// appendix A.1.1), the form aws-lc parses an RSA public key from.
fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    let body = [der_integer(n), der_integer(e)].concat();
    der_element(0x30, &body)
}

fn der_integer(magnitude: &[u8]) -> Vec<u8> {
    let start = magnitude.iter().position(|&b| b != 0).unwrap_or(magnitude.len().saturating_sub(1));
    let trimmed = &magnitude[start..];
    // A leading byte with its high bit set would read as negative: prefix a zero.
    let value =
        if trimmed.first().is_some_and(|&b| b & 0x80 != 0) { [&[0][..], trimmed].concat() } else { trimmed.to_vec() };
    der_element(0x02, &value)
}

fn der_element(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|&b| b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_integers_are_minimal_and_never_negative() {
        assert_eq!(der_integer(&[0, 0, 1]), [0x02, 1, 1]);
        assert_eq!(der_integer(&[0x80]), [0x02, 2, 0, 0x80]);
        assert_eq!(der_integer(&[0]), [0x02, 1, 0]);
        let long = der_element(0x30, &[7; 300]);
        assert_eq!(&long[..4], &[0x30, 0x82, 0x01, 0x2c]);
    }

    #[test]
    fn keys_without_kid_or_alg_or_for_encryption_are_left_out() {
        let set = KeySet::parse(
            br#"{"keys":[
                {"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","alg":"EdDSA","use":"enc","kid":"a"},
                {"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"b"},
                {"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","alg":"EdDSA","use":"sig","kid":"c"},
                {"kty":"oct","k":"c2VjcmV0","alg":"HS256","kid":"d"}
            ]}"#,
        )
        .unwrap();
        assert_eq!(set.len(), 1);
        assert_eq!(set.get("c").map(|k| k.algorithm), Some("EdDSA"));
        assert!(set.get("d").is_none(), "a shared secret is no public key");
    }
}
