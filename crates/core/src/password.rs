//! Passwords: the policy for new ones, and hashing off the async runtime.
//!
//! Hashing is deliberately slow, so it runs on tokio's blocking pool behind a semaphore: a
//! login flood queues for hashing permits instead of starving every other request of worker
//! threads.
//!
//! bcrypt reads only the first 72 bytes of its input. Rather than truncate silently (two
//! passwords sharing their first 72 bytes would be interchangeable), a password longer than 72
//! bytes is pre-hashed: bcrypt is given base64(SHA-256(password)), and the stored hash is
//! marked with the prefix `$bcrypt-sha256$` so that the pre-hashed form is never confused with
//! a password that happens to look like a digest. Passwords of up to 72 bytes are hashed as
//! they are, so hashes imported from other bcrypt systems keep working.

use std::fmt;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Argon2, Params};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokio::sync::{OnceCell, Semaphore};

use crate::crypto::{random_bytes, sha256};

pub use mana_proto::limits::{PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS};
const BCRYPT_MAX_BYTES: usize = 72;
const PREHASHED_PREFIX: &str = "$bcrypt-sha256$";

/// A password that meets the policy: 8 to 128 characters, no composition rules (NIST
/// SP 800-63B), but not one of the most common passwords and without control characters (a NUL
/// would end the password early for bcrypt, and no keyboard types the others). It can be
/// neither printed nor logged by accident.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let chars = raw.chars().count();
        if raw.is_empty() {
            Err("is required".into())
        } else if chars < PASSWORD_MIN_CHARS {
            Err(format!("must be at least {PASSWORD_MIN_CHARS} characters"))
        } else if chars > PASSWORD_MAX_CHARS {
            Err(format!("must be at most {PASSWORD_MAX_CHARS} characters"))
        } else if raw.chars().any(char::is_control) {
            Err("must not contain control characters (such as NUL, tab or line breaks)".into())
        } else if crate::common_passwords::is_common(raw) {
            Err("is one of the most common passwords; choose one that is harder to guess".into())
        } else {
            Ok(Self(raw.to_owned()))
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    Bcrypt {
        cost: u32,
    },
    /// Argon2id with the OWASP-recommended defaults (19 MiB, 2 passes, 1 lane).
    Argon2id,
}

/// Hashes and verifies passwords on the blocking pool, a bounded number at a time.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    algorithm: HashAlgorithm,
    permits: Arc<Semaphore>,
    dummy_hash: Arc<OnceCell<String>>,
}

impl PasswordHasher {
    pub fn new(algorithm: HashAlgorithm, max_concurrent: usize) -> Self {
        Self {
            algorithm,
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            dummy_hash: Arc::new(OnceCell::new()),
        }
    }

    pub fn algorithm(&self) -> HashAlgorithm {
        self.algorithm
    }

    pub async fn hash(&self, password: &Password) -> anyhow::Result<String> {
        let algorithm = self.algorithm;
        let password = password.clone();
        self.run_blocking(move || hash_with(algorithm, password.expose())).await
    }

    /// Whether `candidate` is the password behind `stored`. A malformed stored hash is an
    /// error, not a mismatch: it means the data is broken, and should be noticed.
    pub async fn verify(&self, candidate: &str, stored: &str) -> anyhow::Result<bool> {
        let candidate = candidate.to_owned();
        let stored = stored.to_owned();
        self.run_blocking(move || verify_with(&candidate, &stored)).await
    }

    /// Spends the time of a real verification and answers nothing, so that an unknown email
    /// costs what a wrong password costs.
    pub async fn verify_against_dummy(&self, candidate: &str) -> anyhow::Result<()> {
        let dummy = self
            .dummy_hash
            .get_or_try_init(|| async {
                let placeholder = Password(STANDARD.encode(random_bytes::<24>()));
                self.hash(&placeholder).await
            })
            .await?;
        self.verify(candidate, dummy).await.map(|_| ())
    }

    /// Prepares the dummy hash ahead of the first unknown-email login, and the common-password
    /// tables ahead of the first registration.
    pub async fn warm_up(&self) -> anyhow::Result<()> {
        tokio::task::spawn_blocking(crate::common_passwords::warm_up).await?;
        self.verify_against_dummy("warm-up").await
    }

    /// Whether a stored hash was made with another algorithm or weaker settings than the
    /// configured ones, and should be replaced at the next successful login.
    pub fn needs_rehash(&self, stored: &str) -> bool {
        match self.algorithm {
            HashAlgorithm::Bcrypt { cost } => bcrypt_cost(stored).is_none_or(|stored_cost| stored_cost < cost),
            HashAlgorithm::Argon2id => match PasswordHash::new(stored) {
                Ok(hash) if hash.algorithm.as_str() == "argon2id" => {
                    let wanted = Params::default();
                    let get = |name: &str| hash.params.get_decimal(name).unwrap_or(0);
                    get("m") < wanted.m_cost() || get("t") < wanted.t_cost() || get("p") < wanted.p_cost()
                }
                _ => true,
            },
        }
    }

    async fn run_blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let _permit = self.permits.acquire().await.context("password hasher closed")?;
        tokio::task::spawn_blocking(work).await.context("password hashing task failed")?
    }
}

fn hash_with(algorithm: HashAlgorithm, password: &str) -> anyhow::Result<String> {
    match algorithm {
        HashAlgorithm::Bcrypt { cost } if password.len() > BCRYPT_MAX_BYTES => {
            let hash = bcrypt::hash(prehash(password), cost).context("bcrypt failed")?;
            Ok(format!("{PREHASHED_PREFIX}{hash}"))
        }
        HashAlgorithm::Bcrypt { cost } => bcrypt::hash(password, cost).context("bcrypt failed"),
        HashAlgorithm::Argon2id => {
            let salt = SaltString::encode_b64(&random_bytes::<16>()).map_err(|e| anyhow!("argon2 salt: {e}"))?;
            Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|e| anyhow!("argon2 failed: {e}"))
        }
    }
}

fn verify_with(candidate: &str, stored: &str) -> anyhow::Result<bool> {
    // bcrypt stops reading at a NUL, so `abc\0anything` would match the hash of `abc`. No
    // password we accept contains one; the work is done anyway so timing tells nothing.
    if candidate.contains('\0') {
        verify_with(&candidate.replace('\0', ""), stored)?;
        return Ok(false);
    }
    if let Some(bcrypt_hash) = stored.strip_prefix(PREHASHED_PREFIX) {
        return bcrypt::verify(prehash(candidate), bcrypt_hash).context("stored bcrypt hash is malformed");
    }
    if stored.starts_with("$2") {
        // A long candidate can never match a plain bcrypt hash of ours (long passwords are
        // stored pre-hashed); refusing it here keeps bcrypt from truncating it into a match.
        if candidate.len() > BCRYPT_MAX_BYTES {
            bcrypt::verify(prehash(candidate), stored).context("stored bcrypt hash is malformed")?;
            return Ok(false);
        }
        return bcrypt::verify(candidate, stored).context("stored bcrypt hash is malformed");
    }
    if stored.starts_with("$argon2") {
        let parsed = PasswordHash::new(stored).map_err(|e| anyhow!("stored argon2 hash is malformed: {e}"))?;
        return Ok(Argon2::default().verify_password(candidate.as_bytes(), &parsed).is_ok());
    }
    Err(anyhow!("stored password hash has an unknown format"))
}

fn prehash(password: &str) -> String {
    STANDARD.encode(sha256(password.as_bytes()))
}

fn bcrypt_cost(stored: &str) -> Option<u32> {
    let hash = stored.strip_prefix(PREHASHED_PREFIX).unwrap_or(stored);
    hash.split('$').nth(2)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast_bcrypt() -> PasswordHasher {
        PasswordHasher::new(HashAlgorithm::Bcrypt { cost: 4 }, 2)
    }

    #[test]
    fn policy_counts_characters_not_bytes() {
        assert!(Password::parse("k9#mQ2!").is_err());
        assert!(Password::parse("k9#mQ2!x").is_ok());
        assert!(Password::parse(&"é".repeat(128)).is_ok());
        assert!(Password::parse(&"é".repeat(129)).is_err());
        assert_eq!(Password::parse("").unwrap_err(), "is required");
    }

    #[test]
    fn common_passwords_and_control_characters_are_refused() {
        for common in ["password", "12345678", "qwertyuiop", "iloveyou"] {
            assert!(Password::parse(common).unwrap_err().contains("most common"), "{common}");
        }
        for control in ["abcdefgh\0abcdefgh", "tab\tinside here", "line\nbreak here"] {
            assert!(Password::parse(control).unwrap_err().contains("control characters"), "{control:?}");
        }
    }

    #[tokio::test]
    async fn a_candidate_with_a_nul_never_matches_its_prefix() {
        let hasher = fast_bcrypt();
        let hash = hasher.hash(&Password::parse("abcdefgh-xyz").unwrap()).await.unwrap();
        assert!(!hasher.verify("abcdefgh-xyz\0tail", &hash).await.unwrap());
        assert!(hasher.verify("abcdefgh-xyz", &hash).await.unwrap());
    }

    #[test]
    fn debug_never_shows_the_password() {
        assert_eq!(format!("{:?}", Password::parse("hunter2hunter2").unwrap()), "Password(<redacted>)");
    }

    #[tokio::test]
    async fn bcrypt_hash_verifies_only_the_right_password() {
        let hasher = fast_bcrypt();
        let hash = hasher.hash(&Password::parse("correct horse").unwrap()).await.unwrap();
        assert!(hash.starts_with("$2b$04$"));
        assert!(hasher.verify("correct horse", &hash).await.unwrap());
        assert!(!hasher.verify("correct horsf", &hash).await.unwrap());
    }

    #[tokio::test]
    async fn passwords_longer_than_72_bytes_are_not_truncated() {
        let hasher = fast_bcrypt();
        let long = "x".repeat(72) + "tail-one";
        let hash = hasher.hash(&Password::parse(&long).unwrap()).await.unwrap();
        assert!(hash.starts_with(PREHASHED_PREFIX));
        assert!(hasher.verify(&long, &hash).await.unwrap());
        // Same first 72 bytes, different ending: must not match.
        assert!(!hasher.verify(&("x".repeat(72) + "tail-two"), &hash).await.unwrap());
        // Nor must the 72-byte prefix alone, nor the pre-hash itself.
        assert!(!hasher.verify(&"x".repeat(72), &hash).await.unwrap());
        assert!(!hasher.verify(&prehash(&long), &hash).await.unwrap());
    }

    #[tokio::test]
    async fn a_long_candidate_never_matches_a_plain_hash_by_truncation() {
        let hasher = fast_bcrypt();
        let exactly_72 = "y".repeat(72);
        let hash = hasher.hash(&Password::parse(&exactly_72).unwrap()).await.unwrap();
        assert!(hasher.verify(&exactly_72, &hash).await.unwrap());
        assert!(!hasher.verify(&(exactly_72.clone() + "more"), &hash).await.unwrap());
    }

    #[tokio::test]
    async fn argon2id_hashes_verify_and_either_algorithm_reads_both() {
        let argon = PasswordHasher::new(HashAlgorithm::Argon2id, 1);
        let hash = argon.hash(&Password::parse("correct horse").unwrap()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(argon.verify("correct horse", &hash).await.unwrap());
        assert!(fast_bcrypt().verify("correct horse", &hash).await.unwrap());
        assert!(!argon.verify("wrong horse", &hash).await.unwrap());
    }

    #[tokio::test]
    async fn rehash_is_wanted_after_a_cost_or_algorithm_change() {
        let weak = fast_bcrypt().hash(&Password::parse("correct horse").unwrap()).await.unwrap();
        assert!(!fast_bcrypt().needs_rehash(&weak));
        assert!(PasswordHasher::new(HashAlgorithm::Bcrypt { cost: 5 }, 1).needs_rehash(&weak));
        assert!(PasswordHasher::new(HashAlgorithm::Argon2id, 1).needs_rehash(&weak));
        let argon = PasswordHasher::new(HashAlgorithm::Argon2id, 1);
        let strong = argon.hash(&Password::parse("correct horse").unwrap()).await.unwrap();
        assert!(!argon.needs_rehash(&strong));
        assert!(fast_bcrypt().needs_rehash(&strong));
    }

    #[tokio::test]
    async fn malformed_stored_hashes_are_errors_not_mismatches() {
        assert!(fast_bcrypt().verify("anything", "plaintext").await.is_err());
        assert!(fast_bcrypt().verify("anything", "$2b$04$broken").await.is_err());
    }

    #[tokio::test]
    async fn dummy_verification_completes() {
        fast_bcrypt().verify_against_dummy("whatever").await.unwrap();
    }
}
