//! Secrets the service must read back (TOTP secrets) are stored sealed with AES-256-GCM under
//! `ENCRYPTION_KEY`. Several keys may be configured: the first seals, any of them opens, so a
//! key can be replaced without a moment when stored secrets cannot be read; `mana-core-auth
//! keys rotate-encryption` then re-seals everything under the first.
//!
//! A sealed value is `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`. The key id (the first
//! four bytes of the key's SHA-256, in hex) picks the key without trying each. Each value is
//! bound to what it is for (the associated data, e.g. the owner's user id), so a sealed secret
//! copied into another user's row does not open there.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};

use crate::crypto::{base64url_decode, base64url_encode, hex_encode, random_bytes, sha256};

const VERSION: &str = "v1";
pub const KEY_BYTES: usize = 32;

/// One configured key.
struct SealingKey {
    id: String,
    key: LessSafeKey,
}

pub struct SecretBox {
    /// Never empty; the first seals.
    keys: Vec<SealingKey>,
}

impl fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<_> = self.keys.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("SecretBox").field("key_ids", &ids).finish()
    }
}

/// Why a sealed value did not open. Either way the value is unusable; which one is for the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("not a sealed value")]
    Malformed,
    #[error("sealed under key {0}, which is not configured")]
    UnknownKey(String),
    #[error("the value was altered, or sealed for something else")]
    Forged,
}

/// Reads `ENCRYPTION_KEY`: comma-separated keys of 32 bytes each, base64 (standard or URL-safe,
/// padded or not). The message never repeats a key.
pub fn parse_keys(value: &str) -> Result<Vec<[u8; KEY_BYTES]>, String> {
    let mut keys = Vec::new();
    for (index, part) in value.split(',').map(str::trim).enumerate() {
        let decoded = [&STANDARD, &URL_SAFE, &URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(part).ok())
            .or_else(|| base64::engine::general_purpose::STANDARD_NO_PAD.decode(part).ok());
        match decoded.as_deref().map(<[u8; KEY_BYTES]>::try_from) {
            Some(Ok(key)) => keys.push(key),
            _ => {
                return Err(format!("key {} must be {KEY_BYTES} bytes in base64 (openssl rand -base64 32)", index + 1));
            }
        }
    }
    if keys.is_empty() {
        return Err("no key".into());
    }
    Ok(keys)
}

/// A fresh key, base64, as `ENCRYPTION_KEY` takes it.
pub fn generate_key() -> String {
    STANDARD.encode(random_bytes::<KEY_BYTES>())
}

impl SecretBox {
    pub fn new(keys: &[[u8; KEY_BYTES]]) -> anyhow::Result<Self> {
        anyhow::ensure!(!keys.is_empty(), "at least one encryption key is needed");
        let keys = keys
            .iter()
            .map(|bytes| {
                let unbound =
                    UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| anyhow::anyhow!("not an AES-256 key"))?;
                Ok(SealingKey { id: hex_encode(&sha256(bytes)[..4]), key: LessSafeKey::new(unbound) })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self { keys })
    }

    /// The id of the key that seals.
    pub fn current_key_id(&self) -> &str {
        &self.keys[0].id
    }

    /// `plaintext` sealed under the first key, bound to `context`. A random 96-bit nonce per
    /// value: far below the 2³² values per key where random nonces become a risk.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> String {
        let current = &self.keys[0];
        let nonce = random_bytes::<NONCE_LEN>();
        let mut sealed = plaintext.to_vec();
        // Sealing fails only for inputs of gigabytes, which no caller passes.
        current
            .key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(context), &mut sealed)
            .expect("AES-GCM sealing of a small value cannot fail");
        let mut body = nonce.to_vec();
        body.extend_from_slice(&sealed);
        format!("{VERSION}.{}.{}", current.id, base64url_encode(&body))
    }

    pub fn open(&self, sealed: &str, context: &[u8]) -> Result<Vec<u8>, OpenError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some(VERSION), Some(key_id), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(OpenError::Malformed);
        };
        let key = self.keys.iter().find(|k| k.id == key_id).ok_or_else(|| OpenError::UnknownKey(key_id.to_owned()))?;
        let mut body = base64url_decode(body).ok_or(OpenError::Malformed)?;
        if body.len() < NONCE_LEN {
            return Err(OpenError::Malformed);
        }
        let mut ciphertext = body.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&body).map_err(|_| OpenError::Malformed)?;
        let plaintext =
            key.key.open_in_place(nonce, Aad::from(context), &mut ciphertext).map_err(|_| OpenError::Forged)?;
        Ok(plaintext.to_vec())
    }

    /// Whether `sealed` is under the key that seals now (else rotation re-seals it).
    pub fn is_current(&self, sealed: &str) -> bool {
        sealed.split('.').nth(1) == Some(self.current_key_id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> [u8; KEY_BYTES] {
        [byte; KEY_BYTES]
    }

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_its_context() {
        let sealer = SecretBox::new(&[key(1)]).unwrap();
        let sealed = sealer.seal(b"the secret", b"totp:ann");
        assert!(sealed.starts_with(&format!("v1.{}.", sealer.current_key_id())), "{sealed}");
        assert!(!sealed.contains("the secret"));
        assert_ne!(sealer.seal(b"the secret", b"totp:ann"), sealed, "a fresh nonce each time");
        assert_eq!(sealer.open(&sealed, b"totp:ann").unwrap(), b"the secret");
        assert_eq!(sealer.open(&sealed, b"totp:bob"), Err(OpenError::Forged), "bound to its owner");
        let other = SecretBox::new(&[key(2)]).unwrap();
        assert!(matches!(other.open(&sealed, b"totp:ann"), Err(OpenError::UnknownKey(_))));
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(sealer.open(std::str::from_utf8(&tampered).unwrap(), b"totp:ann"), Err(OpenError::Forged));
        for junk in ["", "v1", "v2.abcd.AAAA", "v1.00000000", "v1.x.!!"] {
            assert!(sealer.open(junk, b"totp:ann").is_err(), "{junk:?}");
        }
    }

    #[test]
    fn during_a_rotation_the_first_key_seals_and_every_key_opens() {
        let old = SecretBox::new(&[key(1)]).unwrap();
        let sealed_before = old.seal(b"s", b"c");
        let rotating = SecretBox::new(&[key(2), key(1)]).unwrap();
        assert_eq!(rotating.open(&sealed_before, b"c").unwrap(), b"s");
        assert!(!rotating.is_current(&sealed_before));
        let sealed_after = rotating.seal(b"s", b"c");
        assert!(rotating.is_current(&sealed_after));
        assert!(old.open(&sealed_after, b"c").is_err(), "the old key alone cannot read new values");
    }

    #[test]
    fn keys_are_read_from_base64_and_bad_ones_are_named_without_echoing_them() {
        let one = generate_key();
        let two = URL_SAFE_NO_PAD.encode(key(7));
        assert_eq!(parse_keys(&format!("{one}, {two}")).unwrap().len(), 2);
        let short = STANDARD.encode([1u8; 16]);
        let error = parse_keys(&format!("{one},{short}")).unwrap_err();
        assert!(error.starts_with("key 2 must be 32 bytes") && !error.contains(&short), "{error}");
        assert!(parse_keys("not base64 at all!").is_err());
    }

    #[test]
    fn debug_shows_key_ids_only() {
        let sealer = SecretBox::new(&[key(3)]).unwrap();
        let shown = format!("{sealer:?}");
        assert!(shown.contains(sealer.current_key_id()) && !shown.contains("030303"), "{shown}");
    }
}
