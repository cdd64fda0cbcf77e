//! Time-based one-time passwords (RFC 6238, on RFC 4226's HOTP) as every authenticator app
//! makes them: HMAC-SHA-1, six digits, 30-second steps. A code is accepted for the current step
//! and one step either side (clocks drift, people type slowly); which step matched is returned,
//! so that the caller can refuse that step and every older one next time (RFC 6238 §5.2: a code
//! is accepted once).

use std::fmt;

use aws_lc_rs::hmac;

use crate::crypto::{constant_time_eq, random_bytes};

pub const DIGITS: usize = 6;
pub const STEP_SECONDS: i64 = 30;
/// Steps either side of the current one whose codes are accepted.
pub const SKEW_STEPS: i64 = 1;
/// 160 bits, the length RFC 4226 recommends and HMAC-SHA-1's block of output.
pub const SECRET_BYTES: usize = 20;

/// A TOTP shared secret in the clear. Its `Debug` form never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret([u8; SECRET_BYTES]);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(…)")
    }
}

/// The time step `unix_time` falls in.
pub fn step_at(unix_time: i64) -> i64 {
    unix_time.div_euclid(STEP_SECONDS)
}

impl TotpSecret {
    pub fn generate() -> Self {
        Self(random_bytes())
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// As authenticator apps take it typed in: RFC 4648 base32 without padding.
    pub fn base32(&self) -> String {
        data_encoding::BASE32_NOPAD.encode(&self.0)
    }

    /// The code of time step `step`.
    pub fn code_at_step(&self, step: i64) -> String {
        format!("{:0width$}", hotp(&self.0, step as u64, DIGITS as u32), width = DIGITS)
    }

    /// The step, among the current one and its neighbours, whose code `code` is. Every
    /// candidate is compared, in constant time, whatever matched, so the answer's timing says
    /// nothing about which step (or digit) was right. Input that is not six digits (spaces
    /// allowed, as apps show codes in groups) matches nothing.
    pub fn matching_step(&self, code: &str, unix_time: i64) -> Option<i64> {
        let typed: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if typed.len() != DIGITS || !typed.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let now = step_at(unix_time);
        let mut matched = None;
        for step in now - SKEW_STEPS..=now + SKEW_STEPS {
            if constant_time_eq(self.code_at_step(step).as_bytes(), typed.as_bytes()) {
                matched = Some(step);
            }
        }
        matched
    }

    /// The `otpauth://` URI (Google Authenticator's key URI format) that authenticator apps
    /// read from a QR code: the account shown as `issuer:account`, and the parameters spelled
    /// out although they are the defaults, since some apps ignore missing ones differently.
    pub fn otpauth_url(&self, issuer: &str, account: &str) -> String {
        let (issuer, account) = (percent_encode(issuer), percent_encode(account));
        format!(
            "otpauth://totp/{issuer}:{account}?secret={}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
            self.base32()
        )
    }
}

/// RFC 4226 §5.3: HMAC-SHA-1 of the big-endian counter, dynamically truncated to 31 bits,
/// reduced to `digits` decimal digits.
fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let tag = hmac::sign(&key, &counter.to_be_bytes());
    let mac = tag.as_ref();
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let truncated = u32::from_be_bytes([mac[offset] & 0x7f, mac[offset + 1], mac[offset + 2], mac[offset + 3]]);
    truncated % 10u32.pow(digits)
}

/// Everything but RFC 3986's unreserved characters as `%XX`, for a URI's label and query.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, the SHA-1 rows: eight digits from the ASCII secret "1234…90".
    #[test]
    fn the_rfc_6238_test_vectors_hold() {
        let secret = b"12345678901234567890";
        for (time, expected) in [
            (59, 94_287_082),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ] {
            assert_eq!(hotp(secret, step_at(time) as u64, 8), expected, "at {time}");
        }
        let six = TotpSecret::from_bytes(secret).unwrap();
        assert_eq!(six.code_at_step(step_at(59)), "287082");
        assert_eq!(six.code_at_step(step_at(1_111_111_109)), "081804", "leading zeros are kept");
    }

    #[test]
    fn a_code_matches_its_step_and_the_neighbours_only() {
        let secret = TotpSecret::generate();
        let now = 1_800_000_015;
        let step = step_at(now);
        for offset in -1..=1 {
            let code = secret.code_at_step(step + offset);
            assert_eq!(secret.matching_step(&code, now), Some(step + offset));
        }
        for offset in [-3, -2, 2, 3] {
            let code = secret.code_at_step(step + offset);
            // A far step's code could equal a near one's by chance (one in a million).
            if (-1..=1).all(|near| secret.code_at_step(step + near) != code) {
                assert_eq!(secret.matching_step(&code, now), None);
            }
        }
        let spaced = secret.code_at_step(step);
        assert_eq!(secret.matching_step(&format!("{} {}", &spaced[..3], &spaced[3..]), now), Some(step));
        for junk in ["", "12345", "1234567", "12345a", "１２３４５６"] {
            assert_eq!(secret.matching_step(junk, now), None, "{junk:?}");
        }
    }

    #[test]
    fn the_otpauth_url_names_issuer_account_and_secret() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890").unwrap();
        assert_eq!(secret.base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(
            secret.otpauth_url("Mana Core", "ann+test@example.com"),
            "otpauth://totp/Mana%20Core:ann%2Btest%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Mana%20Core&algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(format!("{secret:?}"), "TotpSecret(…)");
    }
}
