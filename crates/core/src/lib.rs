//! Domain rules of mana-core-auth.
//!
//! No HTTP and no SQL here: the server crate maps these types to HTTP, and each storage crate
//! implements the store traits of [`store`] for one database.

pub mod auth;
pub mod clock;
pub mod common_passwords;
pub mod credits;
pub mod crypto;
pub mod email;
pub mod error;
pub mod ids;
pub mod mail;
pub mod mfa;
pub mod paging;
pub mod password;
pub mod payments;
pub mod store;
pub mod telemetry;
pub mod tokens;

pub use error::{Error, Result};
