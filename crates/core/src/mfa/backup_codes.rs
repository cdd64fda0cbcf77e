//! Backup codes: ten one-time codes shown once when 2FA is enabled (or the set is renewed), for
//! when the authenticator is lost. Each is 16 characters of base32, 80 random bits, so that the
//! stored SHA-256 (salted with the owner's id) cannot be reversed by trying codes; they are
//! shown in four groups of four, and accepted with or without the dashes, in any case.

use std::fmt;

use crate::crypto::{random_bytes, sha256};
use crate::ids::UserId;
use crate::tokens::TokenHash;

pub const BACKUP_CODE_COUNT: usize = 10;
const CODE_CHARS: usize = 16;
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A backup code in the clear. Its `Debug` form never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct BackupCode(String);

impl fmt::Debug for BackupCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BackupCode(…)")
    }
}

impl BackupCode {
    pub fn generate() -> Self {
        // 16 characters of 5 bits from 10 random bytes.
        let bytes = random_bytes::<10>();
        let bits = bytes.iter().fold(0u128, |acc, &b| (acc << 8) | u128::from(b));
        let code = (0..CODE_CHARS).map(|i| char::from(ALPHABET[((bits >> (75 - 5 * i)) & 31) as usize])).collect();
        Self(code)
    }

    /// A set of [`BACKUP_CODE_COUNT`] codes, all different.
    pub fn generate_set() -> Vec<Self> {
        let mut set: Vec<Self> = Vec::with_capacity(BACKUP_CODE_COUNT);
        while set.len() < BACKUP_CODE_COUNT {
            let code = Self::generate();
            if !set.contains(&code) {
                set.push(code);
            }
        }
        set
    }

    /// What a user typed, without dashes and spaces, lowercased; `None` if it cannot be a code.
    pub fn parse(typed: &str) -> Option<Self> {
        let code: String =
            typed.chars().filter(|c| *c != '-' && !c.is_whitespace()).map(|c| c.to_ascii_lowercase()).collect();
        (code.len() == CODE_CHARS && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(Self(code))
    }

    /// As shown to the user: `abcd-efgh-ijkl-mnop`.
    pub fn display(&self) -> String {
        let groups: Vec<&str> = (0..CODE_CHARS).step_by(4).map(|i| &self.0[i..i + 4]).collect();
        groups.join("-")
    }

    /// What is stored: the SHA-256 of the code and its owner's id.
    pub fn hash(&self, owner: UserId) -> TokenHash {
        let mut input = b"mana backup code\0".to_vec();
        input.extend_from_slice(owner.0.as_bytes());
        input.extend_from_slice(self.0.as_bytes());
        TokenHash(sha256(&input))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_is_ten_different_codes_of_eighty_bits() {
        let set = BackupCode::generate_set();
        assert_eq!(set.len(), BACKUP_CODE_COUNT);
        for code in &set {
            let shown = code.display();
            assert_eq!(shown.len(), 19, "{shown}");
            assert_eq!(BackupCode::parse(&shown).as_ref(), Some(code));
        }
        let mut unique: Vec<_> = set.iter().map(BackupCode::display).collect();
        unique.dedup();
        assert_eq!(unique.len(), BACKUP_CODE_COUNT);
    }

    #[test]
    fn codes_are_accepted_as_typed_and_junk_is_not_a_code() {
        let code = BackupCode::generate();
        let shown = code.display();
        assert_eq!(BackupCode::parse(&shown.to_uppercase()).as_ref(), Some(&code));
        assert_eq!(BackupCode::parse(&shown.replace('-', " ")).as_ref(), Some(&code));
        for junk in ["", "123456", "abcd-efgh-ijkl", "abcd-efgh-ijkl-mno1", "abcd-efgh-ijkl-mnopq"] {
            assert_eq!(BackupCode::parse(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn the_hash_depends_on_the_owner_and_debug_hides_the_code() {
        let code = BackupCode::generate();
        let (ann, bob) = (UserId::generate(), UserId::generate());
        assert_ne!(code.hash(ann), code.hash(bob));
        assert_eq!(code.hash(ann), code.hash(ann));
        assert_eq!(format!("{code:?}"), "BackupCode(…)");
    }
}
