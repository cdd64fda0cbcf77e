//! Verifies access tokens of a mana-core-auth server in another Rust service.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use mana_verify::{Authenticated, Config, RequireToken, Verifier};
//!
//! # async fn run() {
//! let verifier = Verifier::new(Config::new("https://auth.example.com"));
//! let app: Router = Router::new()
//!     .route("/me", get(|Authenticated(claims): Authenticated| async move { claims.sub }))
//!     .layer(RequireToken::new(verifier));
//! # }
//! ```
//!
//! What is checked, as the server itself checks: the token is a compact JWS with `typ: at+jwt`
//! and no `crit` header; its `kid` names a key the server publishes and its `alg` is that key's
//! own algorithm (RS256, ES256 or EdDSA; `none` and HMAC never verify); the signature; `iss`
//! and `aud`; `exp`, and `nbf`/`iat` not in the future, with a 30 s leeway. The server's keys
//! are fetched from its JWKS and kept ten minutes; a token naming a key not seen yet (after
//! the server rotated its keys) makes the verifier fetch them again, at most once every five
//! seconds. With [`Config::check_revocation`] each token's session is also checked with the
//! server, whose answers are remembered briefly.

mod base64url;
mod error;
mod http;
mod keys;
mod layer;
mod revocation;
mod token;
mod verifier;

pub use error::VerifyError;
pub use layer::{Authenticated, RequireToken, RequireTokenService};
pub use mana_proto::{AccessTokenClaims, TokenRejection};
pub use verifier::{Config, Verifier};
