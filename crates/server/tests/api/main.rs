//! HTTP tests: each starts the real server on port 0 and talks to it over HTTP.

// Test helpers outside #[test] functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod account;
mod admin;
mod common;
#[path = "../support/oidc.rs"]
mod oidc;
#[path = "../support/providers.rs"]
mod providers;
mod redis_server;
#[path = "../support/stripe.rs"]
mod stripe_stand_in;
#[path = "../support/totp.rs"]
mod totp;

mod concurrency;
mod console;
mod credits;
mod deploy;
mod discovery;
mod errors;
mod hardening;
mod login;
mod logout;
mod metrics;
mod openapi;
mod purchases;
mod rate_limits;
mod rate_limits_redis;
mod recovery;
mod refresh;
mod register;
mod social;
mod social_providers;
mod token_attacks;
mod two_factor;
mod validate;
