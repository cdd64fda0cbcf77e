//! A typed Rust client of mana-core-auth, on the server's own wire types (`mana-proto`).
//!
//! ```no_run
//! # async fn run() -> Result<(), mana_client::ClientError> {
//! use mana_client::{Client, FileStore, SecondFactor, SignIn};
//! use mana_proto::UseCreditsRequest;
//!
//! let client = Client::builder("http://127.0.0.1:3001").store(FileStore::new("session.json")).build();
//! if let SignIn::SecondFactorRequired(challenge) = client.sign_in("ada@example.com", "a long passphrase").await? {
//!     client.verify_second_factor(&challenge.mfa_token, SecondFactor::Totp("123456")).await?;
//! }
//! let spend = UseCreditsRequest { amount: Some(5), app_id: "chat".into(), description: "An answer".into(), ..Default::default() };
//! client.use_credits(spend).await?;
//! # Ok(()) }
//! ```
//!
//! The session lives in a [`TokenStore`] ([`MemoryStore`], [`FileStore`], or your own). Every
//! call that needs it gets an access token valid for at least a minute: a due one is refreshed
//! first, one refresh future for all callers waiting at once, the new session stored inside it
//! before any of them goes on; a call the server still answers with
//! `401 token_expired` is refreshed and sent again, once. A refresh token the server no longer
//! accepts clears the store. Spends, purchases and credit adjustments carry one idempotency key
//! across their retries, so none is applied twice.

mod account;
mod admin;
mod client;
mod credits;
mod error;
mod http;
mod oauth;
mod store;
mod two_factor;

pub use client::{Client, ClientBuilder, SecondFactor, SignIn};
pub use error::{ApiError, ClientError, ClientResult};
pub use store::{FileStore, MemoryStore, Session, TokenStore};
