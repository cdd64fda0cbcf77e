//! The pieces of a second factor (SPEC §5): TOTP codes, backup codes, and the sealing of TOTP
//! secrets at rest. The flows that use them are in `auth::two_factor`.

mod backup_codes;
mod secret_box;
mod totp;

pub use backup_codes::{BACKUP_CODE_COUNT, BackupCode};
pub use secret_box::{KEY_BYTES, OpenError, SecretBox, generate_key, parse_keys};
pub use totp::{DIGITS, SKEW_STEPS, STEP_SECONDS, TotpSecret, step_at};
