//! The two client-chosen names of the credit API, as types that can only hold valid values.

use std::fmt;

use mana_proto::limits::{APP_ID_MAX_CHARS, IDEMPOTENCY_KEY_MAX_CHARS};
use serde::{Deserialize, Serialize};

/// The app a spend is made for: 1 to [`APP_ID_MAX_CHARS`] letters, digits, `-`, `_` or `.`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AppId(String);

impl AppId {
    pub fn parse(text: &str) -> Option<Self> {
        let valid = !text.is_empty()
            && text.chars().count() <= APP_ID_MAX_CHARS
            && text.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        valid.then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AppId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The client's name for one spend, so that a retry is answered instead of repeated: 1 to
/// [`IDEMPOTENCY_KEY_MAX_CHARS`] visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(text: &str) -> Option<Self> {
        let valid = !text.is_empty()
            && text.chars().count() <= IDEMPOTENCY_KEY_MAX_CHARS
            && text.chars().all(|c| c.is_ascii_graphic());
        valid.then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_ids_are_short_plain_names() {
        assert!(AppId::parse("chat.v2_beta-1").is_some());
        for bad in ["", "has space", "ünï", &"a".repeat(APP_ID_MAX_CHARS + 1)] {
            assert_eq!(AppId::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn idempotency_keys_are_visible_ascii() {
        assert!(IdempotencyKey::parse("order-1:{x}").is_some());
        for bad in ["", "has space", "tab\t", &"k".repeat(IDEMPOTENCY_KEY_MAX_CHARS + 1)] {
            assert_eq!(IdempotencyKey::parse(bad), None, "{bad:?}");
        }
    }
}
