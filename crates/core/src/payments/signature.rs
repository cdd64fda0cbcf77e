//! Stripe's webhook signature (`Stripe-Signature: t=<unix time>,v1=<hex>[,v1=<hex>…]`): an
//! HMAC-SHA256 of `"{t}.{raw body}"` keyed with the endpoint secret's bytes. Checked on the raw
//! body before anything is parsed; any `v1` may match any configured secret, so that a secret
//! can be rolled while the old one still signs; other schemes (`v0`) are ignored.

use aws_lc_rs::hmac;
use subtle::ConstantTimeEq;

/// How far the signed time may be from ours, either way (Stripe's libraries allow 300 s).
pub const SIGNATURE_TOLERANCE_SECONDS: i64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header is missing or malformed")]
    Malformed,
    #[error("the signature has no v1 scheme")]
    NoV1,
    #[error("the signed time is too far from now")]
    OutsideTolerance,
    #[error("no v1 signature matches any secret")]
    NoMatch,
}

/// Checks `header` against `body` with each of `secrets`, at `now` (unix seconds).
pub fn verify_signature(header: &str, body: &[u8], secrets: &[String], now: i64) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        let Some((scheme, value)) = part.trim().split_once('=') else { return Err(SignatureError::Malformed) };
        match scheme {
            // Two `t`s would make "which time was signed" ambiguous.
            "t" if timestamp.is_none() => {
                timestamp = Some(value.parse::<i64>().map_err(|_| SignatureError::Malformed)?);
            }
            "t" => return Err(SignatureError::Malformed),
            "v1" => candidates.push(value),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::NoV1);
    }
    if (now - timestamp).abs() > SIGNATURE_TOLERANCE_SECONDS {
        return Err(SignatureError::OutsideTolerance);
    }
    let mut signed = Vec::with_capacity(body.len() + 12);
    signed.extend_from_slice(timestamp.to_string().as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(body);
    let mut matched = subtle::Choice::from(0);
    // Every secret and every candidate is compared, so the time taken says nothing of which
    // (if any) matched.
    for secret in secrets {
        let expected = hex(hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()), &signed).as_ref());
        for candidate in &candidates {
            matched |= expected.as_bytes().ct_eq(candidate.as_bytes());
        }
    }
    if bool::from(matched) { Ok(()) } else { Err(SignatureError::NoMatch) }
}

/// The header Stripe would send for `body` signed with `secret` at `timestamp`: for the
/// simulated checkout, which delivers its events through the same verification.
pub fn signature_header(body: &[u8], secret: &str, timestamp: i64) -> String {
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()), &signed);
    format!("t={timestamp},v1={}", hex(tag.as_ref()))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes.iter().flat_map(|b| [DIGITS[usize::from(b >> 4)] as char, DIGITS[usize::from(b & 15)] as char]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"checkout.session.completed"}"#;
    const NOW: i64 = 1_764_633_600;

    fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
        let mut signed = format!("{timestamp}.").into_bytes();
        signed.extend_from_slice(body);
        hex(hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()), &signed).as_ref())
    }

    fn secrets(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn hmac_sha256_in_hex_matches_the_rfc_4231_vector() {
        // RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, b"Jefe"), b"what do ya want for nothing?");
        assert_eq!(hex(tag.as_ref()), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn a_signed_body_is_accepted_and_any_change_refused() {
        let header = format!("t={NOW},v1={}", sign(SECRET, NOW, BODY));
        assert_eq!(verify_signature(&header, BODY, &secrets(&[SECRET]), NOW), Ok(()));
        let tampered = br#"{"id":"evt_1","type":"checkout.session.completed "}"#;
        assert_eq!(verify_signature(&header, tampered, &secrets(&[SECRET]), NOW), Err(SignatureError::NoMatch));
        assert_eq!(verify_signature(&header, BODY, &secrets(&["whsec_other"]), NOW), Err(SignatureError::NoMatch));
        assert_eq!(verify_signature(&header, BODY, &[], NOW), Err(SignatureError::NoMatch));
    }

    #[test]
    fn the_signed_time_must_be_within_five_minutes_either_way() {
        for (signed_at, ok) in [(NOW - 300, true), (NOW + 300, true), (NOW - 301, false), (NOW + 301, false)] {
            let header = format!("t={signed_at},v1={}", sign(SECRET, signed_at, BODY));
            let expected = if ok { Ok(()) } else { Err(SignatureError::OutsideTolerance) };
            assert_eq!(
                verify_signature(&header, BODY, &secrets(&[SECRET]), NOW),
                expected,
                "t = now{:+}",
                signed_at - NOW
            );
        }
    }

    #[test]
    fn during_a_secret_roll_either_secret_and_any_v1_may_match() {
        let old = sign("whsec_old", NOW, BODY);
        let new = sign("whsec_new", NOW, BODY);
        let both = secrets(&["whsec_new", "whsec_old"]);
        for header in
            [format!("t={NOW},v1={old},v1={new}"), format!("t={NOW},v1={new},v1={old}"), format!("t={NOW},v1={old}")]
        {
            assert_eq!(verify_signature(&header, BODY, &both, NOW), Ok(()), "{header}");
        }
        assert_eq!(
            verify_signature(&format!("t={NOW},v1={old}"), BODY, &secrets(&["whsec_new"]), NOW),
            Err(SignatureError::NoMatch)
        );
    }

    #[test]
    fn headers_without_a_time_or_a_v1_are_refused() {
        let v1 = sign(SECRET, NOW, BODY);
        let cases = [
            (String::new(), SignatureError::Malformed),
            (format!("v1={v1}"), SignatureError::Malformed),
            (format!("t=soon,v1={v1}"), SignatureError::Malformed),
            (format!("t={NOW},t={NOW},v1={v1}"), SignatureError::Malformed),
            (format!("t={NOW}"), SignatureError::NoV1),
            (format!("t={NOW},v0={v1}"), SignatureError::NoV1),
            (format!("t={NOW},v1={}", v1.to_uppercase()), SignatureError::NoMatch),
        ];
        for (header, error) in cases {
            assert_eq!(verify_signature(&header, BODY, &secrets(&[SECRET]), NOW), Err(error), "{header:?}");
        }
    }
}
