//! The tests' own RFC 6238 codes, written apart from the server's (RustCrypto's HMAC-SHA-1
//! where the server uses aws-lc-rs) and checked against the RFC's test vectors first, so that a
//! mistake shared by both cannot pass.

use hmac::{Hmac, Mac};
use sha1::Sha1;

/// RFC 4226 §5.3.
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).unwrap();
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = (hash[19] & 0xf) as usize;
    let value = ((hash[offset] as u32 & 0x7f) << 24)
        | ((hash[offset + 1] as u32) << 16)
        | ((hash[offset + 2] as u32) << 8)
        | hash[offset + 3] as u32;
    value % 10u32.pow(digits)
}

/// The six-digit code of the base32 `secret` at `unix_time`.
pub fn code(secret_base32: &str, unix_time: i64) -> String {
    let secret = data_encoding::BASE32_NOPAD.decode(secret_base32.as_bytes()).unwrap();
    format!("{:06}", hotp(&secret, (unix_time / 30) as u64, 6))
}

#[test]
fn the_tests_totp_meets_the_rfc_6238_vectors() {
    let secret = b"12345678901234567890";
    for (time, expected) in [
        (59u64, 94_287_082),
        (1_111_111_109, 7_081_804),
        (1_111_111_111, 14_050_471),
        (1_234_567_890, 89_005_924),
        (2_000_000_000, 69_279_037),
        (20_000_000_000, 65_353_130),
    ] {
        assert_eq!(hotp(secret, time / 30, 8), expected, "at {time}");
    }
}
