//! Unpadded base64url (RFC 7515 section 2), the encoding of every JWS part and JWK member.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub fn decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}
