//! Email addresses, parsed once at the edge.

use std::fmt;

/// A syntactically valid email address: trimmed and lower-cased, so that two spellings of one
/// address cannot become two accounts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

/// Why a string is not an acceptable email address. The text is safe to show to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailError {
    Empty,
    TooLong,
    Invalid,
}

impl fmt::Display for EmailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmailError::Empty => f.write_str("is required"),
            EmailError::TooLong => write!(f, "must be at most {MAX_LEN} characters"),
            EmailError::Invalid => f.write_str("must be a valid email address"),
        }
    }
}

/// Bytes; a limit of the API (`mana_proto::limits`), and the longest path SMTP carries.
const MAX_LEN: usize = mana_proto::limits::EMAIL_MAX_CHARS;
const MAX_LOCAL_LEN: usize = 64;
const MAX_LABEL_LEN: usize = 63;

impl Email {
    /// Accepts the dot-atom addresses that real mail systems deliver to (RFC 5321 without
    /// quoted local parts or address literals, which no consumer sign-up needs and which
    /// widen the attack surface of every system the address is later passed to).
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let normalized = raw.trim().to_lowercase();
        if normalized.is_empty() {
            return Err(EmailError::Empty);
        }
        if normalized.len() > MAX_LEN {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = normalized.rsplit_once('@').ok_or(EmailError::Invalid)?;
        if is_valid_local_part(local) && is_valid_domain(domain) {
            Ok(Self(normalized))
        } else {
            Err(EmailError::Invalid)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_valid_local_part(local: &str) -> bool {
    const SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~";
    !local.is_empty()
        && local.len() <= MAX_LOCAL_LEN
        && local
            .split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(|c| c.is_ascii_alphanumeric() || SPECIALS.contains(c)))
}

fn is_valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= MAX_LABEL_LEN
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels.last().is_some_and(|tld| tld.chars().all(|c| c.is_ascii_alphabetic()) && tld.len() >= 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn trims_and_lowercases() {
        assert_eq!(Email::parse("  Alice@Example.COM ").unwrap().as_str(), "alice@example.com");
    }

    #[test]
    fn accepts_common_real_addresses() {
        for ok in ["a@b.co", "first.last+tag@sub.example.org", "o'neil@example.ie", "x_y-z@a-b.de"] {
            assert!(Email::parse(ok).is_ok(), "{ok} should be accepted");
        }
    }

    #[test]
    fn rejects_malformed_addresses() {
        for bad in [
            "plainaddress",
            "@example.com",
            "alice@",
            "alice@example",
            "alice@@example.com",
            "alice@.example.com",
            "alice@example..com",
            ".alice@example.com",
            "alice.@example.com",
            "al..ice@example.com",
            "alice smith@example.com",
            "alice@-example.com",
            "alice@example.c0m",
            "\"alice\"@example.com",
            "alice@[127.0.0.1]",
            "alice@exämple.com",
        ] {
            assert_eq!(Email::parse(bad), Err(EmailError::Invalid), "{bad} should be rejected");
        }
    }

    #[test]
    fn rejects_empty_and_overlong() {
        assert_eq!(Email::parse("   "), Err(EmailError::Empty));
        let long = format!("{}@{}.com", "a".repeat(60), "b".repeat(200));
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
    }

    proptest! {
        #[test]
        fn parsing_is_idempotent(raw in "\\PC{0,80}") {
            if let Ok(email) = Email::parse(&raw) {
                prop_assert_eq!(Email::parse(email.as_str()), Ok(email.clone()));
                prop_assert!(email.as_str().len() <= MAX_LEN);
                prop_assert_eq!(email.as_str().matches('@').count(), 1);
            }
        }

        #[test]
        fn case_and_surrounding_space_never_make_a_different_address(
            local in "[a-z0-9]{1,20}", domain in "[a-z]{1,20}\\.[a-z]{2,6}", pad in " {0,3}"
        ) {
            let plain = Email::parse(&format!("{local}@{domain}")).unwrap();
            let shouted = Email::parse(&format!("{pad}{}@{}{pad}", local.to_uppercase(), domain.to_uppercase())).unwrap();
            prop_assert_eq!(plain, shouted);
        }
    }
}
