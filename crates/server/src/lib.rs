//! The mana-core-auth service: HTTP API, configuration and command line. This is the only
//! crate that names the concrete storage backends (in [`storage`]).

pub mod administration;
pub mod app;
pub mod cli;
pub mod config;
pub mod console;
pub mod encryption;
pub mod http;
pub mod keys;
pub mod logging;
pub mod login;
pub mod mail;
pub mod oauth;
pub mod payments;
pub mod ratelimit;
pub mod retention;
pub mod routes;
pub mod state;
pub mod storage;
pub mod views;
