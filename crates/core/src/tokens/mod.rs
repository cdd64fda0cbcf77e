//! Access tokens (signed JWTs) and refresh tokens (opaque secrets).

mod access;
mod device;
mod keys;
mod refresh;

pub use access::{AccessTokenSettings, AccessTokens};
pub use device::{DEVICE_TOKEN_LIFETIME, KnownDevice, account_key};
pub use keys::{KeyAlgorithm, KeyRing, SigningKey, new_key_id};
pub use refresh::{RefreshToken, TokenHash};

/// Why an access token was refused; the wire crate owns it so that `/auth/validate`'s
/// `error` and the SDKs share one list.
pub use mana_proto::TokenRejection;
