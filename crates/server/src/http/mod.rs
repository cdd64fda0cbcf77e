//! HTTP plumbing shared by every route: request ids, the error envelope, extractors.

pub mod client_ip;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod rate_limit;
pub mod request_id;
pub mod security;

pub use error::ApiError;

/// What the HTTP layer needs from the application's state. The application's `AppState`
/// provides it; the layer does not know the rest of the application.
pub trait HttpState: Clone + Send + Sync + 'static {
    fn auth(&self) -> &mana_core::auth::AuthService;
    fn limiter(&self) -> &crate::ratelimit::RateLimiter;
}

/// Where the versioned API lives; discovery, probes and documents are outside it.
pub const API_PREFIX: &str = "/api/v1";
pub use extract::{AdminUser, AuthUser, Client, JsonBody, QueryParams};
