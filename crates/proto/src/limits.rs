//! The limits on what clients send, in one place: the server checks requests against them,
//! and `/openapi.json` states them (the server writes them into the document from here, so
//! the two cannot drift).

pub const EMAIL_MAX_CHARS: usize = 254;
pub const PASSWORD_MIN_CHARS: usize = 8;
pub const PASSWORD_MAX_CHARS: usize = 128;
pub const NAME_MAX_CHARS: usize = 100;
/// `deviceId` and `deviceName` of a login.
pub const DEVICE_FIELD_MAX_CHARS: usize = 200;
pub const DEVICE_TOKEN_MAX_CHARS: usize = 2048;
/// The most one spend may take (ten million euros at 1 mana = 1 cent).
pub const SPEND_MAX: i64 = 1_000_000_000;
/// App ids: 1 to this many of `A-Z a-z 0-9 . _ -`.
pub const APP_ID_MAX_CHARS: usize = 64;
pub const DESCRIPTION_MAX_CHARS: usize = 500;
/// Idempotency keys: 1 to this many visible ASCII characters.
pub const IDEMPOTENCY_KEY_MAX_CHARS: usize = 255;
/// `metadata` of a spend, as compact JSON.
pub const METADATA_MAX_BYTES: usize = 8 * 1024;
pub const PAGE_LIMIT_MAX: i64 = 100;
pub const PAGE_LIMIT_DEFAULT: i64 = 50;
pub const PAGE_OFFSET_MAX: i64 = 1_000_000_000;

/// The pattern of an app id, as `/openapi.json` states it.
pub fn app_id_pattern() -> String {
    format!("^[A-Za-z0-9._-]{{1,{APP_ID_MAX_CHARS}}}$")
}

/// The pattern of an idempotency key, as `/openapi.json` states it.
pub fn idempotency_key_pattern() -> String {
    format!("^[!-~]{{1,{IDEMPOTENCY_KEY_MAX_CHARS}}}$")
}

/// Text without control characters (Unicode category Cc, what Rust's `char::is_control`
/// refuses): passwords, names, device fields.
pub const NO_CONTROL_CHARACTERS: &str = r"^[^\x00-\x1f\x7f-\x9f]*$";

/// Text without control characters and not blank: descriptions.
pub const PRINTABLE_NOT_BLANK: &str = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$";
