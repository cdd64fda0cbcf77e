//! Wire types of the mana-core-auth HTTP API.
//!
//! Everything here is what crosses the network: request bodies, response bodies, the error
//! envelope and the access-token claims. Field names are camelCase on the wire. Request types
//! reject unknown fields so that a typo in a client is a 400, not a silently ignored value.
//!
//! This crate depends on serde only, so the server, the client SDK and other services can share
//! it and decode each other's messages exactly.

mod admin;
mod auth;
mod credits;
mod error;
pub mod limits;
mod oauth;
mod two_factor;

pub use admin::*;
pub use auth::*;
pub use credits::*;
pub use error::*;
pub use oauth::*;
pub use two_factor::*;
