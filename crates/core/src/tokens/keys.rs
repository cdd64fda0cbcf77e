//! Signing keys, parsed once and kept: signing an access token is on the hot path of login and
//! refresh, and re-parsing an RSA private key costs more than the signature itself.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ED25519, EcdsaKeyPair, Ed25519KeyPair, KeyPair,
    ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::crypto::{base64url_encode, hex_encode, random_bytes};

/// The signature algorithms a key can be made for. Each key is pinned to exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    Rs256,
    Es256,
    EdDsa,
}

impl KeyAlgorithm {
    pub fn jwt_name(self) -> &'static str {
        match self {
            KeyAlgorithm::Rs256 => "RS256",
            KeyAlgorithm::Es256 => "ES256",
            KeyAlgorithm::EdDsa => "EdDSA",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_uppercase().as_str() {
            "RS256" => Some(KeyAlgorithm::Rs256),
            "ES256" => Some(KeyAlgorithm::Es256),
            "EDDSA" => Some(KeyAlgorithm::EdDsa),
            _ => None,
        }
    }
}

enum Signer {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// One private key with everything derived from it: its public key, parsed once for
/// verification (re-parsing it, as a per-call verifier would, costs as much as the check), and
/// its public JWK.
pub struct SigningKey {
    kid: String,
    algorithm: KeyAlgorithm,
    /// Seconds since the epoch; the newest key signs.
    created_at: i64,
    signer: Signer,
    verifier: ParsedPublicKey,
    jwk: Jwk,
}

/// A public key as a JSON Web Key (RFC 7517, 7518, 8037): the members of its key type, with
/// `kid`, `alg` and `use: "sig"`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Jwk {
    pub kty: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<&'static str>,
    /// RSA modulus and exponent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// Curve point coordinates (`y` for P-256 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    pub kid: String,
    pub alg: &'static str,
    #[serde(rename = "use")]
    pub key_use: &'static str,
}

impl Jwk {
    fn new(kty: &'static str, kid: &str, algorithm: KeyAlgorithm) -> Self {
        Self {
            kty,
            crv: None,
            n: None,
            e: None,
            x: None,
            y: None,
            kid: kid.to_owned(),
            alg: algorithm.jwt_name(),
            key_use: "sig",
        }
    }
}

/// The JWKS document (`/.well-known/jwks.json`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// A key id that sorts by creation time and never collides: `<unix seconds>-<random hex>`.
pub fn new_key_id(created_at: i64) -> String {
    format!("{created_at}-{}", hex_encode(&random_bytes::<4>()))
}

impl SigningKey {
    /// Makes a new key pair; returns it with its private key as a PKCS#8 PEM document.
    pub fn generate(algorithm: KeyAlgorithm, kid: String, created_at: i64) -> anyhow::Result<(Self, String)> {
        let der = match algorithm {
            KeyAlgorithm::Rs256 => {
                RsaKeyPair::generate(KeySize::Rsa2048).and_then(|pair| pair.as_der()).map(|der| der.as_ref().to_vec())
            }
            KeyAlgorithm::Es256 => EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map(|doc| doc.as_ref().to_vec()),
            KeyAlgorithm::EdDsa => {
                Ed25519KeyPair::generate().and_then(|pair| pair.to_pkcs8v1()).map(|doc| doc.as_ref().to_vec())
            }
        }
        .map_err(|_| anyhow!("could not generate a {} key", algorithm.jwt_name()))?;
        let key = Self::from_pkcs8_der(kid, created_at, &der)?;
        Ok((key, pem_encode("PRIVATE KEY", &der)))
    }

    /// Reads a PKCS#8 private key (`-----BEGIN PRIVATE KEY-----`); the key type decides the
    /// algorithm (RSA → RS256, P-256 → ES256, Ed25519 → EdDSA).
    pub fn from_pkcs8_pem(kid: String, created_at: i64, pem: &str) -> anyhow::Result<Self> {
        let der = pem_decode("PRIVATE KEY", pem)?;
        Self::from_pkcs8_der(kid, created_at, &der)
    }

    fn from_pkcs8_der(kid: String, created_at: i64, der: &[u8]) -> anyhow::Result<Self> {
        if let Ok(pair) = RsaKeyPair::from_pkcs8(der) {
            if pair.public_modulus_len() < 256 {
                bail!("RSA keys must have at least 2048 bits");
            }
            let public = pair.public_key();
            let (n, e) = (public.modulus(), public.exponent());
            let (n, e) = (n.big_endian_without_leading_zero(), e.big_endian_without_leading_zero());
            let jwk = Jwk {
                n: Some(base64url_encode(n)),
                e: Some(base64url_encode(e)),
                ..Jwk::new("RSA", &kid, KeyAlgorithm::Rs256)
            };
            let verifier = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public.as_ref())
                .map_err(|e| anyhow!("unusable RSA public key: {e}"))?;
            return Ok(Self::assemble(kid, created_at, KeyAlgorithm::Rs256, Signer::Rsa(pair), verifier, jwk));
        }
        if let Ok(pair) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der) {
            // An uncompressed P-256 point: 0x04 || x (32 bytes) || y (32 bytes).
            let point = pair.public_key().as_ref().to_vec();
            if point.len() != 65 || point[0] != 4 {
                bail!("unexpected P-256 public key encoding");
            }
            let jwk = Jwk {
                crv: Some("P-256"),
                x: Some(base64url_encode(&point[1..33])),
                y: Some(base64url_encode(&point[33..])),
                ..Jwk::new("EC", &kid, KeyAlgorithm::Es256)
            };
            let verifier = ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
                .map_err(|e| anyhow!("unusable P-256 public key: {e}"))?;
            return Ok(Self::assemble(kid, created_at, KeyAlgorithm::Es256, Signer::Ecdsa(pair), verifier, jwk));
        }
        if let Ok(pair) = Ed25519KeyPair::from_pkcs8(der) {
            let public = pair.public_key().as_ref().to_vec();
            let jwk = Jwk {
                crv: Some("Ed25519"),
                x: Some(base64url_encode(&public)),
                ..Jwk::new("OKP", &kid, KeyAlgorithm::EdDsa)
            };
            let verifier =
                ParsedPublicKey::new(&ED25519, &public).map_err(|e| anyhow!("unusable Ed25519 public key: {e}"))?;
            return Ok(Self::assemble(kid, created_at, KeyAlgorithm::EdDsa, Signer::Ed25519(pair), verifier, jwk));
        }
        bail!("not an RSA, P-256 or Ed25519 private key in PKCS#8 form")
    }

    fn assemble(
        kid: String,
        created_at: i64,
        algorithm: KeyAlgorithm,
        signer: Signer,
        verifier: ParsedPublicKey,
        jwk: Jwk,
    ) -> Self {
        Self { kid, algorithm, created_at, signer, verifier, jwk }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    pub fn created_at(&self) -> i64 {
        self.created_at
    }

    /// The public key as a JSON Web Key with `kid`, `alg` and `use: "sig"`.
    pub fn public_jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// Whether `signature` is this key's signature of `message`.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.verifier.verify_sig(message, signature).is_ok()
    }

    pub(crate) fn sign(&self, message: &[u8]) -> anyhow::Result<Vec<u8>> {
        let rng = SystemRandom::new();
        match &self.signer {
            Signer::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .map_err(|_| anyhow!("RSA signing failed"))?;
                Ok(signature)
            }
            Signer::Ecdsa(pair) => {
                pair.sign(&rng, message).map(|sig| sig.as_ref().to_vec()).map_err(|_| anyhow!("ECDSA signing failed"))
            }
            Signer::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }
}

/// Every key that verifies tokens, and the newest of them, which signs new ones.
#[derive(Debug, Clone)]
pub struct KeyRing {
    signing: Arc<SigningKey>,
    by_kid: HashMap<String, Arc<SigningKey>>,
}

impl KeyRing {
    pub fn new(keys: Vec<SigningKey>) -> anyhow::Result<Self> {
        let keys: Vec<Arc<SigningKey>> = keys.into_iter().map(Arc::new).collect();
        let signing = keys
            .iter()
            .max_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.kid.cmp(&b.kid)))
            .cloned()
            .context("no signing key")?;
        let mut by_kid = HashMap::new();
        for key in keys {
            if by_kid.insert(key.kid.clone(), key.clone()).is_some() {
                bail!("two keys share the id {}", key.kid);
            }
        }
        Ok(Self { signing, by_kid })
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    /// Every published key id, sorted.
    pub fn kids(&self) -> Vec<&str> {
        let mut kids: Vec<&str> = self.by_kid.keys().map(String::as_str).collect();
        kids.sort_unstable();
        kids
    }

    pub fn get(&self, kid: &str) -> Option<&SigningKey> {
        self.by_kid.get(kid).map(|key| key.as_ref())
    }

    /// The JWKS document, newest key first.
    pub fn jwks(&self) -> Jwks {
        let mut keys: Vec<&Arc<SigningKey>> = self.by_kid.values().collect();
        keys.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| b.kid.cmp(&a.kid)));
        Jwks { keys: keys.iter().map(|key| key.jwk.clone()).collect() }
    }

    /// The distinct algorithms of the published keys.
    pub fn algorithms(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.by_kid.values().map(|key| key.algorithm.jwt_name()).collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

fn pem_decode(label: &str, pem: &str) -> anyhow::Result<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin).with_context(|| format!("no '{begin}' line (a PKCS#8 key is expected)"))?;
    let rest = &pem[start + begin.len()..];
    let stop = rest.find(&end).with_context(|| format!("no '{end}' line"))?;
    let body: String = rest[..stop].chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(body).context("the PEM body is not valid base64")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_reload_from_their_pem_with_the_same_public_key() {
        for algorithm in [KeyAlgorithm::Rs256, KeyAlgorithm::Es256, KeyAlgorithm::EdDsa] {
            let (key, pem) = SigningKey::generate(algorithm, "k1".into(), 1).unwrap();
            let reloaded = SigningKey::from_pkcs8_pem("k1".into(), 1, &pem).unwrap();
            assert_eq!(reloaded.algorithm(), algorithm);
            assert_eq!(reloaded.public_jwk(), key.public_jwk());
            assert_eq!(key.public_jwk().key_use, "sig");
            assert_eq!(key.public_jwk().alg, algorithm.jwt_name());
        }
    }

    #[test]
    fn garbage_is_not_a_key() {
        assert!(SigningKey::from_pkcs8_pem("k".into(), 1, "hello").is_err());
        let fake = pem_encode("PRIVATE KEY", b"not a key");
        assert!(SigningKey::from_pkcs8_pem("k".into(), 1, &fake).is_err());
    }

    #[test]
    fn the_newest_key_signs_and_all_are_published() {
        let (old, _) = SigningKey::generate(KeyAlgorithm::EdDsa, "old".into(), 100).unwrap();
        let (new, _) = SigningKey::generate(KeyAlgorithm::EdDsa, "new".into(), 200).unwrap();
        let ring = KeyRing::new(vec![new, old]).unwrap();
        assert_eq!(ring.signing_key().kid(), "new");
        let kids: Vec<_> = ring.jwks().keys.into_iter().map(|k| k.kid).collect();
        assert_eq!(kids, vec!["new", "old"]);
    }

    #[test]
    fn duplicate_key_ids_are_refused() {
        let (a, _) = SigningKey::generate(KeyAlgorithm::EdDsa, "same".into(), 1).unwrap();
        let (b, _) = SigningKey::generate(KeyAlgorithm::EdDsa, "same".into(), 2).unwrap();
        assert!(KeyRing::new(vec![a, b]).is_err());
        assert!(KeyRing::new(vec![]).is_err());
    }
}
