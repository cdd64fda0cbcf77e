//! The most common passwords, refused for new passwords (NIST SP 800-63B §5.1.1.2: check new
//! passwords against lists of commonly used or compromised values).
//!
//! The list is the 30,000 most frequent passwords of public breach corpora that ships inside
//! the `zxcvbn` crate (MIT), so it lives in the binary and needs no file or network at run
//! time. A password is refused when zxcvbn's best reading of it is one entry of that list as a
//! whole: as it is, in other letter case, reversed or with l33t substitutions (`Password`,
//! `drowssap`, `p@ssw0rd`). Longer passphrases that merely contain such a word are fine.

use zxcvbn::matching::patterns::{DictionaryPattern, MatchPattern};

/// Whether `password` is, in its entirety, one of the most common passwords.
pub fn is_common(password: &str) -> bool {
    let estimate = zxcvbn::zxcvbn(password, &[]);
    let [only] = estimate.sequence() else {
        return false;
    };
    // zxcvbn does not export the name of its dictionary type; the password list is its default.
    let password_list = DictionaryPattern::default().dictionary_name;
    only.i == 0
        && only.j + 1 == password.chars().count()
        && matches!(&only.pattern, MatchPattern::Dictionary(found) if found.dictionary_name == password_list)
}

/// Builds zxcvbn's tables ahead of the first registration (they are made on first use).
pub fn warm_up() {
    is_common("warm-up");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_common_passwords_and_their_variants_are_recognised() {
        for common in [
            "password",
            "12345678",
            "qwertyuiop",
            "iloveyou",
            "Password",
            "PASSWORD1",
            "drowssap",
            "p@ssw0rd",
            "sunshine",
        ] {
            assert!(is_common(common), "{common}");
        }
    }

    #[test]
    fn ordinary_passwords_are_not() {
        for fine in ["correct horse battery staple", "vq8#Lz2!mK", "password with more words", "Tr0ub4dor&3x"] {
            assert!(!is_common(fine), "{fine}");
        }
    }
}
